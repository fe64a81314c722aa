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
MODERN = "2026-07-28"
MODERN_META = {"io.modelcontextprotocol/protocolVersion": MODERN,
               "io.modelcontextprotocol/clientCapabilities": {}}


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


def invoke(rid, server="fake"):
    """`gateway_invoke` of the backend's `echo` through the meta-tool surface (`/mcp`)."""
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": "gateway_invoke", "arguments": {
                "server": server, "tool": "echo", "arguments": {"text": f"hello {rid}"}}}}


def modern(msg):
    """The same request in the 2026-07-28 era: no session, the version and capabilities in
    `params._meta`."""
    msg = json.loads(json.dumps(msg))
    msg["params"]["_meta"] = MODERN_META
    return msg


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

    def __init__(self, port, path, modern=False, key=None):
        self.port, self.path, self.session, self.modern = port, path, None, modern
        self.key = key

    async def connect(self):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, msg):
        body = json.dumps(msg).encode()
        head = (f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                f"MCP-Protocol-Version: {MODERN if self.modern else LEGACY}\r\n"
                f"Content-Length: {len(body)}\r\n")
        if self.key:
            head += f"Authorization: Bearer {self.key}\r\n"
        if self.modern:  # the 2026-07-28 headers that mirror the body
            head += f"Mcp-Method: {msg['method']}\r\n"
            if "name" in msg.get("params", {}):
                head += f"Mcp-Name: {msg['params']['name']}\r\n"
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


async def eras(binary, args):
    """One call through each path of `serve`: `/mcp/fake` `tools/call` and `/mcp`
    `gateway_invoke`, each in the legacy era (one session per client) and in the 2026-07-28
    era (every request stands alone), with 1 and 16 clients."""
    scratch = tempfile.mkdtemp(prefix="bench-serve-eras-")
    env = scratch_env(scratch)
    os.makedirs(f"{scratch}/run", mode=0o700, exist_ok=True)
    config = write_config(scratch, share=False)
    port = free_port()
    gw = start_serve(binary, config, port, env, scratch)
    rows = [("/mcp/fake tools/call echo", "/mcp/fake", echo),
            ("/mcp gateway_invoke fake/echo", "/mcp", invoke)]
    try:
        print(f"eras: {args.calls} calls per row after one warm-up call per client; ms")
        print(f"{'path':<31} {'era':<10} {'clients':>7} | {'p50':>7} {'p99':>7} {'calls/s':>8}")
        for clients in (1, 16):
            for label, path, make in rows:
                for era in (LEGACY, MODERN):
                    conns = []

                    async def client():
                        c = Http(port, path, modern=era == MODERN)
                        if era == MODERN:
                            await c.connect()
                        else:
                            await c.open_session()
                        conns.append(c)
                        rid = 0

                        async def one():
                            nonlocal rid
                            rid += 1
                            msg = make(rid)
                            status, reply = await c.post(modern(msg) if era == MODERN else msg)
                            assert status == 200 and "result" in reply, (status, reply)
                            assert not reply["result"].get("isError"), reply
                        return one

                    t, rate = await run_clients(client, clients, args.calls)
                    for c in conns:
                        c.close()
                    print(f"{label:<31} {era:<10} {clients:>7} | {pct(t, .5):>7.3f} "
                          f"{pct(t, .99):>7.3f} {rate:>8.0f}")
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait()


def tree(pid):
    """`pid` and every process below it."""
    children = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat, encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def census(pids):
    """Processes and summed VmRSS (MiB) of the given process trees."""
    procs = [p for root in pids for p in tree(root)]
    total = 0.0
    for p in procs:
        try:
            total += rss_mib(p)
        except (OSError, RuntimeError):
            pass
    return len(procs), total


async def fanout(binary, args):
    """5 clients using 10 backends: one `serve` for all of them vs one stdio gateway per client
    (what every client starts today without sharing). Each client calls every backend once
    (`gateway_invoke`), so every backend runs; then processes and RSS of the gateways and
    everything below them are counted."""
    scratch = tempfile.mkdtemp(prefix="bench-serve-fanout-")
    env = scratch_env(scratch)
    os.makedirs(f"{scratch}/run", mode=0o700, exist_ok=True)
    names = [f"fake{i}" for i in range(args.backends)]
    config = os.path.join(scratch, "gateway.yaml")
    with open(config, "w", encoding="utf-8") as f:
        f.write("backends:\n" + "".join(
            f"  {n}:\n    command: python3\n    args: [{json.dumps(FAKE)}]\n" for n in names))

    port = free_port()
    gw = start_serve(binary, config, port, env, scratch)
    try:
        conns = []
        for c in range(args.fan_clients):
            conn = Http(port, "/mcp")
            await conn.open_session()
            conns.append(conn)
        await asyncio.gather(*(one_each(conn, names) for conn in conns))
        await asyncio.sleep(0.5)  # a measurement: let the backends settle after their start
        shared = census([gw.pid])
        for conn in conns:
            conn.close()
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait()

    gateways = []
    try:
        for c in range(args.fan_clients):
            g = await asyncio.create_subprocess_exec(
                binary, "--config", config, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env=env, cwd=scratch)
            gateways.append(g)

        async def stdio_client(g):
            async def call(msg):
                g.stdin.write((json.dumps(msg) + "\n").encode())
                while True:
                    reply = json.loads(await g.stdout.readline())
                    if reply.get("id") == msg["id"]:
                        return reply
            assert "result" in await call(initialize(0))
            g.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
            for i, n in enumerate(names):
                reply = await call(invoke(i + 1, n))
                assert "result" in reply and not reply["result"].get("isError"), reply
        await asyncio.gather(*(stdio_client(g) for g in gateways))
        await asyncio.sleep(0.5)
        separate = census([g.pid for g in gateways])
    finally:
        for g in gateways:
            g.stdin.close()
            await g.wait()
    print(f"fan-out: {args.fan_clients} clients x {args.backends} backends (fake_backend.py), "
          "every backend called by every client")
    print(f"  one shared `serve`:            {shared[0]:>3} processes, {shared[1]:>7.1f} MiB RSS")
    print(f"  one stdio gateway per client:  {separate[0]:>3} processes, {separate[1]:>7.1f} MiB RSS")


async def one_each(conn, names):
    for i, n in enumerate(names):
        status, reply = await conn.post(invoke(i + 1, n))
        assert status == 200 and "result" in reply and not reply["result"].get("isError"), reply


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
    parser.add_argument("--backends", type=int, default=10)
    parser.add_argument("--fan-clients", type=int, default=5)
    parser.add_argument("--only", default="latency,eras,memory,bridge,fanout",
                        help="comma-separated sections to run")
    args = parser.parse_args()
    only = set(args.only.split(","))
    binary = os.path.abspath(args.binary)
    with open("/proc/loadavg", encoding="utf-8") as f:
        print(f"cores {os.cpu_count()}, load average at start {' '.join(f.read().split()[:3])}")
    if only & {"latency", "memory", "bridge"}:
        scratch, env, config = asyncio.run(latency(binary, args))
        if "memory" in only:
            asyncio.run(memory(binary, args, scratch, env, config))
        if "bridge" in only:
            bridge(binary, args, scratch, env)
    if "eras" in only:
        asyncio.run(eras(binary, args))
    if "fanout" in only:
        asyncio.run(fanout(binary, args))
    with open("/proc/loadavg", encoding="utf-8") as f:
        print(f"load average at end {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    sys.exit(main())
