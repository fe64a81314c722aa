//! Fault injection with `tests/fixtures/fake_backend.py`: crashes, hangs, garbage, huge results,
//! backends that never initialize or cannot start. Each gets a clear error, the session stays
//! usable and nothing is left running. Also: results pass through byte-for-byte, and paginated
//! backend tool lists are merged.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    RpcClient, TestEnv, fake_backend, first_text, list_server_tools, list_tools_until, wait_until,
};
use crate::protocol::direct_fake;

/// The failure text of a `gateway_invoke` response: an `isError` result or a JSON-RPC error.
pub fn failure_text(resp: &Value) -> String {
    if let Some(err) = resp.get("error") {
        return err.to_string();
    }
    let result = &resp["result"];
    assert_eq!(
        result["isError"],
        json!(true),
        "expected a failure, got {resp}"
    );
    first_text(result)
}

fn invoke_raw(client: &mut RpcClient, server: &str, tool: &str, args: Value) -> Value {
    client.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": server, "tool": tool, "arguments": args}}),
    )
}

/// Events the fake backend wrote to its log file.
pub fn events(log: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn log_arg(env: &TestEnv, name: &str) -> PathBuf {
    env.path().join(format!("{name}.log"))
}

fn assert_usable(client: &mut RpcClient, server: &str) {
    assert_eq!(client.result("ping", json!({})), json!({}));
    let echo = client.invoke(server, "echo", json!({"text": "still alive"}));
    assert_eq!(
        first_text(&echo),
        "still alive",
        "{server} unusable after the fault: {echo}"
    );
}

#[test]
fn crash_mid_call_fails_clearly_then_restarts() {
    let env = TestEnv::new();
    let log = log_arg(&env, "crasher");
    let config = env.write_config(
        true,
        &[(
            "crasher",
            fake_backend(&["--log", log.to_str().expect("utf-8")], "timeout: 20s\n"),
        )],
    );
    let mut client = env.start(&config);
    let first_pid = first_text(&client.invoke("crasher", "pid", json!({})));
    let starts = || {
        events(&log)
            .iter()
            .filter(|e| e["event"] == "start")
            .count()
    };
    let starts_before = starts();
    let started = Instant::now();
    let resp = invoke_raw(&mut client, "crasher", "crash", json!({}));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "crash noticed only after {:?}",
        started.elapsed()
    );
    let text = failure_text(&resp);
    assert!(
        text.contains("crasher"),
        "error does not name the backend: {text}"
    );
    assert_usable(&mut client, "crasher");
    let second_pid = first_text(&client.invoke("crasher", "pid", json!({})));
    assert_ne!(first_pid, second_pid, "backend was not restarted");
    assert_eq!(
        starts(),
        starts_before + 1,
        "expected exactly one restart: {:?}",
        events(&log)
    );
    // The backend's stderr is drained into the gateway's log under the backend's name.
    let logged = wait_until(Duration::from_secs(5), || {
        client
            .stderr()
            .lines()
            .any(|l| l.contains("crashing on purpose") && l.contains("crasher"))
    });
    assert!(
        logged,
        "backend stderr not logged with its name:\n{}",
        client.stderr()
    );
    assert!(client.shutdown().success());
    env.assert_no_survivors(Duration::from_secs(10));
}

#[test]
fn hang_past_timeout_answers_with_timeout_and_cancels_at_backend() {
    let env = TestEnv::new();
    let log = log_arg(&env, "fake");
    let config = env.write_config(
        true,
        &[(
            "fake",
            fake_backend(&["--log", log.to_str().expect("utf-8")], "timeout: 4s\n"),
        )],
    );
    let mut client = env.start(&config);
    assert_usable(&mut client, "fake");
    let started = Instant::now();
    let resp = invoke_raw(&mut client, "fake", "hang", json!({}));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(3900),
        "answered before the timeout: {took:?} {resp}"
    );
    assert!(
        took < Duration::from_secs(12),
        "timeout of 4s took {took:?}"
    );
    let text = failure_text(&resp).to_lowercase();
    assert!(
        text.contains("-32001") || text.contains("timed out") || text.contains("timeout"),
        "{text}"
    );
    let hang_id = events(&log)
        .into_iter()
        .find(|e| e["event"] == "call" && e["tool"] == "hang")
        .map(|e| e["id"].clone())
        .expect("backend saw the hang call");
    assert!(
        wait_until(Duration::from_secs(5), || events(&log)
            .iter()
            .any(|e| e["event"] == "cancelled" && e["requestId"] == hang_id)),
        "no notifications/cancelled for backend request {hang_id}: {:?}",
        events(&log)
    );
    assert_usable(&mut client, "fake");
}

#[test]
fn hang_past_timeout_is_json_rpc_32001_for_direct_tools() {
    let env = TestEnv::new();
    let config = env.write_config(false, &[("fake", fake_backend(&[], "timeout: 4s\n"))]);
    let mut client = env.start(&config);
    list_tools_until(
        &mut client,
        &["fake__hang", "fake__add"],
        Duration::from_secs(30),
    );
    let resp = client.request("tools/call", json!({"name": "fake__hang", "arguments": {}}));
    assert_eq!(resp["error"]["code"], -32001, "{resp}");
    let sum = client.call_tool("fake__add", json!({"a": 1, "b": 1}));
    assert_eq!(sum["structuredContent"], json!({"sum": 2}));
}

#[test]
fn garbage_on_backend_stdout_is_skipped() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("fake", fake_backend(&["--garbage"], ""))]);
    let mut client = env.start(&config);
    let tools = list_server_tools(&mut client, "fake", Duration::from_secs(30));
    assert!(tools.contains("echo"), "{tools}");
    for i in 0..3 {
        let echo = client.invoke("fake", "echo", json!({"text": format!("round {i}")}));
        assert_eq!(first_text(&echo), format!("round {i}"));
    }
    for line in client.stdout_lines() {
        assert!(
            !line.contains("not json at all") && !line.contains("xxxxxxxx"),
            "garbage leaked: {line:.100}"
        );
    }
}

#[test]
fn ten_megabyte_result_passes_through() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("fake", fake_backend(&[], "timeout: 60s\n"))]);
    let mut client = env.start(&config);
    let size = 10 * 1024 * 1024;
    let big = client.invoke("fake", "big", json!({"bytes": size}));
    let text = first_text(&big);
    assert_eq!(text.len(), size);
    assert!(text.bytes().all(|b| b == b'a'));
    assert_usable(&mut client, "fake");
}

#[test]
fn backend_that_never_initializes_fails_clearly() {
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[
            ("silent", fake_backend(&["--no-init"], "timeout: 2s\n")),
            ("fake", fake_backend(&[], "")),
        ],
    );
    let mut client = env.start(&config);
    let started = Instant::now();
    let resp = invoke_raw(&mut client, "silent", "echo", json!({"text": "hello?"}));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let text = failure_text(&resp);
    assert!(
        text.contains("silent"),
        "error does not name the backend: {text}"
    );
    assert_usable(&mut client, "fake");
    let servers = first_text(&client.call_tool("gateway_list_servers", json!({})));
    assert!(servers.contains("silent"), "{servers}");
    assert!(client.shutdown().success());
    env.assert_no_survivors(Duration::from_secs(10));
}

#[test]
fn missing_command_fails_clearly() {
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[
            (
                "ghost",
                "command: /nonexistent/bin/mcp-server-ghost\n".to_string(),
            ),
            ("fake", fake_backend(&[], "")),
        ],
    );
    let mut client = env.start(&config);
    let resp = invoke_raw(&mut client, "ghost", "anything", json!({}));
    let text = failure_text(&resp);
    assert!(
        text.contains("ghost"),
        "error does not name the backend or program: {text}"
    );
    assert_usable(&mut client, "fake");
    let again = invoke_raw(&mut client, "ghost", "anything", json!({}));
    failure_text(&again);
}

#[test]
fn results_pass_through_unchanged() {
    let env = TestEnv::new();
    let mut direct = direct_fake(&env);
    let want_rich = direct.call_tool("rich", json!({}));
    let want_fail = direct.call_tool("fail", json!({}));
    assert_eq!(want_rich["vendorExtension"]["kept"], "verbatim");
    let config = env.write_config(true, &[("fake", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    assert_eq!(client.invoke("fake", "rich", json!({})), want_rich);
    assert_eq!(client.invoke("fake", "fail", json!({})), want_fail);
    // `backend`/`args` are accepted for `server`/`arguments`.
    let alias = client.call_tool(
        "gateway_invoke",
        json!({"backend": "fake", "tool": "add", "args": {"a": 3, "b": 4}}),
    );
    assert_eq!(alias["structuredContent"], json!({"sum": 7}), "{alias}");
}

#[test]
fn paginated_backend_tool_lists_are_merged() {
    let env = TestEnv::new();
    let log = log_arg(&env, "paged");
    let args = [
        "--extra-tools",
        "30",
        "--page-size",
        "7",
        "--log",
        log.to_str().expect("utf-8"),
    ];
    let config = env.write_config(true, &[("paged", fake_backend(&args, ""))]);
    let mut client = env.start(&config);
    let listed = list_server_tools(&mut client, "paged", Duration::from_secs(30));
    for name in ["echo", "filler_000", "filler_015", "filler_029"] {
        assert!(listed.contains(name), "{name} missing: {listed}");
    }
    crate::harness::search_until_found(
        &mut client,
        "filler_029",
        "paged",
        "filler_029",
        Duration::from_secs(20),
    );
    let pages = events(&log).iter().filter(|e| e["event"] == "list").count();
    assert!(
        pages >= 6,
        "expected all 6 pages to be fetched, saw {pages}"
    );
}

#[test]
fn unknown_server_or_tool_names_the_nearest_matches() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("files-fake", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    let resp = client.call_tool(
        "gateway_invoke",
        json!({"server": "file-fake", "tool": "echo"}),
    );
    assert_eq!(resp["isError"], json!(true), "{resp}");
    assert!(first_text(&resp).contains("files-fake"), "{resp}");
    // Nearest tool names come from the catalog: make sure the backend's list is known.
    list_server_tools(&mut client, "files-fake", Duration::from_secs(30));
    let resp = client.call_tool(
        "gateway_invoke",
        json!({"server": "files-fake", "tool": "ecko", "arguments": {"text": "x"}}),
    );
    assert_eq!(resp["isError"], json!(true), "{resp}");
    assert!(first_text(&resp).contains("echo"), "{resp}");
    let resp = client.call_tool("gateway_list_tools", json!({"server": "nope"}));
    assert_eq!(resp["isError"], json!(true), "{resp}");
    assert_usable(&mut client, "files-fake");
}

/// The `result` of a JSON-RPC response line, as the exact bytes it holds on the wire.
fn raw_result(line: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Response<'a> {
        #[serde(borrow)]
        result: &'a serde_json::value::RawValue,
    }
    let parsed: Response = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not a result response ({e}): {line}"));
    parsed.result.get().to_string()
}

/// Invariant 2, byte for byte: the bytes of the result the client receives are the bytes the
/// backend sent (escaped Unicode stays escaped, `1.50` stays `1.50`, keys keep their order),
/// through `gateway_invoke` and through a directly listed tool.
#[test]
fn results_reach_the_client_byte_for_byte() {
    for meta_mcp in [true, false] {
        let env = TestEnv::new();
        let log = log_arg(&env, "fake");
        let config = env.write_config(
            meta_mcp,
            &[(
                "fake",
                fake_backend(&["--log", log.to_str().expect("utf-8")], ""),
            )],
        );
        let mut client = env.start(&config);
        let params = if meta_mcp {
            json!({"name": "gateway_invoke", "arguments": {"server": "fake", "tool": "raw"}})
        } else {
            list_tools_until(&mut client, &["fake__raw"], Duration::from_secs(30));
            json!({"name": "fake__raw", "arguments": {}})
        };
        let id = client.send_request("tools/call", params);
        client.wait_response(&id, Duration::from_secs(30));
        let got = raw_result(&client.raw_response(&id));
        let sent = events(&log)
            .into_iter()
            .find(|e| e["event"] == "raw")
            .and_then(|e| e["result"].as_str().map(str::to_string))
            .expect("the backend logged what it sent");
        assert!(
            sent.contains(r"caf\u00e9") && sent.contains("1.50") && sent.starts_with(r#"{"zeta""#),
            "{sent}"
        );
        assert_eq!(got, sent, "meta_mcp {meta_mcp}: the result was reshaped");
    }
}
