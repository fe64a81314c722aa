//! Config errors exit with status 2 and a message naming the file, line and key; an unknown
//! backend named in a call is an `isError` result, not a crash.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::harness::{TestEnv, fake_backend, first_text, wait_output};

/// Runs the gateway on `yaml` with empty stdin; returns (exit code, stderr, config path).
fn run_with_config(env: &TestEnv, yaml: &str) -> (Option<i32>, String, String) {
    let path = env.write("broken.yaml", yaml);
    let mut cmd: Command = env.gateway_command(&path, &[]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("MGW_TEST_UNSET_VAR");
    let out = wait_output(cmd.spawn().expect("spawn gateway"), Duration::from_secs(30));
    assert!(
        out.stdout.is_empty(),
        "config error wrote to stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        path.to_string_lossy().into_owned(),
    )
}

#[test]
fn bad_yaml_exits_2_naming_file_and_line() {
    let env = TestEnv::new();
    let (code, stderr, path) = run_with_config(
        &env,
        "backends:\n  fake:\n    command: [unclosed\n    args: 3\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&path), "file not named: {stderr}");
    let after_path = stderr.split(path.as_str()).nth(1).unwrap_or("");
    let names_line = after_path
        .strip_prefix(':')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    assert!(names_line, "line not named as {path}:LINE: {stderr}");
}

#[test]
fn unknown_key_exits_2_with_did_you_mean() {
    let env = TestEnv::new();
    let yaml = "meta_mcp:\n  enabled: true\nbackends:\n  fake:\n    comand: python3\n";
    let (code, stderr, path) = run_with_config(&env, yaml);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&path), "file not named: {stderr}");
    assert!(stderr.contains(":5"), "line not named: {stderr}");
    assert!(stderr.contains("comand"), "key not named: {stderr}");
    assert!(stderr.contains("`command`"), "no suggestion: {stderr}");
    let (code, stderr, _) = run_with_config(&env, "backendz: {}\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("backendz") && stderr.contains("backends"),
        "{stderr}"
    );
}

#[test]
fn missing_env_var_exits_2_naming_variable_and_key() {
    let env = TestEnv::new();
    let yaml = "backends:\n  fake:\n    command: python3\n    env:\n      TOKEN: \"${MGW_TEST_UNSET_VAR}\"\n";
    let (code, stderr, path) = run_with_config(&env, yaml);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&path) && stderr.contains(":5"),
        "file/line not named: {stderr}"
    );
    assert!(
        stderr.contains("MGW_TEST_UNSET_VAR"),
        "variable not named: {stderr}"
    );
    assert!(stderr.contains("TOKEN"), "key not named: {stderr}");
}

#[test]
fn env_default_expands_and_reaches_the_backend() {
    let env = TestEnv::new();
    let log = env.path().join("expanded.log");
    let yaml = format!(
        "backends:\n  fake:\n    command: python3\n    args: ['{}']\n    env:\n      FAKE_BACKEND_LOG: \"${{MGW_TEST_UNSET_VAR:-{}}}\"\n",
        crate::harness::fixture("fake_backend.py").display(),
        log.display()
    );
    let config = env.write("gateway.yaml", &yaml);
    let mut client = env.start(&config);
    let echo = client.invoke("fake", "echo", json!({"text": "x"}));
    assert_eq!(first_text(&echo), "x", "{echo}");
    assert!(
        log.exists(),
        "the ${{VAR:-default}} value did not reach the backend's environment"
    );
}

#[test]
fn invalid_backend_name_exits_2() {
    let env = TestEnv::new();
    let (code, stderr, _) =
        run_with_config(&env, "backends:\n  \"bad name!\":\n    command: python3\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("bad name!"), "{stderr}");
}

#[test]
fn unknown_backend_in_a_call_is_a_tool_error() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("memory-fake", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    let resp = client.call_tool(
        "gateway_invoke",
        json!({"server": "memory_fake", "tool": "echo", "arguments": {}}),
    );
    assert_eq!(resp["isError"], json!(true), "{resp}");
    let text = first_text(&resp);
    assert!(
        text.contains("memory_fake") && text.contains("memory-fake"),
        "{text}"
    );
    let search = client.call_tool(
        "gateway_search_tools",
        json!({"query": "echo", "server": "nope"}),
    );
    assert_eq!(search["isError"], json!(true), "{search}");
    assert!(first_text(&search).contains("nope"), "{search}");
}
