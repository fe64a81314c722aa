//! Remote backends over HTTP: Streamable HTTP (2025-03-26 and later) and legacy HTTP+SSE
//! (2024-11-05), with detection of which one a URL speaks.
//!
//! Owns the HTTP side of one backend connection: the `reqwest` client (same-origin redirects
//! only, timeouts), the headers from config (and only those: a client's own `Authorization` or
//! session ids never reach a backend), the transport sessions, and handing every message that
//! arrives to the [`Peer`]. When the server becomes unreachable it closes the Peer with
//! "lost connection: …" so pending calls fail clearly and the supervisor reconnects on next use.
//! It never interprets MCP payloads and never decides when to connect or stop.

pub(crate) mod policy;
mod sse;
mod sse_parser;
mod streamable;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{HttpKind, HttpSpec};
use crate::jsonrpc::{ErrorObject, Id, Message, code};
use crate::outbound::same_origin;
use crate::peer::{Peer, Unrouted};
use policy::{content_type, describe_status, error_chain, header_map};
use sse_parser::SseParser;
use streamable::Streamable;

/// Largest JSON body or server-sent event accepted from a backend.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Reconnection delay for SSE streams when the server sent no `retry:` field.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// A connection to one remote MCP server.
pub struct HttpConnection {
    pub peer: Arc<Peer>,
    shared: Arc<Shared>,
    streamable: Arc<Streamable>,
}

/// State shared by the tasks of one connection.
struct Shared {
    backend: String,
    url: Url,
    client: reqwest::Client,
    /// From config (`headers:`), values already expanded.
    headers: HeaderMap,
    /// The backend's per-call timeout (bounds one-way POSTs).
    timeout: Duration,
    peer: Arc<Peer>,
    unrouted: mpsc::UnboundedSender<Unrouted>,
    protocol_version: Mutex<Option<String>>,
    /// `Some(detail)` once the connection is gone.
    exit: watch::Sender<Option<String>>,
    /// Cancelled when the connection ends: every task of it stops.
    stop: CancellationToken,
}

/// Why a whole body could not be read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    /// Over [`MAX_MESSAGE_BYTES`]: the reply is refused, the connection stays.
    #[error("the reply was too large: more than the {} MiB a backend reply may have", MAX_MESSAGE_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("{0}")]
    Failed(String),
}

/// How reading one SSE body ended.
enum StreamEnd {
    /// The handler said it has what it waited for.
    Done,
    /// The server closed the stream.
    Closed,
    /// Reading failed (reset, malformed, too large).
    Failed(String),
    /// The connection is shutting down.
    Stopped,
}

impl HttpConnection {
    /// Prepares a connection. Legacy SSE (`transport: sse`) connects here and waits for the
    /// `endpoint` event; Streamable HTTP and detection happen when the first message (the
    /// Backend's `initialize`) is sent. Messages the Peer does not consume arrive on the
    /// returned receiver.
    pub async fn connect(
        backend: &str,
        spec: &HttpSpec,
        timeout: Duration,
    ) -> Result<(Arc<HttpConnection>, mpsc::UnboundedReceiver<Unrouted>), String> {
        let url = Url::parse(&spec.url)
            .map_err(|e| format!("invalid URL `{}`: {e}", crate::redact::url_text(&spec.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "URL `{}` must start with http:// or https://",
                crate::redact::url(&url)
            ));
        }
        let headers = header_map(spec)?;
        let client = crate::outbound::client_builder()
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("mcp-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
        let (out_tx, out_rx) = mpsc::unbounded_channel::<String>();
        let peer = Arc::new(Peer::new(backend, out_tx));
        let (unrouted_tx, unrouted_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            backend: backend.to_string(),
            url,
            client,
            headers,
            timeout,
            peer: Arc::clone(&peer),
            unrouted: unrouted_tx,
            protocol_version: Mutex::new(None),
            exit: watch::Sender::new(None),
            stop: CancellationToken::new(),
        });
        let streamable = Arc::new(Streamable::new(Arc::clone(&shared), timeout));
        let mode = match spec.kind {
            HttpKind::Sse => {
                let endpoint = tokio::time::timeout(timeout, sse::open(&shared))
                    .await
                    .map_err(|_| {
                        format!(
                            "no `endpoint` event on the SSE stream {} within {}",
                            crate::redact::url(&shared.url),
                            crate::error::humantime(timeout)
                        )
                    })
                    .and_then(|r| r);
                match endpoint {
                    Ok(e) => Mode::Legacy(e),
                    Err(e) => {
                        shared.stop.cancel();
                        return Err(e);
                    }
                }
            }
            HttpKind::StreamableHttp => Mode::Streamable,
            HttpKind::Auto => Mode::Detect,
        };
        tokio::spawn(drive(
            Arc::clone(&shared),
            Arc::clone(&streamable),
            out_rx,
            mode,
            timeout,
        ));
        Ok((
            Arc::new(HttpConnection {
                peer,
                shared,
                streamable,
            }),
            unrouted_rx,
        ))
    }

    /// `None` while usable, else why it ended.
    pub fn exit_detail(&self) -> Option<String> {
        self.shared.exit.borrow().clone()
    }

    /// `Some(detail)` once the connection has ended.
    pub fn exit_watch(&self) -> watch::Receiver<Option<String>> {
        self.shared.exit.subscribe()
    }

    /// The version negotiated in `initialize`; sent as `MCP-Protocol-Version` from now on.
    pub fn set_protocol_version(&self, version: &str) {
        *self
            .shared
            .protocol_version
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(version.to_string());
    }

    /// Ends the session (Streamable HTTP: `DELETE` it, waiting at most `grace`) and stops every
    /// task of this connection; pending calls fail.
    pub async fn shutdown(&self, grace: Duration) {
        if self.exit_detail().is_none() {
            self.streamable.end_session(grace).await;
        }
        self.shared.end("was stopped");
    }
}

impl Drop for HttpConnection {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

/// Which transport the driver speaks.
enum Mode {
    /// Try Streamable HTTP with the first message, fall back to legacy SSE.
    Detect,
    Streamable,
    /// Legacy SSE: POST to this endpoint.
    Legacy(Url),
}

/// Takes lines from the Peer and sends them the way the transport wants.
async fn drive(
    shared: Arc<Shared>,
    streamable: Arc<Streamable>,
    mut out_rx: mpsc::UnboundedReceiver<String>,
    mut mode: Mode,
    timeout: Duration,
) {
    loop {
        let line = tokio::select! {
            line = out_rx.recv() => line,
            _ = shared.stop.cancelled() => None,
        };
        let Some(line) = line else { break };
        let kind = Outgoing::of(&line);
        match &mode {
            Mode::Legacy(endpoint) => sse::post(&shared, endpoint, &line, &kind).await,
            Mode::Streamable => streamable.send(line, kind).await,
            Mode::Detect => match streamable.detect(&line, &kind).await {
                None => mode = Mode::Streamable,
                Some(why_not) => {
                    tracing::info!(backend = %shared.backend, "not Streamable HTTP ({why_not}); trying legacy SSE");
                    let opened = tokio::time::timeout(timeout, sse::open(&shared))
                        .await
                        .unwrap_or_else(|_| {
                            Err(format!(
                                "no `endpoint` event within {}",
                                crate::error::humantime(timeout)
                            ))
                        });
                    match opened {
                        Ok(endpoint) => {
                            sse::post(&shared, &endpoint, &line, &kind).await;
                            mode = Mode::Legacy(endpoint);
                        }
                        Err(e) => {
                            let detail = format!(
                                "{} speaks neither Streamable HTTP ({why_not}) nor legacy SSE ({e})",
                                crate::redact::url(&shared.url)
                            );
                            if let Outgoing::Request(id) = kind {
                                shared.answer_error(id, detail.clone());
                            }
                            shared.end(&detail);
                        }
                    }
                }
            },
        }
    }
}

/// What an outgoing line is, as far as the transport cares.
#[derive(Debug, Clone)]
enum Outgoing {
    Request(Id),
    /// Notifications and responses to the server's requests.
    OneWay,
}

impl Outgoing {
    fn of(line: &str) -> Outgoing {
        match Message::parse(line) {
            Ok(Message::Request { id, .. }) => Outgoing::Request(id),
            _ => Outgoing::OneWay,
        }
    }
}

impl Shared {
    fn protocol_version(&self) -> Option<String> {
        self.protocol_version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Hands one body (a message or a batch) to the Peer; returns the ids of responses in it.
    fn deliver(&self, text: &str) -> Vec<Id> {
        let mut answered = Vec::new();
        let text = text.trim();
        let items: Vec<String> = if text.starts_with('[') {
            match serde_json::from_str::<Vec<Box<serde_json::value::RawValue>>>(text) {
                Ok(items) => items.into_iter().map(|r| r.get().to_string()).collect(),
                Err(e) => {
                    tracing::warn!(backend = %self.backend, "skipping a batch that is not JSON ({e}): {}", super::stdio::preview(text));
                    return answered;
                }
            }
        } else {
            vec![text.to_string()]
        };
        for item in items {
            match Message::parse(&item) {
                Ok(msg) => {
                    if let Message::Response { id, .. } = &msg {
                        answered.push(id.clone());
                    }
                    if let Some(u) = self.peer.dispatch(msg) {
                        let _ = self.unrouted.send(u);
                    }
                }
                Err(e) => tracing::warn!(
                    backend = %self.backend,
                    "skipping a message that is not JSON-RPC ({e}): {}",
                    super::stdio::preview(&item)
                ),
            }
        }
        answered
    }

    /// Delivers `body` if it is the JSON-RPC response to `id` (e.g. an error sent with an HTTP
    /// error status); says whether it was.
    fn deliver_matching(&self, body: &str, id: &Id) -> bool {
        match Message::parse(body.trim()) {
            Ok(msg @ Message::Response { .. }) => {
                let matches = matches!(&msg, Message::Response { id: got, .. } if got == id);
                if matches {
                    self.peer.dispatch(msg);
                }
                matches
            }
            _ => false,
        }
    }

    /// Answers one of the Peer's requests with a transport failure (URLs in it redacted, as
    /// everything this module says is).
    fn answer_error(&self, id: Id, message: String) {
        let message = crate::redact::text(&message);
        tracing::debug!(backend = %self.backend, "{message}");
        self.peer.dispatch(Message::error(
            id,
            ErrorObject::new(code::BACKEND_UNAVAILABLE, message),
        ));
    }

    /// The server is unreachable: fail pending calls and let the supervisor reconnect.
    fn lost(&self, detail: impl std::fmt::Display) {
        self.end(&format!("lost connection: {detail}"));
    }

    /// Ends the connection once (later calls keep the first reason; URLs in it redacted).
    fn end(&self, detail: &str) {
        let detail = crate::redact::text(detail);
        let detail = detail.as_str();
        let first = self.exit.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(detail.to_string());
                true
            } else {
                false
            }
        });
        if first {
            if detail != "was stopped" {
                tracing::warn!(backend = %self.backend, "{detail}");
            }
            self.stop.cancel();
            self.peer.close(detail);
        }
    }

    /// A request with the config headers and, once negotiated, the protocol version.
    fn request(&self, method: reqwest::Method, url: &Url) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .request(method, url.clone())
            .headers(self.headers.clone());
        if let Some(v) = self.protocol_version() {
            req = req.header("mcp-protocol-version", v);
        }
        req
    }

    /// Reads a whole (non-streaming) body, capped: a body over [`MAX_MESSAGE_BYTES`] is
    /// abandoned at the cap, never buffered whole.
    async fn read_body(&self, mut resp: reqwest::Response) -> Result<String, BodyError> {
        let mut body = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c.map_err(|e| BodyError::Failed(format!("reading the response failed: {}", error_chain(&e))))?,
                _ = self.stop.cancelled() => return Err(BodyError::Failed("the connection was stopped".into())),
            };
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > MAX_MESSAGE_BYTES {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| BodyError::Failed("response body is not UTF-8".into()))
    }

    /// Reads an SSE body, handing each non-empty event to `on_event` (which returns `true` once
    /// it has what it waited for).
    async fn read_sse(
        &self,
        resp: &mut reqwest::Response,
        parser: &mut SseParser,
        mut on_event: impl FnMut(sse_parser::SseEvent) -> bool,
    ) -> StreamEnd {
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c,
                _ = self.stop.cancelled() => return StreamEnd::Stopped,
            };
            let chunk = match chunk {
                Ok(Some(c)) => c,
                Ok(None) => return StreamEnd::Closed,
                Err(e) => return StreamEnd::Failed(error_chain(&e)),
            };
            let events = match parser.feed(&chunk) {
                Ok(ev) => ev,
                Err(e) => return StreamEnd::Failed(e.to_string()),
            };
            let mut done = false;
            for ev in events {
                if !ev.data.is_empty() {
                    done |= on_event(ev);
                }
            }
            if done {
                return StreamEnd::Done;
            }
        }
    }
}
