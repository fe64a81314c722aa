#!/usr/bin/env bash
# The fuzz targets (proptest property tests, see docs/security.md "Fuzzing") run longer than in
# `cargo test`: PROPTEST_CASES cases each (default 4096), the whole run bounded by FUZZ_SECONDS
# (default 900). A failing input is shrunk and saved under proptest-regressions/: commit it, so
# every later `cargo test` replays it first. Exits non-zero on a failure or when time runs out.
#
#   ./scripts/fuzz.sh                          # every target, 4096 cases each
#   PROPTEST_CASES=100000 FUZZ_SECONDS=3600 ./scripts/fuzz.sh session::props
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${PROPTEST_CASES:-4096}"
filter="${1:-props}"
exec timeout "${FUZZ_SECONDS:-900}" cargo test --lib "$filter"
