//! Who may call what on `mcp-gateway serve`: API keys (config and the keys store), JWTs minted by
//! a real library against a JWKS served over HTTP, scopes in every list and call, rate limits,
//! the REST API and the request log. Driven by real clients: PyPI `httpx`, the official MCP
//! Python SDK, `PyJWT` + `cryptography`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;
use crate::security::{Log, recording_server};
use crate::serve::Served;

const READER_KEY: &str = "reader-key-0123456789abcdef";
const OPS_KEY: &str = "ops-key-0123456789abcdef0123";
const LIMITED_KEY: &str = "limited-key-0123456789abcdef";
const PUBLIC_URL: &str = "https://gw.example.test";

fn time_server() -> String {
    stdio_backend(&py_bin("mcp-server-time"), &["--local-timezone", "UTC"], "")
}

/// `serve` with three backends (`time`, stdio; `alpha` and `beta`, one HTTP server recording
/// every header it receives, both with the tool `whoami` and the tag `recorder`) and three config keys: `reader` (only `time/*`), `ops` (admin), `limited`
/// (3 requests a minute). Extra YAML goes under `auth:`.
fn served_with_keys(env: &TestEnv, log: Log, extra_auth: &str) -> Served {
    let port = recording_server(log, None);
    let yaml = format!(
        "server:\n\
         \x20 public_url: {PUBLIC_URL}/\n\
         \x20 allowed_origins: [\"https://app.example.test\"]\n\
         auth:\n\
         \x20 enabled: true\n\
         \x20 api_keys:\n\
         \x20   - name: reader\n\
         \x20     key: \"${{MGW_READER_KEY}}\"\n\
         \x20     allowed_tools: [\"time/*\"]\n\
         \x20   - name: ops\n\
         \x20     key: \"${{MGW_OPS_KEY}}\"\n\
         \x20     admin: true\n\
         \x20   - name: limited\n\
         \x20     key: \"${{MGW_LIMITED_KEY}}\"\n\
         \x20     rate_limit: 3\n\
         {extra_auth}\
         backends:\n\
         \x20 time:\n{}\
         \x20 alpha:\n\
         \x20   url: http://127.0.0.1:{port}/alpha\n\
         \x20   transport: streamable-http\n\
         \x20   tags: [recorder]\n\
         \x20 beta:\n\
         \x20   url: http://127.0.0.1:{port}/beta\n\
         \x20   transport: streamable-http\n\
         \x20   tags: [recorder]\n",
        time_server()
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let config = env.write("gateway.yaml", &yaml);
    Served::start_with(
        env,
        &config,
        &[
            ("MGW_READER_KEY", READER_KEY),
            ("MGW_OPS_KEY", OPS_KEY),
            ("MGW_LIMITED_KEY", LIMITED_KEY),
        ],
    )
}

/// Sends `requests` with httpx (`tests/fixtures/http_probe.py`); one reply per request.
fn probe(served: &Served, parallel: bool, requests: Value) -> Vec<Value> {
    let spec = json!({"base": format!("http://{}", served.addr), "parallel": parallel,
                      "requests": requests});
    let mut cmd = Command::new(py1_python());
    cmd.arg(fixture("http_probe.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn http_probe.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("write spec");
    let out = child.wait_with_output().expect("http_probe.py");
    assert!(
        out.status.success(),
        "http_probe.py failed: {}",
        tail(&String::from_utf8_lossy(&out.stderr), 1500)
    );
    match serde_json::from_slice(&out.stdout).expect("probe output is JSON") {
        Value::Array(v) => v,
        other => panic!("probe output: {other}"),
    }
}

fn bearer(key: &str) -> Value {
    json!({"Authorization": format!("Bearer {key}")})
}

/// A JSON-RPC POST to /mcp in the 2026-07-28 era (no session needed).
fn mcp_call(headers: Value, id: u64, method: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": {}});
    let mut h = headers;
    h["Accept"] = json!("application/json, text/event-stream");
    h["MCP-Protocol-Version"] = json!("2026-07-28");
    h["Mcp-Method"] = json!(method);
    if let Some(name) = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
    {
        h["Mcp-Name"] = json!(name);
    }
    json!({"method": "POST", "path": "/mcp", "headers": h,
           "json": {"jsonrpc": "2.0", "id": id, "method": method, "params": params}})
}

fn header<'a>(reply: &'a Value, name: &str) -> Option<&'a str> {
    reply["headers"][name].as_str()
}

/// The text of a tools/call result inside a JSON-RPC reply.
fn result_text(reply: &Value) -> String {
    let body = &reply["json"];
    assert!(body.get("result").is_some(), "not a result: {reply}");
    first_text(&body["result"])
}

#[test]
fn api_keys_authenticate_and_refusals_say_how() {
    let env = TestEnv::new();
    let log: Log = Default::default();
    let served = served_with_keys(&env, log.clone(), "");
    let list = |h: Value| mcp_call(h, 1, "tools/list", json!({}));
    let replies = probe(
        &served,
        false,
        json!([
            list(json!({})),
            list(bearer("not-a-key-0123456789")),
            list(json!({"Authorization": format!("Bearer {READER_KEY} x")})),
            list(json!({"Authorization": "Basic dXNlcjpwYXNz"})),
            list(json!({"Authorization": "Bearer"})),
            list(bearer(READER_KEY)),
            list(json!({"X-API-Key": READER_KEY})),
            list(json!({"Authorization": format!("Bearer {READER_KEY}"), "X-API-Key": OPS_KEY})),
            {"method": "GET", "path": "/.well-known/oauth-protected-resource",
             "headers": {"Host": "localhost"}},
            {"method": "GET", "path": "/healthz"},
            {"method": "GET", "path": "/readyz"},
            {"method": "OPTIONS", "path": "/api/v1/tools", "headers": {
                "Origin": "https://app.example.test", "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization"}},
            {"method": "GET", "path": "/api/v1/servers", "headers": {
                "Origin": "https://app.example.test", "Authorization": format!("Bearer {READER_KEY}")}},
            {"method": "GET", "path": "/api/v1/servers", "headers": {
                "Origin": "http://localhost:3000", "Authorization": format!("Bearer {READER_KEY}")}},
            {"method": "GET", "path": "/api/v1/servers", "headers": {
                "Origin": "https://evil.example.test", "Authorization": format!("Bearer {READER_KEY}")}},
        ]),
    );
    // CORS: only the configured origin gets it (a preflight needs no credentials); a loopback
    // origin passes the guard without CORS headers; any other origin is refused.
    assert_eq!(replies[11]["status"], 204, "{}", replies[11]);
    assert_eq!(
        header(&replies[11], "access-control-allow-origin"),
        Some("https://app.example.test")
    );
    assert!(
        header(&replies[11], "access-control-allow-headers")
            .is_some_and(|h| h.contains("Authorization"))
    );
    assert_eq!(replies[12]["status"], 200, "{}", replies[12]);
    assert_eq!(
        header(&replies[12], "access-control-allow-origin"),
        Some("https://app.example.test")
    );
    assert!(
        header(&replies[12], "access-control-expose-headers")
            .is_some_and(|h| h.contains("WWW-Authenticate"))
    );
    assert_eq!(replies[13]["status"], 200, "{}", replies[13]);
    assert_eq!(header(&replies[13], "access-control-allow-origin"), None);
    assert_eq!(replies[14]["status"], 403, "{}", replies[14]);
    let metadata = format!("{PUBLIC_URL}/.well-known/oauth-protected-resource");
    // No credentials: 401 pointing to the metadata, no error code (RFC 6750 §3.1).
    assert_eq!(replies[0]["status"], 401, "{}", replies[0]);
    let challenge = header(&replies[0], "www-authenticate").expect("challenge");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata}\"")),
        "{challenge}"
    );
    assert!(!challenge.contains("error="), "{challenge}");
    assert_eq!(
        replies[0]["json"]["error"]["code"], -32600,
        "{}",
        replies[0]
    );
    // A wrong key: invalid_token. Malformed ones: invalid_request. Never the credential echoed.
    for (i, code) in [
        (1, "invalid_token"),
        (2, "invalid_request"),
        (3, "invalid_request"),
        (4, "invalid_request"),
    ] {
        let r = &replies[i];
        assert_eq!(r["status"], 401, "{r}");
        let c = header(r, "www-authenticate").unwrap_or("");
        assert!(c.contains(&format!("error=\"{code}\"")), "{i}: {c}");
        assert!(!r["text"].as_str().unwrap().contains(READER_KEY), "{r}");
        assert!(!c.contains(READER_KEY) && !c.contains("not-a-key"), "{c}");
    }
    // A key with trailing spaces, sent raw (httpx refuses to send such a header): HTTP strips
    // whitespace around a field value (RFC 9110 §5.5), so only inner whitespace can reach us,
    // and that is refused above; the stripped key is the key.
    let raw = crate::serve::http(
        &served.addr,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("X-API-Key", &format!("{READER_KEY}   ")),
        ],
        br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    );
    assert_eq!(
        raw.status, 400,
        "authenticated, then refused for lack of a session: {}",
        raw.body
    );
    assert!(raw.body.contains("Mcp-Session-Id"), "{}", raw.body);
    // A huge header, sent raw: refused (by the credential cap or by the HTTP layer), never 5xx.
    let huge = format!("Bearer {}", "a".repeat(9000));
    let raw = crate::serve::http(
        &served.addr,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &huge),
        ],
        br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    );
    assert!(
        matches!(raw.status, 401 | 431),
        "{} {}",
        raw.status,
        raw.body
    );
    // Bearer and X-API-Key both work; two different credentials are refused.
    for i in [5, 6] {
        assert_eq!(replies[i]["status"], 200, "{}", replies[i]);
        assert!(
            replies[i]["json"]["result"]["tools"].is_array(),
            "{}",
            replies[i]
        );
    }
    assert_eq!(replies[7]["status"], 401, "{}", replies[7]);
    // RFC 9728 metadata comes from server.public_url, never from Host.
    let doc = &replies[8];
    assert_eq!(doc["status"], 200, "{doc}");
    assert_eq!(doc["json"]["resource"], PUBLIC_URL, "{doc}");
    assert_eq!(doc["json"]["bearer_methods_supported"], json!(["header"]));
    assert_eq!(replies[9]["status"], 200, "/healthz needs no credentials");
    assert_eq!(replies[10]["status"], 200, "/readyz needs no credentials");
    assert!(
        replies[10]["json"].get("backends").is_none(),
        "unauthenticated readiness shows no backend names: {}",
        replies[10]
    );
    // Nothing the gateway wrote holds a key.
    let stderr = served.stderr();
    for key in [READER_KEY, OPS_KEY, LIMITED_KEY] {
        assert!(!stderr.contains(key), "a key reached the log: {stderr}");
    }
}

#[test]
fn non_loopback_bind_needs_auth() {
    let env = TestEnv::new();
    let open = env.write_config(true, &[]);
    let out = env
        .gateway_command(&open, &["serve", "--listen", "0.0.0.0:0"])
        .output()
        .expect("run serve");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication is off"), "{err}");
    // With auth on, the same address is accepted (and refuses the unauthenticated).
    let locked = env.write(
        "locked.yaml",
        "auth:\n  enabled: true\n  api_keys:\n    - name: a\n      key: \"${MGW_READER_KEY}\"\nbackends: {}\n",
    );
    let served = Served::start_listening(
        &env,
        &locked,
        "0.0.0.0:0",
        &[("MGW_READER_KEY", READER_KEY)],
    );
    let port = served.addr.rsplit(':').next().expect("port");
    let r = crate::serve::http(
        &format!("127.0.0.1:{port}"),
        "POST",
        "/mcp",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 401, "{}", r.body);
}

/// The reader key sees and reaches only `time`: lists, search, invoke, list_servers, and the
/// alpha backend never sees the client's credentials.
#[test]
fn scopes_hide_what_a_key_may_not_use_and_credentials_never_reach_a_backend() {
    let env = TestEnv::new();
    let log: Log = Default::default();
    let served = served_with_keys(&env, log.clone(), "");
    let invoke = |server: &str, tool: &str| {
        json!({"op": "call_tool", "name": "gateway_invoke",
               "arguments": {"server": server, "tool": tool, "arguments": {"timezone": "UTC"}}})
    };
    let ops = json!([
        {"op": "call_tool", "name": "gateway_list_servers", "arguments": {}},
        {"op": "call_tool", "name": "gateway_search_tools", "arguments": {"query": "whoami request arrived"}},
        {"op": "call_tool", "name": "gateway_search_tools", "arguments": {"query": "current time timezone"}},
        invoke("alpha", "whoami"),
        invoke("time", "get_current_time"),
        {"op": "call_tool", "name": "gateway_list_tools", "arguments": {"server": "alpha"}},
    ]);
    let url = served.url();
    let run = |key: &str, python: std::path::PathBuf, mode: &str| {
        run_sdk_driver(
            &python,
            &json!({"url": url, "mode": mode, "ops": ops,
                    "headers": {"Authorization": format!("Bearer {key}")}}),
            &env,
        )
    };
    // The modern-era SDK (2.x) as the reader; the legacy SDK (1.x) as the reader too.
    for out in [
        run(READER_KEY, py_bin("python"), "auto"),
        run(READER_KEY, py1_python(), "legacy"),
    ] {
        let r = &out["results"];
        let servers = r[0]["structuredContent"]["servers"]
            .as_array()
            .expect("servers");
        let names: Vec<&str> = servers.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(names, vec!["time"], "{out}");
        let matches = r[1]["structuredContent"]["matches"]
            .as_array()
            .expect("matches");
        assert!(
            matches.iter().all(|m| m["server"] == "time"),
            "search leaks another server: {out}"
        );
        let matches = r[2]["structuredContent"]["matches"]
            .as_array()
            .expect("matches");
        assert!(!matches.is_empty(), "{out}");
        assert!(matches.iter().all(|m| m["server"] == "time"), "{out}");
        assert_eq!(r[3]["isError"], true, "{out}");
        let refused = first_text(&r[3]);
        assert!(refused.contains("unknown server 'alpha'"), "{refused}");
        assert!(!refused.contains("whoami"), "{refused}");
        assert_ne!(r[4]["isError"], true, "{out}");
        assert!(first_text(&r[4]).contains("timezone"), "{out}");
        assert_eq!(r[5]["isError"], true, "{out}");
    }
    assert!(
        log.lock()
            .expect("log")
            .iter()
            .all(|s| !s.body.contains("tools/call")),
        "alpha was called for a caller that may not"
    );
    // The admin key reaches alpha; alpha sees no client credential.
    let out = run(OPS_KEY, py_bin("python"), "auto");
    assert_eq!(first_text(&out["results"][3]), "reached /alpha", "{out}");
    let seen = log.lock().expect("log").clone();
    assert!(
        seen.iter().any(|s| s.body.contains("tools/call")),
        "{seen:?}"
    );
    for s in &seen {
        for (k, v) in &s.headers {
            assert!(
                !v.contains(OPS_KEY) && !v.contains(READER_KEY),
                "backend saw a client credential in {k}"
            );
            assert!(
                k != "authorization" && k != "x-api-key",
                "backend got {k}: {v}"
            );
        }
    }
}

/// Lists over HTTP: `tools/list` with `meta_mcp.enabled: false` shows only the permitted tools,
/// and the 2026-07-28 list result is marked private for caching.
#[test]
fn scoped_lists_are_filtered_and_private() {
    let env = TestEnv::new();
    let log: Log = Default::default();
    let port = recording_server(log, None);
    let yaml = format!(
        "meta_mcp:\n  enabled: false\n\
         auth:\n  enabled: true\n  api_keys:\n\
         \x20   - name: reader\n      key: \"${{MGW_READER_KEY}}\"\n      allowed_tools: [\"time/get_*\"]\n\
         \x20   - name: ops\n      key: \"${{MGW_OPS_KEY}}\"\n\
         backends:\n  time:\n{}\
         \x20 alpha:\n    url: http://127.0.0.1:{port}/alpha\n    transport: streamable-http\n",
        time_server()
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let config = env.write("gateway.yaml", &yaml);
    let served = Served::start_with(
        &env,
        &config,
        &[("MGW_READER_KEY", READER_KEY), ("MGW_OPS_KEY", OPS_KEY)],
    );
    // A list right after start waits only so long for first discoveries (a slow backend comes
    // later, with `list_changed`); this test is about scopes, so the lists it asserts on are
    // made once every backend was listed. The first request tells the gateway what a client
    // supports, which starting backends wait for.
    probe(
        &served,
        false,
        json!([mcp_call(bearer(OPS_KEY), 0, "tools/list", json!({}))]),
    );
    served.wait_discovered(&[("Authorization", &format!("Bearer {OPS_KEY}"))]);
    let replies = probe(
        &served,
        false,
        json!([
            mcp_call(bearer(READER_KEY), 1, "tools/list", json!({})),
            mcp_call(bearer(OPS_KEY), 2, "tools/list", json!({})),
            mcp_call(
                bearer(READER_KEY),
                3,
                "tools/call",
                json!({"name": "alpha__whoami", "arguments": {}})
            ),
            mcp_call(
                bearer(READER_KEY),
                4,
                "tools/call",
                json!({"name": "time__convert_time", "arguments": {}})
            ),
        ]),
    );
    let names = |r: &Value| -> Vec<String> {
        r["json"]["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        names(&replies[0]),
        vec!["time__get_current_time"],
        "{}",
        replies[0]
    );
    assert_eq!(replies[0]["json"]["result"]["cacheScope"], "private");
    let all = names(&replies[1]);
    assert!(all.contains(&"alpha__whoami".to_string()), "{all:?}");
    assert!(all.contains(&"time__convert_time".to_string()), "{all:?}");
    assert_eq!(replies[1]["json"]["result"]["cacheScope"], "public");
    // Calling a hidden tool gets exactly what an unknown tool gets.
    for r in &replies[2..4] {
        let msg = r["json"]["error"]["message"].as_str().unwrap_or("");
        assert!(msg.starts_with("unknown tool"), "{r}");
    }
}

#[test]
fn rate_limits_answer_429_with_headers() {
    let env = TestEnv::new();
    let served = served_with_keys(&env, Default::default(), "");
    let ping = |id| mcp_call(bearer(LIMITED_KEY), id, "tools/list", json!({}));
    let replies = probe(
        &served,
        false,
        json!([
            ping(1),
            ping(2),
            ping(3),
            ping(4),
            mcp_call(bearer(READER_KEY), 5, "tools/list", json!({}))
        ]),
    );
    for (i, r) in replies[..3].iter().enumerate() {
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(header(r, "x-ratelimit-limit"), Some("3"), "{r}");
        assert_eq!(header(r, "ratelimit-limit"), Some("3"), "{r}");
        let remaining = (2 - i).to_string();
        assert_eq!(
            header(r, "x-ratelimit-remaining"),
            Some(remaining.as_str()),
            "{r}"
        );
        let reset: u64 = header(r, "x-ratelimit-reset")
            .unwrap_or("x")
            .parse()
            .expect("reset");
        assert!((1..=60).contains(&reset), "{r}");
    }
    let refused = &replies[3];
    assert_eq!(refused["status"], 429, "{refused}");
    let retry: u64 = header(refused, "retry-after")
        .unwrap_or("x")
        .parse()
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{refused}");
    assert_eq!(header(refused, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(refused["json"]["error"]["code"], -32003, "{refused}");
    assert_eq!(
        refused["json"]["error"]["data"]["retryAfterSeconds"],
        json!(retry),
        "{refused}"
    );
    // Another key has its own (unlimited) budget: no rate-limit headers at all.
    assert_eq!(replies[4]["status"], 200);
    assert_eq!(header(&replies[4], "x-ratelimit-limit"), None);
}

/// 64 clients at once against a limit of 10 a minute: exactly 10 are admitted.
#[test]
fn rate_limit_is_exact_under_64_concurrent_clients() {
    let env = TestEnv::new();
    let served = served_with_keys(&env, Default::default(), "  rate_limit: 10\n");
    // `ops` sets no limit of its own: auth.rate_limit (10) applies.
    let requests: Vec<Value> = (0..64)
        .map(|i| mcp_call(bearer(OPS_KEY), i, "tools/list", json!({})))
        .collect();
    let replies = probe(&served, true, Value::Array(requests));
    let ok = replies.iter().filter(|r| r["status"] == 200).count();
    let limited = replies.iter().filter(|r| r["status"] == 429).count();
    assert_eq!((ok, limited), (10, 54), "{replies:?}");
}

/// `keys add` makes a key that works at once; `keys revoke` stops it within the store check.
#[test]
fn keys_from_the_store_work_and_revocation_takes_effect() {
    let env = TestEnv::new();
    let served = served_with_keys(&env, Default::default(), "");
    let added = env
        .cli(&["keys", "add", "agent-b", "--scope", "time/*"])
        .expect_code(0);
    let key = added.stdout.trim().to_string();
    assert!(key.starts_with("mgw_"), "{added:?}");
    let list = |k: &str| {
        mcp_call(
            bearer(k),
            1,
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
        )
    };
    // The store is re-read at most a second after it changes: poll until accepted.
    let deadline = Instant::now() + Duration::from_secs(20);
    let r = loop {
        let r = probe(&served, false, json!([list(&key)]));
        if r[0]["status"] == 200 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(r[0]["status"], 200, "{}", r[0]);
    assert!(result_text(&r[0]).contains("\"time\""), "{}", r[0]);
    assert!(!result_text(&r[0]).contains("alpha"), "{}", r[0]);
    env.cli(&["keys", "revoke", "agent-b"]).expect_code(0);
    // The store is re-read at most a second after it changes: poll until refused.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = probe(&served, false, json!([list(&key)]));
        if r[0]["status"] == 401 {
            let c = header(&r[0], "www-authenticate").unwrap_or("");
            assert!(c.contains("invalid_token"), "{c}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "revoked key still accepted: {}",
            r[0]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Config keys are unaffected.
    let r = probe(&served, false, json!([list(READER_KEY)]));
    assert_eq!(r[0]["status"], 200);
    // Last use of a store key is written when serve stops; `keys list` shows it, never the key.
    let other = env
        .cli(&["keys", "add", "agent-c"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while probe(&served, false, json!([list(&other)]))[0]["status"] != 200 {
        assert!(Instant::now() < deadline, "new store key never accepted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut served = served;
    assert!(served.stop(libc::SIGTERM).success());
    let listed = env.cli(&["keys", "list", "--json"]).expect_code(0);
    assert!(!listed.stdout.contains(&other), "{listed:?}");
    let keys = listed.json()["keys"].clone();
    let c = keys
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["name"] == "agent-c")
        .unwrap_or_else(|| panic!("{keys}"))
        .clone();
    assert!(c["last_used_at"].is_string(), "{c}");
}

/// The identity provider of one test: `tests/fixtures/jwt_idp.py`.
struct Idp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Idp {
    fn start() -> Idp {
        let mut child = Command::new(py1_python())
            .arg(fixture("jwt_idp.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn jwt_idp.py");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("idp port");
        let port = serde_json::from_str::<Value>(&line).expect("port line")["port"]
            .as_u64()
            .expect("port") as u16;
        Idp {
            child,
            stdin,
            stdout,
            port,
        }
    }

    fn ask(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").expect("idp command");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("idp answer");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("idp said {line:?}: {e}"))
    }

    fn token(&mut self, cmd: Value) -> String {
        self.ask(cmd)["token"].as_str().expect("token").to_string()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[test]
fn jwt_from_a_real_idp_with_jwks_over_http() {
    let env = TestEnv::new();
    let mut idp = Idp::start();
    let jwt = format!(
        "  jwt:\n\
         \x20   issuer: https://idp.test\n\
         \x20   audiences: [mcp-gateway]\n\
         \x20   jwks_uri: http://127.0.0.1:{}/jwks.json\n\
         \x20   algorithms: [RS256, ES256]\n\
         \x20   leeway: 1s\n\
         \x20   scopes:\n\
         \x20     \"tools:time\": {{ allowed_tools: [\"time/*\"] }}\n\
         \x20     \"tools:all\": {{ allowed_tools: [\"*\"] }}\n",
        idp.port
    );
    let served = served_with_keys(&env, Default::default(), &jwt);
    let t = now();
    let claims = |extra: Value| {
        let mut c = json!({"iss": "https://idp.test", "aud": "mcp-gateway", "sub": "agent-7",
                           "scope": "tools:time", "exp": t + 600, "iat": t});
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let rs = idp.token(json!({"op": "mint", "kid": "rsa-1", "claims": claims(json!({}))}));
    let es = idp.token(
        json!({"op": "mint", "kid": "ec-1", "claims": claims(json!({"scope": "tools:all"}))}),
    );
    let bad = [
        ("expired", idp.token(json!({"op": "mint", "kid": "rsa-1", "claims": claims(json!({"exp": t - 60}))}))),
        ("not yet valid", idp.token(json!({"op": "mint", "kid": "ec-1", "claims": claims(json!({"nbf": t + 3600}))}))),
        ("wrong issuer", idp.token(json!({"op": "mint", "kid": "rsa-1", "claims": claims(json!({"iss": "https://evil.test"}))}))),
        ("wrong audience", idp.token(json!({"op": "mint", "kid": "rsa-1", "claims": claims(json!({"aud": "other"}))}))),
        ("alg none", idp.token(json!({"op": "none", "claims": claims(json!({}))}))),
        ("HS256 keyed with the public key", idp.token(json!({"op": "hs_with_public", "kid": "rsa-1", "claims": claims(json!({}))}))),
        ("tampered", idp.token(json!({"op": "tamper", "token": rs, "claims": claims(json!({"scope": "tools:all"}))}))),
    ];
    let servers = |tok: &str, id| {
        mcp_call(
            bearer(tok),
            id,
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
        )
    };
    let mut requests = vec![servers(&rs, 1), servers(&es, 2), servers(&rs, 3)];
    for (i, (_, tok)) in bad.iter().enumerate() {
        requests.push(servers(tok, 10 + i as u64));
    }
    let replies = probe(&served, false, Value::Array(requests));
    assert_eq!(replies[0]["status"], 200, "RS256: {}", replies[0]);
    let text = result_text(&replies[0]);
    assert!(
        text.contains("\"time\"") && !text.contains("alpha"),
        "scope tools:time: {text}"
    );
    assert_eq!(replies[1]["status"], 200, "ES256: {}", replies[1]);
    assert!(
        result_text(&replies[1]).contains("alpha"),
        "scope tools:all"
    );
    for ((what, _), r) in bad.iter().zip(&replies[3..]) {
        assert_eq!(r["status"], 401, "{what}: {r}");
        let c = header(r, "www-authenticate").unwrap_or("");
        assert!(c.contains("invalid_token"), "{what}: {c}");
    }
    assert_eq!(
        idp.ask(json!({"op": "fetches"}))["fetches"],
        1,
        "the JWKS is cached"
    );

    // Key rotation: a token under a kid the gateway has not seen is refused until the IdP
    // publishes the key; then the same token works (the unknown kid made the gateway refetch).
    idp.ask(json!({"op": "new_key", "kid": "rsa-2"}));
    let rotated = idp.token(json!({"op": "mint", "kid": "rsa-2", "claims": claims(json!({}))}));
    let r = probe(&served, false, json!([servers(&rotated, 30)]));
    assert_eq!(r[0]["status"], 401, "{}", r[0]);
    idp.ask(json!({"op": "publish", "kid": "rsa-2"}));
    let r = probe(&served, false, json!([servers(&rotated, 31)]));
    assert_eq!(r[0]["status"], 200, "after rotation: {}", r[0]);
    let stderr = served.stderr();
    assert!(
        !stderr.contains(&rs) && !stderr.contains(&rotated),
        "a token reached the log"
    );
}

fn get(path: &str, headers: Value) -> Value {
    json!({"method": "GET", "path": path, "headers": headers})
}

fn post_json(path: &str, headers: Value, body: Value) -> Value {
    json!({"method": "POST", "path": path, "headers": headers, "json": body})
}

fn rest_error_code(r: &Value) -> &str {
    r["json"]["error"]["code"].as_str().unwrap_or("")
}

/// Every REST route with httpx: scopes, routing by unique tool name, 409 for an ambiguous one,
/// bad input, the admin-only request log (also on disk, with no secret in it).
#[test]
fn rest_api_serves_each_caller_its_scope() {
    let env = TestEnv::new();
    let served = served_with_keys(&env, Default::default(), "");
    let (ops, reader) = (bearer(OPS_KEY), bearer(READER_KEY));
    let r = probe(
        &served,
        false,
        json!([
            get("/api/v1/health", json!({})),                                     // 0
            get("/api/v1/servers", json!({})),                                    // 1
            get("/api/v1/servers", reader.clone()),                               // 2
            get("/api/v1/servers", ops.clone()),                                  // 3
            get("/api/v1/servers/time", reader.clone()),                          // 4
            get("/api/v1/servers/alpha", reader.clone()),                         // 5
            get("/api/v1/tools?q=convert%20time%20between%20timezones", reader.clone()), // 6
            get("/api/v1/tools?tag=recorder", ops.clone()),                       // 7
            get("/api/v1/tools?tag=recorder", reader.clone()),                    // 8
            post_json("/api/v1/tools/call", ops.clone(), json!({"tool": "whoami"})), // 9
            post_json("/api/v1/tools/call", ops.clone(),
                      json!({"tool": "whoami", "server": "beta"})),               // 10
            post_json("/api/v1/tools/call", reader.clone(), json!({"tool": "convert_time",
                "arguments": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}})), // 11
            post_json("/api/v1/tools/call", reader.clone(),
                      json!({"tool": "whoami", "server": "alpha"})),              // 12
            {"method": "POST", "path": "/api/v1/tools/call", "headers": reader.clone(),
             "content": "{nope"},                                                  // 13
            post_json("/api/v1/tools/call", reader.clone(),
                      json!({"tool": "get_current_time", "arguments": "UTC"})),   // 14
            post_json("/api/v1/tools/call", reader.clone(),
                      json!({"tool": "get_current_time", "argumnets": {}})),      // 15
            get("/api/v1/requests", reader.clone()),                              // 16
            get("/api/v1/nope", ops.clone()),                                     // 17
            {"method": "DELETE", "path": "/api/v1/tools", "headers": ops.clone()}, // 18
            get("/api/v1/tools?limit=abc", ops.clone()),                          // 19
            get("/api/v1/tools?bogus=1", ops.clone()),                            // 20
            post_json("/api/v1/tools/call", reader.clone(), json!({"tool": "nonexistent_tool"})), // 21
            get("/api/v1/metrics", ops.clone()),                                  // 22
            get("/api/v1/tools", reader.clone()),                                 // 23
            get("/api/v1/requests?limit=50", ops.clone()),                        // 24
        ]),
    );
    let status = |i: usize| r[i]["status"].as_u64().unwrap_or(0);
    assert_eq!(status(0), 200, "{}", r[0]);
    assert_eq!(r[0]["json"]["status"], "ok");
    assert_eq!(status(1), 401, "{}", r[1]);
    assert_eq!(rest_error_code(&r[1]), "unauthorized");
    assert!(header(&r[1], "www-authenticate").is_some_and(|c| c.contains("resource_metadata")));
    let names = |v: &Value| -> Vec<String> {
        v["json"]["servers"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(&r[2]), vec!["time"], "{}", r[2]);
    assert_eq!(names(&r[3]), vec!["alpha", "beta", "time"], "{}", r[3]);
    assert_eq!(status(4), 200, "{}", r[4]);
    let tools: Vec<&str> = r[4]["json"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        tools.contains(&"get_current_time") && tools.contains(&"convert_time"),
        "{}",
        r[4]
    );
    assert!(
        r[4]["json"]["tools"][0]["inputSchema"].is_object(),
        "{}",
        r[4]
    );
    assert_eq!(
        (status(5), rest_error_code(&r[5])),
        (404, "unknown_server"),
        "{}",
        r[5]
    );
    assert!(
        !r[5]["text"].as_str().unwrap_or("").contains("beta"),
        "{}",
        r[5]
    );
    assert_eq!(r[6]["json"]["tools"][0]["tool"], "convert_time", "{}", r[6]);
    assert!(
        r[6]["json"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .all(|t| t["server"] == "time")
    );
    assert_eq!(r[7]["json"]["total"], 2, "{}", r[7]);
    assert_eq!(r[8]["json"]["total"], 0, "{}", r[8]);
    assert_eq!(status(9), 409, "{}", r[9]);
    assert_eq!(
        r[9]["json"]["error"]["candidates"],
        json!(["alpha", "beta"]),
        "{}",
        r[9]
    );
    assert_eq!(status(10), 200, "{}", r[10]);
    assert_eq!(r[10]["json"]["server"], "beta");
    assert_eq!(
        first_text(&r[10]["json"]["result"]),
        "reached /beta",
        "{}",
        r[10]
    );
    assert_eq!(status(11), 200, "{}", r[11]);
    assert_eq!(
        r[11]["json"]["server"], "time",
        "routed by the unique name: {}",
        r[11]
    );
    assert!(
        first_text(&r[11]["json"]["result"]).contains("Asia/Tokyo"),
        "{}",
        r[11]
    );
    assert_eq!(
        (status(12), rest_error_code(&r[12])),
        (404, "unknown_server"),
        "{}",
        r[12]
    );
    assert_eq!(
        (status(13), rest_error_code(&r[13])),
        (400, "invalid_json"),
        "{}",
        r[13]
    );
    assert_eq!(status(14), 400, "{}", r[14]);
    assert!(
        r[14]["text"].as_str().unwrap_or("").contains("arguments"),
        "{}",
        r[14]
    );
    assert_eq!(status(15), 400, "{}", r[15]);
    assert!(
        r[15]["text"].as_str().unwrap_or("").contains("argumnets"),
        "{}",
        r[15]
    );
    assert_eq!(status(16), 403, "{}", r[16]);
    assert!(
        header(&r[16], "www-authenticate").is_some_and(|c| c.contains("insufficient_scope")),
        "{}",
        r[16]
    );
    assert_eq!(
        (status(17), rest_error_code(&r[17])),
        (404, "not_found"),
        "{}",
        r[17]
    );
    assert_eq!(
        (status(18), rest_error_code(&r[18])),
        (405, "method_not_allowed"),
        "{}",
        r[18]
    );
    assert_eq!(status(19), 400, "{}", r[19]);
    assert_eq!(status(20), 400, "{}", r[20]);
    assert!(
        r[20]["text"].as_str().unwrap_or("").contains("bogus"),
        "{}",
        r[20]
    );
    assert_eq!(
        (status(21), rest_error_code(&r[21])),
        (404, "unknown_tool"),
        "{}",
        r[21]
    );
    assert_eq!(status(22), 200, "{}", r[22]);
    assert!(
        r[22]["json"]["calls"]["total"].as_u64().unwrap_or(0) >= 3,
        "{}",
        r[22]
    );
    let reader_tools = r[23]["json"]["tools"].as_array().expect("tools");
    assert!(
        !reader_tools.is_empty() && reader_tools.iter().all(|t| t["server"] == "time"),
        "{}",
        r[23]
    );

    // The request log: who called what, how it ended; nothing secret, no arguments.
    let log = r[24]["json"]["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r[24]));
    let find = |caller: &str, tool: &str, outcome: &str| {
        log.iter().any(|e| {
            e["caller"] == caller
                && e["tool"] == tool
                && e["outcome"] == outcome
                && e["front"] == "rest"
                && e["duration_ms"].is_number()
                && e["time"].is_string()
        })
    };
    assert!(find("reader", "convert_time", "ok"), "{log:?}");
    assert!(find("ops", "whoami", "ok"), "{log:?}");
    assert!(find("reader", "whoami", "forbidden"), "{log:?}");
    assert!(
        log.iter().any(|e| e["outcome"] == "unauthenticated"),
        "{log:?}"
    );
    assert!(log.iter().all(|e| e.get("arguments").is_none()), "{log:?}");
    let file = env.path().join("state/mcp-gateway/requests.jsonl");
    let text = std::fs::read_to_string(&file).expect("requests.jsonl");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{file:?}");
    assert!(text.lines().count() >= log.len().min(5), "{text}");
    for secret in [READER_KEY, OPS_KEY, LIMITED_KEY, "Asia/Tokyo"] {
        assert!(!text.contains(secret), "the request log holds `{secret}`");
        assert!(!served.stderr().contains(secret), "stderr holds `{secret}`");
    }
}

/// Every operation of `/api/v1/openapi.json` answers with a documented status, and a 200 body
/// has the documented required fields.
#[test]
fn openapi_document_describes_every_route() {
    let env = TestEnv::new();
    let served = served_with_keys(&env, Default::default(), "");
    let doc = probe(
        &served,
        false,
        json!([get("/api/v1/openapi.json", json!({}))]),
    )
    .remove(0)["json"]
        .clone();
    assert_eq!(doc["openapi"], "3.1.0", "{doc}");
    let paths = doc["paths"].as_object().expect("paths");
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    let mut streams = Vec::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            // An endless event stream is checked apart (an admin key gets its 200 headers).
            if op["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some()
            {
                streams.push(path.clone());
                continue;
            }
            let concrete = path.replace("{id}", "time");
            let mut req = json!({"method": method.to_uppercase(), "path": concrete,
                                 "headers": bearer(OPS_KEY)});
            if method == "post" {
                req["json"] = json!({"tool": "get_current_time", "server": "time",
                                     "arguments": {"timezone": "UTC"}});
            }
            requests.push(req);
            expected.push((path.clone(), op.clone()));
        }
    }
    assert!(requests.len() >= 8, "{doc}");
    let replies = probe(&served, false, Value::Array(requests));
    for ((path, op), reply) in expected.iter().zip(&replies) {
        let status = reply["status"].to_string();
        assert!(
            op["responses"].get(&status).is_some(),
            "{path}: status {status} not documented: {reply}"
        );
        assert_eq!(status, "200", "{path}: {reply}");
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        for field in required {
            let f = field.as_str().expect("field");
            assert!(
                reply["json"].get(f).is_some(),
                "{path}: no `{f}` in {reply}"
            );
        }
    }
    assert_eq!(streams, ["/api/v1/requests/stream"], "{doc}");
    for path in &streams {
        let head = stream_head(&served, path, OPS_KEY);
        assert!(
            head.starts_with("HTTP/1.1 200") && head.contains("content-type: text/event-stream"),
            "{path}: {head}"
        );
    }
    // And nothing the router serves under /api/v1 is missing from the document.
    for route in [
        "/api/v1/requests/stream",
        "/api/v1/config",
        "/api/v1/health",
        "/api/v1/servers",
        "/api/v1/servers/{id}",
        "/api/v1/tools",
        "/api/v1/tools/call",
        "/api/v1/requests",
        "/api/v1/metrics",
        "/api/v1/reload",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(route), "{route} is not documented");
    }
}

/// The status line and headers of a GET of an event stream (the body is not waited for).
fn stream_head(served: &Served, path: &str, key: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(&served.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n",
        served.addr
    )
    .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).expect("read") == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .replacen("http/1.1", "HTTP/1.1", 1)
}

/// A stdio client is `local` in the request log, and its calls are written like any other.
#[test]
fn stdio_calls_are_in_the_request_log() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("time", time_server())]);
    let mut client = env.start(&config);
    let r = client.invoke("time", "get_current_time", json!({"timezone": "UTC"}));
    assert_ne!(r["isError"], true, "{r}");
    assert!(client.shutdown().success());
    let text = std::fs::read_to_string(env.path().join("state/mcp-gateway/requests.jsonl"))
        .expect("requests.jsonl");
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect();
    assert!(
        entries.iter().any(|e| e["caller"] == "local"
            && e["front"] == "stdio"
            && e["method"] == "tools/call"
            && e["server"] == "time"
            && e["tool"] == "get_current_time"
            && e["outcome"] == "ok"
            && e["response_bytes"].as_u64().unwrap_or(0) > 0),
        "{text}"
    );
}

/// Resources and prompts of a server outside the scope are neither listed nor readable.
#[test]
fn resources_and_prompts_follow_the_scope() {
    let env = TestEnv::new();
    let everything = stdio_backend(&npm_bin("mcp-server-everything"), &["stdio"], "");
    let yaml = format!(
        "auth:\n  enabled: true\n  api_keys:\n\
         \x20   - name: reader\n      key: \"${{MGW_READER_KEY}}\"\n      allowed_tools: [\"time/*\"]\n\
         \x20   - name: ops\n      key: \"${{MGW_OPS_KEY}}\"\n\
         backends:\n  time:\n{}  everything:\n{}",
        time_server()
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>(),
        everything
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>(),
    );
    let config = env.write("gateway.yaml", &yaml);
    let served = Served::start_with(
        &env,
        &config,
        &[("MGW_READER_KEY", READER_KEY), ("MGW_OPS_KEY", OPS_KEY)],
    );
    let doc = "everything+demo://resource/static/document/features.md";
    let ask = |key: &str| {
        json!([
            mcp_call(bearer(key), 1, "resources/list", json!({})),
            mcp_call(bearer(key), 2, "prompts/list", json!({})),
            mcp_call(bearer(key), 3, "resources/read", json!({"uri": doc})),
            mcp_call(
                bearer(key),
                4,
                "prompts/get",
                json!({"name": "everything__simple-prompt"})
            ),
        ])
    };
    let ops = probe(&served, false, ask(OPS_KEY));
    assert!(
        !ops[0]["json"]["result"]["resources"]
            .as_array()
            .expect("list")
            .is_empty(),
        "{}",
        ops[0]
    );
    assert!(
        !ops[1]["json"]["result"]["prompts"]
            .as_array()
            .expect("list")
            .is_empty(),
        "{}",
        ops[1]
    );
    assert!(
        ops[2]["json"]["result"]["contents"].is_array(),
        "{}",
        ops[2]
    );
    assert!(
        ops[3]["json"]["result"]["messages"].is_array(),
        "{}",
        ops[3]
    );
    let reader = probe(&served, false, ask(READER_KEY));
    assert_eq!(
        reader[0]["json"]["result"]["resources"],
        json!([]),
        "{}",
        reader[0]
    );
    assert_eq!(
        reader[1]["json"]["result"]["prompts"],
        json!([]),
        "{}",
        reader[1]
    );
    let read_err = reader[2]["json"]["error"]["message"].as_str().unwrap_or("");
    assert!(read_err.starts_with("unknown resource"), "{}", reader[2]);
    let prompt_err = reader[3]["json"]["error"]["message"].as_str().unwrap_or("");
    assert_eq!(
        prompt_err, "unknown prompt `everything__simple-prompt`",
        "{}",
        reader[3]
    );
}
