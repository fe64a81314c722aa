//! Property tests of a session's id handling (a fuzz target, see docs/security.md): any sequence
//! of requests with duplicate, odd or wrongly typed ids, before and after `initialize`, never
//! panics, and every message that needs an answer gets exactly one.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Session;
use crate::config::Config;
use crate::gateway::Gateway;

/// One message the client sends, and how it must be answered.
#[derive(Debug, Clone)]
struct Sent {
    line: String,
    answer: Answer,
}

#[derive(Debug, Clone)]
enum Answer {
    /// Once, under its own id.
    Own(Value),
    /// Once, under `null` (JSON that is no request, or text that is no JSON).
    Null,
    /// Never (a notification).
    Nothing,
}

/// Ids from a small pool (so they repeat while in flight), plus extremes.
fn id() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..3).prop_map(|n| json!(n)),
        prop_oneof![Just("a"), Just(""), Just("é \u{1F600}")].prop_map(|s| json!(s)),
        prop_oneof![Just(i64::MIN), Just(i64::MAX)].prop_map(|n| json!(n)),
    ]
}

fn request() -> impl Strategy<Value = Sent> {
    let method = prop_oneof![
        Just(("ping", json!({}))),
        Just((
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "props", "version": "0"}})
        )),
        Just(("tools/list", json!({}))),
        Just(("logging/setLevel", json!({"level": "debug"}))),
        Just((
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}})
        )),
        Just((
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": "x"})
        )),
        Just(("no/such/method", json!({}))),
    ];
    (id(), method, any::<bool>()).prop_map(|(id, (method, params), with_params)| {
        let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if with_params {
            msg["params"] = params;
        }
        Sent {
            line: msg.to_string(),
            answer: Answer::Own(id),
        }
    })
}

/// JSON that is no valid request, and text that is no JSON: answered under `null`.
fn invalid() -> impl Strategy<Value = Sent> {
    let odd_id = prop_oneof![
        Just("1.5"),
        Just("true"),
        Just("{\"a\":1}"),
        Just("[1]"),
        Just("-0.0"),
        Just("1e400"),
    ];
    prop_oneof![
        odd_id.prop_map(|id| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#)),
        Just(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#.to_string()),
        Just("[]".to_string()),
        Just("42".to_string()),
        Just(r#"{"jsonrpc":"2.0","id":1,"method":7}"#.to_string()),
        "[a-z{]{1,12}".prop_filter("not JSON", |t| serde_json::from_str::<Value>(t).is_err()),
    ]
    .prop_map(|line| Sent {
        line,
        answer: Answer::Null,
    })
}

/// Notifications get no answer, whatever their content.
fn notification() -> impl Strategy<Value = Sent> {
    (
        id(),
        prop_oneof![
            Just("notifications/initialized"),
            Just("notifications/roots/list_changed"),
            Just("notifications/unknown"),
        ],
    )
        .prop_map(|(id, method)| Sent {
            // A cancellation of an id never used (the pool has no "zz"): nothing in flight ends.
            line: if method == "notifications/unknown" {
                json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": format!("zz{id}")}})
                .to_string()
            } else {
                json!({"jsonrpc": "2.0", "method": method}).to_string()
            },
            answer: Answer::Nothing,
        })
}

/// Every line the session wrote until it closed.
fn run(sent: &[Sent]) -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let gateway = Gateway::start(Config::default(), None).expect("gateway");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let session = Session::open(std::sync::Arc::clone(&gateway), tx);
        for s in sent {
            session.receive(&s.line);
        }
        session.close();
        drop(session);
        let mut out = Vec::new();
        // The channel closes once every request task has sent its answer and let go of the
        // session; the timeout only keeps a lost answer from hanging the test.
        while let Ok(Some(line)) =
            tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await
        {
            out.push(serde_json::from_str(&line).expect("the session writes JSON"));
        }
        gateway.shutdown().await;
        out
    })
}

proptest! {
    #![proptest_config(crate::fuzz::cases(48))]

    #[test]
    fn every_request_gets_exactly_one_answer(
        sent in proptest::collection::vec(prop_oneof![4 => request(), 2 => invalid(), 1 => notification()], 1..24)
    ) {
        let mut wanted: HashMap<String, usize> = HashMap::new();
        for s in &sent {
            match &s.answer {
                Answer::Own(id) => *wanted.entry(id.to_string()).or_default() += 1,
                Answer::Null => *wanted.entry("null".into()).or_default() += 1,
                Answer::Nothing => {}
            }
        }
        // What the lifecycle decides, in the order sent (initialize is handled in order).
        let (mut initialized, mut early, mut again, mut not_json) = (false, 0, 0, 0);
        for s in &sent {
            let v: Option<Value> = serde_json::from_str(&s.line).ok();
            if v.is_none() {
                not_json += 1;
            }
            let method = v.as_ref().and_then(|v| v["method"].as_str().map(String::from));
            match (&s.answer, method.as_deref()) {
                (Answer::Own(_), Some("initialize")) if initialized => again += 1,
                (Answer::Own(_), Some("initialize")) => initialized = true,
                (Answer::Own(_), Some("ping")) => {}
                (Answer::Own(_), _) if !initialized => early += 1,
                _ => {}
            }
        }
        let mut got: HashMap<String, usize> = HashMap::new();
        let (mut got_early, mut got_again, mut got_parse, mut got_init) = (0, 0, 0, 0);
        for m in run(&sent) {
            if m.get("method").is_some() {
                continue;
            }
            prop_assert!(m.get("result").is_some() != m.get("error").is_some(), "{m}");
            *got.entry(m["id"].to_string()).or_default() += 1;
            let message = m["error"]["message"].as_str().unwrap_or("");
            match m["error"]["code"].as_i64() {
                Some(-32700) => {
                    prop_assert!(m["id"].is_null(), "{m}");
                    got_parse += 1;
                }
                Some(-32600) if message.contains("before `initialize`") => got_early += 1,
                Some(-32600) if message.contains("already initialized") => got_again += 1,
                _ => {}
            }
            if m["result"]["protocolVersion"].is_string() {
                got_init += 1;
            }
        }
        prop_assert_eq!(got, wanted);
        prop_assert_eq!(got_parse, not_json, "-32700 is only for text that is not JSON");
        prop_assert_eq!(got_early, early, "requests before initialize");
        prop_assert_eq!(got_again, again, "a second initialize");
        prop_assert_eq!(got_init, usize::from(initialized), "one initialize result");
    }
}
