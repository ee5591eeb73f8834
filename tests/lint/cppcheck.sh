#!/usr/bin/env bash
# make lint: cppcheck over steward's C sources, held to a committed baseline.
#
#   tests/lint/cppcheck.sh            check; exit 0 when every finding is in
#                                     the baseline, 1 on a new finding or a
#                                     stale baseline entry, 2 when cppcheck
#                                     itself failed or is missing
#   tests/lint/cppcheck.sh --update   rewrite the baseline's findings from
#                                     this run (reasons kept; new entries get
#                                     "TODO", which the check refuses)
#
# The baseline (tests/lint/cppcheck-baseline.txt) has two kinds of line,
# each ending in " # reason":
#   global: ID # reason             a check turned off for the whole tree
#   FILE: ID: MESSAGE # reason      one accepted finding, matched without its
#                                   line number, so edits elsewhere in the
#                                   file do not disturb it
# How to run it, update the baseline, and the policy for adding entries:
# README.md, section "Static analysis".
set -euo pipefail
cd "$(dirname "$0")/../.."

baseline=tests/lint/cppcheck-baseline.txt
out=${LINT_OUT:-build/lint}
jobs=${LINT_JOBS:-$(nproc)}
update=""
[ "${1:-}" = "--update" ] && update=1

command -v cppcheck >/dev/null 2>&1 || { echo "lint: cppcheck is not installed (make deps)"; exit 2; }
mkdir -p "$out"

# What is analysed: every C file of the programs, libraries, tools, unit
# tests, fuzzers and benchmarks, in the one configuration the Makefile
# builds (cppcheck checks only the -D configuration given, not every
# #ifdef combination).  No system include paths: cppcheck knows the C and
# POSIX libraries, OpenSSL and zlib from its own library files; jansson's
# and Check's macros and cm_mem's allocators from tests/lint/steward.cfg.
SRCS=(common policy sidecar audit tests/tools tests/unit tests/fuzz tests/bench)

# The baseline, read: reasons required, globals become --suppress.
bad=$(grep -n -v -E '^[[:space:]]*(#|$)' "$baseline" | grep -v -E ' # [^[:space:]]' || true)
if [ -n "$bad" ] && [ -z "$update" ]; then
    echo "lint: baseline entries without a reason (\" # reason\" at the end):"
    echo "$bad"
    exit 1
fi
todo=$(grep -n -E ' # TODO$' "$baseline" || true)
if [ -n "$todo" ] && [ -z "$update" ]; then
    echo "lint: baseline entries still marked TODO (give each its reason):"
    echo "$todo"
    exit 1
fi
suppress=()
while read -r id; do
    suppress+=("--suppress=$id")
done < <(sed -n -E 's/^global: ([A-Za-z0-9_]+) # .*/\1/p' "$baseline")

# cppcheck's build directory: its results per file, reused while the file
# and what it includes are unchanged (a second run takes seconds).  Keyed
# on everything else that decides the results: cppcheck's version, this
# script, tests/lint/steward.cfg and the global suppressions.
cache=$out/cache-$({ cppcheck --version; cat "$0" tests/lint/steward.cfg; printf '%s\n' "${suppress[@]}"; } |
    sha256sum | cut -c1-16)
find "$out" -maxdepth 1 -name 'cache-*' ! -path "$cache" -exec rm -rf {} +
mkdir -p "$cache"

# Findings one a line: FILE:LINE:COLUMN: ID: MESSAGE.  --error-exitcode=10
# tells findings (10) from cppcheck failing (anything else non-zero).
rc=0
cppcheck -j "$jobs" -q --std=c11 --platform=unix64 \
    -I. -D_GNU_SOURCE -DHAVE_PCRE2 \
    -D__BYTE_ORDER__=1234 -D__ORDER_LITTLE_ENDIAN__=1234 -D__ORDER_BIG_ENDIAN__=4321 \
    --library=gnu --library=openssl --library=zlib --library=tests/lint/steward.cfg \
    --enable=warning,style,performance,portability \
    --inline-suppr --suppress=missingIncludeSystem "${suppress[@]}" \
    --cppcheck-build-dir="$cache" --error-exitcode=10 \
    --template='{file}:{line}:{column}: {id}: {message}' \
    --output-file="$out/cppcheck.txt" \
    "${SRCS[@]}" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 10 ]; then
    echo "lint: cppcheck failed (exit $rc)"
    exit 2
fi

# Keys: the finding without its line and column.
key() { sed -E 's/^([^:]+):[0-9]+:[0-9]+: /\1: /'; }
sort -o "$out/cppcheck.txt" "$out/cppcheck.txt"
key < "$out/cppcheck.txt" | LC_ALL=C sort > "$out/found.keys"
{ grep -v -E '^[[:space:]]*(#|$)|^global: ' "$baseline" || true; } | sed -E 's/[[:space:]]+# .*$//' |
    LC_ALL=C sort > "$out/baseline.keys"

if [ -n "$update" ]; then
    # Keep comments, globals and the reasons of entries still found; list
    # new findings with reason TODO; drop entries no longer found.
    {
        { grep -E '^[[:space:]]*(#|$)|^global: ' "$baseline" || true; } | sed -e '/^$/N;/^\n$/D'
        # the same message at two places is listed twice
        awk 'NR == FNR {
                 if ($0 ~ /^[[:space:]]*(#|$)|^global: /) next
                 k = $0; sub(/[[:space:]]+# .*$/, "", k)
                 r = substr($0, length(k) + 1); sub(/^[[:space:]]+# /, "", r)
                 if (!(k in reason)) reason[k] = r
                 next
             }
             { print $0 " # " (($0 in reason) ? reason[$0] : "TODO") }' "$baseline" "$out/found.keys"
    } > "$out/baseline.new"
    mv "$out/baseline.new" "$baseline"
    echo "lint: $baseline rewritten from this run; give every TODO its reason"
    exit 0
fi

new=$(LC_ALL=C comm -23 "$out/found.keys" "$out/baseline.keys")
stale=$(LC_ALL=C comm -13 "$out/found.keys" "$out/baseline.keys")
status=0
if [ -n "$new" ]; then
    echo "lint: new cppcheck findings (fix them; see README.md, Static analysis):"
    while IFS= read -r k; do
        f=${k%%: *}
        rest=${k#*: }
        # print the located lines for this key
        grep -F -- "$rest" "$out/cppcheck.txt" | grep -E "^$f:[0-9]+:" || echo "$k"
    done <<<"$new" | sort -u
    status=1
fi
if [ -n "$stale" ]; then
    echo "lint: baseline entries no longer found (delete them from $baseline):"
    echo "$stale"
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "lint: ok ($(wc -l < "$out/found.keys") findings, all in the baseline)"
fi
exit "$status"
