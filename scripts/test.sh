#!/usr/bin/env bash
# The whole test suite in one command. Installs what the tests need into
# ./.venv (moto server) when it is missing, then runs every test. The tests
# start and stop moto themselves, on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/moto_server ]; then
  echo "==> installing moto server into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6'
fi

echo "==> cargo test --workspace"
cargo test --workspace
