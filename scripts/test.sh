#!/usr/bin/env bash
# The project's test command (README, CI): installs the real MCP servers and clients the
# integration tests drive (idempotent), then runs every test target. Exits with cargo's status.
#
#   ./scripts/test.sh                 # everything
#   ./scripts/test.sh -- --nocapture  # extra arguments go to cargo test
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export MCP_GATEWAY_TEST_DEPS="${MCP_GATEWAY_TEST_DEPS:-$root/.test-deps}"
./scripts/install-test-deps.sh
exec cargo test --all-targets "$@"
