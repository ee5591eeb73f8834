#!/usr/bin/env bash
# README's first command: installs what is missing, builds, brings up the
# embedded default stack (PostgreSQL, embedded Kafka, a stub model server,
# the loader, the sidecar), sends sample requests with personal data through
# the sidecar, and prints what the model server received, what the client got
# back, and the lineage rows read back from PostgreSQL.  Everything it started
# is stopped when it ends.
#   deploy/demo.sh            (KEEP=1 leaves the stack running: deploy/local/stack.sh down .run/demo)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
run=${STEWARD_RUN_DIR:-$repo/.run/demo}

"$repo/deploy/deps.sh"
make -j"$(nproc)" programs >/dev/null
export STEWARD_RUN_DIR=$run
"$repo/deploy/local/stack.sh" down "$run" >/dev/null 2>&1 || true
rm -f "$run/model-received.jsonl"
if [ "${KEEP:-0}" != 1 ]; then
    trap '"$repo/deploy/local/stack.sh" down "$run" >/dev/null 2>&1 || true' EXIT
fi
"$repo/deploy/local/stack.sh" up "$run"
# shellcheck disable=SC1091
. "$run/env"
bin=${STEWARD_BIN:-$repo/build/debug/bin}

started=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ | sed -E 's/\.([0-9]{6})[0-9]*Z/.\1Z/')
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
sent=0

# send TITLE PATH BODY: one request through the sidecar, then what the model
# server received for it and what the client got back.
send() {
    local title=$1 path=$2 body=$3 hdr out status rec
    hdr=$(mktemp)
    out=$(mktemp)
    status=$(curl -s -o "$out" -D "$hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$body" "$STEWARD_URL$path")
    sent=$((sent + 1))
    rec=$(grep -i '^x-steward-record:' "$hdr" | tr -d '\r' | awk '{print $2}')
    bold "[$sent] $title"
    echo "client sent:       $body"
    python3 - "$run/model-received.jsonl" "$rec" <<'PY'
import json, sys
path, rec = sys.argv[1], sys.argv[2]
seen = None
try:
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        h = {k.lower(): v for k, v in r.get("headers", {}).items()}
        if h.get("x-steward-record") == rec:
            seen = r["body"]
except FileNotFoundError:
    pass
print("model received:    " + (seen if seen is not None else "(nothing: the request never reached the model server)"))
PY
    echo "client got:        HTTP $status, decision $(grep -i '^x-steward-decision:' "$hdr" | tr -d '\r' | awk '{print $2}'), record $rec"
    echo "                   $(head -c 400 "$out" | tr '\n' ' ')"
    rm -f "$hdr" "$out"
}

bold "steward demo: sidecar $STEWARD_URL -> model server $MODEL_URL; lineage via Kafka into PostgreSQL"
send "chat with an e-mail address and a phone number (redact / mask)" /v1/chat/completions \
    '{"model":"local-llama","temperature":0.7,"messages":[{"role":"user","content":"Please email jane.doe@example.com or call +1 415-555-0132 about the renewal."}]}'
send "chat with a card number and a US SSN" /v1/chat/completions \
    '{"model":"local-llama","messages":[{"role":"system","content":"You are a billing assistant."},{"role":"user","content":"My card is 4111 1111 1111 1111 and my SSN is 123-45-6789, update my file."}]}'
send "multi-part content with an IP address" /v1/chat/completions \
    '{"model":"local-llama","messages":[{"role":"user","content":[{"type":"text","text":"The login from 203.0.113.77 was not me (reach me at sam.lee@example.org)."}]}],"max_tokens":64}'
send "embeddings of a support ticket" /v1/embeddings \
    '{"model":"local-embed","input":["Ticket from oliver.stone@example.net: refund card 5500 0000 0000 0004"]}'
send "a card number to an external model: denied by policy" /v1/chat/completions \
    '{"model":"external-gpt-4o","messages":[{"role":"user","content":"Charge 4111-1111-1111-1111 for the order."}]}'
send "a streamed answer (Server-Sent Events)" /v1/chat/completions \
    '{"model":"local-llama","stream":true,"messages":[{"role":"user","content":"Summarise the ticket from ann@example.com in one line."}]}'
send "broken JSON: 400, recorded" /v1/chat/completions '{"model":"local-llama","messages":[{"role":'

bold "waiting for the $sent lineage records to arrive in PostgreSQL"
deadline=$(( $(date +%s) + 60 ))
count=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    count=$("$bin/steward-audit" count --db "$STEWARD_DB" --from "$started" 2>/dev/null || echo 0)
    [ "$count" -ge "$sent" ] && break
    sleep 0.2
done
echo "$count records loaded for the $sent requests sent"

bold "lineage records (steward-audit query --from $started)"
"$bin/steward-audit" query --db "$STEWARD_DB" --from "$started" --limit 20

bold "the deny, in full (steward-audit query --decision deny --format json --limit 1)"
"$bin/steward-audit" query --db "$STEWARD_DB" --from "$started" --decision deny --limit 1 --format json | python3 -m json.tool

bold "chain integrity (steward-audit verify --pubkey signing.key.pub)"
"$bin/steward-audit" verify --db "$STEWARD_DB" --pubkey "$STEWARD_PUBKEY" | tail -n 6 || true
bold "compliance report (steward-audit report --from $started)"
ended=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)
"$bin/steward-audit" report --db "$STEWARD_DB" --from "$started" --to "$ended" \
    --out "$run/report.html" --controller "Demo Org (synthetic data)" --pubkey "$STEWARD_PUBKEY" || true

bold "where things are"
echo "lineage database:  psql '$STEWARD_DB' -c 'select * from lineage_records'"
echo "model saw:         $run/model-received.jsonl"
echo "logs:              $run/logs/"
echo "compliance report: $run/report.html (docs/auditing.md: trace, subject, export, retention)"
[ "$count" -ge "$sent" ] || { echo "demo: only $count of $sent records arrived" >&2; exit 1; }
