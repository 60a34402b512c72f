#!/usr/bin/env bash
# Runs the benchmark suite and rewrites docs/benchmarks.md with the results.
#   scripts/bench.sh            the full suite (about 10 minutes after the builds)
#   scripts/bench.sh --quick    a short smoke of every benchmark (what CI runs)
# It builds the release binaries it measures, installs the Node.js baselines'
# packages, and uses moto from .venv (scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")

if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
for d in bench/baselines/node-lambda bench/baselines/socketio; do
  [ -d "$d/node_modules" ] || (cd "$d" && npm ci --no-audit --no-fund --silent)
done

echo "==> release builds of what is measured (host architecture)"
cargo build --release -p ws-connect -p sender -p local -p bench

if [ ! -x .aws-sam/build/SenderFunction/bootstrap ] && [ ! -x target/lambda/sender/bootstrap ]; then
  if command -v cargo-lambda >/dev/null || [ -x .venv-infra/bin/cargo-lambda ]; then
    echo "==> arm64 bootstraps for the size table (cargo lambda build --release --arm64)"
    PATH="$PWD/.venv-infra/bin:$PATH" cargo lambda build --release --arm64 \
      -p ws-connect -p ws-disconnect -p ws-message -p order-events -p worker -p sender -p api
  else
    echo "==> no arm64 bootstraps: the size table will say so (scripts/check-infra.sh installs cargo-lambda)"
  fi
fi

echo "==> benchmarks"
target/release/bench all --write "${args[@]}"
