"""Memory a search model adds to a stdio gateway.

For each XDG data dir given (one with no model, one per installed model), starts
`BINARY --config CFG stdio` with that dir as XDG_DATA_HOME and one backend (PyPI
`mcp-server-time` from the test dependencies), sends `initialize` and three
`gateway_search_tools` calls (retried until the time tools are found, so the catalog and, with a
model, the tool vectors are ready), waits one second and reads VmRSS and VmHWM from
/proc/PID/status. Prints one Markdown row per dir.

    python3 benches/model_rss.py target/release/mcp-gateway EMPTY_DIR MODEL_DIR…

Each MODEL_DIR is an XDG data dir holding `mcp-gateway/models/<one model>` (install with
`XDG_DATA_HOME=DIR mcp-gateway model fetch …`). Needs MCP_GATEWAY_TEST_DEPS (the directory
scripts/install-test-deps.sh filled).
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def measure(binary, data_home, server):
    work = tempfile.mkdtemp()
    config = os.path.join(work, "gateway.yaml")
    with open(config, "w") as f:
        f.write(f"backends:\n  time:\n    command: {server}\n")
    env = dict(
        os.environ,
        XDG_DATA_HOME=data_home,
        XDG_CACHE_HOME=os.path.join(work, "cache"),
        XDG_STATE_HOME=os.path.join(work, "state"),
        XDG_CONFIG_HOME=os.path.join(work, "config"),
        MCP_GATEWAY_NO_WATCH="1",
    )
    proc = subprocess.Popen(
        [binary, "--config", config, "stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )

    def send(message):
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()

    def call(request_id, method, params):
        send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        while True:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit(f"{binary} closed stdout")
            message = json.loads(line)
            if message.get("id") == request_id:
                return message

    call(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "model_rss", "version": "1"}})
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    request_id = 10
    for query in ["what time is it in Tokyo", "convert a time between zones",
                  "current hour in Berlin"]:
        for _ in range(100):
            request_id += 1
            reply = call(request_id, "tools/call",
                         {"name": "gateway_search_tools", "arguments": {"query": query}})
            if "get_current_time" in json.dumps(reply):
                break
            time.sleep(0.1)
    time.sleep(1.0)
    servers = call(2, "tools/call", {"name": "gateway_list_servers", "arguments": {}})
    text = servers["result"]["content"][0]["text"]
    mode = json.loads(text).get("search", "?")
    with open(f"/proc/{proc.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    proc.stdin.close()
    proc.terminate()
    proc.wait()
    return mode, status["VmRSS"].strip(), status["VmHWM"].strip()


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    deps = os.environ.get("MCP_GATEWAY_TEST_DEPS")
    if not deps:
        raise SystemExit("set MCP_GATEWAY_TEST_DEPS (see scripts/install-test-deps.sh)")
    server = os.path.join(deps, "py", "bin", "mcp-server-time")
    print("| XDG data dir | search | VmRSS | VmHWM |\n|---|---|---|---|")
    for data_home in sys.argv[2:]:
        mode, rss, hwm = measure(sys.argv[1], data_home, server)
        print(f"| {data_home} | {mode} | {rss} | {hwm} |")


if __name__ == "__main__":
    main()
