//! Server-Sent Events for the listener: one JSON-RPC message per `message` event (or a named
//! event of JSON, for the REST API's live views), keep-alive comments on long-lived streams, and the choice between a plain JSON answer and a stream.
//!
//! Owns the SSE wire format and response headers. It never decides which messages belong to a
//! stream; callers hand it a receiver that ends after the stream's last message.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::DropGuard;

use crate::jsonrpc::Message;

/// Quiet streams get a comment this often so proxies and clients don't time them out.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// One SSE event carrying `msg` (JSON has no raw newlines, so one `data:` line suffices).
pub fn event(msg: &Message) -> Bytes {
    Bytes::from(format!("event: message\ndata: {}\n\n", msg.to_json()))
}

/// A stream of `first` then everything from `rest` until it closes. `guard` lives as long as
/// the client reads: dropping it (the client went away) cancels what it guards.
pub fn stream(
    status: StatusCode,
    first: Option<Message>,
    rest: mpsc::Receiver<Message>,
    guard: Option<DropGuard>,
) -> Response {
    let first = futures_util::stream::iter(first.map(|m| event(&m)));
    let rest = futures_util::stream::unfold(rest, |mut rx| async move {
        rx.recv().await.map(|m| (event(&m), rx))
    });
    events(status, first.chain(rest), guard)
}

/// One SSE event named `name` whose data is one line of JSON.
pub fn named_event(name: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// An SSE answer carrying the ready-made `events` until they end, with a keep-alive comment
/// whenever the stream is quiet. `guard` lives as long as the client reads.
pub fn events<S>(status: StatusCode, events: S, guard: Option<DropGuard>) -> Response
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    struct State<S> {
        events: std::pin::Pin<Box<S>>,
        _guard: Option<DropGuard>,
        tick: tokio::time::Interval,
    }
    let mut tick = tokio::time::interval(KEEP_ALIVE);
    tick.reset();
    let state = State {
        events: Box::pin(events),
        _guard: guard,
        tick,
    };
    let body = futures_util::stream::unfold(state, |mut s| async move {
        tokio::select! {
            e = s.events.next() => e.map(|e| (Ok::<_, Infallible>(e), s)),
            _ = s.tick.tick() => Some((Ok(Bytes::from_static(b":\n\n")), s)),
        }
    });
    let mut resp = (status, Body::from_stream(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// A single JSON-RPC message as an `application/json` answer.
pub fn json(status: StatusCode, msg: &Message) -> Response {
    let mut resp = (status, msg.to_json()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::Id;

    #[test]
    fn one_event_per_message() {
        let m = Message::result(Id::Number(1), &serde_json::json!({"a": "x\ny"}));
        assert_eq!(
            &event(&m)[..],
            b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":\"x\\ny\"}}\n\n"
        );
    }
}
