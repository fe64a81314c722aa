//! Nothing survives the gateway: backends, `sh -c` wrappers and their grandchildren are gone after
//! a normal exit (stdin closed), SIGTERM, and SIGKILL of the gateway.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::harness::{
    RpcClient, TestEnv, descendants, find_marked, first_text, fixture, is_alive, stdio_backend,
};

/// Starts a gateway whose backend runs under `sh -c` (so the server is a grandchild) and has
/// spawned a `sleep` great-grandchild; returns the client and the sleep's pid.
fn gateway_with_grandchildren(env: &TestEnv) -> (RpcClient, u32) {
    let script = format!(
        "python3 '{}' ; exit $?",
        fixture("fake_backend.py").display()
    );
    let config = env.write_config(
        true,
        &[
            (
                "wrapped",
                stdio_backend(Path::new("sh"), &["-c", &script], ""),
            ),
            ("plain", crate::harness::fake_backend(&[], "")),
        ],
    );
    let mut client = env.start(&config);
    let sleep_pid: u32 = first_text(&client.invoke("wrapped", "spawn_grandchild", json!({})))
        .parse()
        .expect("pid");
    client.invoke("plain", "echo", json!({"text": "start me too"}));
    assert!(is_alive(sleep_pid), "grandchild did not start");
    let tree = descendants(client.pid());
    assert!(
        tree.contains(&sleep_pid),
        "sleep {sleep_pid} is not below the gateway: {tree:?}"
    );
    assert!(
        find_marked(env.marker()).len() >= 4,
        "expected gateway, sh, 2 backends, sleep"
    );
    (client, sleep_pid)
}

#[test]
fn nothing_survives_a_normal_exit() {
    let env = TestEnv::new();
    let (mut client, sleep_pid) = gateway_with_grandchildren(&env);
    let status = client.shutdown();
    assert_eq!(status.code(), Some(0));
    env.assert_no_survivors(Duration::from_secs(10));
    assert!(!is_alive(sleep_pid));
}

#[test]
fn nothing_survives_sigterm() {
    let env = TestEnv::new();
    let (mut client, sleep_pid) = gateway_with_grandchildren(&env);
    client.signal(libc::SIGTERM);
    client.wait_exit(Duration::from_secs(15));
    env.assert_no_survivors(Duration::from_secs(10));
    assert!(!is_alive(sleep_pid));
}

#[test]
fn nothing_survives_sigkill() {
    let env = TestEnv::new();
    let (mut client, sleep_pid) = gateway_with_grandchildren(&env);
    client.signal(libc::SIGKILL);
    client.wait_exit(Duration::from_secs(5));
    env.assert_no_survivors(Duration::from_secs(10));
    assert!(!is_alive(sleep_pid));
}

#[test]
fn idle_backend_is_stopped_and_restarted_on_demand() {
    let env = TestEnv::new();
    let config = env.write_config(
        true,
        &[(
            "fake",
            crate::harness::fake_backend(&[], "idle_timeout: 1s\n"),
        )],
    );
    let mut client = env.start(&config);
    let pid: u32 = first_text(&client.invoke("fake", "pid", json!({})))
        .parse()
        .expect("pid");
    assert!(is_alive(pid));
    assert!(
        crate::harness::wait_until(Duration::from_secs(15), || !is_alive(pid)),
        "backend {pid} still running long after idle_timeout"
    );
    let again: u32 = first_text(&client.invoke("fake", "pid", json!({})))
        .parse()
        .expect("pid");
    assert_ne!(pid, again);
}
