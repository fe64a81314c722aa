//! Requests are handled concurrently: a `ping` or a call to another backend is not delayed by a
//! slow call; progress notifications carry the client's own token; cancellation reaches the
//! backend and suppresses the response.

use std::time::{Duration, Instant};

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
    let config = env.write_config(
        true,
        &[
            ("slow", fake_backend(&[], "")),
            ("fast", fake_backend(&[], "")),
        ],
    );
    let mut client = env.start(&config);
    client.invoke("slow", "echo", json!({"text": "warm"}));
    client.invoke("fast", "echo", json!({"text": "warm"}));
    let slow_id = client.send_request("tools/call", slow_call(3.0, 3, None));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(client.result("ping", json!({})), json!({}));
    let ping_took = started.elapsed();
    let started = Instant::now();
    let echo = client.invoke("fast", "echo", json!({"text": "not blocked"}));
    let other_took = started.elapsed();
    let slow_same = client.invoke("slow", "add", json!({"a": 1, "b": 1}));
    let same_took = started.elapsed();
    assert_eq!(first_text(&echo), "not blocked");
    assert_eq!(slow_same["structuredContent"], json!({"sum": 2}));
    assert!(
        ping_took < Duration::from_millis(1000),
        "ping took {ping_took:?} during a slow call"
    );
    assert!(
        other_took < Duration::from_millis(2000),
        "other backend took {other_took:?}"
    );
    assert!(
        same_took < Duration::from_millis(2500),
        "second call on the busy backend took {same_took:?}"
    );
    let slow = client.wait_response(&slow_id, Duration::from_secs(30));
    assert_eq!(first_text(&slow["result"]), "slept 3.0s");
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
