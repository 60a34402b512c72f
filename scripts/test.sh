#!/usr/bin/env bash
# The whole test suite in one command. Installs the Python tools the tests
# need into ./.venv (moto server, the OpenAPI validator) when they are
# missing or out of date, then runs every check. The tests start and stop
# moto themselves, on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."

req=scripts/requirements-test.txt
stamp=.venv/.requirements.sha
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing test tools into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

echo "==> OpenAPI spec is valid"
.venv/bin/openapi-spec-validator docs/openapi.yaml

echo "==> cargo test --workspace"
cargo test --workspace
