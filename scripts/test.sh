#!/usr/bin/env bash
# The whole test suite in one command. On a fresh machine it first installs
# what the tests need: the Python tools in ./.venv (moto server, the OpenAPI
# validator), playwright-core from npm, and Debian's Chromium (as root). Then
# it runs the Rust tests (unit, adapters on moto, end to end on the local
# stack) and the browser tests. Each stage prints its time, and a table of
# them all comes at the end (also when a stage fails).
set -euo pipefail
cd "$(dirname "$0")/.."

# Wall-clock microseconds (bash 5's EPOCHREALTIME, whatever the locale's
# decimal separator).
now_us() { echo "${EPOCHREALTIME//[.,]/}"; }
secs() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

stages=()
times=()
current=""
began=$(now_us)
stage_began=$began

# stage NAME: ends the stage before (printing its time) and starts NAME.
stage() {
  end_stage
  current=$1
  stage_began=$(now_us)
  echo "==> $current"
}
end_stage() {
  [ -n "$current" ] || return 0
  local took=$(($(now_us) - stage_began))
  stages+=("$current")
  times+=("$took")
  echo "==> [$current] $(secs "$took") s"
  current=""
}
summary() {
  local status=$?
  local failed=$current
  end_stage
  echo
  echo "stage                                    time"
  echo "---------------------------------------  --------"
  local i
  for i in "${!stages[@]}"; do
    local mark=""
    [ "$status" != 0 ] && [ "${stages[$i]}" = "$failed" ] && mark="  (failed)"
    printf '%-39s  %6s s%s\n' "${stages[$i]}" "$(secs "${times[$i]}")" "$mark"
  done
  echo "---------------------------------------  --------"
  printf '%-39s  %6s s\n' "total" "$(secs $(($(now_us) - began)))"
}
trap summary EXIT

# Python tools, reinstalled when the requirements change.
stage "test tools"
req=scripts/requirements-test.txt
stamp=.venv/.requirements.sha
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing test tools into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

# Browser test tools.
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "installing playwright-core (npm ci)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi
chromium_bin=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Chromium (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: install Debian's chromium package (sudo apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi

stage "OpenAPI spec is valid"
.venv/bin/openapi-spec-validator docs/openapi.yaml

# The local binary: the crash and --aws tests run it, and the browser tests.
stage "cargo build -p local"
cargo build --quiet -p local
target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir = /* ]] || target_dir="$PWD/$target_dir"
local_bin="$target_dir/debug/local"

stage "cargo test --workspace"
LOCAL_BIN="$local_bin" cargo test --workspace

stage "browser tests"
(cd tests/browser && LOCAL_BIN="$local_bin" CHROMIUM="$chromium_bin" node --test)
