#!/usr/bin/env bash
# Runs the benchmark suite and rewrites docs/benchmarks.md with the results.
#   scripts/bench.sh           the full suite (about 10 minutes after the builds)
#   scripts/bench.sh --quick   fewer runs and clients, still written to the doc
#   scripts/bench.sh --smoke   every benchmark, tiny, on the debug builds, nothing
#                              written: what CI runs so the runner cannot rot
# It builds what it measures, installs the Node.js baselines' packages, and
# uses moto from .venv (scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
tdir=${CARGO_TARGET_DIR:-$PWD/target}

# moto, and waitress to serve it over keep-alive (the CPU benchmark):
# installed again when the requirements change, as scripts/test.sh does.
req=scripts/requirements-test.txt
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/moto_server ] || [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > .venv/.requirements.sha
fi
for d in bench/baselines/node-lambda bench/baselines/socketio; do
  [ -d "$d/node_modules" ] || (cd "$d" && npm ci --no-audit --no-fund --silent)
done

if [ "$mode" = --smoke ]; then
  # Each function on its own (its own clients), as deployed; then the rest.
  for f in ws-connect sender worker rust-minimal; do cargo build --quiet -p "$f"; done
  cargo build --quiet -p local -p bench
  BENCH_BIN_DIR="$tdir/debug" "$tdir/debug/bench" all --quick
  "$tdir/debug/bench" units
  BENCH_BIN_DIR="$tdir/debug" "$tdir/debug/bench" broadcast --devices 200 --quota-scale 0.05
  exit 0
fi

echo "==> release builds of what is measured (host architecture)"
# Each function on its own: built together, cargo would unify the shared
# crate's features and give every function every SDK client.
for f in ws-connect sender worker rust-minimal; do cargo build --release -p "$f"; done
cargo build --release -p local -p bench

echo "==> arm64 bootstraps for the size table (cargo lambda build --release --arm64, one function at a time)"
if [ ! -x .venv-infra/bin/cargo-lambda ]; then
  python3 -m venv .venv-infra
  .venv-infra/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-infra.txt
fi
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
# One package per build, as `sam build` does: built together, cargo would
# unify the shared crate's features and give every function every client.
for f in ws-connect ws-disconnect ws-message order-events worker sender api feedback webhooks rust-minimal; do
  PATH="$PWD/.venv-infra/bin:$PATH" cargo lambda build --release --arm64 -p "$f"
done

echo "==> benchmarks"
BENCH_BIN_DIR="$tdir/release" "$tdir/release/bench" all --write ${mode:+"$mode"}
