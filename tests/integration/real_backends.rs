//! Real MCP servers from npm and PyPI behind the gateway: search finds their tools, invoke returns
//! exactly what the server returns when called directly, and the official Python SDK (2.x, which
//! probes `server/discover` first, and `mcp<2`) drives the gateway.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    RpcClient, TestEnv, config_for, gateway_bin, list_server_tools, list_tools_until, py_bin,
    py1_python, real_servers, run_sdk_driver, search_until_found, warm_catalog,
};

/// Calls whose results are deterministic, so the gateway's answer must equal the direct one.
fn deterministic_calls() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "everything",
            "echo",
            json!({"message": "hello through the gateway"}),
        ),
        ("everything", "get-sum", json!({"a": 17, "b": 25})),
        ("everything", "get-tiny-image", json!({})),
        (
            "everything",
            "get-structured-content",
            json!({"location": "New York"}),
        ),
        (
            "everything",
            "get-annotated-message",
            json!({"messageType": "error", "includeImage": true}),
        ),
        ("filesystem", "read_text_file", json!({"path": "hello.txt"})),
        ("filesystem", "list_directory", json!({"path": "."})),
        (
            "filesystem",
            "read_text_file",
            json!({"path": "/etc/passwd"}),
        ),
        (
            "memory",
            "create_entities",
            json!({"entities": [
                {"name": "Gateway", "entityType": "software", "observations": ["speaks MCP"]}
            ]}),
        ),
        ("memory", "read_graph", json!({})),
        (
            "time",
            "convert_time",
            json!({"source_timezone": "Europe/Paris", "time": "16:30", "target_timezone": "Asia/Tokyo"}),
        ),
        (
            "time",
            "convert_time",
            json!({"source_timezone": "Nowhere/Special", "time": "16:30", "target_timezone": "UTC"}),
        ),
        ("git", "git_status", json!({"repo_path": "REPO"})),
        (
            "git",
            "git_log",
            json!({"repo_path": "REPO", "max_count": 1}),
        ),
    ]
}

/// Resolves placeholders in call arguments: paths are given relative to the env's data.
fn resolve(env: &TestEnv, server: &str, mut args: Value) -> Value {
    let files = env.path().join("files");
    let repo = env.path().join("repo");
    if let Some(obj) = args.as_object_mut() {
        if server == "filesystem"
            && let Some(p) = obj.get("path").and_then(Value::as_str)
            && !p.starts_with('/')
        {
            let full = files.join(p);
            obj.insert("path".into(), json!(full.to_string_lossy()));
        }
        if obj.get("repo_path").is_some() {
            obj.insert("repo_path".into(), json!(repo.to_string_lossy()));
        }
    }
    args
}

#[test]
fn search_finds_tools_of_every_real_backend() {
    let env = TestEnv::new();
    let config = config_for(&env, true, &real_servers(&env, "gw"));
    let mut client = env.start(&config);
    for (query, server, tool) in [
        ("echo message", "everything", "echo"),
        ("read text file contents", "filesystem", "read_text_file"),
        (
            "create entities knowledge graph",
            "memory",
            "create_entities",
        ),
        ("convert time between timezones", "time", "convert_time"),
        ("git status working tree", "git", "git_status"),
    ] {
        let found = search_until_found(&mut client, query, server, tool, Duration::from_secs(60));
        let total = found["total"].as_u64().expect("total is a number");
        let matches = found["matches"].as_array().expect("matches is an array");
        assert!(total as usize >= matches.len(), "{found}");
        for m in matches {
            assert!(
                m["inputSchema"].is_object(),
                "match without inputSchema: {m}"
            );
            assert!(m["score"].is_number(), "match without score: {m}");
            assert!(
                m["description"].is_string(),
                "match without description: {m}"
            );
        }
    }
    // The text block carries the same JSON as structuredContent.
    let raw = client.call_tool(
        "gateway_search_tools",
        json!({"query": "git log", "limit": 3, "server": "git"}),
    );
    let text: Value =
        serde_json::from_str(&crate::harness::first_text(&raw)).expect("search text is JSON");
    assert_eq!(text, raw["structuredContent"]);
    let matches = raw["structuredContent"]["matches"]
        .as_array()
        .expect("matches");
    assert!(!matches.is_empty() && matches.len() <= 3, "{raw}");
    assert!(
        matches.iter().all(|m| m["server"] == "git"),
        "server filter ignored: {raw}"
    );

    let servers = client.call_tool("gateway_list_servers", json!({}));
    let text = crate::harness::first_text(&servers);
    for name in ["everything", "filesystem", "memory", "time", "git"] {
        assert!(
            text.contains(name),
            "gateway_list_servers misses {name}: {text}"
        );
    }
    let text = list_server_tools(&mut client, "time", Duration::from_secs(60));
    assert!(
        text.contains("convert_time") && text.contains("get_current_time"),
        "{text}"
    );
}

#[test]
fn invoke_returns_exactly_what_the_backend_returns_directly() {
    let env = TestEnv::new();
    let direct_servers = real_servers(&env, "direct");
    let mut expected = Vec::new();
    for spec in &direct_servers {
        let mut direct = spec.start_direct(&env);
        for (server, tool, args) in deterministic_calls()
            .into_iter()
            .filter(|c| c.0 == spec.name)
        {
            let args = resolve(&env, server, args);
            expected.push((server, tool, args.clone(), direct.call_tool(tool, args)));
        }
        direct.shutdown();
    }
    let config = config_for(&env, true, &real_servers(&env, "gw"));
    let mut client = env.start(&config);
    for (server, tool, args, want) in expected {
        let got = client.invoke(server, tool, args.clone());
        assert_eq!(
            got, want,
            "{server}/{tool}({args}) differs through the gateway"
        );
    }
    assert!(client.shutdown().success());
    env.assert_no_survivors(Duration::from_secs(10));
}

#[test]
fn namespaced_tools_match_direct_results_when_meta_mcp_is_off() {
    let env = TestEnv::new();
    let servers = real_servers(&env, "gw");
    let time = servers
        .iter()
        .find(|s| s.name == "time")
        .expect("time server");
    let everything = servers
        .iter()
        .find(|s| s.name == "everything")
        .expect("everything server");
    let args = json!({"source_timezone": "America/New_York", "time": "09:15", "target_timezone": "Europe/London"});
    let mut direct = time.start_direct(&env);
    let want_time = direct.call_tool("convert_time", args.clone());
    let mut direct = everything.start_direct(&env);
    let want_sum = direct.call_tool("get-sum", json!({"a": 1, "b": 2}));
    let direct_tools = direct.list_tools();
    drop(direct);

    let config = config_for(&env, false, &real_servers(&env, "gw"));
    let mut client = env.start(&config);
    let wanted = [
        "everything__echo",
        "time__convert_time",
        "git__git_status",
        "memory__read_graph",
    ];
    let listed = list_tools_until(&mut client, &wanted, Duration::from_secs(60));
    let listed_names: Vec<&str> = listed.iter().filter_map(|t| t["name"].as_str()).collect();
    for tool in &direct_tools {
        let name = format!("everything__{}", tool["name"].as_str().expect("tool name"));
        let entry = listed.iter().find(|t| t["name"] == name.as_str());
        let entry = entry.unwrap_or_else(|| panic!("{name} missing from {listed_names:?}"));
        assert_eq!(
            entry["inputSchema"], tool["inputSchema"],
            "{name}: schema reshaped"
        );
        assert_eq!(
            entry["description"], tool["description"],
            "{name}: description reshaped"
        );
    }
    assert!(
        listed_names.contains(&"time__convert_time"),
        "{listed_names:?}"
    );
    assert!(
        listed_names.contains(&"git__git_status"),
        "{listed_names:?}"
    );
    assert_eq!(client.call_tool("time__convert_time", args), want_time);
    assert_eq!(
        client.call_tool("everything__get-sum", json!({"a": 1, "b": 2})),
        want_sum
    );
}

/// Operations the SDK driver runs against the gateway, and what they mean directly.
fn sdk_spec_gateway(config: &std::path::Path, mode: &str) -> Value {
    json!({
        "command": gateway_bin(),
        "args": ["--config", config],
        "mode": mode,
        "ops": [
            {"op": "list_tools"},
            {"op": "ping"},
            {"op": "call_tool", "name": "gateway_search_tools", "arguments": {"query": "echo message", "server": "everything"}},
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {"server": "everything", "tool": "echo", "arguments": {"message": "sdk"}}},
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {"server": "everything", "tool": "get-tiny-image"}},
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {"server": "everything", "tool": "get-structured-content", "arguments": {"location": "Chicago"}}},
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {"server": "time", "tool": "convert_time", "arguments": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Kolkata"}}},
            {"op": "call_tool", "name": "gateway_invoke", "arguments": {"server": "nope", "tool": "echo"}}
        ]
    })
}

fn sdk_direct_results(env: &TestEnv, python: &std::path::Path) -> Vec<Value> {
    let servers = real_servers(env, "direct");
    let run = |name: &str, ops: Value| {
        let spec = servers
            .iter()
            .find(|s| s.name == name)
            .expect("server spec");
        let out = run_sdk_driver(
            python,
            &json!({"command": spec.program, "args": spec.args, "mode": "legacy", "ops": ops}),
            env,
        );
        out["results"].as_array().expect("results").clone()
    };
    let mut results = run(
        "everything",
        json!([
            {"op": "call_tool", "name": "echo", "arguments": {"message": "sdk"}},
            {"op": "call_tool", "name": "get-tiny-image"},
            {"op": "call_tool", "name": "get-structured-content", "arguments": {"location": "Chicago"}}
        ]),
    );
    results.extend(run(
        "time",
        json!([{"op": "call_tool", "name": "convert_time", "arguments": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Kolkata"}}]),
    ));
    results
}

fn check_sdk_run(python: &std::path::Path, mode: &str) {
    let env = TestEnv::new();
    let config = config_for(&env, true, &real_servers(&env, "gw"));
    // The driver searches once: start it on a warm catalog (the cold path is covered by
    // `search_finds_tools_of_every_real_backend`).
    warm_catalog(&env, &config, &["everything", "time"]);
    let out = run_sdk_driver(python, &sdk_spec_gateway(&config, mode), &env);
    let results = out["results"].as_array().expect("results");
    // `auto` probes `server/discover`, which the stdio front answers: the stateless era.
    let eras: &[&str] = if mode == "auto" {
        &["2026-07-28"]
    } else {
        &["2025-11-25", "2025-06-18", "2025-03-26"]
    };
    assert!(
        eras.contains(&out["protocol_version"].as_str().unwrap_or("")),
        "{out}"
    );
    let mut names: Vec<&str> = results[0]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "gateway_invoke",
            "gateway_list_servers",
            "gateway_list_tools",
            "gateway_search_tools"
        ]
    );
    if mode == "auto" {
        // 2026-07-28 removed `ping`; the gateway answers it as the revision says.
        assert_eq!(results[1]["error"]["code"], -32601, "ping: {}", results[1]);
    } else {
        assert_eq!(results[1], json!({}), "ping");
    }
    let search = &results[2];
    assert_ne!(search["isError"], json!(true), "{search}");
    let matches = search["structuredContent"]["matches"]
        .as_array()
        .expect("matches");
    assert!(matches.iter().any(|m| m["tool"] == "echo"), "{search}");
    let direct = sdk_direct_results(&env, python);
    assert_eq!(
        &results[3..7],
        direct.as_slice(),
        "SDK sees different results through the gateway"
    );
    let unknown = &results[7];
    assert_eq!(unknown["isError"], json!(true), "{unknown}");
    env.assert_no_survivors(Duration::from_secs(10));
}

#[test]
fn python_sdk_2_probing_server_discover_drives_the_gateway() {
    check_sdk_run(&py_bin("python"), "auto");
}

#[test]
fn python_sdk_1_drives_the_gateway() {
    check_sdk_run(&py1_python(), "legacy");
}

#[test]
fn raw_client_sees_backend_errors_unchanged() {
    // A protocol error from the backend (unknown tool at the backend) reaches the client as an
    // error, not a hang; an isError result from the backend stays an isError result.
    let env = TestEnv::new();
    let config = config_for(&env, true, &real_servers(&env, "gw"));
    let mut client: RpcClient = env.start(&config);
    let outside = client.invoke(
        "filesystem",
        "read_text_file",
        json!({"path": "/etc/hostname"}),
    );
    assert_eq!(outside["isError"], json!(true), "{outside}");
    let resp = client.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "everything", "tool": "get-sum", "arguments": {"a": "x"}}}),
    );
    // server-everything rejects them with -32602, which `gateway_invoke` turns into a tool error
    // the model can read (DESIGN.md: only the gateway's own failures are JSON-RPC errors).
    assert!(resp.get("error").is_none(), "{resp}");
    assert_eq!(resp["result"]["isError"], json!(true), "{resp}");
    let text = crate::harness::first_text(&resp["result"]);
    assert!(
        text.contains("get-sum"),
        "the error does not name the tool: {text}"
    );
}
