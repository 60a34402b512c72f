#!/usr/bin/env bash
# The whole test suite in one command. On a fresh machine it first installs
# what the tests need: the Python tools in ./.venv (moto server, the OpenAPI
# validator), playwright-core from npm, and Debian's Chromium (as root). Then
# it runs the Rust tests (unit, adapters on moto, end to end on the local
# stack) and the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python tools, reinstalled when the requirements change.
req=scripts/requirements-test.txt
stamp=.venv/.requirements.sha
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing test tools into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

# Browser test tools.
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "==> installing playwright-core (npm ci)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi
chromium_bin=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Chromium (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: install Debian's chromium package (sudo apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi

echo "==> OpenAPI spec is valid"
.venv/bin/openapi-spec-validator docs/openapi.yaml

echo "==> cargo test --workspace"
cargo test --workspace

echo "==> browser tests (headless Chromium, demo page on the local stack)"
cargo build --quiet -p local
(cd tests/browser && LOCAL_BIN="${CARGO_TARGET_DIR:-$PWD/../../target}/debug/local" CHROMIUM="$chromium_bin" node --test)
