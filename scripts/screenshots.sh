#!/usr/bin/env bash
# Regenerates the dashboard screenshots in docs/img/ (1366x768 PNG of each section, and the
# catalog in dark mode) by running the dashboard's real-browser test with MCP_GATEWAY_SCREENSHOTS
# set. Needs what that test needs: Debian's chromium and chromium-driver, and the test
# dependencies (scripts/install-test-deps.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export MCP_GATEWAY_SCREENSHOTS="$root/docs/img"
cargo test --test integration ui::dashboard_in_a_real_browser
ls -l "$MCP_GATEWAY_SCREENSHOTS"/dashboard-*.png
