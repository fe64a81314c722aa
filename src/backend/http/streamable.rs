//! Streamable HTTP (MCP 2025-03-26 and later): every message is a POST to one URL, answered with
//! JSON, an SSE stream, or 202; an optional GET stream carries server-initiated messages.
//!
//! Owns the `Mcp-Session-Id` (captured from the `initialize` answer, sent afterwards, re-created
//! transparently when the server answers 404 because it forgot the session, deleted on
//! shutdown), resuming a broken response stream with `Last-Event-ID` after the server's `retry`
//! delay, and the standalone GET stream. It never reads or changes message contents.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};

use super::sse_parser::SseParser;
use super::{
    BodyError, DEFAULT_RETRY, MAX_MESSAGE_BYTES, Outgoing, Shared, StreamEnd, content_type,
    describe_status, error_chain,
};
use crate::jsonrpc::{Id, Message};

const SESSION_HEADER: &str = "mcp-session-id";
/// Reconnects of one response stream that brought nothing new before giving up.
const MAX_RESUME_ATTEMPTS: u32 = 5;
/// How long the first request after `initialized` waits for the GET stream to open.
const LISTENER_OPEN_WAIT: Duration = Duration::from_secs(2);
/// Longest pause between attempts to reopen the GET stream.
const MAX_LISTEN_BACKOFF: Duration = Duration::from_secs(30);
/// A request task outlives the caller's own timeout by at most this.
const REQUEST_SLACK: Duration = Duration::from_secs(5);

pub(super) struct Streamable {
    shared: Arc<Shared>,
    timeout: Duration,
    /// Shared with the GET listener, which stops when the session it serves is replaced.
    session: Arc<Mutex<Option<String>>>,
    /// The Peer's `initialize` line, replayed when the session expires.
    initialize: Mutex<Option<String>>,
    /// Serializes re-initialization.
    reinit: tokio::sync::Mutex<()>,
}

/// Why a POST did not produce a usable answer.
enum PostFailure {
    /// The server could not be reached (the connection is lost).
    Transport(String),
    /// It answered, but not as a Streamable HTTP server would (a 4xx to the first POST).
    NotStreamable(String),
    /// It answered with an error that is final (auth, server errors, a broken answer).
    Refused(String),
}

impl Streamable {
    pub(super) fn new(shared: Arc<Shared>, timeout: Duration) -> Streamable {
        Streamable {
            shared,
            timeout,
            session: Arc::new(Mutex::new(None)),
            initialize: Mutex::new(None),
            reinit: tokio::sync::Mutex::new(()),
        }
    }

    fn session(&self) -> Option<String> {
        current(&self.session)
    }

    fn set_session(&self, s: Option<String>) {
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }

    /// Sends the first message of an auto-detected connection. `Some(reason)`: the server does
    /// not speak Streamable HTTP (it answered the POST with a 4xx or a foreign content type).
    pub(super) async fn detect(self: &Arc<Self>, line: &str, kind: &Outgoing) -> Option<String> {
        self.remember_initialize(line);
        match self.exchange(line, kind, true).await {
            Err(PostFailure::NotStreamable(why)) => Some(why),
            Err(e) => {
                self.fail(kind, e);
                None
            }
            Ok(()) => None,
        }
    }

    /// Sends one message. Requests run concurrently (their answers may stream for long);
    /// notifications and responses are sent in order.
    pub(super) async fn send(self: &Arc<Self>, line: String, kind: Outgoing) {
        let initialize = self.remember_initialize(&line);
        match &kind {
            Outgoing::Request(_) if !initialize => {
                let me = Arc::clone(self);
                let limit = self.timeout + REQUEST_SLACK;
                tokio::spawn(async move {
                    let run = me.exchange(&line, &kind, false);
                    // Past the limit the caller has long given up (the Peer timed out).
                    if let Ok(Err(e)) = tokio::time::timeout(limit, run).await {
                        me.fail(&kind, e);
                    }
                });
            }
            _ => {
                if let Err(e) = self.exchange(&line, &kind, false).await {
                    self.fail(&kind, e);
                }
            }
        }
    }

    fn fail(&self, kind: &Outgoing, e: PostFailure) {
        match e {
            PostFailure::Transport(detail) => {
                if let Outgoing::Request(id) = kind
                    && self.session().is_none()
                {
                    // Nothing established yet: say why this request (`initialize`) failed.
                    self.shared.answer_error(id.clone(), detail.clone());
                }
                self.shared.lost(detail);
            }
            PostFailure::NotStreamable(detail) | PostFailure::Refused(detail) => match kind {
                Outgoing::Request(id) => self.shared.answer_error(id.clone(), detail),
                Outgoing::OneWay => tracing::warn!(backend = %self.shared.backend, "{detail}"),
            },
        }
    }

    /// Keeps the `initialize` request for replay; says whether `line` is one.
    fn remember_initialize(&self, line: &str) -> bool {
        let is_init = matches!(Message::parse(line), Ok(Message::Request { method, .. }) if method == "initialize");
        if is_init {
            *self.initialize.lock().unwrap_or_else(|e| e.into_inner()) = Some(line.to_string());
        }
        is_init
    }

    fn post(&self, line: &str, session: Option<&str>, initialize: bool) -> reqwest::RequestBuilder {
        let mut req = if initialize {
            // A new session: no session id and no negotiated version yet.
            self.shared
                .client
                .post(self.shared.url.clone())
                .headers(self.shared.headers.clone())
        } else {
            self.shared.request(Method::POST, &self.shared.url)
        };
        req = req
            .header(
                reqwest::header::ACCEPT,
                "application/json, text/event-stream",
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(line.to_string());
        if let Some(s) = session {
            req = req.header(SESSION_HEADER, s);
        }
        req
    }

    /// POSTs one message and handles the answer: delivers what comes back, re-creates an
    /// expired session once, resumes a broken stream.
    async fn exchange(&self, line: &str, kind: &Outgoing, detect: bool) -> Result<(), PostFailure> {
        let method = match Message::parse(line) {
            Ok(Message::Request { method, .. } | Message::Notification { method, .. }) => method,
            _ => String::new(),
        };
        let is_init = method == "initialize";
        let url = &self.shared.url;
        let shown = crate::redact::url(url);
        let mut retried = false;
        let resp = loop {
            let session = if is_init { None } else { self.session() };
            let resp = self
                .post(line, session.as_deref(), is_init)
                .send()
                .await
                .map_err(|e| {
                    PostFailure::Transport(format!("POST {shown} failed: {}", error_chain(&e)))
                })?;
            let status = resp.status();
            if let Some(stale) = session
                && !retried
                && (status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST)
            {
                // 404 is the spec's "session expired"; servers built on the TypeScript SDK's
                // examples answer 400 "No valid session ID provided" instead.
                let what = describe_status("POST", url, &resp);
                let body = if status == StatusCode::BAD_REQUEST {
                    self.shared.read_body(resp).await.unwrap_or_default()
                } else {
                    String::new()
                };
                if status == StatusCode::NOT_FOUND || body.to_ascii_lowercase().contains("session")
                {
                    retried = true;
                    tracing::info!(backend = %self.shared.backend, "session expired ({status}); re-initializing");
                    if let Err(e) = self.reinitialize(&stale).await {
                        // Without a session nothing more can work: let the supervisor reconnect.
                        let (PostFailure::Transport(why)
                        | PostFailure::NotStreamable(why)
                        | PostFailure::Refused(why)) = e;
                        self.shared.lost(format!(
                            "the session expired and re-initializing failed: {why}"
                        ));
                        return Ok(());
                    }
                    continue;
                }
                return self.http_error(what, &body, kind);
            }
            break resp;
        };
        let status = resp.status();
        if detect && status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 407 | 429) {
            return Err(PostFailure::NotStreamable(describe_status(
                "POST", url, &resp,
            )));
        }
        if !status.is_success() {
            let what = describe_status("POST", url, &resp);
            let body = self.shared.read_body(resp).await.unwrap_or_default();
            return self.http_error(what, &body, kind);
        }
        if is_init {
            let sid = resp
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            self.set_session(sid);
        }
        if status == StatusCode::ACCEPTED || status == StatusCode::NO_CONTENT {
            if method == "notifications/initialized" {
                self.open_listener().await;
            }
            return Ok(());
        }
        let ctype = content_type(&resp);
        let awaiting = match kind {
            Outgoing::Request(id) => Some(id.clone()),
            Outgoing::OneWay => None,
        };
        let outcome = match ctype.as_str() {
            "text/event-stream" => {
                self.consume_stream(resp, awaiting).await;
                Ok(())
            }
            "application/json" => {
                let body = self.shared.read_body(resp).await.map_err(|e| match e {
                    // Only this answer is lost: the request fails, the connection stays.
                    BodyError::TooLarge => PostFailure::Refused(format!("POST {shown}: {e}")),
                    BodyError::Failed(_) => PostFailure::Transport(format!("POST {shown}: {e}")),
                })?;
                let answered = if body.trim().is_empty() {
                    Vec::new()
                } else {
                    self.shared.deliver(&body)
                };
                match awaiting {
                    Some(id) if !answered.contains(&id) => Err(PostFailure::Refused(format!(
                        "POST {shown} answered JSON without the response to request {id}"
                    ))),
                    _ => Ok(()),
                }
            }
            _ if awaiting.is_none() => Ok(()),
            other => Err(PostFailure::NotStreamable(format!(
                "POST {shown} answered with content type `{other}` (expected application/json or text/event-stream)"
            ))),
        };
        if outcome.is_ok() && method == "notifications/initialized" {
            self.open_listener().await;
        }
        outcome
    }

    /// A POST answered with an error status: a JSON-RPC error for the request in the body is
    /// the server's real answer; otherwise the request fails with the status.
    fn http_error(&self, what: String, body: &str, kind: &Outgoing) -> Result<(), PostFailure> {
        match kind {
            Outgoing::Request(id) if self.shared.deliver_matching(body, id) => Ok(()),
            Outgoing::Request(_) => Err(PostFailure::Refused(format!(
                "{what}{}{}",
                preview_body(body),
                auth_hint(&what)
            ))),
            Outgoing::OneWay => {
                tracing::warn!(backend = %self.shared.backend, "{what}{}", preview_body(body));
                Ok(())
            }
        }
    }

    /// Reads a POST's SSE answer until the response to `awaiting` arrives; if the stream breaks
    /// first, resumes it with GET + `Last-Event-ID` after the server's `retry` delay.
    async fn consume_stream(&self, mut resp: reqwest::Response, awaiting: Option<Id>) {
        let mut parser = SseParser::new(MAX_MESSAGE_BYTES);
        let mut idle_attempts = 0;
        loop {
            let mut got_any = false;
            let end = self
                .shared
                .read_sse(&mut resp, &mut parser, |ev| {
                    got_any = true;
                    let answered = self.shared.deliver(&ev.data);
                    awaiting.as_ref().is_some_and(|id| answered.contains(id))
                })
                .await;
            let reason = match end {
                StreamEnd::Done | StreamEnd::Stopped => return,
                StreamEnd::Closed => "the server closed the response stream".to_string(),
                StreamEnd::Failed(e) => format!("the response stream failed: {e}"),
            };
            let Some(id) = awaiting.clone() else { return };
            idle_attempts = if got_any { 0 } else { idle_attempts + 1 };
            let Some(last_id) = parser.last_event_id().map(str::to_string) else {
                self.shared.answer_error(
                    id,
                    format!("{reason} before the answer, and it cannot be resumed (no event id)"),
                );
                return;
            };
            if idle_attempts > MAX_RESUME_ATTEMPTS {
                self.shared.answer_error(
                    id,
                    format!("{reason} before the answer; gave up after {MAX_RESUME_ATTEMPTS} attempts to resume it"),
                );
                return;
            }
            let delay = parser.retry().unwrap_or(DEFAULT_RETRY);
            tracing::debug!(backend = %self.shared.backend, %reason, ?delay, %last_id, "resuming response stream");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shared.stop.cancelled() => return,
            }
            match open_get(&self.shared, self.session().as_deref(), Some(&last_id)).await {
                Ok(r) => resp = r,
                Err(PostFailure::Transport(e)) => {
                    self.shared.lost(e);
                    return;
                }
                Err(PostFailure::NotStreamable(e) | PostFailure::Refused(e)) => {
                    self.shared.answer_error(
                        id,
                        format!("{reason} before the answer; resuming it failed: {e}"),
                    );
                    return;
                }
            }
            parser = parser.resumed();
        }
    }

    /// Opens the standalone GET stream for server-initiated messages, for the current session,
    /// and waits (briefly) until the server answered it: requests sent after `initialized` must
    /// not race the stream's opening, or a server may take it for the resumption of theirs.
    async fn open_listener(&self) {
        let (opened, answered) = tokio::sync::oneshot::channel();
        tokio::spawn(listen(
            Arc::clone(&self.shared),
            Arc::clone(&self.session),
            self.session(),
            opened,
        ));
        let _ = tokio::time::timeout(LISTENER_OPEN_WAIT, answered).await;
    }

    /// Replays `initialize` and `notifications/initialized` for a new session, unless another
    /// task already did since `stale` was in use.
    async fn reinitialize(&self, stale: &str) -> Result<(), PostFailure> {
        let _guard = self.reinit.lock().await;
        if self.session().as_deref() != Some(stale) {
            return Ok(());
        }
        let url = &self.shared.url;
        let shown = crate::redact::url(url);
        let init = self
            .initialize
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| PostFailure::Refused("no `initialize` to replay".into()))?;
        let init_id = match Message::parse(&init) {
            Ok(Message::Request { id, .. }) => id,
            _ => {
                return Err(PostFailure::Refused(
                    "stored `initialize` is invalid".into(),
                ));
            }
        };
        self.set_session(None);
        let resp = self.post(&init, None, true).send().await.map_err(|e| {
            PostFailure::Transport(format!("POST {shown} failed: {}", error_chain(&e)))
        })?;
        if !resp.status().is_success() {
            return Err(PostFailure::Refused(format!(
                "re-initializing the expired session: {}",
                describe_status("POST", url, &resp)
            )));
        }
        let sid = resp
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // The answer is ours, not the Peer's: read it without dispatching.
        let is_answer = |text: &str| matches!(Message::parse(text.trim()), Ok(Message::Response { id, result: Ok(_) }) if id == init_id);
        let answered = if content_type(&resp) == "text/event-stream" {
            let mut resp = resp;
            let mut parser = SseParser::new(MAX_MESSAGE_BYTES);
            matches!(
                self.shared
                    .read_sse(&mut resp, &mut parser, |ev| is_answer(&ev.data))
                    .await,
                StreamEnd::Done
            )
        } else {
            let body = self
                .shared
                .read_body(resp)
                .await
                .map_err(|e| PostFailure::Refused(e.to_string()))?;
            is_answer(&body)
        };
        if !answered {
            return Err(PostFailure::Refused(
                "re-initializing the expired session: no successful `initialize` answer".into(),
            ));
        }
        self.set_session(sid.clone());
        let note = Message::notification("notifications/initialized", None).to_json();
        let resp = self
            .post(&note, sid.as_deref(), false)
            .send()
            .await
            .map_err(|e| {
                PostFailure::Transport(format!("POST {shown} failed: {}", error_chain(&e)))
            })?;
        if !resp.status().is_success() {
            return Err(PostFailure::Refused(format!(
                "re-initializing the expired session: `notifications/initialized`: {}",
                describe_status("POST", url, &resp)
            )));
        }
        tracing::info!(backend = %self.shared.backend, session = ?sid, "new session after expiry");
        self.open_listener().await;
        Ok(())
    }

    /// `DELETE`s the session, waiting at most `grace`.
    pub(super) async fn end_session(&self, grace: Duration) {
        let Some(sid) = self.session() else { return };
        let req = self
            .shared
            .request(Method::DELETE, &self.shared.url)
            .header(SESSION_HEADER, sid)
            .timeout(grace)
            .send();
        match tokio::time::timeout(grace, req).await {
            Ok(Ok(r))
                if r.status().is_success() || r.status() == StatusCode::METHOD_NOT_ALLOWED => {}
            Ok(Ok(r)) => {
                tracing::debug!(backend = %self.shared.backend, status = %r.status(), "session DELETE refused")
            }
            Ok(Err(e)) => {
                tracing::debug!(backend = %self.shared.backend, "session DELETE failed: {}", error_chain(&e))
            }
            Err(_) => tracing::debug!(backend = %self.shared.backend, "session DELETE timed out"),
        }
    }
}

fn current(session: &Mutex<Option<String>>) -> Option<String> {
    session.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// GET with `Accept: text/event-stream` (the standalone stream, or resuming a broken one).
async fn open_get(
    shared: &Shared,
    session: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<reqwest::Response, PostFailure> {
    let url = &shared.url;
    let shown = crate::redact::url(url);
    let mut req = shared
        .request(Method::GET, url)
        .header(reqwest::header::ACCEPT, "text/event-stream");
    if let Some(s) = session {
        req = req.header(SESSION_HEADER, s);
    }
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| PostFailure::Transport(format!("GET {shown} failed: {}", error_chain(&e))))?;
    if !resp.status().is_success() {
        return Err(PostFailure::NotStreamable(describe_status(
            "GET", url, &resp,
        )));
    }
    if content_type(&resp) != "text/event-stream" {
        return Err(PostFailure::NotStreamable(format!(
            "GET {shown} answered with content type `{}`",
            content_type(&resp)
        )));
    }
    Ok(resp)
}

/// The standalone GET stream of one session: delivers what the server sends on its own,
/// reopens after the `retry` delay when the stream ends, and stops when the server offers none
/// (405 and other refusals), the session is replaced, or the connection ends.
async fn listen(
    shared: Arc<Shared>,
    sessions: Arc<Mutex<Option<String>>>,
    session: Option<String>,
    opened: tokio::sync::oneshot::Sender<()>,
) {
    let mut parser = SseParser::new(MAX_MESSAGE_BYTES);
    let mut failures: u32 = 0;
    let mut opened = Some(opened);
    loop {
        if shared.stop.is_cancelled() || current(&sessions) != session {
            return;
        }
        let attempt = open_get(&shared, session.as_deref(), parser.last_event_id()).await;
        if let Some(tx) = opened.take() {
            let _ = tx.send(());
        }
        match attempt {
            Ok(mut resp) => {
                failures = 0;
                let end = shared
                    .read_sse(&mut resp, &mut parser, |ev| {
                        shared.deliver(&ev.data);
                        false
                    })
                    .await;
                match end {
                    StreamEnd::Stopped => return,
                    StreamEnd::Failed(e) => {
                        tracing::debug!(backend = %shared.backend, "GET stream failed: {e}")
                    }
                    StreamEnd::Closed | StreamEnd::Done => {
                        tracing::debug!(backend = %shared.backend, "GET stream closed by the server")
                    }
                }
                parser = parser.resumed();
            }
            Err(PostFailure::NotStreamable(e) | PostFailure::Refused(e)) => {
                tracing::debug!(backend = %shared.backend, "no server-initiated stream: {e}");
                return;
            }
            Err(PostFailure::Transport(e)) => {
                failures += 1;
                tracing::debug!(backend = %shared.backend, "reopening the GET stream failed: {e}");
            }
        }
        let base = parser.retry().unwrap_or(DEFAULT_RETRY);
        let delay = base
            .saturating_mul(1 << failures.min(6))
            .min(MAX_LISTEN_BACKOFF.max(base));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.stop.cancelled() => return,
        }
    }
}

/// What to do about an authentication failure.
fn auth_hint(what: &str) -> &'static str {
    if what.contains(" 401 ") || what.contains(" 403 ") {
        " (the gateway does not do OAuth; put a token in the backend's `headers:`, e.g. `Authorization: \"Bearer ${TOKEN}\"`)"
    } else {
        ""
    }
}

fn preview_body(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", super::super::stdio::preview(body))
    }
}
