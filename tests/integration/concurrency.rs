//! Requests are handled concurrently: a `ping` or a call to another backend is not delayed by a
//! slow call; progress notifications carry the client's own token; cancellation reaches the
//! backend and suppresses the response.

use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::events;
use crate::harness::{TestEnv, fake_backend, first_text, wait_until};

fn slow_call(seconds: f64, steps: u32, meta: Option<Value>) -> Value {
    let mut params = json!({
        "name": "gateway_invoke",
        "arguments": {"server": "slow", "tool": "slow", "arguments": {"seconds": seconds, "steps": steps}}
    });
    if let Some(meta) = meta {
        params["_meta"] = meta;
    }
    params
}

#[test]
fn ping_and_other_backends_are_not_blocked_by_a_slow_call() {
    let env = TestEnv::new();
    let log = env.path().join("slow.log");
    let config = env.write_config(
        true,
        &[
            (
                "slow",
                fake_backend(&["--log", log.to_str().expect("utf-8")], ""),
            ),
            ("fast", fake_backend(&[], "")),
        ],
    );
    let mut client = env.start(&config);
    client.invoke("slow", "echo", json!({"text": "warm"}));
    client.invoke("fast", "echo", json!({"text": "warm"}));
    // A call that takes 30 s, in flight at the backend before anything else is sent.
    let slow_id = client.send_request("tools/call", slow_call(30.0, 30, None));
    assert!(
        wait_until(Duration::from_secs(20), || events(&log)
            .iter()
            .any(|e| e["event"] == "call" && e["tool"] == "slow")),
        "the slow call never reached the backend: {:?}",
        events(&log)
    );
    assert_eq!(client.result("ping", json!({})), json!({}));
    let echo = client.invoke("fast", "echo", json!({"text": "not blocked"}));
    assert_eq!(first_text(&echo), "not blocked");
    let slow_same = client.invoke("slow", "add", json!({"a": 1, "b": 1}));
    assert_eq!(slow_same["structuredContent"], json!({"sum": 2}));
    // All three were answered while the slow call was still running: none waited behind it.
    assert!(
        client.try_wait_response(&slow_id, Duration::ZERO).is_none(),
        "the slow call finished first, so nothing shows the others were not blocked"
    );
    client.notify(
        "notifications/cancelled",
        json!({"requestId": slow_id, "reason": "done with the test"}),
    );
    assert_eq!(client.result("ping", json!({})), json!({}));
}

#[test]
fn progress_reaches_the_client_with_its_own_token() {
    let env = TestEnv::new();
    let config = env.write_config(true, &[("slow", fake_backend(&[], ""))]);
    let mut client = env.start(&config);
    for token in [json!("client-token-1"), json!(4242)] {
        let id = client.send_request(
            "tools/call",
            slow_call(0.6, 3, Some(json!({"progressToken": token}))),
        );
        let resp = client.wait_response(&id, Duration::from_secs(30));
        assert!(resp.get("result").is_some(), "{resp}");
        let progress: Vec<Value> = client
            .take_notifications()
            .into_iter()
            .filter(|n| n["method"] == "notifications/progress")
            .collect();
        assert_eq!(
            progress.len(),
            3,
            "expected 3 progress notifications: {progress:?}"
        );
        for (i, n) in progress.iter().enumerate() {
            assert_eq!(n["params"]["progressToken"], token, "{n}");
            assert_eq!(n["params"]["progress"], json!(i + 1), "{n}");
            assert_eq!(n["params"]["total"], json!(3), "{n}");
        }
    }
}

#[test]
fn cancellation_reaches_the_backend_and_no_response_follows() {
    let env = TestEnv::new();
    let log = env.path().join("slow.log");
    let config = env.write_config(
        true,
        &[(
            "slow",
            fake_backend(&["--log", log.to_str().expect("utf-8")], ""),
        )],
    );
    let mut client = env.start(&config);
    let id = client.send_request("tools/call", slow_call(4.0, 8, None));
    let backend_id = {
        let mut found = None;
        wait_until(Duration::from_secs(20), || {
            found = events(&log)
                .into_iter()
                .find(|e| e["event"] == "call" && e["tool"] == "slow");
            found.is_some()
        });
        found.expect("backend never saw the slow call")["id"].clone()
    };
    client.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "user pressed stop"}),
    );
    assert!(
        wait_until(Duration::from_secs(5), || events(&log)
            .iter()
            .any(|e| e["event"] == "cancelled" && e["requestId"] == backend_id)),
        "cancel never reached the backend: {:?}",
        events(&log)
    );
    assert!(
        client
            .try_wait_response(&id, Duration::from_secs(5))
            .is_none(),
        "a cancelled request was answered"
    );
    assert_eq!(client.result("ping", json!({})), json!({}));
    let echo = client.invoke("slow", "echo", json!({"text": "after cancel"}));
    assert_eq!(first_text(&echo), "after cancel");
}
