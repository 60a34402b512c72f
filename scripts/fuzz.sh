#!/usr/bin/env bash
# Fuzzes the parsers and the template renderer with cargo-fuzz (libFuzzer),
# each target for a bounded time, growing the corpus kept in fuzz/corpus.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# cargo-fuzz needs nightly features; the stable toolchain ships the sanitizer
# runtimes, so RUSTC_BOOTSTRAP=1 lets it run without another toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in business_event ws_message template; do
  echo "==> fuzz $target for ${secs}s"
  cargo fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=1024 -max_len=65536 -timeout=10 -print_final_stats=1
done
