//! Real servers are messier than the spec (issue 16): a backend that answers `tools/list` has
//! every tool searchable and callable, whatever else it gets wrong, and what it got wrong shows as
//! notes (in `gateway_list_servers`) and warnings (in `doctor`), never as a failure.
//!
//! Drives `tests/fixtures/messy_server.py` (every deviation of the issue, see its docstring) and
//! `tests/fixtures/lowlevel_server.py` (the official Python SDK's low-level `Server` without a
//! `resources/templates/list` handler, which answers that method with -32601).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::doctor_check;
use crate::harness::{RpcClient, TestEnv, first_text, fixture, py_bin, stdio_backend, wait_until};

/// The 120-character tool name of the messy server.
fn long_name() -> String {
    format!("very_long_tool_name_{}", "x".repeat(100))
}

/// (tool, a query that should find it) for every callable tool of the messy server.
fn messy_tools() -> Vec<(String, &'static str)> {
    vec![
        ("echo".into(), "echo the text back"),
        ("no_schema".into(), "report the disk usage"),
        ("bad_schema".into(), "count the widgets"),
        (
            "files.read/v2 beta".into(),
            "read a file with a dotted name",
        ),
        (long_name(), "a tool whose name is long"),
        (
            format!("overlong_tool_name_{}", "y".repeat(121)),
            "measure the overlong cable",
        ),
        ("odd_description".into(), "odd_description"),
        ("page_two".into(), "summarize the quarterly report"),
    ]
}

fn messy_config(env: &TestEnv, args: &[&str]) -> std::path::PathBuf {
    let script = fixture("messy_server.py");
    let mut all = vec![script.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    env.write_config(
        true,
        &[(
            "messy",
            stdio_backend(Path::new("python3"), &all, "timeout: 20s\n"),
        )],
    )
}

fn lowlevel_config(env: &TestEnv) -> std::path::PathBuf {
    let script = fixture("lowlevel_server.py");
    env.write_config(
        true,
        &[(
            "weather",
            stdio_backend(
                &py_bin("python"),
                &[script.to_str().expect("utf-8 path")],
                "timeout: 30s\n",
            ),
        )],
    )
}

/// `gateway_list_servers`' row for `name`.
fn server_row(client: &mut RpcClient, name: &str) -> Value {
    let listed = client.call_tool("gateway_list_servers", json!({}));
    listed["structuredContent"]["servers"]
        .as_array()
        .and_then(|s| s.iter().find(|r| r["name"] == name).cloned())
        .unwrap_or_else(|| panic!("{name} not in gateway_list_servers: {listed}"))
}

/// Searches (scoped to `server`) until `tool` is among the matches; returns that match.
fn search_until(client: &mut RpcClient, server: &str, query: &str, tool: &str) -> Value {
    let mut last = Value::Null;
    let found = wait_until(Duration::from_secs(60), || {
        let r = client.call_tool(
            "gateway_search_tools",
            json!({"query": query, "server": server, "limit": 20}),
        );
        last = r["structuredContent"].clone();
        last["matches"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["tool"] == tool))
    });
    assert!(
        found,
        "search {query:?} never found {server}/{tool}: {last:#}"
    );
    last["matches"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["tool"] == tool).cloned())
        .expect("match present")
}

/// The notes of a `gateway_list_servers` row, joined.
fn notes(row: &Value) -> String {
    row["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("no notes in {row:#}"))
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every deviation of the messy server has its note.
fn assert_messy_notes(row: &Value) {
    let text = notes(row);
    for expected in [
        "resources/list failed",
        "resources/templates/list failed (-32601",
        "prompts/list failed (-32603 prompts are broken today)",
        "repeated the cursor",
        "not objects",
        "has no name",
        "tool `no_schema` has no inputSchema",
        "tool `bad_schema` has an invalid inputSchema",
        "tool `echo` is listed twice",
        "tool `files.read/v2 beta` has a character MCP does not allow",
        "has a name of 140 characters",
        "tool `odd_description` has a description that is not a string",
    ] {
        assert!(text.contains(expected), "no note {expected:?} in:\n{text}");
    }
}

fn assert_messy_tools_work(client: &mut RpcClient) {
    for (tool, query) in messy_tools() {
        search_until(client, "messy", query, &tool);
        let result = client.invoke("messy", &tool, json!({"n": 1}));
        assert_ne!(result["isError"], json!(true), "{tool}: {result}");
        let echoed: Value = serde_json::from_str(&first_text(&result))
            .unwrap_or_else(|e| panic!("{tool}: not the fixture's JSON ({e}): {result}"));
        assert_eq!(echoed, json!({"tool": tool, "arguments": {"n": 1}}));
    }
}

fn run_messy(args: &[&str]) {
    let env = TestEnv::new();
    let config = messy_config(&env, args);
    let mut client = env.start(&config);

    assert_messy_tools_work(&mut client);
    // The first definition of a duplicate name is the one kept.
    let echo = search_until(&mut client, "messy", "echo the text back", "echo");
    assert!(
        echo["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Echo the text back")),
        "{echo:#}"
    );
    let row = server_row(&mut client, "messy");
    assert_eq!(row["state"], "running", "{row:#}");
    assert_eq!(row["tools"], json!(9), "8 messy tools and `grow`: {row:#}");
    assert!(row.get("reason").is_none(), "{row:#}");
    assert_messy_notes(&row);

    // A later list_changed refresh meets every deviation again and keeps everything.
    let grown = client.invoke("messy", "grow", json!({}));
    assert_ne!(grown["isError"], json!(true), "{grown}");
    search_until(
        &mut client,
        "messy",
        "water the greenhouse plants",
        "added_later",
    );
    assert_messy_tools_work(&mut client);
    let row = server_row(&mut client, "messy");
    assert_eq!(row["tools"], json!(10), "{row:#}");
    assert_messy_notes(&row);

    let stderr = client.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("cannot list tools"), "{stderr}");
    client.shutdown();
}

#[test]
fn messy_server_tools_are_searchable_and_callable_with_notes() {
    run_messy(&[]);
}

#[test]
fn messy_server_answering_with_string_ids_works_the_same() {
    run_messy(&["--string-ids"]);
}

/// `doctor` and `mcp-gateway search` on the messy server: its problems are warnings, every tool
/// is found.
#[test]
fn doctor_warns_about_a_messy_server_and_cli_search_finds_its_tools() {
    let env = TestEnv::new();
    let config = messy_config(&env, &[]);
    let cfg = config.to_str().expect("utf-8");
    let out = env.cli(&["doctor", "--config", cfg, "--json"]);
    let checks = out.json();
    let rows = doctor_check(&checks, "backend messy");
    assert!(
        rows.iter().all(|c| c["status"] != "fail"),
        "a messy server is not a failure: {checks:#}"
    );
    assert!(
        rows.iter()
            .any(|c| c["status"] == "ok" && c["detail"].as_str().unwrap_or("").contains("9 tools")),
        "{checks:#}"
    );
    let warned: String = rows
        .iter()
        .filter(|c| c["status"] == "warn")
        .filter_map(|c| c["detail"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for expected in [
        "resources/templates/list failed",
        "prompts/list failed",
        "tool `no_schema` has no inputSchema",
    ] {
        assert!(
            warned.contains(expected),
            "no warning {expected:?}: {checks:#}"
        );
    }
    assert_eq!(out.code, Some(0), "warnings only: {out:?}");
    let human = env.cli(&["doctor", "--config", cfg]).stdout;
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("warn") && l.contains("resources/templates/list")),
        "{human}"
    );
    assert!(!human.contains("FAIL"), "{human}");

    for (tool, query) in messy_tools() {
        let found = env
            .cli(&[
                "search", "--config", cfg, query, "--server", "messy", "--json", "--limit", "20",
            ])
            .expect_code(0)
            .json();
        assert!(
            found["matches"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["tool"] == tool.as_str())),
            "`mcp-gateway search {query:?}` did not find {tool}: {found:#}"
        );
    }
}

/// The official Python SDK's low-level server without a templates handler: its tools are
/// searchable and callable, its resources listed, the -32601 a note.
#[test]
fn lowlevel_sdk_server_without_templates_handler_keeps_its_tools() {
    let env = TestEnv::new();
    let config = lowlevel_config(&env);
    let mut client = env.start(&config);
    search_until(
        &mut client,
        "weather",
        "weather forecast for a city",
        "weather_lookup",
    );
    search_until(
        &mut client,
        "weather",
        "convert units of length",
        "unit_convert",
    );
    let forecast = client.invoke("weather", "weather_lookup", json!({"city": "Paris"}));
    assert_eq!(
        first_text(&forecast),
        "forecast for Paris: sunny",
        "{forecast}"
    );
    let converted = client.invoke(
        "weather",
        "unit_convert",
        json!({"value": 3, "from": "m", "to": "ft"}),
    );
    assert_eq!(first_text(&converted), "3 m in ft", "{converted}");
    let row = server_row(&mut client, "weather");
    assert_eq!(row["state"], "running", "{row:#}");
    assert_eq!(row["tools"], json!(2), "{row:#}");
    let text = notes(&row);
    assert!(
        text.contains("resources/templates/list failed (-32601 Method not found)"),
        "{text}"
    );
    let resources = client.result("resources/list", json!({}));
    assert!(
        resources["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["uri"]
                .as_str()
                .is_some_and(|u| u.ends_with("notes://today")))),
        "the resources it does list are served: {resources:#}"
    );
    let stderr = client.stderr();
    assert!(!stderr.contains("cannot list tools"), "{stderr}");
    client.shutdown();

    let cfg = config.to_str().expect("utf-8");
    let out = env.cli(&["doctor", "--config", cfg, "--json"]);
    let checks = out.json();
    let rows = doctor_check(&checks, "backend weather");
    assert!(rows.iter().all(|c| c["status"] != "fail"), "{checks:#}");
    assert!(
        rows.iter().any(|c| c["status"] == "warn"
            && c["detail"]
                .as_str()
                .unwrap_or("")
                .contains("resources/templates/list")),
        "{checks:#}"
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let found = env
        .cli(&["search", "--config", cfg, "weather forecast", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(found["matches"][0]["tool"], "weather_lookup", "{found:#}");
}
