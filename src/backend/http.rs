//! Remote backends over HTTP: Streamable HTTP (2025-03-26 and later) and legacy HTTP+SSE
//! (2024-11-05), with detection of which one a URL speaks.
//!
//! Owns the HTTP side of one backend connection: the `reqwest` client (same-origin redirects
//! only, timeouts), the headers from config (and only those: a client's own `Authorization` or
//! session ids never reach a backend), the transport sessions, and handing every message that
//! arrives to the router's [`Peer`]. When the server becomes unreachable it closes the Peer with
//! "lost connection: …" so pending calls fail clearly and the supervisor reconnects on next use.
//! It never interprets MCP payloads and never decides when to connect or stop.

mod sse;
mod sse_parser;
mod streamable;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{HttpKind, HttpSpec};
use crate::jsonrpc::{ErrorObject, Id, Message, code};
use crate::router::{Peer, Unrouted};
use sse_parser::SseParser;
use streamable::Streamable;

/// Largest JSON body or server-sent event accepted from a backend.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Reconnection delay for SSE streams when the server sent no `retry:` field.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// Redirect hops followed (all on the same origin).
const MAX_REDIRECTS: usize = 10;

/// Headers the gateway manages itself per hop; config may not set them.
const MANAGED_HEADERS: [&str; 4] = [
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "content-type",
];

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
    /// Backend's `initialize`) is sent. Messages the router does not consume arrive on the
    /// returned receiver.
    pub async fn connect(
        backend: &str,
        spec: &HttpSpec,
        timeout: Duration,
    ) -> Result<(Arc<HttpConnection>, mpsc::UnboundedReceiver<Unrouted>), String> {
        let url = Url::parse(&spec.url).map_err(|e| format!("invalid URL `{}`: {e}", spec.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "URL `{}` must start with http:// or https://",
                spec.url
            ));
        }
        let headers = header_map(spec)?;
        let client = reqwest::Client::builder()
            .redirect(same_origin_redirects())
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("mcp-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
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
                            shared.url,
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
                                shared.url
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

    /// Answers one of the Peer's requests with a transport failure.
    fn answer_error(&self, id: Id, message: String) {
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

    /// Ends the connection once (later calls keep the first reason).
    fn end(&self, detail: &str) {
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

    /// Reads a whole (non-streaming) body, capped.
    async fn read_body(&self, mut resp: reqwest::Response) -> Result<String, String> {
        let mut body = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c.map_err(|e| format!("reading the response failed: {}", error_chain(&e)))?,
                _ = self.stop.cancelled() => return Err("the connection was stopped".into()),
            };
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > MAX_MESSAGE_BYTES {
                return Err(format!(
                    "response body larger than {MAX_MESSAGE_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "response body is not UTF-8".to_string())
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

/// The config headers as a map; names the gateway manages per hop are refused.
fn header_map(spec: &HttpSpec) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in &spec.headers {
        let lower = name.to_ascii_lowercase();
        if MANAGED_HEADERS.contains(&lower.as_str()) {
            return Err(format!(
                "header `{name}` in `headers` is managed by the gateway per connection; remove it"
            ));
        }
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` in `headers` is not a valid HTTP header name"))?;
        let mut v = HeaderValue::from_str(value).map_err(|_| {
            format!("the value of header `{name}` contains characters HTTP does not allow")
        })?;
        v.set_sensitive(
            lower == "authorization" || lower.contains("token") || lower.contains("key"),
        );
        map.insert(n, v);
    }
    Ok(map)
}

/// Same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Follows redirects only within the origin the request started on.
pub(crate) fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let allowed = attempt
            .previous()
            .first()
            .is_some_and(|first| same_origin(first, attempt.url()));
        if allowed {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Describes a non-success HTTP answer, including where a refused redirect pointed.
fn describe_status(method: &str, url: &Url, resp: &reqwest::Response) -> String {
    let status = resp.status();
    if status.is_redirection() {
        let to = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return format!(
            "{method} {url} answered {status}, redirecting to {to}: redirects to another origin are not followed"
        );
    }
    format!("{method} {url} answered {status}")
}

/// An error and its causes on one line ("error sending request: connection refused").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(headers: &[(&str, &str)]) -> HttpSpec {
        HttpSpec {
            url: "http://127.0.0.1:1/mcp".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            kind: HttpKind::Auto,
        }
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("http://a.example/mcp"),
            &u("http://a.example:80/x")
        ));
        assert!(!same_origin(
            &u("http://a.example/mcp"),
            &u("https://a.example/mcp")
        ));
        assert!(!same_origin(
            &u("http://a.example/"),
            &u("http://b.example/")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:1/"),
            &u("http://127.0.0.1:2/")
        ));
    }

    #[test]
    fn config_headers_are_checked() {
        let m = header_map(&spec(&[("Authorization", "Bearer x"), ("X-Team", "a")])).unwrap();
        assert_eq!(m.len(), 2);
        assert!(m["authorization"].is_sensitive());
        let e = header_map(&spec(&[("Mcp-Session-Id", "abc")])).unwrap_err();
        assert!(e.contains("managed by the gateway"), "{e}");
        let e = header_map(&spec(&[("X-Bad", "a\nb")])).unwrap_err();
        assert!(e.contains("X-Bad"), "{e}");
        let e = header_map(&spec(&[("bad name", "a")])).unwrap_err();
        assert!(e.contains("bad name"), "{e}");
    }

    #[tokio::test]
    async fn unreachable_server_fails_initialize_with_a_clear_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener); // nothing listens there now
        let mut s = spec(&[]);
        s.url = format!("http://127.0.0.1:{port}/mcp");
        let (conn, _rx) = HttpConnection::connect("b", &s, Duration::from_secs(5))
            .await
            .unwrap();
        let err = conn
            .peer
            .request(
                "initialize",
                Some(serde_json::json!({})),
                &crate::router::CallContext::default(),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.to_lowercase().contains("connect"), "{err}");
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1: answers each request with `respond(method, path)`
    /// (a full raw response). Returns its base URL.
    async fn raw_server(respond: fn(&str, &str) -> String) -> String {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut sock = BufReader::new(sock);
                    loop {
                        let mut head = String::new();
                        let mut line = String::new();
                        let mut len = 0usize;
                        loop {
                            line.clear();
                            if sock.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                            if line == "\r\n" {
                                break;
                            }
                            head.push_str(&line);
                        }
                        let mut body = vec![0; len];
                        let _ = sock.read_exact(&mut body).await;
                        let mut words = head.split_whitespace();
                        let (method, path) =
                            (words.next().unwrap_or(""), words.next().unwrap_or(""));
                        let reply = respond(method, path);
                        if sock.get_mut().write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        base
    }

    async fn initialize(url: String, kind: HttpKind) -> Result<String, String> {
        let mut s = spec(&[]);
        s.url = url;
        s.kind = kind;
        let (conn, _rx) = HttpConnection::connect("b", &s, Duration::from_secs(5)).await?;
        conn.peer
            .request(
                "initialize",
                Some(serde_json::json!({})),
                &crate::router::CallContext::default(),
                Duration::from_secs(5),
            )
            .await
            .map(|raw| raw.get().to_string())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn redirects_are_followed_only_within_the_origin() {
        let base = raw_server(|_, path| match path {
            "/mcp" => "HTTP/1.1 307 Temporary Redirect\r\nLocation: /real\r\nContent-Length: 0\r\n\r\n".into(),
            "/real" => {
                let body = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}}"#;
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            }
            _ => "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.2:9/mcp\r\nContent-Length: 0\r\n\r\n".into(),
        })
        .await;
        let ok = initialize(format!("{base}/mcp"), HttpKind::StreamableHttp)
            .await
            .unwrap();
        assert!(ok.contains("2025-11-25"), "{ok}");
        let err = initialize(format!("{base}/elsewhere"), HttpKind::StreamableHttp)
            .await
            .unwrap_err();
        assert!(err.contains("127.0.0.2:9"), "{err}");
        assert!(err.contains("not followed"), "{err}");
    }

    #[tokio::test]
    async fn legacy_endpoint_must_be_same_origin() {
        let base = raw_server(|_, path| {
            let target = if path == "/evil" { "http://127.0.0.2:9/messages" } else { "/messages?s=1" };
            format!("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: endpoint\ndata: {target}\n\n")
        })
        .await;
        let mut s = spec(&[]);
        s.kind = HttpKind::Sse;
        s.url = format!("{base}/evil");
        let err = HttpConnection::connect("b", &s, Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert!(err.contains("another origin"), "{err}");
        s.url = format!("{base}/sse");
        assert!(
            HttpConnection::connect("b", &s, Duration::from_secs(5))
                .await
                .is_ok()
        );
    }

    #[test]
    fn explicit_sse_rejects_bad_urls() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut s = spec(&[]);
        s.url = "ftp://127.0.0.1/x".into();
        let e = rt
            .block_on(HttpConnection::connect("b", &s, Duration::from_secs(1)))
            .err()
            .unwrap();
        assert!(e.contains("http://"), "{e}");
        s.url = "not a url".into();
        let e = rt
            .block_on(HttpConnection::connect("b", &s, Duration::from_secs(1)))
            .err()
            .unwrap();
        assert!(e.contains("invalid URL"), "{e}");
    }
}
