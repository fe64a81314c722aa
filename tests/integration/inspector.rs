//! The MCP Inspector CLI (`@modelcontextprotocol/inspector --cli`) lists and calls tools through
//! the gateway.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    TestEnv, config_for, gateway_bin, npm_bin, real_servers, tail, wait_output, warm_catalog,
};

/// Runs `mcp-inspector --cli` against the gateway on `config`; returns its JSON output.
fn inspector(env: &TestEnv, config: &Path, args: &[&str]) -> Value {
    let mut cmd = Command::new(npm_bin("mcp-inspector"));
    cmd.arg("--cli").args(args);
    // The inspector passes only a minimal environment to its server: hand ours over explicitly.
    for (k, v) in env.vars() {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    cmd.arg("-e")
        .arg(format!("MCP_GATEWAY_CONFIG={}", config.display()));
    cmd.arg("--").arg(gateway_bin());
    env.apply(&mut cmd);
    cmd.env("CI", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = wait_output(
        cmd.spawn().expect("spawn inspector"),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "inspector {args:?} failed: {stdout}\n{}",
        tail(&String::from_utf8_lossy(&out.stderr), 4000)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("inspector output is not JSON ({e}): {stdout}"))
}

#[test]
fn inspector_cli_lists_and_calls_through_the_gateway() {
    let env = TestEnv::new();
    let config = config_for(&env, true, &real_servers(&env, "gw"));
    warm_catalog(&env, &config, &["everything"]);
    let listed = inspector(&env, &config, &["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"gateway_search_tools") && names.contains(&"gateway_invoke"),
        "{names:?}"
    );

    let search = inspector(
        &env,
        &config,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "gateway_search_tools",
            "--tool-arg",
            "query=echo message",
            "server=everything",
        ],
    );
    let matches = search["structuredContent"]["matches"]
        .as_array()
        .expect("matches");
    assert!(matches.iter().any(|m| m["tool"] == "echo"), "{search}");

    let invoked = inspector(
        &env,
        &config,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "gateway_invoke",
            "--tool-arg",
            "server=everything",
            "tool=get-sum",
            r#"arguments={"a": 20, "b": 22}"#,
        ],
    );
    assert_eq!(
        invoked["content"][0]["text"],
        json!("The sum of 20 and 22 is 42."),
        "{invoked}"
    );
    env.assert_no_survivors(Duration::from_secs(10));
}

#[test]
fn inspector_cli_calls_namespaced_tools_when_meta_mcp_is_off() {
    let env = TestEnv::new();
    let config = config_for(&env, false, &real_servers(&env, "gw"));
    // The inspector lists once: start it on a warm catalog so slow-starting servers are listed.
    warm_catalog(&env, &config, &["everything", "time"]);
    let listed = inspector(&env, &config, &["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"everything__echo") && names.contains(&"time__convert_time"),
        "{names:?}"
    );
    let echoed = inspector(
        &env,
        &config,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "everything__echo",
            "--tool-arg",
            "message=via inspector",
        ],
    );
    assert_eq!(
        echoed["content"][0]["text"],
        json!("Echo: via inspector"),
        "{echoed}"
    );
}
