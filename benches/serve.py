#!/usr/bin/env python3
"""What `mcp-gateway serve` costs: added latency per call, idle-session memory, bridge start.

Drives BINARY (a release build) on 127.0.0.1 with one fast stdio backend, the fake backend's
`echo` (tests/fixtures/fake_backend.py), in a scratch XDG environment. Linux only.

1. Latency: `tools/call echo` sent to the backend directly (its stdin/stdout, requests from all
   clients interleaved on the one pipe, answers matched by id) vs through `serve` at
   `/mcp/fake` (one legacy session and one keep-alive HTTP/1.1 connection per client), with
   1, 16 and 64 concurrent clients, each sending its next call when the last one was answered.
   Prints p50/p99 of both, the added p50/p99 (HTTP minus direct) and calls/s. The client is
   this one Python process (asyncio, a minimal HTTP/1.1 client) for both paths, so its own cost
   is in both and cancels out of the difference only to the extent it is the same per call.
2. Memory: VmRSS of the serve process after start and one call (idle) vs after SESSIONS legacy
   sessions that only sent `initialize` (default 1,000), checked against `/readyz`'s count.
3. Bridge: with `share: true`, the shared process (`serve --shared`, started here) already
   running and warm, the time from starting `mcp-gateway --config FILE` (a stdio bridge) to its
   answer to `initialize`, BRIDGES times.

    cargo build --release && python3 benches/serve.py target/release/mcp-gateway
    python3 benches/serve.py BINARY --calls 2000 --sessions 1000 --bridges 30   # the defaults
"""

import argparse
import asyncio
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT, "tests", "fixtures", "fake_backend.py")
LEGACY = "2025-11-25"


def rss_mib(pid):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def pct(sorted_ms, p):
    return sorted_ms[round((len(sorted_ms) - 1) * p)]


def initialize(rid):
    return {"jsonrpc": "2.0", "id": rid, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {},
        "clientInfo": {"name": "bench-serve", "version": "0"}}}


def echo(rid):
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": f"hello {rid}"}}}


class Direct:
    """The backend itself over stdio; concurrent callers share its one pipe."""

    async def start(self, env, cwd):
        self.proc = await asyncio.create_subprocess_exec(
            "python3", FAKE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        self.waiting = {}
        self.next_id = 0
        self.reader = asyncio.get_running_loop().create_task(self.read())
        await self.call(initialize(0))
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

    async def read(self):
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            fut = self.waiting.pop(msg.get("id"), None)
            if fut is not None and "method" not in msg:
                fut.set_result(msg)

    async def call(self, msg):
        fut = asyncio.get_running_loop().create_future()
        self.waiting[msg["id"]] = fut
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        return await fut

    async def client(self):
        async def one():
            self.next_id += 1
            reply = await self.call(echo(self.next_id))
            assert "result" in reply, reply
        return one

    async def stop(self):
        self.proc.stdin.close()
        await self.proc.wait()
        self.reader.cancel()


class Http:
    """One keep-alive HTTP/1.1 connection to the gateway (a minimal client: JSON bodies only)."""

    def __init__(self, port, path):
        self.port, self.path, self.session = port, path, None

    async def connect(self):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, msg):
        body = json.dumps(msg).encode()
        head = (f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                f"MCP-Protocol-Version: {LEGACY}\r\nContent-Length: {len(body)}\r\n")
        if self.session:
            head += f"Mcp-Session-Id: {self.session}\r\n"
        self.w.write(head.encode() + b"\r\n" + body)
        status = int((await self.r.readline()).split()[1])
        headers = {}
        while (line := await self.r.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            data = await self.r.readexactly(int(headers["content-length"]))
        else:  # chunked
            data = b""
            while size := int((await self.r.readline()).strip(), 16):
                data += await self.r.readexactly(size)
                await self.r.readline()
            await self.r.readline()
        if "mcp-session-id" in headers:
            self.session = headers["mcp-session-id"]
        if headers.get("content-type", "").startswith("text/event-stream"):
            data = [ln[5:] for ln in data.split(b"\n") if ln.startswith(b"data:")][-1]
        return status, json.loads(data) if data.strip() else None

    async def open_session(self):
        await self.connect()
        status, reply = await self.post(initialize(0))
        assert status == 200 and "result" in reply, (status, reply)
        status, _ = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert status == 202, status

    def close(self):
        self.w.close()


async def run_clients(make_client, clients, calls):
    """`clients` callers, each sending its next call when the last was answered, `calls` in all."""
    fns = [await make_client() for _ in range(clients)]
    for fn in fns:  # warm-up: one call each, not counted
        await fn()
    times = []
    left = calls

    async def loop(fn):
        nonlocal left
        while left > 0:
            left -= 1
            t = time.perf_counter()
            await fn()
            times.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(loop(fn) for fn in fns))
    wall = time.perf_counter() - start
    times.sort()
    return times, len(times) / wall


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(binary, config, port, env, scratch):
    """`serve` with its stderr in a file (a pipe nobody reads would fill and block the gateway)."""
    log = os.path.join(scratch, f"serve-{port}.log")
    with open(log, "w", encoding="utf-8") as err:
        gw = subprocess.Popen([binary, "--config", config, "serve", "--listen",
                               f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=scratch)
    deadline = time.time() + 60
    while time.time() < deadline and gw.poll() is None:
        with open(log, encoding="utf-8", errors="replace") as f:
            if "listening on" in f.read():
                return gw
        time.sleep(0.05)
    gw.kill()
    with open(log, encoding="utf-8", errors="replace") as f:
        raise RuntimeError(f"`listening on` not printed by the gateway: {f.read()[-2000:]}")


def scratch_env(scratch):
    return dict(os.environ, HOME=scratch, XDG_CONFIG_HOME=f"{scratch}/config",
                XDG_STATE_HOME=f"{scratch}/state", XDG_CACHE_HOME=f"{scratch}/cache",
                XDG_DATA_HOME=f"{scratch}/data", XDG_RUNTIME_DIR=f"{scratch}/run")


def write_config(scratch, share):
    path = os.path.join(scratch, "gateway.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"share: {'true' if share else 'false'}\n"
                f"backends:\n  fake:\n    command: python3\n    args: [{json.dumps(FAKE)}]\n")
    return path


async def latency(binary, args):
    scratch = tempfile.mkdtemp(prefix="bench-serve-")
    env = scratch_env(scratch)
    os.makedirs(f"{scratch}/run", mode=0o700, exist_ok=True)
    config = write_config(scratch, share=False)
    port = free_port()
    gw = start_serve(binary, config, port, env, scratch)
    try:
        print(f"latency: tools/call echo, {args.calls} calls per row after one warm-up call per "
              "client; ms")
        print(f"{'clients':>7} | {'direct p50':>10} {'p99':>7} {'calls/s':>8} | "
              f"{'http p50':>8} {'p99':>7} {'calls/s':>8} | {'added p50':>9} {'p99':>7}")
        for clients in (1, 16, 64):
            direct = Direct()
            await direct.start(env, scratch)
            d, d_rate = await run_clients(direct.client, clients, args.calls)
            await direct.stop()

            conns = []

            async def http_client():
                c = Http(port, "/mcp/fake")
                await c.open_session()
                conns.append(c)
                rid = 0

                async def one():
                    nonlocal rid
                    rid += 1
                    status, reply = await c.post(echo(rid))
                    assert status == 200 and "result" in reply, (status, reply)
                return one

            h, h_rate = await run_clients(http_client, clients, args.calls)
            for c in conns:
                c.close()
            print(f"{clients:>7} | {pct(d, .5):>10.3f} {pct(d, .99):>7.3f} {d_rate:>8.0f} | "
                  f"{pct(h, .5):>8.3f} {pct(h, .99):>7.3f} {h_rate:>8.0f} | "
                  f"{pct(h, .5) - pct(d, .5):>9.3f} {pct(h, .99) - pct(d, .99):>7.3f}")
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait()
    return scratch, env, config


async def memory(binary, args, scratch, env, config):
    port = free_port()
    gw = start_serve(binary, config, port, env, scratch)
    try:
        warm = Http(port, "/mcp/fake")
        await warm.open_session()
        status, reply = await warm.post(echo(1))
        assert status == 200 and "result" in reply, (status, reply)
        await asyncio.sleep(0.5)  # a measurement: let allocator and backend output settle
        idle = rss_mib(gw.pid)
        conn = Http(port, "/mcp")
        await conn.connect()
        for i in range(args.sessions):
            conn.session = None
            status, reply = await conn.post(initialize(i))
            assert status == 200 and "result" in reply, (status, reply)
        conn.close()
        warm.close()
        await asyncio.sleep(0.5)
        loaded = rss_mib(gw.pid)
        probe = Http(port, "/readyz")
        await probe.connect()
        probe.w.write(f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        await probe.r.readline()
        length = 0
        while (line := await probe.r.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        sessions = json.loads(await probe.r.readexactly(length))["sessions"]
        probe.close()
        print(f"memory: serve VmRSS idle (1 session, 1 call) {idle:.1f} MiB; after "
              f"{args.sessions} more sessions (initialize only; /readyz counts {sessions}) "
              f"{loaded:.1f} MiB: +{loaded - idle:.1f} MiB, "
              f"{(loaded - idle) * 1024 / args.sessions:.1f} KiB per session")
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait()


def bridge(binary, args, scratch, env):
    config = write_config(scratch, share=True)
    shared = subprocess.Popen([binary, "--config", config, "serve", "--shared"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env, cwd=scratch)
    init = (json.dumps(initialize(1)) + "\n").encode()
    try:
        deadline = time.time() + 60
        while not glob.glob(f"{scratch}/state/mcp-gateway/shared/*.sock"):
            if time.time() > deadline or shared.poll() is not None:
                raise RuntimeError("the shared process did not open its socket")
            time.sleep(0.05)
        times = []
        for i in range(args.bridges + 1):
            t = time.perf_counter()
            b = subprocess.Popen([binary, "--config", config], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 env=env, cwd=scratch)
            b.stdin.write(init)
            b.stdin.flush()
            reply = json.loads(b.stdout.readline())
            elapsed = (time.perf_counter() - t) * 1000
            assert reply.get("id") == 1 and "result" in reply, reply
            b.stdin.close()
            b.wait()
            if i:  # the first one warms the shared process (its backend starts then)
                times.append(elapsed)
        times.sort()
        print(f"bridge: start of `mcp-gateway --config FILE` (share: true, shared process "
              f"running) to its initialize answer, {len(times)} runs: p50 {pct(times, .5):.1f} ms, "
              f"p99 {pct(times, .99):.1f} ms, min {times[0]:.1f} ms")
    finally:
        shared.send_signal(signal.SIGTERM)
        shared.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--bridges", type=int, default=30)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    with open("/proc/loadavg", encoding="utf-8") as f:
        print(f"cores {os.cpu_count()}, load average at start {' '.join(f.read().split()[:3])}")
    scratch, env, config = asyncio.run(latency(binary, args))
    asyncio.run(memory(binary, args, scratch, env, config))
    bridge(binary, args, scratch, env)
    with open("/proc/loadavg", encoding="utf-8") as f:
        print(f"load average at end {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    sys.exit(main())
