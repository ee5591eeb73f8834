#!/usr/bin/env bash
# Runs each libFuzzer harness for SECONDS over its committed seed corpus
# (tests/fuzz/corpus/NAME, read-only) plus a scratch corpus in build/fuzz.
#   tests/fuzz/run.sh SECONDS build/fuzz/NAME...
# Prints "fuzz: N passed, N failed"; a crash, leak or sanitizer report fails.
set -uo pipefail
secs=$1
shift
passed=0
failed=0
for f in "$@"; do
    name=$(basename "$f")
    seed=tests/fuzz/corpus/$name
    scratch=build/fuzz/corpus-$name
    mkdir -p "$scratch" "$seed"
    log=build/fuzz/$name.log
    if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
        -artifact_prefix="build/fuzz/$name-" "$scratch" "$seed" >"$log" 2>&1; then
        echo "fuzz: $name ok ($(grep -Eo '#[0-9]+' "$log" | tail -n 1 | tr -d '#') runs in ${secs}s)"
        passed=$((passed + 1))
    else
        echo "fuzz: $name FAILED; last lines of $log:"
        tail -n 40 "$log"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
