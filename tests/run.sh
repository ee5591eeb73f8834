#!/usr/bin/env bash
# Runs the test suites of one build flavour and prints one closing line
# "tests: N passed, N failed".
#   tests/run.sh unit|integration|all      (STEWARD_BUILD=build/debug by default)
# Unit tests are the Check binaries in $STEWARD_BUILD/tests; integration tests
# are tests/integration/run.py, which drives real processes.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${STEWARD_BUILD:-build/debug}
what=${1:-all}
passed=0
failed=0

run_unit() {
    local t out line checks fails errs
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        out=$("$t" 2>&1)
        line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
        if [ -z "$line" ]; then
            printf '%s\n' "$out"
            echo "unit: $(basename "$t"): no Check summary (crashed?)"
            failed=$((failed + 1))
            continue
        fi
        checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
        errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
        if [ "$fails" != 0 ] || [ "$errs" != 0 ]; then
            printf '%s\n' "$out" | grep -vE '^Running suite' | grep -E ':[EF]:|Checks' || true
        fi
        echo "unit: $(basename "$t"): $line"
        passed=$((passed + checks - fails - errs))
        failed=$((failed + fails + errs))
    done
}

run_integration() {
    local out summary
    out=$(mktemp)
    STEWARD_BUILD="$build" python3 tests/integration/run.py 2>&1 | tee "$out"
    summary=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$summary" ]; then
        echo "integration: the runner printed no summary"
        failed=$((failed + 1))
    else
        passed=$((passed + $(sed -E 's/integration: ([0-9]+) passed.*/\1/' <<<"$summary")))
        failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary")))
    fi
    rm -f "$out"
}

case "$what" in
unit) run_unit ;;
integration) run_integration ;;
all) run_unit; run_integration ;;
*) echo "usage: tests/run.sh unit|integration|all" >&2; exit 2 ;;
esac
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
