#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench_audit.sh: the auditor's questions on a lineage store of N synthetic
# records (default 1,000,000 over 30 days; tests/bench/gen_records.sql),
# in a throwaway PostgreSQL cluster (deploy/local/pg.sh).  For each
# steward-audit command it prints the wall time and the server's execution
# time of its main statement, taken from EXPLAIN (ANALYZE, BUFFERS)
# (STEWARD_PG_EXPLAIN=1, see audit/aud_pg.h); the full plans go to
# RUN_DIR/plans.txt.  Numbers, never pass/fail.
#
#   tests/bench/bench_audit.sh [N]          (make bench-audit BENCH_RECORDS=N)
#   BENCH_AUDIT_DIR=DIR   where the cluster lives (default .run/bench-audit);
#                         kept between runs: the records are generated once
#                         per N (delete the folder to start again)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${STEWARD_BIN:-$repo/build/debug/bin}
n=${1:-1000000}
run=${BENCH_AUDIT_DIR:-$repo/.run/bench-audit}
aud=$bin/steward-audit
mkdir -p "$run"

# A benchmark cluster trades durability for load speed; queries are unaffected.
export STEWARD_PG_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off \
 -c shared_buffers=512MB -c max_wal_size=8GB -c work_mem=32MB -c maintenance_work_mem=256MB"
db=$("$repo/deploy/local/pg.sh" start "$run/pg" | tail -n 1)
export STEWARD_DB=$db
key_file=$run/fingerprint.key
if [ ! -s "$key_file" ]; then
    (umask 077 && head -c 32 /dev/urandom >"$key_file")
fi
# The generator gets the same bytes as hex (cm_fp_key_load drops one trailing newline).
key_hex=$(python3 -c 'import sys; k=open(sys.argv[1],"rb").read()
k = k[:-2] if k.endswith(b"\r\n") else k[:-1] if k.endswith(b"\n") else k
print(k.hex())' "$key_file")
export STEWARD_FINGERPRINT_KEY_FILE=$key_file

have=$(psql "$db" -XAtc "SELECT count(*) FROM lineage_records" 2>/dev/null || echo none)
if [ "$have" != "$n" ]; then
    echo "bench-audit: generating $n records (once per size; kept in $run)" >&2
    psql "$db" -Xq -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null
    "$aud" migrate >/dev/null
    psql "$db" -XAtq -c "SELECT steward_partitions_ensure(current_date - 31, current_date + 2)" >/dev/null
    t0=$(date +%s.%N)
    psql "$db" -Xq -v ON_ERROR_STOP=1 -v n="$n" -v days=30 -v key="$key_hex" \
        -f "$repo/tests/bench/gen_records.sql" 2>&1 | grep -v '^NOTICE' >&2 || true
    t1=$(date +%s.%N)
    echo "bench-audit: generated in $(python3 -c "print(round($t1 - $t0, 1))") s (insert + trigger derivation)" >&2
fi
psql "$db" -XAt -F ' ' -c "SELECT 'records', count(*) FROM lineage_records UNION ALL
    SELECT 'findings', count(*) FROM lineage_findings UNION ALL
    SELECT 'fingerprints', count(*) FROM lineage_fingerprints UNION ALL
    SELECT 'edges', count(*) FROM lineage_edges UNION ALL
    SELECT 'database MB', pg_database_size(current_database()) / 1048576" >&2

# Pick a chain member, a subject and a period from the data itself.
rec=$(psql "$db" -XAtc "SELECT record_id FROM lineage_records WHERE parent_record_id IS NOT NULL
    AND ts_start > now() - interval '3 days' ORDER BY ts_start LIMIT 1")
from=$(date -u -d '30 days ago' +%Y-%m-%dT00:00:00Z)
to=$(date -u -d 'tomorrow' +%Y-%m-%dT00:00:00Z)

plans=$run/plans.txt
: >"$plans"
printf '%-58s %10s %12s\n' "steward-audit command ($n records)" "wall ms" "server ms" 
bench() { # bench LABEL ARGS...: wall time and the main statement's execution time
    local label=$1 t0 t1 err
    shift
    err=$(mktemp)
    t0=$(date +%s%N)
    STEWARD_PG_EXPLAIN=0 "$aud" "$@" >/dev/null
    t1=$(date +%s%N)
    STEWARD_PG_EXPLAIN=1 "$aud" "$@" >/dev/null 2>"$err" || true
    { echo "=== $label: steward-audit $*"; cat "$err"; echo; } >>"$plans"
    # The slowest statement other than the access-log insert.
    srv=$(awk '/^-- explain: SELECT steward_access_log_add/ {skip=1; next}
               /^-- explain:/ {skip=0}
               !skip && /Execution Time:/ {v=$3; if (v > max) max = v}
               END {printf "%.1f", max}' "$err")
    printf '%-58s %10s %12s\n' "$label" "$(( (t1 - t0) / 1000000 ))" "$srv"
    rm -f "$err"
}
bench "query --since 1d --tenant tenant-3 (newest 50)" query --since 1d --tenant tenant-3
bench "query --since 7d --model external-gpt-4o --decision deny" \
    query --since 7d --model external-gpt-4o --decision deny --limit 100
bench "query --since 1d --type US_SSN (newest 50)" query --since 1d --type US_SSN
bench "count --since 7d --caller svc-17" count --since 7d --caller svc-17
bench "count (all records)" count
bench "trace RECORD (agent chain of 3)" trace "$rec"
bench "trace RECORD --format svg" trace "$rec" --format svg
bench "subject user4242@example.com" subject user4242@example.com
bench "subject 555-01-04242 --type PHONE" subject 555-01-04242 --type PHONE
bench "report --from -30d --to +1d --format json (30 days)" \
    report --from "$from" --to "$to" --format json --out /dev/null
bench "export --openlineage --since 1h" export --openlineage --since 1h
bench "retention apply --dry-run" retention apply --dry-run
echo "plans: $plans" >&2
