#!/usr/bin/env bash
# Deploy-side checks: the SAM template lints clean (cfn-lint and
# `sam validate --lint`), every function answers its samples under
# `cargo lambda watch` against moto, and, with SAM_BUILD=1, `sam build`
# produces one bootstrap per function (a cold build takes minutes).
# SAM_BUILD=check (what CI runs) builds the same bootstraps without the
# release profile's fat LTO: it proves the template builds every function
# for arm64 in a fraction of the time (nine fat-LTO links take about 35
# minutes on two cores); sizes come from the benchmark's build.
set -euo pipefail
cd "$(dirname "$0")/.."

req=scripts/requirements-infra.txt
stamp=.venv-infra/.requirements.sha
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv-infra/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing cfn-lint, aws-sam-cli and cargo-lambda into .venv-infra"
  python3 -m venv .venv-infra
  .venv-infra/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv-infra/bin:$PATH" SAM_CLI_TELEMETRY=0

echo "==> cfn-lint infra/template.yaml"
cfn-lint infra/template.yaml

echo "==> sam validate --lint"
sam validate --lint --region us-east-1

echo "==> cargo lambda invoke, every function with its samples"
scripts/invoke-local.sh

sam_build=${SAM_BUILD:-0}
if [ "$sam_build" = check ]; then
  export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
fi
if [ "$sam_build" = 1 ] || [ "$sam_build" = check ]; then
  if [ "$sam_build" = check ]; then
    echo "==> sam build (arm64, release profile without LTO: a build check, not the sizes)"
  else
    echo "==> sam build (arm64, release)"
  fi
  rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
  start=$(date +%s)
  sam build
  for f in WsConnectFunction WsDisconnectFunction WsMessageFunction OrderEventsFunction WorkerFunction SenderFunction FeedbackFunction WebhooksFunction ApiFunction; do
    boot=.aws-sam/build/$f/bootstrap
    [ -x "$boot" ] || { echo "no bootstrap for $f" >&2; exit 1; }
    file "$boot" | grep -q 'ARM aarch64' || { echo "$f is not an arm64 binary: $(file "$boot")" >&2; exit 1; }
    echo "   $f: $(du -h "$boot" | cut -f1)"
  done
  echo "   sam build took $(( $(date +%s) - start )) s"
else
  echo "==> sam build: not run (SAM_BUILD=1 runs it; SAM_BUILD=check, as CI, without LTO)"
fi
