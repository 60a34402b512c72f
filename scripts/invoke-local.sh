#!/usr/bin/env bash
# Runs every function under `cargo lambda watch` against moto server and
# invokes each with its samples from events/, checking every answer.
# Needs: .venv (moto; scripts/test.sh makes it) and cargo-lambda (installed
# into .venv-infra when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
if [ ! -x .venv-infra/bin/cargo-lambda ]; then
  python3 -m venv .venv-infra
  .venv-infra/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-infra.txt
fi
export PATH="$root/.venv-infra/bin:$PATH"

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
moto_port=$(free_port); mgmt_port=$(free_port); invoke_port=$(free_port)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

.venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
# A management API stand-in that accepts every push (the sender's and ws-message's).
.venv/bin/python - "$mgmt_port" >"$work/mgmt.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): print(self.path, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
for _ in $(seq 100); do curl -sf "$AWS_ENDPOINT_URL/moto-api/" >/dev/null && break; sleep 0.1; done

# What the SAM template would create.
eval "$(.venv/bin/python - <<'PY'
import boto3
ddb = boto3.client("dynamodb"); sqs = boto3.client("sqs"); ses = boto3.client("sesv2")
ddb.create_table(TableName="notify-local", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}])
ev = sqs.create_queue(QueueName="notify-events")["QueueUrl"]
dl = sqs.create_queue(QueueName="notify-deliveries")["QueueUrl"]
wh = sqs.create_queue(QueueName="notify-webhooks")["QueueUrl"]
ses.create_email_identity(EmailIdentity="notify@example.com")
print(f"export EVENTS_QUEUE_URL={ev} DELIVERIES_QUEUE_URL={dl} WEBHOOK_QUEUE_URL={wh}")
PY
)"
export TABLE_NAME=notify-local WS_ENDPOINT="http://127.0.0.1:$mgmt_port/prod" EMAIL_FROM=notify@example.com \
  EVENTS_API_KEY=local-dev-key JWT_SECRET=local-dev-secret-not-for-production RUST_LOG=warn
# Webhooks go to the same stand-in (it answers 200 to every POST); http to
# loopback is allowed only with ALLOW_LOOPBACK_HTTP_LINKS, as locally.
export WEBHOOK_URL="http://127.0.0.1:$mgmt_port/hooks" ALLOW_LOOPBACK_HTTP_LINKS=1 \
  WEBHOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwVGhpcyBpcyBhIHRlc3Q=" SES_CONFIGURATION_SET=notify-notifications

cargo build --quiet --bins -p ws-connect -p ws-disconnect -p ws-message -p order-events -p worker -p sender -p api -p feedback -p webhooks
cargo lambda watch --invoke-port "$invoke_port" >"$work/watch.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/"$invoke_port") 2>/dev/null && break; sleep 0.1; done

failures=0
check() { # function, sample, python expression over the answer `r`
  local fn=$1 sample=$2 expect=$3 out
  if ! out=$(cargo lambda invoke "$fn" --invoke-port "$invoke_port" --data-file "events/$sample" --output-format json 2>&1); then
    echo "FAIL $fn $sample: invoke failed: $out"; failures=$((failures + 1)); return
  fi
  if .venv/bin/python -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($expect) else 1)" "$out"; then
    echo "ok   $fn $sample"
  else
    echo "FAIL $fn $sample: expected $expect, got $out"; failures=$((failures + 1))
  fi
}

check ws-connect ws-connect.json 'r["statusCode"] == 200'
check ws-connect ws-connect-subprotocol.json 'r["statusCode"] == 200 and r["headers"].get("sec-websocket-protocol") == "notify"'
check ws-connect ws-connect-bad-token.json 'r["statusCode"] == 401'
check ws-message ws-message-ping.json 'r["statusCode"] == 200'
check ws-message ws-message-join.json 'r["statusCode"] == 200'
check ws-message ws-message-sync.json 'r["statusCode"] == 200'
check ws-message ws-message-mark-read.json 'r["statusCode"] == 200'
check ws-message ws-message-unknown-action.json 'r["statusCode"] == 200'
check order-events order-events.json 'r["statusCode"] == 202 and json.loads(r["body"])["id"] == "evt_01JSAMPLE0001"'
check order-events order-events-invalid.json 'r["statusCode"] == 400 and json.loads(r["body"])["error"]["field"] == "type"'
check worker worker-batch.json '[f["itemIdentifier"] for f in r["batchItemFailures"]] == ["0b9f3c1e-0000-4000-8000-000000000002"]'
check sender sender-batch.json 'r["batchItemFailures"] == []'
check api api-list-notifications.json 'r["statusCode"] == 200 and json.loads(r["body"])["unreadCount"] == 2'
check api api-unread-count.json 'r["statusCode"] == 200 and json.loads(r["body"]) == {"unreadCount": 2}'
check api api-mark-read.json 'r["statusCode"] == 404'
check api api-put-preferences.json 'r["statusCode"] == 200 and json.loads(r["body"])["channels"]["order"]["email"] is False'
check api api-get-preferences.json 'r["statusCode"] == 200 and json.loads(r["body"])["email"] == "alice@example.com"'
check api api-no-token.json 'r["statusCode"] == 401'
check ws-disconnect ws-disconnect.json 'r["statusCode"] == 200'
# SES's events: a tagged hard bounce is recorded, mail that is not ours is
# acknowledged, a body that is no SES event fails alone (to the DLQ).
check feedback feedback-batch.json '[f["itemIdentifier"] for f in r["batchItemFailures"]] == ["5c1f0e2a-0000-4000-8000-000000000002"]'
# A webhook is signed and posted (the stand-in answers 200); a message that
# is no webhook fails alone.
check webhooks webhooks-batch.json '[f["itemIdentifier"] for f in r["batchItemFailures"]] == ["5c1f0e2a-0000-4000-8000-000000000001"]'

# The pushes reached the management API stand-in: ws-message answered the
# client, the sender pushed to alice's connection.
pushes=$(grep -c '@connections' "$work/mgmt.log" || true)
if [ "$pushes" -ge 5 ]; then echo "ok   $pushes pushes reached the management API"; else echo "FAIL only $pushes pushes reached the management API"; failures=$((failures + 1)); fi
hooks=$(grep -c '^/hooks' "$work/mgmt.log" || true)
if [ "$hooks" -ge 1 ]; then echo "ok   $hooks webhook(s) reached the endpoint"; else echo "FAIL no webhook reached the endpoint"; failures=$((failures + 1)); fi
# The bounce suppressed the address: the feedback function wrote it to DynamoDB.
if .venv/bin/python -c 'import boto3,sys; sys.exit(0 if "Item" in boto3.client("dynamodb").get_item(TableName="notify-local", Key={"PK":{"S":"SUPPRESSED#bounce@simulator.amazonses.com"},"SK":{"S":"SUPPRESSION"}}) else 1)'; then
  echo "ok   the hard bounce suppressed its address"
else
  echo "FAIL the hard bounce did not suppress its address"; failures=$((failures + 1))
fi

total=25
echo "$((total - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
