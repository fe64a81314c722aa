#!/usr/bin/env sh
# Builds mcp-gateway from this source tree with the machine's cargo and installs it on PATH.
#
#   ./install.sh            # cargo install --path . --locked  (into ~/.cargo/bin)
#   ./install.sh --start    # … then, if you have no gateway config yet, write one with keyless
#                           # example servers (`init --with-examples`), probe it (doctor) and
#                           # search its tools: a client's plain `mcp-gateway` then finds it
#
# Environment: INSTALL_ROOT=DIR installs into DIR/bin instead (e.g. INSTALL_ROOT=~/.local).
# Idempotent: a second run rebuilds only what changed and replaces the binary in place.
# Needs only a Rust toolchain (rustup, or cargo from the system).
set -eu

start=0
for arg in "$@"; do
  case "$arg" in
    --start) start=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option: $arg (try --help)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "install.sh: cargo not found. Install Rust first: https://rustup.rs" >&2
    exit 1
  fi
fi

if [ -n "${INSTALL_ROOT:-}" ]; then
  root="$INSTALL_ROOT"
else
  root="${CARGO_HOME:-$HOME/.cargo}"
fi
bindir="$root/bin"

echo "Building mcp-gateway with $(cargo --version) …" >&2
cargo install --path "$here" --locked --root "$root" --force --quiet

bin="$bindir/mcp-gateway"
if [ ! -x "$bin" ]; then
  echo "install.sh: build finished but $bin is missing" >&2
  exit 1
fi
echo "Installed $("$bin" --version) to $bin" >&2

case ":$PATH:" in
  *":$bindir:"*) on_path=1 ;;
  *) on_path=0 ;;
esac

echo
if [ "$on_path" = 0 ]; then
  echo "Add $bindir to your PATH, e.g.:"
  echo "  echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.profile && . ~/.profile"
  echo
fi
echo "Next steps:"
echo "  mcp-gateway init --with-examples      # a working config on keyless example servers"
echo "  mcp-gateway setup                     # or: move your AI clients' servers behind the gateway"
echo "Then point your client at the gateway (ready snippets in $here/client-configs/), e.g. Claude Code:"
echo "  claude mcp add gateway -- mcp-gateway"

if [ "$start" = 1 ]; then
  # Everything below runs on the config a client's plain `mcp-gateway` reads: the user config
  # (run from HOME, so no project file of this checkout is picked up).
  cd "$HOME"
  echo
  if out=$("$bin" init --with-examples 2>&1); then
    echo "$out"
  else
    case "$out" in
      *"already exists"*) echo "Keeping your existing gateway config (\`mcp-gateway list\` shows its servers)." ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
  echo
  echo "Checking the config (starts and probes each server once) …"
  "$bin" doctor || true
  echo
  echo "Searching the servers' tools for \"read a file\" …"
  "$bin" search "read a file"
fi
