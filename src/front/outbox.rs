//! The bounded queue of messages waiting for one client to read them.
//!
//! Owns what happens when a client stops reading while messages keep coming (a backend flooding
//! progress or log messages): responses and requests to the client are always kept; queued
//! notifications are bounded in number and bytes. Progress is coalesced per token (the newest
//! replaces the one still queued, in its place), a `list_changed` already queued absorbs the next
//! one of its kind, and any other notification (log messages, resource updates, …) is dropped
//! while the bound is reached. Drops are counted and logged once when they begin. It never
//! reorders what it keeps and never parses a response (requests and responses are recognized by
//! the prefix [`Message::to_json`] writes).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::Notify;

use crate::jsonrpc::Message;

/// How many notifications may wait for a client that does not read.
pub const MAX_NOTIFICATIONS: usize = 1024;
/// How many bytes of notifications may wait for a client that does not read.
pub const MAX_NOTIFICATION_BYTES: usize = 8 * 1024 * 1024;

/// What the queue may do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A response or a request to the client: always kept.
    Keep,
    /// `notifications/progress` for this token (as JSON text): the newest replaces a queued one.
    Progress(String),
    /// A `…/list_changed` notification: one queued of each method is enough.
    ListChanged(String),
    /// Any other notification: dropped while the bound is reached.
    Droppable,
}

/// Counters of one queue, for its log lines and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Notifications dropped or absorbed by a newer one of the same kind.
    pub dropped: u64,
    /// Most notifications queued at once.
    pub peak_notifications: usize,
    /// Most notification bytes queued at once.
    pub peak_bytes: usize,
}

struct Entry {
    text: String,
    kind: Kind,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Entry>,
    /// Notifications in `queue`, and their bytes.
    notifications: usize,
    bytes: usize,
    stats: Stats,
    /// No more pushes will come.
    closed: bool,
    /// The drain is gone: nothing will be read any more.
    abandoned: bool,
}

struct Shared {
    state: Mutex<State>,
    ready: Notify,
    max_notifications: usize,
    max_bytes: usize,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic mid-update of plain counters and a queue.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writing end: where messages for the client are queued.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The reading end: what the front writes to the client, in order.
pub struct Drain {
    shared: Arc<Shared>,
}

/// A queue bounded by [`MAX_NOTIFICATIONS`] and [`MAX_NOTIFICATION_BYTES`].
pub fn channel() -> (Outbox, Drain) {
    with_limits(MAX_NOTIFICATIONS, MAX_NOTIFICATION_BYTES)
}

/// A queue with other bounds (tests).
pub fn with_limits(max_notifications: usize, max_bytes: usize) -> (Outbox, Drain) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        ready: Notify::new(),
        max_notifications,
        max_bytes,
    });
    (
        Outbox {
            shared: Arc::clone(&shared),
        },
        Drain { shared },
    )
}

impl Outbox {
    /// Queues one serialized message (as [`Message::to_json`] wrote it). `false` when the
    /// drain is gone (the client cannot be written to any more): the message is discarded.
    pub fn push(&self, text: String) -> bool {
        let kind = classify(&text);
        let shared = &self.shared;
        let mut s = shared.state();
        if s.abandoned {
            return false;
        }
        if kind == Kind::Keep {
            s.queue.push_back(Entry { text, kind });
            drop(s);
            shared.ready.notify_one();
            return true;
        }
        let len = text.len();
        // Coalescing: the newest progress of a token takes the queued one's place; a queued
        // list_changed of the same method already says what this one says.
        if let Some(i) = s.queue.iter().position(|e| e.kind == kind) {
            match kind {
                Kind::Progress(_) => {
                    let old = std::mem::replace(&mut s.queue[i].text, text);
                    s.bytes = s.bytes - old.len() + len;
                    s.stats.peak_bytes = s.stats.peak_bytes.max(s.bytes);
                    note_drop(&mut s);
                    return true;
                }
                Kind::ListChanged(_) => {
                    note_drop(&mut s);
                    return true;
                }
                _ => {}
            }
        }
        let full = s.notifications >= shared.max_notifications || s.bytes + len > shared.max_bytes;
        // A list_changed is never lost: at most one of each method is queued, so it cannot
        // grow the queue without bound.
        if full && !matches!(kind, Kind::ListChanged(_)) {
            note_drop(&mut s);
            return true;
        }
        s.notifications += 1;
        s.bytes += len;
        s.stats.peak_notifications = s.stats.peak_notifications.max(s.notifications);
        s.stats.peak_bytes = s.stats.peak_bytes.max(s.bytes);
        s.queue.push_back(Entry { text, kind });
        drop(s);
        shared.ready.notify_one();
        true
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.state().stats
    }

    /// A handle that reads the counters after the outbox has moved elsewhere.
    pub fn counters(&self) -> Counters {
        Counters(Arc::clone(&self.shared))
    }
}

/// Reads the [`Stats`] of one queue.
pub struct Counters(Arc<Shared>);

impl Counters {
    pub fn get(&self) -> Stats {
        self.0.state().stats
    }
}

impl Drop for Outbox {
    /// The end of input: the drain returns what is queued, then `None`.
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.ready.notify_one();
    }
}

fn note_drop(s: &mut State) {
    if s.stats.dropped == 0 {
        tracing::warn!(
            "the client is not reading its messages: dropping notifications beyond {MAX_NOTIFICATIONS} \
             queued (progress coalesced per token; responses are always kept)"
        );
    }
    s.stats.dropped += 1;
}

impl Drain {
    /// The next message to write, waiting for one; `None` once the outbox is gone and empty.
    pub async fn next(&mut self) -> Option<String> {
        loop {
            {
                let mut s = self.shared.state();
                if let Some(e) = s.queue.pop_front() {
                    if e.kind != Kind::Keep {
                        s.notifications -= 1;
                        s.bytes -= e.text.len();
                    }
                    return Some(e.text);
                }
                if s.closed {
                    return None;
                }
            }
            // `notify_one` stores a permit when nobody waits, so a push between the check
            // above and this wait is not missed.
            self.shared.ready.notified().await;
        }
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.shared.state().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Drain {
    /// Nobody reads any more: what is queued goes, and later pushes are refused.
    fn drop(&mut self) {
        let mut s = self.shared.state();
        s.abandoned = true;
        s.queue.clear();
    }
}

/// What the queue may do with `text`: responses and requests (written with `id` right after
/// `jsonrpc` by [`Message::to_json`]) are kept without being parsed; notifications are read.
fn classify(text: &str) -> Kind {
    const WITH_ID: &str = r#"{"jsonrpc":"2.0","id":"#;
    if text.starts_with(WITH_ID) {
        return Kind::Keep;
    }
    let Ok(Message::Notification { method, params }) = Message::parse(text) else {
        return Kind::Keep;
    };
    if method == "notifications/progress" {
        let token = params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .and_then(|v| v.get("progressToken").map(Value::to_string));
        return token.map_or(Kind::Droppable, Kind::Progress);
    }
    if method.ends_with("/list_changed") {
        return Kind::ListChanged(method);
    }
    Kind::Droppable
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::{Id, to_raw};
    use serde_json::json;

    fn progress(token: &str, n: u64) -> String {
        Message::notification(
            "notifications/progress",
            Some(to_raw(&json!({"progressToken": token, "progress": n}))),
        )
        .to_json()
    }

    fn log(n: u64) -> String {
        Message::notification(
            "notifications/message",
            Some(to_raw(&json!({"level": "info", "data": n}))),
        )
        .to_json()
    }

    fn response(n: i64) -> String {
        Message::result(Id::Number(n), &json!({})).to_json()
    }

    fn drain_now(d: &mut Drain) -> Vec<String> {
        let mut out = Vec::new();
        while !d.is_empty() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            out.push(rt.block_on(d.next()).unwrap());
        }
        out
    }

    #[test]
    fn a_flood_stays_bounded_and_every_response_is_kept_in_order() {
        let (out, mut drain) = with_limits(8, 1 << 20);
        for i in 0..10_000 {
            out.push(log(i));
            out.push(progress("p", i));
            if i % 1000 == 0 {
                out.push(response(i as i64));
            }
            assert!(drain.len() <= 8 + 10, "queue grew to {}", drain.len());
        }
        out.push(Message::notification("notifications/tools/list_changed", None).to_json());
        out.push(Message::notification("notifications/tools/list_changed", None).to_json());
        let stats = out.stats();
        assert!(stats.peak_notifications <= 8 + 1, "{stats:?}");
        assert!(stats.dropped > 19_000, "{stats:?}");
        let got = drain_now(&mut drain);
        let responses: Vec<&String> = got.iter().filter(|t| t.contains(r#""id":"#)).collect();
        let ids: Vec<i64> = responses
            .iter()
            .map(|t| {
                serde_json::from_str::<Value>(t).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, (0..10).map(|i| i * 1000).collect::<Vec<_>>());
        // The newest progress is the one delivered, before the last response it preceded.
        let progress: Vec<&String> = got.iter().filter(|t| t.contains("progress")).collect();
        assert_eq!(progress.len(), 1, "{progress:?}");
        assert!(progress[0].contains(r#""progress":9999"#), "{progress:?}");
        let changed = got.iter().filter(|t| t.contains("list_changed")).count();
        assert_eq!(changed, 1, "one list_changed of a kind is enough: {got:?}");
    }

    #[test]
    fn bytes_are_bounded_too_and_a_reading_client_loses_nothing() {
        let (out, mut drain) = with_limits(1000, 1000);
        let big = Message::notification(
            "notifications/message",
            Some(to_raw(&json!({"data": "x".repeat(600)}))),
        )
        .to_json();
        out.push(big.clone());
        out.push(big.clone());
        assert_eq!(out.stats().dropped, 1);
        assert_eq!(drain_now(&mut drain), vec![big]);
        // Read as fast as written: nothing is dropped.
        let (out, mut drain) = with_limits(4, 1 << 20);
        for i in 0..100 {
            out.push(log(i));
            out.push(progress("q", i));
            assert_eq!(drain_now(&mut drain).len(), 2);
        }
        assert_eq!(out.stats().dropped, 0);
    }

    #[tokio::test]
    async fn the_drain_ends_after_the_outbox_is_gone_and_empty() {
        let (out, mut drain) = channel();
        out.push(response(1));
        drop(out);
        assert_eq!(drain.next().await, Some(response(1)));
        assert_eq!(drain.next().await, None);
    }
}
