//! A backend that only speaks protocol 2024-11-05 (npm `@modelcontextprotocol/server-github`,
//! which starts without a token): the gateway offers 2025-11-25, accepts the older answer, and
//! serves the backend's tools to a client that negotiated 2025-11-25.

use std::time::Duration;

use serde_json::json;

use crate::harness::{TestEnv, npm_bin, search_until_found, stdio_backend};

#[test]
fn backend_speaking_only_2024_11_05_is_listed_searched_and_reported_running() {
    let env = TestEnv::new();
    let github = stdio_backend(&npm_bin("mcp-server-github"), &[], "timeout: 30s");
    let config = env.write_config(true, &[("github", github)]);
    let mut client = env.start(&config);

    search_until_found(
        &mut client,
        "create a new issue in a repository",
        "github",
        "create_issue",
        Duration::from_secs(60),
    );
    let listed = client.call_tool("gateway_list_tools", json!({"server": "github"}));
    assert_ne!(listed["isError"], json!(true), "{listed}");
    let tools = listed["structuredContent"]["tools"]
        .as_array()
        .expect("tools array");
    assert!(tools.len() >= 20, "server-github lists its tools: {listed}");

    let servers = client.call_tool("gateway_list_servers", json!({}));
    let github = &servers["structuredContent"]["servers"][0];
    assert_eq!(github["name"], "github", "{servers}");
    assert_eq!(github["state"], "running", "{servers}");
    assert!(client.shutdown().success());
}
