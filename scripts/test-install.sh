#!/usr/bin/env bash
# Checks install.sh the way a new user runs it: a clean clone of HEAD, an empty scratch HOME with
# only the Rust toolchain reachable, run twice (idempotent), then the installed binary works.
# Slow (a release build): run by hand or in CI, not from `cargo test`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git clone --quiet "$repo" "$scratch/src"
mkdir -p "$scratch/home"
# Only the toolchain comes from the real machine (rustup keeps it under RUSTUP_HOME).
toolchain_env=(HOME="$scratch/home" PATH="$(dirname "$(command -v cargo)"):/usr/bin:/bin"
  RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="$scratch/home/.cargo")
[ -d "${CARGO_HOME:-$HOME/.cargo}/registry" ] && mkdir -p "$scratch/home/.cargo" &&
  cp -r "${CARGO_HOME:-$HOME/.cargo}/registry" "$scratch/home/.cargo/" # offline-friendly crate cache
run() { env -i "${toolchain_env[@]}" "$@"; }

run sh "$scratch/src/install.sh" > "$scratch/first.out"
bin="$scratch/home/.cargo/bin/mcp-gateway"
test -x "$bin" || { echo "FAIL: $bin not installed"; cat "$scratch/first.out"; exit 1; }
grep -q "mcp-gateway init --with-examples" "$scratch/first.out" || { echo "FAIL: no next step printed"; exit 1; }
grep -q "Add $scratch/home/.cargo/bin to your PATH" "$scratch/first.out" || { echo "FAIL: PATH hint missing"; exit 1; }
before="$(sha256sum "$bin")"
run sh "$scratch/src/install.sh" > "$scratch/second.out"
test -x "$bin" || { echo "FAIL: second run lost the binary"; exit 1; }
[ "$(sha256sum "$bin" | cut -d' ' -f1)" = "$(echo "$before" | cut -d' ' -f1)" ] || echo "note: second run produced a different binary (rebuilt)"
run "$bin" --version
run env XDG_CONFIG_HOME="$scratch/home/.config" "$bin" init --with-examples
test -f "$scratch/home/.config/mcp-gateway/gateway.yaml" || { echo "FAIL: init wrote nothing"; exit 1; }
echo "install.sh: 1 passed, 0 failed"
