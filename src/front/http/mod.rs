//! The Streamable HTTP listener of `mcp-gateway serve`: both protocol eras on one endpoint.
//!
//! Owns the HTTP surface: `/mcp` (the meta-tool surface, as on stdio), `/healthz`, `/readyz`,
//! the dashboard's files (`/ui`, [`ui`]);
//! the guard (Host/Origin allow-lists, [`guard`]); body caps; choosing the era per request (a
//! body with `_meta` protocol version, or a 2026-07-28 version header without a session, is
//! served statelessly by [`crate::front::modern`]; `initialize` and `Mcp-Session-Id` traffic by a
//! legacy session, [`legacy`]); the legacy session table ([`sessions`]); JSON vs SSE answers
//! ([`sse`]); the 2026-07-28 header checks ([`headers`]); and draining on shutdown. It never
//! decides what a method means, never passes a client's `Authorization` or session id to a
//! backend (sessions only ever see the JSON-RPC body), and offers nothing that could add or
//! change a backend command (invariant 5).
//!
//! Authentication ([`auth`]) is a layer in front of every route but `/healthz` and the
//! protected-resource metadata: it puts the [`Caller`] into the request's extensions, and every
//! handler passes it on to the session it opens (a legacy session stays bound to the caller that
//! opened it; a parked multi-round-trip call too).

pub mod auth;
pub mod guard;
pub mod headers;
pub mod legacy;
pub mod rest;
pub mod sessions;
pub mod sse;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use self::auth::Gatekeeper;
use self::guard::{Guard, Refusal};
use self::legacy::{LegacySession, STREAM_BUFFER};
use crate::auth::{Caller, challenge};
use crate::front::modern::{self, Modern, RequestScope};
use crate::gateway::Gateway;
use crate::jsonrpc::{ErrorObject, Id, Message, code};
use crate::mcp;
use crate::session::Surface;
use crate::session::access::Access;

/// Legacy sessions kept at most; the least recently used is evicted beyond this.
pub const MAX_SESSIONS: usize = 4096;
/// A legacy session unused this long (and with no open GET stream) is dropped.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// Listener settings.
#[derive(Clone)]
pub struct Options {
    pub guard: Guard,
    pub max_body: usize,
    pub max_sessions: usize,
    pub session_idle: Duration,
}

impl Options {
    pub fn from_config(server: &crate::config::ServerConfig) -> Options {
        Options {
            guard: Guard::new(&server.allowed_hosts, &server.allowed_origins),
            max_body: server.max_body_size,
            max_sessions: MAX_SESSIONS,
            session_idle: SESSION_IDLE,
        }
    }
}

/// The listener's shared state.
pub struct App {
    gateway: Arc<Gateway>,
    keeper: Gatekeeper,
    modern: Arc<Modern>,
    sessions: sessions::Table<LegacySession>,
    options: Options,
    /// Cancelled when shutdown begins: long-lived streams end, calls in flight drain.
    closing: CancellationToken,
    started: std::time::Instant,
}

impl App {
    pub fn new(gateway: Arc<Gateway>, keeper: Gatekeeper, options: Options) -> Arc<App> {
        let app = Arc::new(App {
            keeper,
            modern: Modern::new(Arc::clone(&gateway)),
            gateway,
            sessions: sessions::Table::new(options.max_sessions, options.session_idle),
            options,
            closing: CancellationToken::new(),
            started: std::time::Instant::now(),
        });
        let weak = Arc::downgrade(&app);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                let Some(app) = weak.upgrade() else { return };
                let n = app.sessions.expire().len();
                if n > 0 {
                    tracing::debug!("{n} idle sessions expired");
                }
                app.record_key_use();
            }
        });
        app
    }

    /// Writes when each API key of the keys store was last used (every 30 s and at shutdown).
    pub fn record_key_use(&self) {
        if let Err(e) = self.keeper.authenticator().flush_last_used() {
            tracing::warn!("cannot record when API keys were last used: {e}");
        }
    }

    /// Legacy sessions open now.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Starts shutdown: refuses new work, ends GET and listen streams; calls in flight go on.
    pub fn begin_close(&self) {
        self.closing.cancel();
        for s in self.sessions.drain() {
            s.close_stream();
        }
    }
}

/// The listener's routes, behind the Host/Origin guard (and CORS for configured origins); all
/// but `/healthz`, `/readyz`, the protected-resource metadata, `/api/v1/health` and
/// `/api/v1/openapi.json` behind authentication.
pub fn router(app: Arc<App>) -> Router {
    let protected = Router::new()
        .route("/mcp", get(mcp_get).post(mcp_post).delete(mcp_delete))
        .route(
            "/mcp/{backend}",
            get(backend_get).post(backend_post).delete(backend_delete),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            auth::authenticate,
        ));
    // `/metrics`: open without auth (loopback by default, behind the Host/Origin guard); with
    // auth on, any valid key or token, the series limited to what its scope sees.
    let metrics = Router::new()
        .route("/metrics", get(prometheus_metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            auth::authenticate_rest,
        ));
    Router::new()
        .merge(protected)
        .merge(metrics)
        .nest("/api", rest::routes(&app))
        .merge(ui::routes())
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(challenge::METADATA_PATH, get(resource_metadata))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: the MCP endpoint is /mcp, the dashboard /ui\n",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            check_origin,
        ))
        .with_state(app)
}

/// RFC 9728 protected-resource metadata (404 unless auth is on and `server.public_url` is set).
async fn resource_metadata(State(app): State<Arc<App>>) -> Response {
    match app.keeper.resource_metadata() {
        Some(doc) => (
            [(header::CONTENT_TYPE, "application/json")],
            doc.to_string(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "not found: no protected-resource metadata (auth is off or server.public_url is not set)\n",
        )
            .into_response(),
    }
}

/// Serves `router` on `listener` until `stop`; then stops accepting, ends long-lived streams
/// and returns once the requests in flight have been answered.
pub async fn run(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    router: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            stop.cancelled().await;
            app.begin_close();
        })
        .await
}

async fn check_origin(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let origin = h
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    match app.options.guard.check(host.as_deref(), origin) {
        Ok(()) => {
            let cors = origin
                .filter(|o| app.options.guard.is_configured_origin(o))
                .and_then(|o| HeaderValue::from_str(o).ok());
            let Some(cors) = cors else {
                return next.run(req).await;
            };
            let preflight = req.method() == axum::http::Method::OPTIONS
                && req
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
            let mut resp = if preflight {
                StatusCode::NO_CONTENT.into_response()
            } else {
                next.run(req).await
            };
            cors_headers(resp.headers_mut(), cors, preflight);
            resp
        }
        Err(refusal) => {
            tracing::warn!("refused a request: {refusal}");
            let status = match refusal {
                Refusal::NoHost => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            let mut resp = error(status, Id::Null, code::INVALID_REQUEST, refusal.to_string());
            drain(req, &mut resp).await;
            resp
        }
    }
}

/// Reads what is left of a refused request's body (up to [`DRAIN_LIMIT`]) so the connection can
/// carry the client's next request; a larger body closes the connection instead.
pub(super) async fn drain(req: Request, resp: &mut Response) {
    if axum::body::to_bytes(req.into_body(), DRAIN_LIMIT)
        .await
        .is_err()
    {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// Body bytes read from a refused request before its connection is closed instead.
const DRAIN_LIMIT: usize = 64 * 1024;

/// CORS for an origin listed in `server.allowed_origins` (browsers elsewhere get none).
fn cors_headers(h: &mut HeaderMap, origin: HeaderValue, preflight: bool) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "Mcp-Session-Id, WWW-Authenticate, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset",
        ),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Authorization, X-API-Key, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
}

/// `GET /metrics`: the Prometheus text exposition (see docs/operations.md).
async fn prometheus_metrics(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
) -> Response {
    let caller = auth::caller_of(caller);
    let access = Access::new(&app.gateway, &caller);
    let gw = &app.gateway;
    // Profiles may name servers no longer configured: only an unrestricted caller sees those.
    let restricted = caller.policy.is_restricted();
    let text = gw.prometheus_text(
        |s| match gw.backend(s) {
            Some(_) => access.sees_server(s),
            None => !restricted,
        },
        |s, t| match gw.backend(s) {
            Some(_) => access.permits(s, t),
            None => !restricted,
        },
    );
    (
        [(
            header::CONTENT_TYPE,
            crate::metrics::prometheus::CONTENT_TYPE,
        )],
        text,
    )
        .into_response()
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let backends: Vec<Value> = app
        .gateway
        .backends()
        .iter()
        .map(|b| {
            json!({
                "name": b.name(),
                "state": b.status().label(),
                "failsafe": b.failsafe_state().to_json(),
            })
        })
        .collect();
    let closing = app.closing.is_cancelled();
    let status = if closing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    // An invalid config edit: the previous config keeps serving (still ready).
    let config_error = app.gateway.config_error();
    let mut body = json!({
        "status": if closing { "shutting down" } else { "ready" },
        "sessions": app.sessions.len(),
        "config_error": config_error,
    });
    // Readiness probes do not authenticate; with auth on, backend names (and the file, line and
    // key of a config error) are not theirs to see.
    if !app.keeper.enabled() {
        body["backends"] = Value::Array(backends);
    } else if config_error.is_some() {
        body["config_error"] =
            json!("the config file does not load; the previous config keeps serving (see the log)");
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A JSON-RPC error answer with an HTTP status.
fn error(status: StatusCode, id: Id, code: i64, message: impl Into<String>) -> Response {
    sse::json(status, &Message::error(id, ErrorObject::new(code, message)))
}

fn header_text<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn accepts(h: &HeaderMap, mime: &str) -> bool {
    match header_text(h, header::ACCEPT.as_str()) {
        None => true,
        Some(a) => a.split(',').any(|p| {
            let t = p.split(';').next().unwrap_or("").trim();
            t == mime || t == "*/*"
        }),
    }
}

/// The surface `/mcp/{backend}` shows `caller`, or the 404 naming the backend (with the
/// nearest names it may see) when there is no such backend or the caller's scope hides it.
fn backend_surface(
    app: &Arc<App>,
    caller: &Caller,
    backend: &str,
) -> Result<Surface, Box<Response>> {
    let access = Access::new(&app.gateway, caller);
    if access.sees_server(backend) {
        return Ok(Surface::Backend(backend.to_string()));
    }
    Err(Box::new(error(
        StatusCode::NOT_FOUND,
        Id::Null,
        code::INVALID_PARAMS,
        format!(
            "no MCP endpoint /mcp/{}: {}",
            crate::session::clip(backend),
            access.unknown_server_text(backend)
        ),
    )))
}

async fn backend_post(
    State(app): State<Arc<App>>,
    Path(backend): Path<String>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let caller = auth::caller_of(caller);
    match backend_surface(&app, &caller, &backend) {
        Ok(surface) => post(app, caller, surface, headers, body).await,
        Err(refused) => *refused,
    }
}

async fn backend_get(
    State(app): State<Arc<App>>,
    Path(backend): Path<String>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
) -> Response {
    let caller = auth::caller_of(caller);
    match backend_surface(&app, &caller, &backend) {
        Ok(surface) => get_stream(app, caller, surface, headers),
        Err(refused) => *refused,
    }
}

async fn backend_delete(
    State(app): State<Arc<App>>,
    Path(backend): Path<String>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
) -> Response {
    let caller = auth::caller_of(caller);
    match backend_surface(&app, &caller, &backend) {
        Ok(surface) => delete(app, caller, surface, headers),
        Err(refused) => *refused,
    }
}

async fn mcp_post(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let caller = auth::caller_of(caller);
    post(app, caller, Surface::Gateway, headers, body).await
}

/// A POST to `/mcp` or `/mcp/{backend}` (`surface`).
async fn post(
    app: Arc<App>,
    caller: Caller,
    surface: Surface,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if app.closing.is_cancelled() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            Id::Null,
            code::INTERNAL_ERROR,
            "the gateway is shutting down",
        );
    }
    let max = app.options.max_body;
    let Ok(bytes) = axum::body::to_bytes(body, max).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Id::Null,
            code::INVALID_REQUEST,
            format!("request body is larger than {max} bytes (server.max_body_size)"),
        );
    };
    let ct = header_text(&headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
    if !ct
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Id::Null,
            code::INVALID_REQUEST,
            format!("Content-Type must be application/json, not `{ct}`"),
        );
    }
    let bad = |msg: Message| sse::json(StatusCode::BAD_REQUEST, &msg);
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bad(Message::error(
            Id::Null,
            ErrorObject::parse_error("the body is not UTF-8"),
        ));
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return bad(Message::error(
                Id::Null,
                ErrorObject::parse_error(format!("the body is not JSON: {e}")),
            ));
        }
    };
    if value.is_array() {
        return bad(Message::error(
            Id::Null,
            ErrorObject::invalid_request(
                "JSON-RPC batches are not supported; send one message per POST",
            ),
        ));
    }
    let msg = match Message::parse(text) {
        Ok(m) => m,
        Err(e) => return bad(e.to_response()),
    };
    let params = value.get("params").cloned().unwrap_or(Value::Null);
    let header_version = header_text(&headers, headers::PROTOCOL_VERSION);
    let session_id = header_text(&headers, headers::SESSION_ID);
    let body_version = mcp::modern_version(&params);
    let modern_header = header_version.is_some_and(|v| mcp::MODERN_VERSIONS.contains(&v));
    if body_version.is_some() || (session_id.is_none() && modern_header) {
        modern_post(&app, &headers, msg, params, caller, surface).await
    } else {
        legacy_post(&app, &headers, msg, params, text, caller, surface).await
    }
}

async fn modern_post(
    app: &Arc<App>,
    headers: &HeaderMap,
    msg: Message,
    params: Value,
    caller: Caller,
    surface: Surface,
) -> Response {
    let (id, method) = match msg {
        Message::Request { id, method, .. } => (id, method),
        Message::Notification { .. } => return StatusCode::ACCEPTED.into_response(),
        Message::Response { id, .. } => {
            return error(
                StatusCode::BAD_REQUEST,
                id,
                code::INVALID_REQUEST,
                "protocol version 2026-07-28 has no server-to-client requests to answer; send inputResponses with a retry instead",
            );
        }
    };
    let bad = |e: ErrorObject| sse::json(StatusCode::BAD_REQUEST, &Message::error(id.clone(), e));
    let Some(version) = mcp::modern_version(&params) else {
        return bad(ErrorObject::new(
            code::INVALID_PARAMS,
            format!(
                "params._meta[\"{}\"] is required in protocol version 2026-07-28",
                mcp::meta::PROTOCOL_VERSION
            ),
        ));
    };
    // Headers first: a header that disagrees with the body is a -32020 whatever the version
    // (the body may name one we do not speak); agreeing on an unsupported one is a -32022.
    let lookup = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::to_string).map_err(|_| ()))
    };
    if let Err(e) = headers::check(lookup, version, &method, &params) {
        return bad(e);
    }
    if !mcp::MODERN_VERSIONS.contains(&version) {
        return bad(modern::unsupported_version(version));
    }
    if let Err(e) = modern::check_meta(&params) {
        return bad(e);
    }
    let scope = RequestScope {
        surface,
        caller,
        front: "http",
    };
    let cancel = if method == "subscriptions/listen" {
        app.closing.child_token()
    } else {
        CancellationToken::new()
    };
    let guard = cancel.clone().drop_guard();
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let modern = Arc::clone(&app.modern);
    tokio::spawn(async move {
        if let Some(outcome) = modern
            .handle(&id, &method, params, &scope, &tx, &cancel)
            .await
        {
            let _ = tx
                .send(Message::Response {
                    id,
                    result: outcome,
                })
                .await;
        }
    });
    reply(rx, Some(guard), true, accepts(headers, "text/event-stream")).await
}

async fn legacy_post(
    app: &Arc<App>,
    headers: &HeaderMap,
    msg: Message,
    params: Value,
    text: &str,
    caller: Caller,
    surface: Surface,
) -> Response {
    let sse_ok = accepts(headers, "text/event-stream");
    if let Message::Request { id, method, .. } = &msg
        && method == "initialize"
    {
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let version = mcp::negotiate(requested).to_string();
        let session = LegacySession::open(Arc::clone(&app.gateway), version, caller, surface);
        let (sid, evicted) = app.sessions.insert(Arc::clone(&session));
        if evicted.is_some() {
            tracing::info!(
                "session table full ({} sessions); evicted the least recently used",
                app.options.max_sessions
            );
        }
        let Some(rx) = session.request(id.clone(), &params, text.to_string()) else {
            // A new session has nothing in flight.
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                id.clone(),
                code::INTERNAL_ERROR,
                "a new session already had this request id in flight",
            );
        };
        let mut resp = reply(rx, None, false, sse_ok).await;
        if let Ok(v) = HeaderValue::from_str(&sid) {
            resp.headers_mut().insert(headers::SESSION_ID, v);
        }
        return resp;
    }
    let id = match &msg {
        Message::Request { id, .. } => id.clone(),
        _ => Id::Null,
    };
    if let Some(v) = header_text(headers, headers::PROTOCOL_VERSION)
        && !mcp::SUPPORTED_VERSIONS.contains(&v)
    {
        return sse::json(
            StatusCode::BAD_REQUEST,
            &Message::error(id, modern::unsupported_version(v)),
        );
    }
    let Some(sid) = header_text(headers, headers::SESSION_ID) else {
        return error(
            StatusCode::BAD_REQUEST,
            id,
            code::INVALID_REQUEST,
            "the Mcp-Session-Id header is required: send initialize first to start a session (or use protocol version 2026-07-28, which needs none)",
        );
    };
    let Some(session) = app
        .sessions
        .get(sid)
        .filter(|s| s.belongs_to(&caller) && s.surface == surface)
    else {
        return error(
            StatusCode::NOT_FOUND,
            id,
            code::INVALID_REQUEST,
            format!("session `{sid}` is unknown or expired; send initialize to start a new one"),
        );
    };
    match msg {
        Message::Request { id, .. } => {
            match session.request(id.clone(), &params, text.to_string()) {
                Some(rx) => reply(rx, None, false, sse_ok).await,
                None => sse::json(
                    StatusCode::BAD_REQUEST,
                    &Message::error(id.clone(), crate::session::id_in_flight(&id)),
                ),
            }
        }
        _ => {
            session.send(text.to_string());
            StatusCode::ACCEPTED.into_response()
        }
    }
}

/// Answers with the final response as JSON when nothing comes before it, else as an SSE
/// stream of everything up to it.
async fn reply(
    mut rx: mpsc::Receiver<Message>,
    guard: Option<DropGuard>,
    modern: bool,
    sse_ok: bool,
) -> Response {
    loop {
        match rx.recv().await {
            Some(m @ Message::Response { .. }) => {
                let status = match (&m, modern) {
                    (Message::Response { result: Err(e), .. }, true) => match e.code {
                        code::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
                        code::HEADER_MISMATCH
                        | code::MISSING_CLIENT_CAPABILITY
                        | code::UNSUPPORTED_PROTOCOL_VERSION => StatusCode::BAD_REQUEST,
                        _ => StatusCode::OK,
                    },
                    _ => StatusCode::OK,
                };
                return sse::json(status, &m);
            }
            Some(m) if sse_ok => return sse::stream(StatusCode::OK, Some(m), rx, guard),
            // A client that takes no stream gets the answer alone.
            Some(_) => continue,
            None => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Id::Null,
                    code::INTERNAL_ERROR,
                    "the request ended without an answer (the gateway is shutting down)",
                );
            }
        }
    }
}

async fn mcp_get(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
) -> Response {
    get_stream(app, auth::caller_of(caller), Surface::Gateway, headers)
}

/// A GET (a legacy session's event stream) on `/mcp` or `/mcp/{backend}` (`surface`).
fn get_stream(app: Arc<App>, caller: Caller, surface: Surface, headers: HeaderMap) -> Response {
    let sid = header_text(&headers, headers::SESSION_ID);
    let modern_header = header_text(&headers, headers::PROTOCOL_VERSION)
        .is_some_and(|v| mcp::MODERN_VERSIONS.contains(&v));
    if sid.is_none() && modern_header {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            Id::Null,
            code::INVALID_REQUEST,
            "protocol version 2026-07-28 has no GET stream; use subscriptions/listen",
        );
    }
    if !accepts(&headers, "text/event-stream") {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            Id::Null,
            code::INVALID_REQUEST,
            "the GET stream is text/event-stream; the Accept header must allow it",
        );
    }
    let Some(sid) = sid else {
        return error(
            StatusCode::BAD_REQUEST,
            Id::Null,
            code::INVALID_REQUEST,
            "the Mcp-Session-Id header is required to open the event stream",
        );
    };
    let Some(session) = app
        .sessions
        .get(sid)
        .filter(|s| s.belongs_to(&caller) && s.surface == surface)
    else {
        return error(
            StatusCode::NOT_FOUND,
            Id::Null,
            code::INVALID_REQUEST,
            format!("session `{sid}` is unknown or expired; send initialize to start a new one"),
        );
    };
    if app.closing.is_cancelled() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let rx = session.open_stream();
    sse::stream(StatusCode::OK, None, rx, None)
}

async fn mcp_delete(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
) -> Response {
    delete(app, auth::caller_of(caller), Surface::Gateway, headers)
}

/// A DELETE (end a legacy session) on `/mcp` or `/mcp/{backend}` (`surface`).
fn delete(app: Arc<App>, caller: Caller, surface: Surface, headers: HeaderMap) -> Response {
    let Some(sid) = header_text(&headers, headers::SESSION_ID) else {
        return error(
            StatusCode::BAD_REQUEST,
            Id::Null,
            code::INVALID_REQUEST,
            "the Mcp-Session-Id header names the session to end",
        );
    };
    if app
        .sessions
        .get(sid)
        .is_some_and(|s| !s.belongs_to(&caller) || s.surface != surface)
    {
        return error(
            StatusCode::NOT_FOUND,
            Id::Null,
            code::INVALID_REQUEST,
            format!("session `{sid}` is unknown or expired"),
        );
    }
    match app.sessions.remove(sid) {
        Some(s) => {
            s.close_stream();
            StatusCode::OK.into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            Id::Null,
            code::INVALID_REQUEST,
            format!("session `{sid}` is unknown or expired"),
        ),
    }
}
