//! Who may use the listener: authentication, rate limits and the answers that refuse a request.
//!
//! Owns the layer in front of every protected route: it reads `Authorization: Bearer …` or
//! `X-API-Key` (via [`crate::auth::Authenticator`]: constant-time key match, JWT), removes both
//! headers from the request so no handler (and so no backend) can ever see them, counts the
//! request against the caller's rate limit, and puts the [`Caller`] into the request's
//! extensions. Refusals are `401` with a `WWW-Authenticate` challenge pointing to the RFC 9728
//! metadata (built from `server.public_url`, never from `Host`), `403 insufficient_scope`, and
//! `429` with `Retry-After`; `/mcp` gets a JSON-RPC error body, `/api/…` the REST error shape.
//! Every authenticated response carries the rate-limit headers. It never logs a credential.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::App;
use crate::auth::{AuthError, Authenticator, Caller, challenge};
use crate::config::JwtConfig;
use crate::jsonrpc::{ErrorObject, Id, Message, code, to_raw};
use crate::ratelimit::{Decision, RateLimiter};
use crate::request_log;

/// The header an API key may come in besides `Authorization: Bearer`.
pub const X_API_KEY: &str = "x-api-key";

/// Authentication and rate limits of one listener.
pub struct Gatekeeper {
    authenticator: Authenticator,
    limiter: RateLimiter,
    /// `server.public_url`, without a trailing `/`.
    public_url: Option<String>,
    jwt: Option<JwtConfig>,
}

impl Gatekeeper {
    pub fn new(
        authenticator: Authenticator,
        public_url: Option<String>,
        jwt: Option<JwtConfig>,
    ) -> Gatekeeper {
        Gatekeeper {
            authenticator,
            limiter: RateLimiter::new(),
            public_url,
            jwt,
        }
    }

    /// Whether callers must authenticate (`auth.enabled`).
    pub fn enabled(&self) -> bool {
        self.authenticator.enabled()
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// The RFC 9728 document, when auth is on and a public URL is configured.
    pub fn resource_metadata(&self) -> Option<Value> {
        let url = self.public_url.as_deref().filter(|_| self.enabled())?;
        Some(challenge::resource_metadata(url, self.jwt.as_ref()))
    }

    /// The `403 insufficient_scope` answer (an admin-only route for a non-admin caller).
    pub fn forbidden(&self, rest: bool, message: &str) -> Response {
        let mut resp = refusal(rest, StatusCode::FORBIDDEN, "forbidden", message, None);
        set(
            &mut resp,
            header::WWW_AUTHENTICATE,
            &challenge::insufficient_scope(self.public_url()),
        );
        resp
    }
}

/// The layer in front of every protected MCP route (refusals are JSON-RPC errors).
pub async fn authenticate(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    check(app, false, req, next).await
}

/// The layer in front of every protected REST route (refusals have the REST error shape).
pub async fn authenticate_rest(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    check(app, true, req, next).await
}

async fn check(app: Arc<App>, rest: bool, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let keeper = &app.keeper;
    let front = if rest { "rest" } else { "http" };
    let authorization = req.headers().get(header::AUTHORIZATION).cloned();
    let api_key = req.headers().get(X_API_KEY).cloned();
    // Nothing after this layer ever sees the credentials: no handler can pass them on.
    req.headers_mut().remove(header::AUTHORIZATION);
    req.headers_mut().remove(X_API_KEY);
    let verdict = keeper
        .authenticator
        .authenticate(
            authorization.as_ref().map(HeaderValue::as_bytes),
            api_key.as_ref().map(HeaderValue::as_bytes),
        )
        .await;
    let caller = match verdict {
        Ok(caller) => caller,
        Err(e) => {
            tracing::info!(path = %req.uri().path(), "refused a request: {e}");
            log_refusal(
                &app,
                "",
                front,
                &req,
                started,
                request_log::Outcome::Unauthenticated,
            );
            let mut resp = unauthorized(keeper, rest, &e);
            super::drain(req, &mut resp).await;
            return resp;
        }
    };
    let decision =
        (caller.rate_limit > 0).then(|| keeper.limiter.check(&caller.name, caller.rate_limit));
    if let Some(d) = decision.filter(|d| !d.allowed) {
        app.gateway.metrics.rate_limited(front);
        log_refusal(
            &app,
            &caller.name,
            front,
            &req,
            started,
            request_log::Outcome::RateLimited,
        );
        let mut resp = rate_limited(rest, &d);
        super::drain(req, &mut resp).await;
        return resp;
    }
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    if let Some(d) = decision {
        for (name, value) in d.headers() {
            set(&mut resp, HeaderName::from_static(lower(name)), &value);
        }
    }
    resp
}

/// `name` in lower case, as `HeaderName::from_static` requires (the names are constants).
fn lower(name: &'static str) -> &'static str {
    match name {
        "X-RateLimit-Limit" => "x-ratelimit-limit",
        "X-RateLimit-Remaining" => "x-ratelimit-remaining",
        "X-RateLimit-Reset" => "x-ratelimit-reset",
        "RateLimit-Limit" => "ratelimit-limit",
        "RateLimit-Remaining" => "ratelimit-remaining",
        "RateLimit-Reset" => "ratelimit-reset",
        "Retry-After" => "retry-after",
        _ => "x-unknown",
    }
}

fn set(resp: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn log_refusal(
    app: &App,
    caller: &str,
    front: &'static str,
    req: &Request,
    started: Instant,
    outcome: request_log::Outcome,
) {
    // REST requests are counted by their route (`rest::count`); MCP ones refused here by path.
    if front == "http" {
        let path = req.uri().path();
        let route = if path.starts_with("/mcp/") {
            "/mcp/{backend}"
        } else {
            "/mcp"
        };
        let method = format!("{} {route}", req.method());
        app.gateway.metrics.request(front, &method, outcome.name());
    }
    // REST routes are nested under `/api`, which their request URI no longer shows.
    let prefix = if front == "rest" { "/api" } else { "" };
    let method = format!("{} {prefix}{}", req.method(), req.uri().path());
    app.gateway.request_log.record(request_log::Call {
        caller,
        front,
        method: &method,
        server: "",
        tool: "",
        duration: started.elapsed(),
        outcome,
        request_bytes: 0,
        response_bytes: 0,
        arguments: None,
        result: None,
    });
}

/// `401` with the challenge.
fn unauthorized(keeper: &Gatekeeper, rest: bool, e: &AuthError) -> Response {
    let mut resp = refusal(
        rest,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &e.to_string(),
        None,
    );
    set(
        &mut resp,
        header::WWW_AUTHENTICATE,
        &challenge::unauthorized(keeper.public_url(), e),
    );
    resp
}

/// `429` with `Retry-After` and the rate-limit headers.
fn rate_limited(rest: bool, d: &Decision) -> Response {
    let message = format!(
        "rate limit of {} requests per minute reached; retry in {} s",
        d.limit,
        d.retry_after_secs()
    );
    let mut resp = refusal(
        rest,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        &message,
        Some(challenge::rate_limited_data(d)),
    );
    for (name, value) in d.headers() {
        set(&mut resp, HeaderName::from_static(lower(name)), &value);
    }
    resp
}

/// A refusal body: the REST error shape under `/api/`, else a JSON-RPC error (id null: the
/// body was not read).
pub fn refusal(
    rest: bool,
    status: StatusCode,
    rest_code: &str,
    message: &str,
    data: Option<Value>,
) -> Response {
    if rest {
        return rest_error(status, rest_code, message);
    }
    let rpc_code = match status {
        StatusCode::TOO_MANY_REQUESTS => code::RATE_LIMITED,
        _ => code::INVALID_REQUEST,
    };
    let mut e = ErrorObject::new(rpc_code, message);
    e.data = data.map(|d| to_raw(&d));
    super::sse::json(status, &Message::error(Id::Null, e))
}

/// `{"error": {"code", "message"}}` with `status`: the REST API's one error shape.
pub fn rest_error(status: StatusCode, rest_code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": rest_code, "message": message}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The caller a handler runs for (put there by [`authenticate`]; local when the route is not
/// behind it).
pub fn caller_of(ext: Option<axum::Extension<Caller>>) -> Caller {
    ext.map(|e| e.0).unwrap_or_else(Caller::local)
}
