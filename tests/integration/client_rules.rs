//! A client that breaks the rules (issue 15): messages that are JSON but no valid request,
//! requests before `initialize`, a second `initialize`, two requests in flight with one id,
//! meta-tool arguments of the wrong type and echoed names of any length. Each is answered with
//! an error that says what was wrong, starts nothing, and leaves the session working.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::events;
use crate::harness::{RpcClient, TestEnv, fake_backend, first_text};
use crate::serve::{Served, http};

const WAIT: Duration = Duration::from_secs(30);

fn logged_config(env: &TestEnv) -> (PathBuf, PathBuf) {
    let log = env.path().join("fake.log");
    let config = env.write_config(
        true,
        &[(
            "fake",
            fake_backend(&["--flood", "--log", log.to_str().expect("utf-8")], ""),
        )],
    );
    (config, log)
}

fn calls(log: &Path, tool: &str) -> Vec<Value> {
    events(&log.to_path_buf())
        .into_iter()
        .filter(|e| e["event"] == "call" && e["tool"] == tool)
        .collect()
}

/// Sends `line` and waits for the answer with id `null`.
fn answer_to(client: &mut RpcClient, line: &str) -> Value {
    client.send_line(line);
    client.wait_response(&Value::Null, WAIT)
}

#[test]
fn json_that_is_no_request_is_invalid_request_and_only_bad_json_is_a_parse_error() {
    let env = TestEnv::new();
    let (config, _) = logged_config(&env);
    let mut client = env.start(&config);
    for line in [
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        r#"[]"#,
        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        r#""just a string""#,
    ] {
        let resp = answer_to(&mut client, line);
        assert_eq!(resp["error"]["code"], -32600, "{line} → {resp}");
        assert_eq!(resp["id"], Value::Null, "{line} → {resp}");
        let message = resp["error"]["message"].as_str().unwrap_or("");
        assert!(message.starts_with("Invalid Request"), "{line} → {resp}");
    }
    let resp = answer_to(&mut client, r#"{"jsonrpc":"2.0","id":2,"method":"#);
    assert_eq!(resp["error"]["code"], -32700, "{resp}");
    let message = resp["error"]["message"].as_str().unwrap_or("");
    assert!(message.starts_with("Parse error"), "{resp}");
    // A message of the wrong version with a readable id is answered under that id.
    client.send_line(r#"{"jsonrpc":"1.0","id":"v1","method":"ping"}"#);
    let resp = client.wait_response(&json!("v1"), WAIT);
    assert_eq!(resp["error"]["code"], -32600, "{resp}");
    assert_eq!(client.result("ping", json!({})), json!({}));
}

#[test]
fn requests_before_initialize_are_refused_and_reach_no_backend() {
    let env = TestEnv::new();
    let (config, log) = logged_config(&env);
    let mut client = RpcClient::spawn(env.gateway_command(&config, &[]));
    for (method, params) in [
        (
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": {"server": "fake", "tool": "echo", "arguments": {"text": "early"}}}),
        ),
        ("tools/list", json!({})),
        ("resources/list", json!({})),
        ("logging/setLevel", json!({"level": "debug"})),
    ] {
        let resp = client.request(method, params);
        assert_eq!(resp["error"]["code"], -32600, "{method} → {resp}");
        let message = resp["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("initialize"), "{method} → {resp}");
    }
    assert_eq!(client.result("ping", json!({})), json!({}));
    client.initialize();
    let late = client.invoke("fake", "echo", json!({"text": "late"}));
    assert_eq!(first_text(&late), "late", "{late}");
    let echoed: Vec<Value> = calls(&log, "echo");
    assert_eq!(
        echoed.len(),
        1,
        "the refused call reached the backend: {echoed:?}"
    );
}

#[test]
fn a_second_initialize_is_refused_and_the_session_keeps_working() {
    let env = TestEnv::new();
    let (config, _) = logged_config(&env);
    let mut client = RpcClient::spawn(env.gateway_command(&config, &[]));
    let first = client.initialize_with("2025-06-18", json!({}));
    assert_eq!(first["protocolVersion"], "2025-06-18");
    let again = client.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}}),
    );
    assert_eq!(again["error"]["code"], -32600, "{again}");
    let message = again["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("2025-06-18"), "{again}");
    assert_eq!(client.result("ping", json!({})), json!({}));
    let echoed = client.invoke("fake", "echo", json!({"text": "still here"}));
    assert_eq!(first_text(&echoed), "still here", "{echoed}");
}

#[test]
fn an_id_in_flight_is_refused_the_first_completes_and_the_id_is_free_afterwards() {
    let env = TestEnv::new();
    let (config, log) = logged_config(&env);
    let mut client = env.start(&config);
    let call = |text: &str| {
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "gateway_invoke",
            "arguments": {"server": "fake", "tool": "slow", "arguments": {"seconds": 6, "steps": 6}},
            "_meta": {"progressToken": text}}})
        .to_string()
    };
    client.send_line(&call("first"));
    // The first progress proves the call is in flight at the backend.
    let mut seen = Vec::new();
    let progress = client.wait_notification("notifications/progress", WAIT, &mut seen, |p| {
        p["progressToken"] == "first"
    });
    assert!(
        progress.is_some(),
        "no progress from the first call: {seen:?}"
    );
    client.send_line(&call("second"));
    let refused = client.wait_response(&json!(7), WAIT);
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("in flight"), "{refused}");
    let done = client.wait_response(&json!(7), WAIT);
    assert_eq!(first_text(&done["result"]), "slept 6.0s", "{done}");
    assert_eq!(
        calls(&log, "slow").len(),
        1,
        "the duplicate reached the backend"
    );
    // Answered: the id may be used again.
    client.send_line(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
    assert_eq!(client.wait_response(&json!(7), WAIT)["result"], json!({}));
}

#[test]
fn meta_tool_arguments_of_the_wrong_type_are_refused_naming_the_field() {
    let env = TestEnv::new();
    let (config, log) = logged_config(&env);
    let mut client = env.start(&config);
    for bad in [json!("text"), json!([1, 2]), json!(3)] {
        let r = client.invoke("fake", "echo", bad.clone());
        assert_eq!(r["isError"], json!(true), "{bad} → {r}");
        assert!(
            first_text(&r).contains("`arguments` must be an object"),
            "{bad} → {r}"
        );
    }
    let r = client.call_tool("gateway_invoke", json!({"server": 5, "tool": "echo"}));
    assert_eq!(r["isError"], json!(true), "{r}");
    assert!(first_text(&r).contains("`server` must be a string"), "{r}");
    let r = client.result(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": "server=fake"}),
    );
    assert_eq!(r["isError"], json!(true), "{r}");
    assert!(first_text(&r).contains("must be an object"), "{r}");
    assert!(
        calls(&log, "echo").is_empty(),
        "a refused call reached the backend"
    );

    for bad in [
        json!(-1),
        json!(1e9),
        json!("abc"),
        json!(0),
        json!(2.5),
        json!(26),
    ] {
        let r = client.call_tool(
            "gateway_search_tools",
            json!({"query": "echo", "limit": bad}),
        );
        assert_eq!(r["isError"], json!(true), "limit {bad} → {r}");
        let text = first_text(&r);
        assert!(
            text.contains("`limit` must be an integer from 1 to 25"),
            "{text}"
        );
    }
    let ok = client.call_tool("gateway_search_tools", json!({"query": "echo", "limit": 2}));
    assert_ne!(ok["isError"], json!(true), "{ok}");
}

#[test]
fn names_echoed_in_errors_are_cut_to_a_readable_length() {
    let env = TestEnv::new();
    let (config, _) = logged_config(&env);
    let mut client = env.start(&config);
    let huge = "n".repeat(1 << 20);
    let direct = client.request("tools/call", json!({"name": huge, "arguments": {}}));
    let message = direct["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("unknown tool") && message.contains('…'),
        "{message:.300}"
    );
    assert!(message.len() < 1024, "{} bytes echoed", message.len());

    for (server, tool) in [(huge.as_str(), "echo"), ("fake", huge.as_str())] {
        let r = client.call_tool(
            "gateway_invoke",
            json!({"server": server, "tool": tool, "arguments": {}}),
        );
        assert_eq!(r["isError"], json!(true));
        let text = first_text(&r);
        assert!(text.contains('…'), "{text:.300}");
        assert!(text.len() < 2048, "{} bytes echoed", text.len());
    }
    let method = client.request(&huge, json!({}));
    let message = method["error"]["message"].as_str().unwrap_or("");
    assert_eq!(method["error"]["code"], -32601);
    assert!(message.len() < 1024, "{} bytes echoed", message.len());
}

#[test]
fn over_http_an_id_in_flight_is_refused_and_the_first_completes() {
    let env = TestEnv::new();
    let (config, log) = logged_config(&env);
    let served = Served::start(&env, &config);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "client-rules", "version": "1"}}});
    let r = served.post(&[], &init);
    assert_eq!(r.status, 200, "{}", r.body);
    let sid = r.header("mcp-session-id").expect("session id").to_string();
    let slow = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "gateway_invoke",
        "arguments": {"server": "fake", "tool": "slow", "arguments": {"seconds": 4, "steps": 2}}}});
    let first = {
        let (addr, sid, body) = (served.addr.clone(), sid.clone(), slow.to_string());
        std::thread::spawn(move || {
            http(
                &addr,
                "POST",
                "/mcp",
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json, text/event-stream"),
                    ("Mcp-Session-Id", &sid),
                ],
                body.as_bytes(),
            )
        })
    };
    // The backend's log shows the call once it is in flight.
    let deadline = std::time::Instant::now() + WAIT;
    while calls(&log, "slow").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first call never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let dup = served.post(&[("Mcp-Session-Id", &sid)], &slow);
    assert_eq!(dup.status, 400, "{}", dup.body);
    assert_eq!(dup.json()["error"]["code"], -32600, "{}", dup.body);
    assert!(dup.body.contains("in flight"), "{}", dup.body);
    let done = first.join().expect("first POST");
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        first_text(&done.json()["result"]),
        "slept 4.0s",
        "{}",
        done.body
    );
    assert_eq!(
        calls(&log, "slow").len(),
        1,
        "the duplicate reached the backend"
    );
    let again = served.post(
        &[("Mcp-Session-Id", &sid)],
        &json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}),
    );
    assert_eq!(again.json()["result"], json!({}), "{}", again.body);
}

#[test]
fn a_client_that_stops_reading_costs_bounded_memory_and_still_gets_every_response() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;

    const FLOOD: u64 = 5000;
    let env = TestEnv::new();
    let (config, log) = logged_config(&env);
    let mut child = env
        .gateway_command(&config, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the gateway");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let stderr = {
        let mut pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let mut send = |v: Value| {
        stdin.write_all(format!("{v}\n").as_bytes()).expect("write");
        stdin.flush().expect("flush");
    };
    let read_until = |stdout: &mut BufReader<_>, wanted: &[i64], seen: &mut Vec<Value>| {
        let mut left: Vec<i64> = wanted.to_vec();
        while !left.is_empty() {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).expect("read") > 0,
                "stdout closed"
            );
            let msg: Value = serde_json::from_str(&line).expect("JSON line");
            if msg.get("method").is_none() {
                left.retain(|id| msg["id"] != json!(id));
            }
            seen.push(msg);
        }
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "slow-reader", "version": "0"}}}),
    );
    read_until(&mut stdout, &[1], &mut Vec::new());
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "gateway_invoke", "_meta": {"progressToken": "flood"},
        "arguments": {"server": "fake", "tool": "flood", "arguments": {"count": FLOOD}}}}),
    );
    // Read nothing until the backend has written its whole flood (the gateway reads it all).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !events(&log).iter().any(|e| e["event"] == "flooded") {
        assert!(
            std::time::Instant::now() < deadline,
            "the flood never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}));
    let mut seen = Vec::new();
    read_until(&mut stdout, &[2, 3], &mut seen);
    let answer = seen.iter().find(|m| m["id"] == 2).expect("flood answered");
    assert_eq!(
        first_text(&answer["result"]),
        format!("flooded {FLOOD}"),
        "{answer}"
    );
    let progress: Vec<u64> = seen
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"]["progress"].as_u64().expect("progress value"))
        .collect();
    assert!((progress.len() as u64) < FLOOD, "nothing was coalesced");
    assert_eq!(
        progress.last(),
        Some(&FLOOD),
        "the newest progress must survive"
    );
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "progress went backwards"
    );
    drop(stdin);
    let status = child.wait().expect("gateway exit");
    assert!(status.success(), "{status}");
    let stderr = stderr.join().expect("stderr");
    let summary = stderr
        .lines()
        .find(|l| l.contains("notifications for a client that read too slowly"))
        .unwrap_or_else(|| panic!("no drop summary in stderr:\n{stderr}"));
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    // "dropped N notifications …; at most M were queued at once (B bytes)"
    let at = |word: &str| {
        let after = &summary[summary.find(word).expect(word) + word.len()..];
        after
            .split(|c: char| !c.is_ascii_digit())
            .find_map(|w| w.parse::<u64>().ok())
            .expect("a number")
    };
    let (dropped, peak) = (at("dropped "), at("at most "));
    eprintln!("{summary}");
    assert!(dropped > 0 && peak > 0, "{summary} ({numbers:?})");
    assert!(peak <= 1024, "more than the bound was queued: {summary}");
}
