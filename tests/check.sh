#!/usr/bin/env bash
# README's test command: installs what is missing (deploy/deps.sh), builds,
# and runs every suite (unit + integration) against real processes.
#   tests/check.sh            the debug build
#   tests/check.sh asan       the same suites under ASan + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/deps.sh
flavour=${1:-debug}
make -j"$(nproc)" FLAVOUR="$flavour" WERROR="${WERROR:-1}" programs tests
make FLAVOUR="$flavour" test
