#!/usr/bin/env python3
"""Live reload: from saving gateway.yaml to `notifications/tools/list_changed` at the client.

Drives BINARY (a release build) as the stdio sidecar with one backend, the fake backend
(tests/fixtures/fake_backend.py), in a scratch XDG environment. Linux only. SAVES times, the
config is saved the way editors save (written to a temporary file, renamed over gateway.yaml),
alternately adding and removing a second fake backend `extra`:

1. save → list_changed: from just after the rename to the moment the client reads
   `notifications/tools/list_changed` on the gateway's stdout (file watch, debounce, load,
   diff, apply, notice). Goal ≤ 500 ms.
2. save → searchable (adds only): from the rename to the first `gateway_search_tools` answer
   (restricted to `extra`) that has a match; this includes starting the new backend and
   listing its tools, so it depends on the server's own start-up time.

    cargo build --release && python3 benches/reload.py target/release/mcp-gateway
    python3 benches/reload.py BINARY --saves 20   # the default
"""

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT, "tests", "fixtures", "fake_backend.py")


def config(with_extra):
    text = "meta_mcp:\n  enabled: true\nbackends:\n"
    text += f"  base:\n    command: python3\n    args: [{json.dumps(FAKE)}]\n"
    if with_extra:
        text += (f"  extra:\n    command: python3\n"
                 f"    args: [{json.dumps(FAKE)}, --extra-tools, '3']\n")
    return text


def save(path, text):
    tmp = os.path.join(os.path.dirname(path), ".gateway.yaml.swp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


class Client:
    def __init__(self, cmd, env):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.buf = b""
        self.next_id = 1

    def send(self, msg):
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def read(self, timeout):
        """The next message, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("the gateway closed stdout")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params):
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            msg = self.read(60)
            if msg is None:
                raise RuntimeError(f"no answer to {method}")
            if msg.get("id") == rid and "method" not in msg:
                return msg

    def wait_notification(self, method, timeout):
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read(max(0.0, deadline - time.monotonic()))
            if msg is None:
                return False
            if msg.get("method") == method:
                return True


def pct(values, p):
    s = sorted(values)
    return s[round((len(s) - 1) * p)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--saves", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        for var in ("MCP_GATEWAY_CONFIG", "MCP_GATEWAY_LOG_LEVEL", "MCP_GATEWAY_NO_WATCH"):
            env.pop(var, None)
        for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"),
                         ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state"),
                         ("XDG_DATA_HOME", "data")):
            env[var] = os.path.join(tmp, sub)
            os.makedirs(env[var], exist_ok=True)
        path = os.path.join(tmp, "gateway.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(config(False))
        client = Client([args.binary, "--config", path], env)
        client.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                      "clientInfo": {"name": "bench-reload", "version": "0"}})
        client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        client.request("tools/call", {"name": "gateway_invoke", "arguments": {
            "server": "base", "tool": "echo", "arguments": {"text": "warm"}}})
        notice_ms, search_ms = [], []
        for i in range(args.saves):
            adding = i % 2 == 0
            time.sleep(0.3)  # let the last reload's discovery settle (not measured)
            save(path, config(adding))
            saved = time.monotonic()
            if not client.wait_notification("notifications/tools/list_changed", 10):
                sys.exit(f"save {i}: no list_changed within 10 s")
            notice_ms.append((time.monotonic() - saved) * 1000)
            if adding:
                while True:
                    r = client.request("tools/call", {"name": "gateway_search_tools",
                                                      "arguments": {"query": "echo text",
                                                                    "server": "extra"}})
                    matches = r["result"].get("structuredContent", {}).get("matches", [])
                    if matches:
                        break
                search_ms.append((time.monotonic() - saved) * 1000)
        client.proc.stdin.close()
        client.proc.wait(timeout=30)
    print(f"saves: {args.saves} ({args.saves // 2 + args.saves % 2} adds, {args.saves // 2} removes)")
    print(f"save → list_changed   p50 {pct(notice_ms, 0.5):6.1f} ms   "
          f"max {max(notice_ms):6.1f} ms   (goal ≤ 500 ms)")
    print(f"save → searchable     p50 {pct(search_ms, 0.5):6.1f} ms   "
          f"max {max(search_ms):6.1f} ms   (adds; includes the new backend's start)")


if __name__ == "__main__":
    main()
