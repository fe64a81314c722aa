#!/usr/bin/env python3
"""Memory of the gateway when its stdio client stops reading while a backend floods notifications.

Starts BINARY (an mcp-gateway build) with the fake backend (tests/fixtures/fake_backend.py
--flood) in a scratch XDG environment, initializes, calls `flood` with COUNT (COUNT progress and
COUNT log notifications) through gateway_invoke and reads nothing until the backend has written
all of it; then prints the gateway's VmHWM/VmRSS from /proc, reads everything and counts the
messages that were queued for the client. Linux only.

    cargo build && python3 benches/slow_client.py target/debug/mcp-gateway 300000
"""

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(rest.split()[0]) // 1024
    return fields


def main():
    binary, count = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    scratch = tempfile.mkdtemp(prefix="slow-client-")
    log = os.path.join(scratch, "fake.log")
    config = os.path.join(scratch, "gateway.yaml")
    fake = os.path.join(ROOT, "tests", "fixtures", "fake_backend.py")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"backends:\n  fake:\n    command: python3\n    args: [{json.dumps(fake)}, "
                f"\"--flood\", \"--log\", {json.dumps(log)}]\n")
    env = dict(os.environ, HOME=scratch, XDG_CONFIG_HOME=f"{scratch}/config",
               XDG_STATE_HOME=f"{scratch}/state", XDG_CACHE_HOME=f"{scratch}/cache")
    gw = subprocess.Popen([binary, "--config", config], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=scratch)

    def send(msg):
        gw.stdin.write((json.dumps(msg) + "\n").encode())
        gw.stdin.flush()

    def read_until(wanted):
        n = 0
        while True:
            msg = json.loads(gw.stdout.readline())
            n += 1
            if msg.get("id") == wanted and "method" not in msg:
                return n

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "slow-client", "version": "0"}}})
    read_until(1)
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    before = memory(gw.pid)
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "gateway_invoke", "_meta": {"progressToken": "flood"},
        "arguments": {"server": "fake", "tool": "flood", "arguments": {"count": count}}}})
    while not (os.path.exists(log) and '"flooded"' in open(log, encoding="utf-8").read()):
        time.sleep(0.2)
    time.sleep(1)  # a measurement, not a test: let the gateway queue what it has read
    after = memory(gw.pid)
    queued = read_until(2)
    gw.stdin.close()
    gw.wait()
    print(f"{2 * count} notifications, client not reading: VmHWM {before['VmHWM']} -> "
          f"{after['VmHWM']} MiB, VmRSS {before['VmRSS']} -> {after['VmRSS']} MiB; "
          f"messages delivered once it read: {queued}")


if __name__ == "__main__":
    main()
