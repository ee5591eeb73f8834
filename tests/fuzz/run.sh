#!/usr/bin/env bash
# Runs each libFuzzer harness for SECONDS over its committed seed corpus
# (tests/fuzz/corpus/NAME, read-only) plus a scratch corpus in build/fuzz,
# FUZZ_JOBS (default: the number of cores) harnesses at a time.
#   tests/fuzz/run.sh SECONDS build/fuzz/NAME...
# Prints "fuzz: N passed, N failed"; a crash, leak or sanitizer report fails.
set -uo pipefail
secs=$1
shift
jobs=${FUZZ_JOBS:-$(nproc)}

# One harness; its verdict goes to build/fuzz/NAME.result.
one() {
    local f=$1 name seed scratch log
    name=$(basename "$f")
    seed=tests/fuzz/corpus/$name
    scratch=build/fuzz/corpus-$name
    log=build/fuzz/$name.log
    mkdir -p "$scratch" "$seed"
    if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
        -artifact_prefix="build/fuzz/$name-" "$scratch" "$seed" >"$log" 2>&1; then
        echo "ok ($(grep -Eo '#[0-9]+' "$log" | tail -n 1 | tr -d '#') runs in ${secs}s)" \
            >"build/fuzz/$name.result"
    else
        echo "FAILED" >"build/fuzz/$name.result"
    fi
}

for f in "$@"; do
    rm -f "build/fuzz/$(basename "$f").result"
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    one "$f" &
done
wait

passed=0
failed=0
for f in "$@"; do
    name=$(basename "$f")
    verdict=$(cat "build/fuzz/$name.result" 2>/dev/null || echo "FAILED (no result)")
    if [ "${verdict%% *}" = ok ]; then
        echo "fuzz: $name $verdict"
        passed=$((passed + 1))
    else
        echo "fuzz: $name $verdict; last lines of build/fuzz/$name.log:"
        tail -n 40 "build/fuzz/$name.log"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
