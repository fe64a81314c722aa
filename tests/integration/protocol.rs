//! The front door: version negotiation, `server/discover`, the stable meta-tool list, stdout
//! purity under debug logging, JSON logs, clean exit, and `meta_mcp.enabled: false`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::events;
use crate::harness::{RpcClient, TestEnv, fake_backend, first_text};

const META_TOOLS: [&str; 4] = [
    "gateway_invoke",
    "gateway_list_servers",
    "gateway_list_tools",
    "gateway_search_tools",
];

fn fake_config(env: &TestEnv, meta_mcp: bool) -> std::path::PathBuf {
    env.write_config(meta_mcp, &[("fake", fake_backend(&[], ""))])
}

#[test]
fn initialize_negotiates_each_supported_version_and_falls_back_to_newest() {
    let env = TestEnv::new();
    let config = fake_config(&env, true);
    for (asked, expected) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2099-01-01", "2025-11-25"),
    ] {
        let mut client = RpcClient::spawn(env.gateway_command(&config, &[]));
        let result = client.initialize_with(asked, json!({}));
        assert_eq!(
            result["protocolVersion"], expected,
            "asked {asked}: {result}"
        );
        assert!(
            result["capabilities"]["tools"].is_object(),
            "no tools capability: {result}"
        );
        assert!(
            result["serverInfo"]["name"].is_string(),
            "no serverInfo: {result}"
        );
        assert!(client.shutdown().success());
    }
}

#[test]
fn server_discover_is_method_not_found_so_new_clients_fall_back() {
    let env = TestEnv::new();
    let mut client = RpcClient::spawn(env.gateway_command(&fake_config(&env, true), &[]));
    let resp = client.request("server/discover", json!({}));
    assert_eq!(resp["error"]["code"], -32601, "{resp}");
    client.initialize();
    let resp = client.request("no/such/method", json!({}));
    assert_eq!(resp["error"]["code"], -32601, "{resp}");
    assert_eq!(client.result("ping", json!({})), json!({}));
    assert_eq!(
        client.result("logging/setLevel", json!({"level": "debug"})),
        json!({})
    );
}

#[test]
fn meta_tools_are_stable_small_and_exactly_four() {
    let env = TestEnv::new();
    let backend_sets: [Vec<(&str, String)>; 2] = [
        vec![],
        vec![
            ("fake", fake_backend(&[], "")),
            ("other", fake_backend(&[], "")),
        ],
    ];
    let lists: Vec<Vec<Value>> = backend_sets
        .iter()
        .map(|backends| {
            let config = env.write_config(true, backends);
            let mut client = env.start(&config);
            let tools = client.list_tools();
            let raw = client.request("tools/list", json!({}));
            let size = serde_json::to_string(&raw["result"])
                .expect("serialize")
                .len();
            assert!(
                size <= 2048,
                "tools/list result is {size} bytes (budget 2048)"
            );
            tools
        })
        .collect();
    let mut names: Vec<&str> = lists[0].iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, META_TOOLS);
    for tool in &lists[0] {
        assert!(
            tool["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{tool}"
        );
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
    }
    assert_eq!(
        lists[0], lists[1],
        "meta-tool list must not depend on the backends"
    );
}

#[test]
fn stdout_carries_only_json_rpc_with_debug_logging() {
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[
            ("fake", fake_backend(&["--garbage"], "")),
            ("crashy", fake_backend(&[], "")),
        ],
    );
    let mut cmd = env.gateway_command(&config, &["--log-level", "debug"]);
    cmd.env("RUST_LOG", "trace");
    let mut client = RpcClient::spawn(cmd);
    client.initialize();
    client.list_tools();
    client.call_tool("gateway_list_servers", json!({}));
    let echo = client.invoke("fake", "echo", json!({"text": "purity"}));
    assert_eq!(first_text(&echo), "purity");
    client.search("echo text", 5);
    // A backend that dies mid-call is a tool error naming it (DESIGN.md: backend failures are
    // `isError` results), not a protocol error and not a hang.
    let crashed = client.invoke("crashy", "crash", json!({}));
    assert_eq!(crashed["isError"], json!(true), "{crashed}");
    assert!(first_text(&crashed).contains("crashy"), "{crashed}");
    client.send_line("{ this is not json");
    assert_eq!(client.result("ping", json!({})), json!({}));
    let stderr_has_logs =
        crate::harness::wait_until(Duration::from_secs(5), || !client.stderr().is_empty());
    let status = client.shutdown();
    assert!(status.success(), "exit status {status}");
    // Read to the end of stdout: shutdown (stopping backends, flushing logs) writes nothing there.
    let lines = client.stdout_lines_through_exit(Duration::from_secs(10));
    assert!(stderr_has_logs, "debug logging produced nothing on stderr");
    assert!(lines.len() >= 8, "too few stdout lines: {lines:?}");
    for line in &lines {
        let msg: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:.200}"));
        assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC 2.0: {line:.200}");
        assert!(
            msg.get("id").is_some() || msg.get("method").is_some(),
            "neither response nor notification: {line:.200}"
        );
    }
}

#[test]
fn parse_error_is_answered_and_session_continues() {
    let env = TestEnv::new();
    let mut client = env.start(&fake_config(&env, true));
    client.send_line("{\"jsonrpc\": \"2.0\", \"id\": 99, \"method\": ");
    assert_eq!(client.result("ping", json!({})), json!({}));
    let parse_error = client
        .take_notifications()
        .into_iter()
        .chain(client.try_wait_response(&Value::Null, Duration::from_secs(2)))
        .find(|m| m["error"]["code"] == -32700);
    assert!(
        parse_error.is_some(),
        "no -32700 response to an unparseable line"
    );
}

#[test]
fn json_log_format_writes_json_lines_to_stderr() {
    let env = TestEnv::new();
    let config = fake_config(&env, true);
    let mut client = RpcClient::spawn(
        env.gateway_command(&config, &["--log-format", "json", "--log-level", "debug"]),
    );
    client.initialize();
    client.invoke("fake", "echo", json!({"text": "x"}));
    let status = client.shutdown();
    assert!(status.success());
    let stderr = client_stderr_lines(&client);
    assert!(!stderr.is_empty(), "no log lines");
    for line in stderr {
        let parsed: Result<Value, _> = serde_json::from_str(&line);
        assert!(parsed.is_ok(), "stderr line is not JSON: {line}");
    }
}

fn client_stderr_lines(client: &RpcClient) -> Vec<String> {
    client
        .stderr()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn exits_zero_when_stdin_closes() {
    let env = TestEnv::new();
    let mut client = env.start(&fake_config(&env, true));
    // The backend must really be running, or the no-survivors check below proves nothing.
    let pid: u32 = first_text(&client.invoke("fake", "pid", json!({})))
        .parse()
        .expect("the backend answers with its pid");
    assert!(
        crate::harness::is_alive(pid),
        "backend {pid} is not running"
    );
    let started = std::time::Instant::now();
    let status = client.shutdown();
    assert_eq!(status.code(), Some(0), "stderr: {}", client.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exit took {:?}",
        started.elapsed()
    );
    env.assert_no_survivors(Duration::from_secs(5));
    assert!(!crate::harness::is_alive(pid), "backend {pid} survived");
}

#[test]
fn meta_mcp_disabled_lists_and_routes_namespaced_tools() {
    let env = TestEnv::new();
    let config = env.write_config(
        false,
        &[(
            "fake",
            fake_backend(&["--extra-tools", "12", "--page-size", "5"], ""),
        )],
    );
    let mut client = env.start(&config);
    let tools = client.list_tools();
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for wanted in ["fake__echo", "fake__add", "fake__rich", "fake__filler_011"] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    assert_eq!(
        names.iter().filter(|n| n.starts_with("fake__")).count(),
        21 + 12,
        "the fake backend's 21 tools and 12 fillers: {names:?}"
    );
    assert_eq!(
        names.len(),
        21 + 12,
        "meta mode off lists backend tools only: {names:?}"
    );
    for name in &names {
        assert!(
            name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{name}"
        );
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "duplicate names: {names:?}");

    let via_gateway = client.call_tool("fake__rich", json!({}));
    let mut direct = direct_fake(&env);
    let expected = direct.call_tool("rich", json!({}));
    assert_eq!(via_gateway, expected);
    let sum = client.call_tool("fake__add", json!({"a": 2, "b": 40}));
    assert_eq!(sum["structuredContent"], json!({"sum": 42}));
}

/// The fake backend run directly, without the gateway.
pub fn direct_fake(env: &TestEnv) -> RpcClient {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(crate::harness::fixture("fake_backend.py"));
    env.apply(&mut cmd);
    let mut client = RpcClient::spawn(cmd);
    client.initialize();
    client
}

/// `params._meta` of a 2026-07-28 request (`extra` merged in).
fn modern(mut params: Value, extra: Value) -> Value {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-modern", "version": "1"},
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut meta, extra) {
        m.extend(e);
    }
    params["_meta"] = meta;
    params
}

#[test]
fn stdio_speaks_the_stateless_era_per_request_next_to_initialize() {
    let env = TestEnv::new();
    let log = env.path().join("fake.log");
    let config = env.write_config(
        true,
        &[(
            "fake",
            fake_backend(&["--log", log.to_str().expect("utf-8")], ""),
        )],
    );
    let mut client = RpcClient::spawn(env.gateway_command(&config, &[]));

    // No initialize: `server/discover` and every request carry their version in `_meta`.
    let discover = client.result("server/discover", modern(json!({}), json!({})));
    assert!(
        discover["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{discover}"
    );
    assert_eq!(discover["resultType"], "complete", "{discover}");
    let list = client.result("tools/list", modern(json!({}), json!({})));
    let mut names: Vec<&str> = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, META_TOOLS, "{list}");
    assert_eq!(list["resultType"], "complete");
    assert!(list["ttlMs"].is_u64(), "{list}");

    // A call with progress: the notifications come before the answer, on the same stream.
    let call = modern(
        json!({"name": "gateway_invoke", "arguments": {
            "server": "fake", "tool": "slow", "arguments": {"seconds": 0.2, "steps": 2}}}),
        json!({"progressToken": "p-1"}),
    );
    let id = client.send_request("tools/call", call);
    let mut seen = Vec::new();
    let progress = client.wait_notification(
        "notifications/progress",
        Duration::from_secs(30),
        &mut seen,
        |p| p["progressToken"] == "p-1",
    );
    assert!(
        progress.is_some(),
        "no progress before the answer: {seen:?}"
    );
    let answer = client.wait_response(&id, Duration::from_secs(30));
    assert_eq!(answer["result"]["resultType"], "complete", "{answer}");
    assert_ne!(answer["result"]["isError"], json!(true), "{answer}");

    // Errors of the era, each naming what is wrong.
    let e = client.request(
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "1999-01-01",
                          "io.modelcontextprotocol/clientCapabilities": {}}}),
    );
    assert_eq!(e["error"]["code"], -32022, "{e}");
    assert_eq!(e["error"]["data"]["requested"], "1999-01-01", "{e}");
    let e = client.request(
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    assert_eq!(e["error"]["code"], -32602, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("clientCapabilities"),
        "{e}"
    );
    let e = client.request("ping", modern(json!({}), json!({})));
    assert_eq!(e["error"]["code"], -32601, "removed in 2026-07-28: {e}");

    // Cancelling a stateless request reaches the backend, and nothing answers it.
    let slow = modern(
        json!({"name": "gateway_invoke", "arguments": {
            "server": "fake", "tool": "slow", "arguments": {"seconds": 30, "steps": 2}}}),
        json!({}),
    );
    let id = client.send_request("tools/call", slow);
    let mut backend_id = Value::Null;
    assert!(crate::harness::wait_until(Duration::from_secs(20), || {
        if let Some(e) = events(&log)
            .into_iter()
            .find(|e| e["event"] == "call" && e["tool"] == "slow" && e["progressToken"].is_null())
        {
            backend_id = e["id"].clone();
        }
        !backend_id.is_null()
    }));
    client.notify("notifications/cancelled", json!({"requestId": id}));
    assert!(
        crate::harness::wait_until(Duration::from_secs(10), || events(&log)
            .iter()
            .any(|e| e["event"] == "cancelled" && e["requestId"] == backend_id)),
        "cancel never reached the backend: {:?}",
        events(&log)
    );

    // The legacy era still works on the same stream.
    client.initialize();
    let legacy = client.result("tools/list", json!({}));
    assert!(legacy.get("resultType").is_none(), "{legacy}");
    assert_eq!(legacy["tools"].as_array().unwrap().len(), 4);
    assert!(
        client
            .try_wait_response(&id, Duration::from_millis(200))
            .is_none(),
        "a cancelled request was answered"
    );
    assert!(client.shutdown().success());
}
