//! The REST API under `/api/v1` (the second seed gateway's contract, so its users' scripts
//! work): health, servers, tools (listed, filtered by server and tag, or ranked by the same
//! search as `gateway_search_tools`), calling a tool, the request log (admin; also live, as
//! Server-Sent Events), the effective config with secrets redacted (admin), metrics, a config
//! reload (admin), and the OpenAPI 3.1 description of all of it ([`openapi`]).
//!
//! Owns the routes, their query and body parsing, the JSON shapes and the status codes. Every
//! answer is shaped by the caller's scope through [`crate::session::access::Access`], the same
//! code the meta-tools use: a server or tool outside the scope is reported exactly like one that
//! does not exist. Errors are `{"error": {"code", "message"}}`. It never passes anything of the
//! HTTP request but the call's arguments to a backend, and never logs arguments unless the
//! request log is configured to (and then redacted).

pub mod openapi;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::App;
use super::auth::{self, rest_error};
use crate::auth::Caller;
use crate::error::CallError;
use crate::gateway::Kind;
use crate::jsonrpc::code;
use crate::peer::CallContext;
use crate::request_log::{self, Outcome};
use crate::search::render_match;
use crate::session::DISCOVERY_WAIT;
use crate::session::access::{Access, InvokeError};

/// Tools returned by `GET /api/v1/tools?q=` when no `limit` is given.
const DEFAULT_SEARCH_LIMIT: usize = 10;
/// Largest `limit` accepted.
const MAX_LIMIT: usize = 1000;
/// Request-log entries returned when no `limit` is given.
const DEFAULT_REQUESTS: usize = 100;

/// The `/api` routes (mounted at `/api`): `/v1/health` and `/v1/openapi.json` are open, the rest
/// sits behind authentication.
pub fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/v1/servers", get(servers))
        .route("/v1/servers/{id}", get(server))
        .route("/v1/tools", get(tools))
        .route("/v1/tools/call", post(call))
        .route("/v1/requests", get(requests))
        .route("/v1/requests/stream", get(requests_stream))
        .route("/v1/config", get(config))
        .route("/v1/metrics", get(metrics))
        .route("/v1/reload", post(reload))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(app),
            auth::authenticate_rest,
        ))
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi_document))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(app), count))
        .fallback(|uri: axum::http::Uri| async move {
            rest_error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!(
                    "no REST route `{}`; the routes are listed at /api/v1/openapi.json",
                    uri.path()
                ),
            )
        })
        .method_not_allowed_fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                rest_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    &format!("{method} is not allowed on `{}`", uri.path()),
                )
            },
        )
}

/// Counts every REST request by route and outcome (refusals of the authentication layer too).
async fn count(
    State(app): State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let route = if route.starts_with("/api") {
        route
    } else {
        format!("/api{route}")
    };
    let method = format!("{} {route}", req.method());
    let resp = next.run(req).await;
    let outcome = match resp.status().as_u16() {
        200..=399 => "ok",
        401 => "unauthenticated",
        403 => "forbidden",
        429 => "rate_limited",
        _ => "error",
    };
    app.gateway.metrics.request("rest", &method, outcome);
    resp
}

fn ok_json(body: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

type Params = Query<HashMap<String, String>>;

/// A `400` with the REST error shape.
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        rest_error(StatusCode::BAD_REQUEST, "bad_request", &self.0)
    }
}

/// Refuses query parameters the route does not know, naming them.
fn known_params(q: &HashMap<String, String>, known: &[&str]) -> Result<(), BadRequest> {
    let mut unknown: Vec<&str> = q
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    Err(BadRequest(format!(
        "unknown query parameter `{}` (this route takes: {})",
        unknown.join("`, `"),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// `kind=tool|skill` (absent or empty: both).
fn kind_param(q: &HashMap<String, String>) -> Result<Option<Kind>, BadRequest> {
    match q.get("kind").map(String::as_str).filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some(text) => Kind::parse(text)
            .map(Some)
            .ok_or_else(|| BadRequest(format!("`kind` must be `tool` or `skill`, not `{text}`"))),
    }
}

fn limit_param(q: &HashMap<String, String>, default: usize) -> Result<usize, BadRequest> {
    count_param(q, "limit", 1..=MAX_LIMIT, default)
}

/// Query parameter `key`: a whole number in `range`, or `default` when absent.
fn count_param(
    q: &HashMap<String, String>,
    key: &str,
    range: std::ops::RangeInclusive<usize>,
    default: usize,
) -> Result<usize, BadRequest> {
    match q.get(key) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                BadRequest(format!(
                    "`{key}` must be a whole number from {} to {}, not `{text}`",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let closing = app.closing.is_cancelled();
    let body = json!({
        "status": if closing { "shutting down" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "auth": app.keeper.enabled(),
    });
    let status = if closing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, ok_json(&body)).into_response()
}

async fn openapi_document() -> Response {
    ok_json(&openapi::document())
}

async fn servers(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    Query(q): Params,
) -> Response {
    if let Err(r) = known_params(&q, &["tag"]) {
        return r.into_response();
    }
    let caller = auth::caller_of(caller);
    let access = Access::new(&app.gateway, &caller);
    let tag = q.get("tag");
    let list: Vec<Value> = access
        .visible_servers()
        .into_iter()
        .filter(|n| tag.is_none_or(|t| has_tag(&access, n, t)))
        .filter_map(|n| access.server_status(&n))
        .collect();
    ok_json(&json!({ "servers": list }))
}

fn has_tag(access: &Access<'_>, server: &str, tag: &str) -> bool {
    access
        .gateway
        .backend(server)
        .is_some_and(|b| b.config.tags.iter().any(|t| t == tag))
}

async fn server(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    Path(id): Path<String>,
) -> Response {
    let caller = auth::caller_of(caller);
    let access = Access::new(&app.gateway, &caller);
    if !access.sees_server(&id) {
        return rest_error(
            StatusCode::NOT_FOUND,
            "unknown_server",
            &access.unknown_server_text(&id),
        );
    }
    let gw = &app.gateway;
    if gw.catalog.get(&id).is_none()
        && let Some(b) = gw.backend(&id)
    {
        // A first discovery may be under way: wait for it (bounded by the backend's own
        // timeout), and list the tools ourselves if there was none.
        gw.wait_for_discovery_of(&id, 2 * b.config.timeout + DISCOVERY_WAIT)
            .await;
        if gw.catalog.get(&id).is_none() {
            gw.refresh(&id).await;
        }
    }
    let Some(mut body) = access.server_status(&id) else {
        return rest_error(
            StatusCode::NOT_FOUND,
            "unknown_server",
            &access.unknown_server_text(&id),
        );
    };
    let tools: Vec<Value> = gw
        .catalog
        .get(&id)
        .map(|e| {
            e.tools
                .iter()
                .filter_map(|t| {
                    let name = t.get("name")?.as_str()?;
                    access.permits(&id, name).then(|| {
                        json!({
                            "name": name,
                            "description": t.get("description").cloned().unwrap_or(Value::Null),
                            "inputSchema": t.get("inputSchema").cloned().unwrap_or(json!({})),
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    body["tools"] = Value::Array(tools);
    ok_json(&body)
}

async fn tools(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    Query(q): Params,
) -> Response {
    if let Err(r) = known_params(&q, &["server", "tag", "kind", "q", "limit"]) {
        return r.into_response();
    }
    let caller = auth::caller_of(caller);
    app.gateway.assume_client_without_capabilities();
    let access = Access::new(&app.gateway, &caller);
    let server = q
        .get("server")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    if let Some(s) = server
        && !access.sees_server(s)
    {
        return rest_error(
            StatusCode::NOT_FOUND,
            "unknown_server",
            &access.unknown_server_text(s),
        );
    }
    let tag = q.get("tag").map(String::as_str);
    let query = q.get("q").map(|s| s.trim()).filter(|s| !s.is_empty());
    let limit = match limit_param(
        &q,
        if query.is_some() {
            DEFAULT_SEARCH_LIMIT
        } else {
            MAX_LIMIT
        },
    ) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let kind = match kind_param(&q) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    let gw = &app.gateway;
    gw.wait_for_discovery(DISCOVERY_WAIT).await;
    let tagged = |s: &str| tag.is_none_or(|t| has_tag(&access, s, t));
    let kind_of = |s: &str| gw.kind_of(s);
    let (list, total) = if let Some(query) = query {
        gw.wait_for_index().await;
        // A tag filter narrows the candidates; rank enough of them to fill the page.
        let wanted = if tag.is_some() { MAX_LIMIT } else { limit };
        let outcome = match access.search(query, wanted, server, kind) {
            Ok(o) => o,
            Err(e) => {
                return rest_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    &e.to_string(),
                );
            }
        };
        let hits: Vec<Value> = outcome
            .hits
            .iter()
            .filter(|h| tagged(&h.doc.server))
            .map(|h| {
                let mut m = render_match(h);
                m["kind"] = json!(kind_of(&h.doc.server).label());
                m
            })
            .collect();
        let total = if tag.is_some() {
            hits.len()
        } else {
            outcome.total
        };
        (hits.into_iter().take(limit).collect::<Vec<_>>(), total)
    } else {
        let mut all = Vec::new();
        for entry in gw.catalog.snapshot() {
            let s = entry.backend.as_str();
            if !access.sees_server(s)
                || server.is_some_and(|x| x != s)
                || !tagged(s)
                || kind.is_some_and(|k| k != kind_of(s))
            {
                continue;
            }
            for t in &entry.tools {
                let Some(name) = t.get("name").and_then(Value::as_str) else {
                    continue;
                };
                if access.permits(s, name) {
                    all.push(json!({
                        "server": s,
                        "tool": name,
                        "kind": kind_of(s).label(),
                        "description": t.get("description").cloned().unwrap_or(Value::Null),
                        "inputSchema": t.get("inputSchema").cloned().unwrap_or(json!({})),
                    }));
                }
            }
        }
        let total = all.len();
        all.truncate(limit);
        (all, total)
    };
    ok_json(&json!({ "tools": list, "total": total }))
}

/// `POST /api/v1/tools/call` `{"tool", "server"?, "arguments"?}`.
async fn call(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let caller = auth::caller_of(caller);
    app.gateway.assume_client_without_capabilities();
    let access = Access::new(&app.gateway, &caller);
    let request: Map<String, Value> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the body must be a JSON object: {\"tool\": \"…\", \"server\": \"…\", \"arguments\": {…}}",
            );
        }
        Err(e) => {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &format!("the body is not JSON: {e}"),
            );
        }
    };
    if let Some(k) = request
        .keys()
        .find(|k| !matches!(k.as_str(), "tool" | "server" | "arguments"))
    {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("unknown field `{k}` (the fields are tool, server, arguments)"),
        );
    }
    let Some(tool) = request
        .get("tool")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`tool` is required and must be a non-empty string",
        );
    };
    let arguments = match request.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "`arguments` must be a JSON object",
            );
        }
    };
    let server = match request.get("server") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "`server` must be a non-empty string",
            );
        }
    };
    let server = match server {
        Some(s) => s,
        None => match route(&access, tool).await {
            Ok(s) => s,
            Err(resp) => {
                log_call(
                    &app,
                    &caller,
                    "",
                    tool,
                    started,
                    body.len(),
                    None,
                    Outcome::Error,
                    0,
                );
                return resp;
            }
        },
    };
    // The backend request is cancelled if the client goes away before the answer.
    let cancel = CancellationToken::new();
    let _guard = cancel.clone().drop_guard();
    let ctx = CallContext {
        progress: None,
        cancel,
        client: None,
    };
    let logged_args = arguments.clone();
    match access.invoke(&server, tool, arguments, None, &ctx).await {
        Ok(result) => {
            let outcome = if crate::mcp::is_error_result(result.get()) {
                Outcome::ToolError
            } else {
                Outcome::Ok
            };
            let text = format!(
                "{{\"server\":{},\"tool\":{},\"result\":{}}}",
                Value::String(server.clone()),
                Value::String(tool.to_string()),
                result.get()
            );
            log_call(
                &app,
                &caller,
                &server,
                tool,
                started,
                body.len(),
                Some(&logged_args),
                outcome,
                text.len(),
            );
            ([(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        Err(e) => {
            let hidden = matches!(
                e,
                InvokeError::UnknownServer(_) | InvokeError::UnknownTool(_)
            ) && app
                .gateway
                .catalog
                .get(&server)
                .is_some_and(|c| c.tool(tool).is_some());
            let outcome = if hidden {
                Outcome::Forbidden
            } else {
                Outcome::Error
            };
            log_call(
                &app,
                &caller,
                &server,
                tool,
                started,
                body.len(),
                Some(&logged_args),
                outcome,
                0,
            );
            invoke_error(&e)
        }
    }
}

/// The one server whose `tool` the caller may call: 404 if none, 409 listing them if several.
async fn route(access: &Access<'_>, tool: &str) -> Result<String, Response> {
    let candidates = || -> Vec<String> {
        access
            .gateway
            .catalog
            .snapshot()
            .iter()
            .filter(|e| {
                access.sees_server(&e.backend)
                    && e.tool(tool).is_some()
                    && access.permits(&e.backend, tool)
            })
            .map(|e| e.backend.clone())
            .collect()
    };
    let mut found = candidates();
    if found.is_empty() {
        access.gateway.wait_for_discovery(DISCOVERY_WAIT).await;
        found = candidates();
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(rest_error(
            StatusCode::NOT_FOUND,
            "unknown_tool",
            &format!("unknown tool `{tool}`; GET /api/v1/tools?q=… finds tools"),
        )),
        _ => {
            let body = json!({"error": {
                "code": "ambiguous",
                "message": format!("tool `{tool}` exists on several servers ({}); name one with `server`", found.join(", ")),
                "candidates": found,
            }});
            Err((
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response())
        }
    }
}

fn invoke_error(e: &InvokeError) -> Response {
    let message = e.to_string();
    let (status, code_name) = match e {
        InvokeError::UnknownServer(_) => (StatusCode::NOT_FOUND, "unknown_server"),
        InvokeError::UnknownTool(_) => (StatusCode::NOT_FOUND, "unknown_tool"),
        InvokeError::NotListed(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        InvokeError::TaskOnly(_) => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
        InvokeError::Call(CallError::Backend { error, .. })
            if error.code == code::INVALID_PARAMS =>
        {
            (StatusCode::BAD_REQUEST, "invalid_arguments")
        }
        InvokeError::Call(CallError::Backend { .. }) => (StatusCode::BAD_GATEWAY, "backend_error"),
        InvokeError::Call(CallError::Timeout { .. }) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        InvokeError::Call(CallError::Cancelled) => (StatusCode::SERVICE_UNAVAILABLE, "cancelled"),
        InvokeError::Call(CallError::Unavailable { .. } | CallError::Disconnected { .. }) => {
            (StatusCode::BAD_GATEWAY, "unavailable")
        }
        InvokeError::Call(CallError::CircuitOpen { .. }) => {
            (StatusCode::SERVICE_UNAVAILABLE, "circuit_open")
        }
        InvokeError::Call(CallError::Overloaded { .. }) => {
            (StatusCode::SERVICE_UNAVAILABLE, "overloaded")
        }
        InvokeError::Call(CallError::RateLimited { .. }) => {
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        }
    };
    rest_error(status, code_name, &message)
}

#[allow(clippy::too_many_arguments)]
fn log_call(
    app: &App,
    caller: &Caller,
    server: &str,
    tool: &str,
    started: Instant,
    request_bytes: usize,
    arguments: Option<&Value>,
    outcome: Outcome,
    response_bytes: usize,
) {
    app.gateway.request_log.record(request_log::Call {
        caller: &caller.name,
        front: "rest",
        method: "tools/call",
        server,
        tool,
        duration: started.elapsed(),
        outcome,
        request_bytes: request_bytes as u64,
        response_bytes: response_bytes as u64,
        arguments,
        result: None,
    });
}

/// The admin routes' one check: the `403 insufficient_scope` answer naming what `doing` needs,
/// or `None` for an admin caller.
fn admin_refusal(
    app: &App,
    caller: Option<axum::Extension<Caller>>,
    doing: &str,
) -> Option<Response> {
    (!auth::caller_of(caller).admin).then(|| {
        app.keeper
            .forbidden(true, &format!("{doing} needs an admin key or scope"))
    })
}

/// `GET /api/v1/requests?limit=`: the newest request-log entries, admin only.
async fn requests(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    Query(q): Params,
) -> Response {
    if let Err(r) = known_params(&q, &["limit"]) {
        return r.into_response();
    }
    if let Some(refused) = admin_refusal(&app, caller, "reading the request log") {
        return refused;
    }
    let limit = match limit_param(&q, DEFAULT_REQUESTS) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let entries: Vec<Value> = app
        .gateway
        .request_log
        .recent(limit)
        .iter()
        .map(|e| serde_json::to_value(&**e).unwrap_or(Value::Null))
        .collect();
    ok_json(&json!({ "requests": entries }))
}

/// `GET /api/v1/requests/stream?backlog=`: the request log live, admin only. Server-Sent Events:
/// first the newest `backlog` entries (default 100, oldest first), then every new one as it is
/// recorded, each a `request` event; a reader that fell behind gets a `lagged` event with the
/// number of entries it missed. Ends when the listener shuts down.
async fn requests_stream(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    Query(q): Params,
) -> Response {
    use futures_util::StreamExt;
    use tokio::sync::broadcast::error::RecvError;
    if let Err(r) = known_params(&q, &["backlog"]) {
        return r.into_response();
    }
    if let Some(refused) = admin_refusal(&app, caller, "reading the request log") {
        return refused;
    }
    let backlog = match count_param(&q, "backlog", 0..=MAX_LIMIT, DEFAULT_REQUESTS) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let entry = |e: &request_log::Entry| {
        super::sse::named_event("request", &serde_json::to_value(e).unwrap_or(Value::Null))
    };
    let (old, rx) = app.gateway.request_log.follow(backlog);
    let old: Vec<_> = old.iter().map(|e| entry(e)).collect();
    let live = futures_util::stream::unfold(rx, move |mut rx| async move {
        match rx.recv().await {
            Ok(e) => Some((entry(&e), rx)),
            Err(RecvError::Lagged(n)) => Some((
                super::sse::named_event("lagged", &json!({ "missed": n })),
                rx,
            )),
            Err(RecvError::Closed) => None,
        }
    });
    let events = futures_util::stream::iter(old)
        .chain(live)
        .take_until(app.closing.clone().cancelled_owned());
    super::sse::events(StatusCode::OK, events, None)
}

/// `GET /api/v1/config`: the running config, secrets redacted ([`Gateway::running_document`],
/// the view of `mcp-gateway config export`), admin only. `{"sources": [paths, lowest
/// precedence first], "config": {…}, "yaml": "…", "reload_error": null | "file:line: …"}`;
/// `reload_error` says the files on disk hold an edit that did not load (the running config is
/// still the one shown).
///
/// [`Gateway::running_document`]: crate::gateway::Gateway::running_document
async fn config(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    Query(q): Params,
) -> Response {
    if let Err(r) = known_params(&q, &[]) {
        return r.into_response();
    }
    if let Some(refused) = admin_refusal(&app, caller, "reading the config") {
        return refused;
    }
    let sources = app.gateway.config().sources.clone();
    let gateway = Arc::clone(&app.gateway);
    let doc = match tokio::task::spawn_blocking(move || gateway.running_document()).await {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => {
            return rest_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "config_unreadable",
                &e.to_string(),
            );
        }
        Err(e) => {
            return rest_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &e.to_string(),
            );
        }
    };
    let yaml = if sources.is_empty() {
        "# no config file: every setting has its default\n".to_string()
    } else {
        serde_saphyr::to_string(&doc).unwrap_or_default()
    };
    let names: Vec<String> = sources.iter().map(|p| p.display().to_string()).collect();
    ok_json(&json!({
        "sources": names,
        "config": doc,
        "yaml": yaml,
        "reload_error": app.gateway.config_error(),
    }))
}

/// `POST /api/v1/reload`: reads the config files again and applies them (admin only); answers
/// the reload report. A config that does not load keeps the running one and is reported in
/// `error` (200 all the same: the gateway still serves).
async fn reload(State(app): State<Arc<App>>, caller: Option<axum::Extension<Caller>>) -> Response {
    if let Some(refused) = admin_refusal(&app, caller, "reloading the config") {
        return refused;
    }
    let report = app.gateway.reload_from_disk().await;
    ok_json(&serde_json::to_value(&report).unwrap_or(Value::Null))
}

/// `GET /api/v1/metrics`: counters as JSON (backends limited to the caller's scope).
async fn metrics(
    State(app): State<Arc<App>>,
    caller: Option<axum::Extension<Caller>>,
    Query(q): Params,
) -> Response {
    if let Err(r) = known_params(&q, &[]) {
        return r.into_response();
    }
    let caller = auth::caller_of(caller);
    let access = Access::new(&app.gateway, &caller);
    let mut states = Map::new();
    let visible = access.visible_servers();
    for name in &visible {
        if let Some(b) = app.gateway.backend(name) {
            let label = b.status().label();
            let n = states.get(label).and_then(Value::as_u64).unwrap_or(0);
            states.insert(label.to_string(), json!(n + 1));
        }
    }
    let mut calls = Map::new();
    let mut total = 0;
    for (outcome, n) in app.gateway.request_log.counts() {
        total += n;
        calls.insert(outcome.name().to_string(), json!(n));
    }
    calls.insert("total".into(), json!(total));
    let gw = &app.gateway;
    let items: Vec<Value> = visible
        .iter()
        .filter_map(|name| gw.backend(name))
        .map(|b| {
            let f = b.failsafe_state();
            json!({
                "name": b.name(),
                "state": b.status().label(),
                "starts": b.starts(),
                "breaker": f.breaker.label(),
                "in_flight": f.in_flight,
                "queued": f.queued,
            })
        })
        .collect();
    // Profiles of servers no longer configured are shown only to an unrestricted caller.
    let restricted = caller.policy.is_restricted();
    let mut profiles: Vec<_> = gw
        .profiles
        .snapshot()
        .into_iter()
        .filter(|s| match gw.backend(&s.server) {
            Some(_) => access.sees_server(&s.server) && access.permits(&s.server, &s.tool),
            None => !restricted,
        })
        .collect();
    profiles.sort_by(|a, b| {
        b.data
            .calls()
            .cmp(&a.data.calls())
            .then_with(|| (&a.server, &a.tool).cmp(&(&b.server, &b.tool)))
    });
    let tool_calls: u64 = profiles.iter().map(|s| s.data.calls()).sum();
    let tools: Vec<Value> = profiles.iter().map(|s| s.to_json()).collect();
    let requests: Vec<Value> = gw
        .metrics
        .requests_counted(&["stdio", "http", "rest"])
        .into_iter()
        .map(|(front, method, outcome, count)| {
            json!({"front": front, "method": method, "outcome": outcome, "count": count})
        })
        .collect();
    let sessions_by_front: Map<String, Value> = gw
        .metrics
        .sessions_open()
        .into_iter()
        .map(|(front, n)| (front, json!(n)))
        .collect();
    let search = gw.metrics.search_latency();
    let ms = |us: Option<u64>| us.map(|us| us as f64 / 1000.0);
    ok_json(&json!({
        "uptime_seconds": app.started.elapsed().as_secs(),
        "sessions": app.sessions.len(),
        "sessions_by_front": sessions_by_front,
        "backends": { "total": visible.len(), "by_state": states, "items": items },
        "calls": calls,
        "tool_calls": tool_calls,
        "tools": tools,
        "requests": requests,
        "search": {
            "count": search.count(),
            "p50_ms": ms(search.quantile_us(0.5)),
            "p95_ms": ms(search.quantile_us(0.95)),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_params_take_their_range_and_name_it_when_refused() {
        let q = |v: &str| HashMap::from([("backlog".to_string(), v.to_string())]);
        assert_eq!(
            count_param(&HashMap::new(), "backlog", 0..=5, 3).ok(),
            Some(3)
        );
        assert_eq!(count_param(&q("0"), "backlog", 0..=5, 3).ok(), Some(0));
        let refused = count_param(&q("6"), "backlog", 0..=5, 3).err().map(|e| e.0);
        assert_eq!(
            refused.as_deref(),
            Some("`backlog` must be a whole number from 0 to 5, not `6`")
        );
        assert!(count_param(&q("-1"), "backlog", 0..=5, 3).is_err());
        let limit = HashMap::from([("limit".to_string(), "0".to_string())]);
        assert!(limit_param(&limit, 10).is_err(), "a limit starts at 1");
    }
}
