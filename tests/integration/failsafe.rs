//! Failsafes per backend (issue 12) with the fault-injecting fake backend: the circuit breaker
//! opens, fails fast without reaching the backend, half-opens and closes; retries happen only
//! where they cannot repeat a side effect; the concurrency limit queues and refuses at its bounds
//! while other backends (a real `mcp-server-time`) keep answering; the per-backend rate limit
//! refuses beyond its budget. Every count of calls is what the backend itself logged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::{events, failure_text};
use crate::harness::{
    RpcClient, TestEnv, fake_backend, first_text, py_bin, stdio_backend, wait_until,
};

const WAIT: Duration = Duration::from_secs(20);

fn calls(log: &Path, tool: &str) -> usize {
    events(&log.to_path_buf())
        .iter()
        .filter(|e| e["event"] == "call" && e["tool"] == tool)
        .count()
}

fn log_path(env: &TestEnv, name: &str) -> PathBuf {
    env.path().join(format!("{name}.log"))
}

fn fake(log: &Path, extra_args: &[&str], extra_yaml: &str) -> String {
    let mut args = vec!["--log", log.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra_args);
    fake_backend(&args, extra_yaml)
}

/// `gateway_list_servers`' entry for `name`.
fn server(client: &mut RpcClient, name: &str) -> Value {
    let r = client.call_tool("gateway_list_servers", json!({}));
    r["structuredContent"]["servers"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in gateway_list_servers: {r}"))
}

fn invoke_raw(client: &mut RpcClient, server: &str, tool: &str, args: Value) -> Value {
    client.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": server, "tool": tool, "arguments": args}}),
    )
}

#[test]
fn breaker_opens_fails_fast_half_opens_and_closes() {
    let env = TestEnv::new();
    let log = log_path(&env, "flaky");
    let config = env.write_config(
        true,
        &[(
            "flaky",
            fake(
                &log,
                &[],
                "timeout: 20s\nfailsafe:\n  circuit_breaker: { failure_threshold: 2, reset_timeout: 2s }\n",
            ),
        )],
    );
    let mut client = env.start(&config);
    assert_eq!(
        first_text(&client.invoke("flaky", "echo", json!({"text": "up"}))),
        "up"
    );
    for n in 1..=2 {
        let text = failure_text(&invoke_raw(&mut client, "flaky", "crash", json!({})));
        assert!(text.contains("flaky"), "crash {n} not named: {text}");
    }
    assert_eq!(calls(&log, "crash"), 2);

    // Open: fails fast with a tool-level error naming the backend, and nothing reaches it.
    let refused = client.invoke("flaky", "echo", json!({"text": "refused"}));
    assert_eq!(refused["isError"], json!(true), "{refused}");
    let text = first_text(&refused);
    for part in [
        "flaky",
        "circuit breaker open",
        "2 consecutive failures",
        "tries again in",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
    assert_eq!(
        calls(&log, "echo"),
        1,
        "a call reached an open breaker's backend"
    );
    let s = server(&mut client, "flaky");
    assert_eq!(s["failsafe"]["breaker"], "open", "{s:#}");
    assert_eq!(s["failsafe"]["consecutive_failures"], 2, "{s:#}");
    // At least our call; the gateway's own re-listing of the crashed backend may be refused too.
    assert!(
        s["failsafe"]["rejected"]["breaker_open"].as_u64() >= Some(1),
        "{s:#}"
    );
    assert!(s["failsafe"]["open_until"].as_f64().is_some(), "{s:#}");

    // Half-open after the reset timeout; one successful trial closes it. The gateway's own
    // re-listing may be that trial, so "closed" counts as having passed through half-open.
    assert!(
        wait_until(WAIT, || server(&mut client, "flaky")["failsafe"]["breaker"]
            != "open"),
        "the breaker never half-opened"
    );
    assert_eq!(
        first_text(&client.invoke("flaky", "echo", json!({"text": "trial"}))),
        "trial"
    );
    let s = server(&mut client, "flaky");
    assert_eq!(s["failsafe"]["breaker"], "closed", "{s:#}");
    assert_eq!(s["failsafe"]["consecutive_failures"], 0, "{s:#}");
    assert_eq!(calls(&log, "echo"), 2);
}

#[test]
fn retries_happen_only_where_safe() {
    let env = TestEnv::new();
    let log = log_path(&env, "retry");
    let fail_start = env.path().join("fail-next-start");
    let config = env.write_config(
        true,
        &[(
            "retry",
            fake(
                &log,
                &["--fail-start-file", fail_start.to_str().expect("utf-8")],
                "timeout: 20s\nfailsafe:\n  retry: { max_attempts: 3, initial_backoff: 10ms }\n  circuit_breaker: { failure_threshold: 50 }\n",
            ),
        )],
    );
    let mut client = env.start(&config);
    assert_eq!(
        first_text(&client.invoke("retry", "echo", json!({"text": "up"}))),
        "up"
    );

    // A tool without read-only/idempotent annotations that crashes the backend: sent once.
    let text = failure_text(&invoke_raw(&mut client, "retry", "crash", json!({})));
    assert!(text.contains("retry"), "{text}");
    assert_eq!(
        calls(&log, "crash"),
        1,
        "a non-idempotent call was repeated"
    );

    // `readOnlyHint: true`: every attempt is made (each crashes).
    let text = failure_text(&invoke_raw(&mut client, "retry", "peek_crash", json!({})));
    assert!(text.contains("retry"), "{text}");
    assert_eq!(
        calls(&log, "peek_crash"),
        3,
        "a read-only call was not retried"
    );

    let s = server(&mut client, "retry");
    assert!(s["failsafe"]["retries"].as_u64() >= Some(2), "{s:#}");
    client.shutdown();

    // A failed spawn (before the request reached anything) is retried, and the call succeeds.
    // The catalog is warm, so this call is what starts the backend; its first start fails.
    std::fs::write(&fail_start, "fail once").expect("write marker");
    let mut client = env.start(&config);
    assert_eq!(
        first_text(&client.invoke("retry", "echo", json!({"text": "again"}))),
        "again"
    );
    let failed_starts = events(&log)
        .iter()
        .filter(|e| e["event"] == "start_failed")
        .count();
    assert_eq!(failed_starts, 1, "{:?}", events(&log));
    assert!(!fail_start.exists());
    let s = server(&mut client, "retry");
    assert_eq!(s["failsafe"]["retries"], 1, "{s:#}");
}

#[test]
fn the_queue_bounds_hold_under_load_and_other_backends_answer() {
    let env = TestEnv::new();
    let log = log_path(&env, "busy");
    let config = env.write_config(
        true,
        &[
            (
                "busy",
                fake(
                    &log,
                    &[],
                    "timeout: 60s\nfailsafe:\n  concurrency: { max_in_flight: 2, max_queued: 2 }\n",
                ),
            ),
            (
                "time",
                stdio_backend(&py_bin("mcp-server-time"), &["--local-timezone", "UTC"], ""),
            ),
        ],
    );
    let mut client = env.start(&config);
    assert_eq!(
        first_text(&client.invoke("busy", "echo", json!({"text": "up"}))),
        "up"
    );
    let ids: Vec<Value> = (0..6)
        .map(|_| {
            client.send_request(
                "tools/call",
                json!({"name": "gateway_invoke", "arguments": {"server": "busy", "tool": "hang", "arguments": {}}}),
            )
        })
        .collect();
    // Two are refused at once; four run or wait.
    let mut answered: Vec<(Value, Value)> = Vec::new();
    let got_two = wait_until(WAIT, || {
        for id in &ids {
            if answered.iter().all(|(a, _)| a != id)
                && let Some(r) = client.try_wait_response(id, Duration::from_millis(10))
            {
                answered.push((id.clone(), r));
            }
        }
        answered.len() >= 2
    });
    assert!(got_two, "the full queue did not refuse: {answered:?}");
    for (_, r) in &answered {
        let text = failure_text(r);
        assert!(
            text.contains("busy")
                && text.contains("max_in_flight 2")
                && text.contains("max_queued 2"),
            "{text}"
        );
    }
    assert!(
        wait_until(WAIT, || calls(&log, "hang") == 2),
        "two calls should run"
    );
    let s = server(&mut client, "busy");
    assert_eq!(s["failsafe"]["in_flight"], 2, "{s:#}");
    assert_eq!(s["failsafe"]["queued"], 2, "{s:#}");
    assert_eq!(s["failsafe"]["rejected"]["queue_full"], 2, "{s:#}");

    // Another backend is not affected meanwhile.
    let now = client.invoke("time", "get_current_time", json!({"timezone": "UTC"}));
    assert_ne!(now["isError"], json!(true), "{now}");
    assert!(first_text(&now).contains("UTC"), "{now}");
    assert_eq!(calls(&log, "hang"), 2, "a queued call reached the backend");
    assert_eq!(
        answered.len(),
        2,
        "only the two beyond the queue are answered"
    );

    // Cancelled calls leave the queue and their slots.
    for id in ids
        .iter()
        .filter(|id| answered.iter().all(|(a, _)| a != *id))
    {
        client.notify("notifications/cancelled", json!({"requestId": id}));
    }
    assert!(
        wait_until(WAIT, || {
            let f = server(&mut client, "busy")["failsafe"].clone();
            f["in_flight"] == 0 && f["queued"] == 0
        }),
        "cancelled calls still hold the queue"
    );
    assert_eq!(
        first_text(&client.invoke("busy", "echo", json!({"text": "free"}))),
        "free"
    );
}

#[test]
fn the_backend_rate_limit_refuses_beyond_its_budget() {
    let env = TestEnv::new();
    let log = log_path(&env, "limited");
    // Meta-tools off: the backend's tools are called directly as `limited__echo`.
    let config = env.write_config(
        false,
        &[(
            "limited",
            fake(
                &log,
                &[],
                "failsafe:\n  rate_limit: { requests_per_minute: 2 }\n",
            ),
        )],
    );
    let mut client = env.start(&config);
    for n in 0..2 {
        let r = client.call_tool("limited__echo", json!({"text": format!("call {n}")}));
        assert_eq!(first_text(&r), format!("call {n}"));
    }
    let refused = client.call_tool("limited__echo", json!({"text": "third"}));
    assert_eq!(refused["isError"], json!(true), "{refused}");
    let text = first_text(&refused);
    assert!(
        text.contains("limited")
            && text.contains("2 calls per minute")
            && text.contains("try again in"),
        "{text}"
    );
    assert_eq!(
        calls(&log, "echo"),
        2,
        "a call beyond the budget reached the backend"
    );
}

/// Tool-list pinning (`pin_tools: true`): the first listing is approved; a tool whose definition
/// changes, or a new one, is held back — not listed, not found, not called — and reported, until
/// `mcp-gateway approve BACKEND`, after which the running gateway serves it at once.
#[test]
fn changed_tools_of_a_pinned_backend_are_held_back_until_approved() {
    let env = TestEnv::new();
    let log = log_path(&env, "pinned");
    let config = env.write_config(true, &[("pinned", fake(&log, &[], "pin_tools: true\n"))]);
    let config_arg = config.to_str().expect("utf-8");
    let mut client = env.start(&config);
    assert_eq!(
        first_text(&client.invoke("pinned", "echo", json!({"text": "approved"}))),
        "approved"
    );
    let described = "Repeat the given text back, word for word, in a brand new way";
    client.invoke(
        "pinned",
        "redescribe",
        json!({"name": "echo", "description": described}),
    );
    client.invoke("pinned", "add_tool", json!({"name": "extra"}));
    assert!(
        wait_until(WAIT, || {
            let held = server(&mut client, "pinned")["held"].clone();
            held.get("echo").is_some() && held.get("extra").is_some()
        }),
        "changed and new tools not held back: {:#}",
        server(&mut client, "pinned")
    );
    let s = server(&mut client, "pinned");
    let reason = s["held"]["echo"].as_str().unwrap_or_default();
    assert!(
        reason.contains("changed since it was approved")
            && reason.contains("mcp-gateway approve pinned"),
        "{reason}"
    );
    assert!(
        s["held"]["extra"]
            .as_str()
            .unwrap_or_default()
            .contains("new since"),
        "{s:#}"
    );
    // Held back: not searchable, not callable (the backend sees no call), still reported.
    let found = client.search("repeat text word for word brand new way", 5);
    assert!(
        found["matches"]
            .as_array()
            .is_none_or(|m| m.iter().all(|t| t["tool"] != "echo")),
        "a held tool is searchable: {found}"
    );
    let refused = client.invoke("pinned", "echo", json!({"text": "held"}));
    assert_eq!(refused["isError"], json!(true), "{refused}");
    assert!(first_text(&refused).contains("held back"), "{refused}");
    assert_eq!(calls(&log, "echo"), 1, "a held tool was called");
    let unchanged = client.invoke("pinned", "add", json!({"a": 1, "b": 2}));
    assert_eq!(first_text(&unchanged), "3", "unchanged tools stay served");
    let listed = env.cli(&["--config", config_arg, "list"]).expect_code(0);
    assert!(
        listed
            .stdout
            .contains("held back: pinned/echo is held back"),
        "{}",
        listed.stdout
    );

    // Approve: the running gateway serves both at once.
    let approved = env
        .cli(&["--config", config_arg, "approve", "pinned"])
        .expect_code(0);
    assert!(
        approved.stdout.contains("approved pinned/echo")
            && approved.stdout.contains("approved pinned/extra"),
        "{}",
        approved.stdout
    );
    assert!(
        wait_until(WAIT, || server(&mut client, "pinned").get("held").is_none()),
        "still held after approval: {:#}",
        server(&mut client, "pinned")
    );
    assert_eq!(
        first_text(&client.invoke("pinned", "echo", json!({"text": "back"}))),
        "back"
    );
    let found = client.search("repeat text word for word brand new way", 5);
    assert_eq!(found["matches"][0]["tool"], "echo", "{found}");
    assert_eq!(found["matches"][0]["description"], described, "{found}");
    // Nothing left to approve; an unpinned or unknown backend is a usage error.
    let again = env
        .cli(&["--config", config_arg, "approve", "pinned"])
        .expect_code(0);
    assert!(
        again.stdout.contains("nothing held back"),
        "{}",
        again.stdout
    );
    let unknown = env
        .cli(&["--config", config_arg, "approve", "pinnd"])
        .expect_code(2);
    assert!(
        unknown.stderr.contains("did you mean `pinned`"),
        "{}",
        unknown.stderr
    );
}
