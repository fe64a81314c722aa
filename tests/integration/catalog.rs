//! The persisted catalog: backends never seen are discovered in the background; on the next start
//! their tools are searchable without spawning them; deleting the cache loses nothing but time.

use std::time::Duration;

use serde_json::json;

use crate::faults::events;
use crate::harness::{TestEnv, fake_backend, search_until_found};

#[test]
fn warm_catalog_searches_without_spawning_the_backend() {
    let env = TestEnv::new();
    let log = env.path().join("fake.log");
    let config = env.write_config(
        true,
        &[(
            "fake",
            fake_backend(&["--log", log.to_str().expect("utf-8")], ""),
        )],
    );

    // First start: never seen, so discovered in the background without any call.
    let mut client = env.start(&config);
    search_until_found(
        &mut client,
        "add two numbers sum",
        "fake",
        "add",
        Duration::from_secs(20),
    );
    assert!(client.shutdown().success());
    assert!(
        std::fs::read_dir(env.cache_dir())
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "nothing persisted under XDG_CACHE_HOME"
    );
    assert!(
        std::fs::read_dir(env.work_dir())
            .expect("work dir")
            .next()
            .is_none(),
        "state written to the cwd"
    );
    let starts_before = events(&log)
        .iter()
        .filter(|e| e["event"] == "start")
        .count();
    assert!(starts_before >= 1);

    // Second start: warm.
    let mut client = env.start(&config);
    let found = client.search("add two numbers sum", 5);
    let matches = found["matches"].as_array().expect("matches");
    assert!(
        matches
            .iter()
            .any(|m| m["server"] == "fake" && m["tool"] == "add"),
        "{found}"
    );
    let servers = client.call_tool("gateway_list_servers", json!({}));
    assert_eq!(
        servers["structuredContent"]["servers"][0]["state"], "not started",
        "{servers}"
    );
    assert!(client.shutdown().success());
    // Counted after exit: whatever the gateway would have started, it has started by now.
    let starts_after = events(&log)
        .iter()
        .filter(|e| e["event"] == "start")
        .count();
    assert_eq!(
        starts_before, starts_after,
        "warm start spawned the backend; servers: {servers}"
    );

    // Cache deleted: rediscovered.
    std::fs::remove_dir_all(env.cache_dir()).expect("remove cache");
    let mut client = env.start(&config);
    search_until_found(
        &mut client,
        "add two numbers sum",
        "fake",
        "add",
        Duration::from_secs(20),
    );
}

#[test]
fn list_tools_right_after_start_waits_for_discovery() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("fake", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    let result = client.call_tool("gateway_list_tools", json!({"server": "fake"}));
    assert_ne!(
        result["isError"],
        json!(true),
        "gateway_list_tools right after start: {result}"
    );
    assert!(
        crate::harness::first_text(&result).contains("echo"),
        "{result}"
    );
}

#[test]
fn search_during_discovery_is_bounded_and_names_backends_not_ready() {
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[
            (
                "sluggish",
                fake_backend(&["--startup-delay", "30"], "timeout: 60s\n"),
            ),
            ("fake", fake_backend(&[], "")),
        ],
    );
    let mut client = env.start(&config);
    let started = std::time::Instant::now();
    let result = client.call_tool("gateway_search_tools", json!({"query": "echo text"}));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "search waited {took:?} for a slow backend"
    );
    assert_ne!(result["isError"], json!(true), "{result}");
    let text = crate::harness::first_text(&result);
    assert!(
        text.contains("sluggish"),
        "search does not say which backend was not ready: {text}"
    );
}

/// A config (`meta_mcp: false`) with one backend, `slow` (tool `slow__echo`), slower to start
/// than the bounded wait of a list (5 s): a list made right after start cannot hold it.
pub fn slow_discovery_config(env: &TestEnv) -> std::path::PathBuf {
    env.write_config(
        false,
        &[(
            "slow",
            fake_backend(&["--startup-delay", "12"], "timeout: 60s\n"),
        )],
    )
}

#[test]
fn a_list_made_before_a_slow_discovery_ends_is_followed_by_list_changed() {
    let env = TestEnv::new();
    let config = slow_discovery_config(&env);
    let mut client = env.start(&config);
    let names = |tools: Vec<serde_json::Value>| -> Vec<String> {
        tools
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect()
    };
    let first = names(client.list_tools());
    assert!(
        !first.contains(&"slow__echo".to_string()),
        "listed before its discovery could end: {first:?}"
    );
    let mut seen = Vec::new();
    let changed = client.wait_notification(
        "notifications/tools/list_changed",
        Duration::from_secs(60),
        &mut seen,
        |_| true,
    );
    assert!(changed.is_some(), "no tools/list_changed; saw {seen:?}");
    let second = names(client.list_tools());
    assert!(second.contains(&"slow__echo".to_string()), "{second:?}");
}
