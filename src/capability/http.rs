//! Performs one capability call: arguments → validated → HTTP request → MCP `CallToolResult`.
//!
//! Owns argument placement (path, query, headers, body), auth from the environment, the timeout,
//! the response size cap and turning every failure into an `isError: true` result. It never
//! panics on input, never logs secrets and never puts the query string (which may hold an API
//! key) into an error message.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::definition::{AuthKind, BodyFormat, Capability, RequestSpec, ResponseFormat};
use super::schema;
use super::template::{Encoding, EnvSource, RenderError, scalar_text};

/// Longest piece of an error body quoted back to the model.
const ERROR_BODY_CHARS: usize = 500;

/// A tool-level failure, rendered as an `isError: true` result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("invalid arguments for `{tool}`: {violation}")]
    Arguments {
        tool: String,
        violation: schema::Violation,
    },
    #[error("cannot build the request for `{tool}` ({key}): {source}")]
    Render {
        tool: String,
        key: String,
        source: RenderError,
    },
    #[error("`{tool}`: {message}")]
    Request { tool: String, message: String },
    #[error("`{tool}`: HTTP {status} from {target}: {body}")]
    Status {
        tool: String,
        status: u16,
        target: String,
        body: String,
    },
    #[error("`{tool}`: no response from {target} within {secs:.1}s (timed out)")]
    Timeout {
        tool: String,
        target: String,
        secs: f64,
    },
    #[error("`{tool}`: request to {target} failed: {message}")]
    Network {
        tool: String,
        target: String,
        message: String,
    },
    #[error(
        "`{tool}`: response from {target} is larger than the {limit}-byte cap (max_response_bytes)"
    )]
    TooLarge {
        tool: String,
        target: String,
        limit: usize,
    },
    #[error("`{tool}`: response from {target} is not valid JSON: {message}")]
    BadJson {
        tool: String,
        target: String,
        message: String,
    },
}

impl CallError {
    /// The `CallToolResult` for this failure.
    pub fn into_result(self) -> Value {
        let structured = match &self {
            CallError::Status { status, body, .. } => Some(json!({"status": status, "body": body})),
            _ => None,
        };
        let mut result = json!({
            "content": [{"type": "text", "text": self.to_string()}],
            "isError": true,
        });
        if let (Some(s), Some(obj)) = (structured, result.as_object_mut()) {
            obj.insert("structuredContent".into(), s);
        }
        result
    }
}

/// What was sent, for messages: scheme, host and path, never the query.
fn target_of(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    ) + url.path()
}

fn trim_body(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() > ERROR_BODY_CHARS {
        let cut: String = t.chars().take(ERROR_BODY_CHARS).collect();
        format!("{cut}… (truncated)")
    } else {
        t.to_string()
    }
}

/// The parts of a request before it is sent.
#[derive(Debug)]
pub struct Prepared {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<(BodyFormat, Value)>,
}

/// Validates `arguments` and works out the request (no I/O).
pub fn prepare(
    cap: &Capability,
    arguments: &Value,
    env: &dyn EnvSource,
) -> Result<Prepared, CallError> {
    let tool = &cap.name;
    let empty = Map::new();
    let args = match arguments {
        Value::Null => &empty,
        Value::Object(m) => m,
        other => {
            return Err(CallError::Arguments {
                tool: tool.clone(),
                violation: schema::Violation {
                    path: "(arguments)".into(),
                    reason: format!("expected an object, got {other}"),
                },
            });
        }
    };
    schema::validate(&cap.input_schema, &Value::Object(args.clone())).map_err(|violation| {
        CallError::Arguments {
            tool: tool.clone(),
            violation,
        }
    })?;
    let req: &RequestSpec = &cap.request;
    let mut merged = req.static_params.clone();
    for (k, v) in args {
        if !v.is_null() {
            merged.insert(k.clone(), v.clone());
        }
    }
    let render_err = |key: &str, source: RenderError| CallError::Render {
        tool: tool.clone(),
        key: key.to_string(),
        source,
    };

    let mut consumed: BTreeSet<String> = BTreeSet::new();
    consumed.extend(req.url.args().map(str::to_string));
    let url_text = req
        .url
        .render(&merged, env, Encoding::PathSegment)
        .map_err(|e| render_err("url", e))?;
    let mut url = reqwest::Url::parse(&url_text).map_err(|e| CallError::Request {
        tool: tool.clone(),
        message: format!("the URL is not valid ({e})"),
    })?;

    let mut query: Vec<(String, String)> = Vec::new();
    for (name, t) in &req.params {
        consumed.extend(t.args().map(str::to_string));
        match t.render(&merged, env, Encoding::Raw) {
            Ok(v) if !v.is_empty() => query.push((name.clone(), v)),
            Ok(_) | Err(RenderError::MissingArg(_)) => {}
            Err(e) => return Err(render_err(&format!("params.{name}"), e)),
        }
    }
    for (arg, name) in &req.param_map {
        consumed.insert(arg.clone());
        if let Some(v) = merged.get(arg) {
            push_query(&mut query, name, v);
        }
    }

    let mut headers = Vec::new();
    for (name, t) in &req.headers {
        consumed.extend(t.args().map(str::to_string));
        // A header whose argument or variable is absent is left out.
        if let Ok(v) = t.render(&merged, env, Encoding::Raw) {
            headers.push((name.clone(), v));
        }
    }

    let has_body = matches!(
        req.method,
        reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH
    ) || req.body.is_some();
    let body = match &req.body {
        Some(template) => {
            let mut used = Vec::new();
            let rendered = render_body(template, &merged, env, &mut used)
                .map_err(|e| render_err("body", e))?;
            consumed.extend(used);
            Some((req.body_format, rendered.unwrap_or(Value::Null)))
        }
        None => None,
    };
    // Leftovers: arguments and static params no template or mapping used.
    let explicit_query = !req.params.is_empty() || !req.param_map.is_empty();
    let leftovers: Map<String, Value> = merged
        .iter()
        .filter(|(k, _)| !consumed.contains(*k))
        .filter(|(k, _)| !(explicit_query && !has_body && !req.static_params.contains_key(*k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let body = match body {
        Some(b) => Some(b),
        None if has_body && !leftovers.is_empty() => {
            Some((req.body_format, Value::Object(leftovers.clone())))
        }
        None => None,
    };
    if !has_body {
        for (k, v) in &leftovers {
            push_query(&mut query, k, v);
        }
    }

    apply_auth(cap, env, &mut headers, &mut query)?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &query {
            pairs.append_pair(k, v);
        }
    }
    Ok(Prepared {
        method: req.method.clone(),
        url,
        headers,
        body,
    })
}

/// Adds `name=value`; arrays repeat the name (OpenAPI `form`, `explode: true`).
fn push_query(query: &mut Vec<(String, String)>, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                query.push((name.to_string(), scalar_text(item)));
            }
        }
        other => query.push((name.to_string(), scalar_text(other))),
    }
}

/// Renders a body template: a string that is exactly `{arg}` keeps the argument's JSON type;
/// object fields whose arguments are missing are left out. `Ok(None)`: nothing left.
fn render_body(
    template: &Value,
    args: &Map<String, Value>,
    env: &dyn EnvSource,
    used: &mut Vec<String>,
) -> Result<Option<Value>, RenderError> {
    match template {
        Value::String(s) => {
            // Checked when the file was loaded; a body string that is no template stays text.
            let Ok(t) = super::template::Template::parse(s) else {
                return Ok(Some(Value::String(s.clone())));
            };
            used.extend(t.args().map(str::to_string));
            if let Some(arg) = t.sole_arg() {
                return Ok(args.get(arg).cloned());
            }
            match t.render(args, env, Encoding::Raw) {
                Ok(v) => Ok(Some(Value::String(v))),
                Err(RenderError::MissingArg(_)) => Ok(None),
                Err(e) => Err(e),
            }
        }
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if let Some(v) = render_body(v, args, env, used)? {
                    out.insert(k.clone(), v);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(a) => {
            let mut out = Vec::new();
            for v in a {
                if let Some(v) = render_body(v, args, env, used)? {
                    out.push(v);
                }
            }
            Ok(Some(Value::Array(out)))
        }
        other => Ok(Some(other.clone())),
    }
}

fn apply_auth(
    cap: &Capability,
    env: &dyn EnvSource,
    headers: &mut Vec<(String, String)>,
    query: &mut Vec<(String, String)>,
) -> Result<(), CallError> {
    let auth = &cap.auth;
    // A secret read from a variable that is set but empty counts as not set: the request then
    // goes without auth (or fails when auth is required) instead of sending `Bearer `.
    let secret = |t: &Option<super::template::Template>| -> Result<Option<String>, RenderError> {
        match t {
            Some(t) => match t.render(&Map::new(), env, Encoding::Raw)? {
                s if s.is_empty() && t.env_vars().next().is_some() => Err(RenderError::MissingEnv(
                    t.env_vars().collect::<Vec<_>>().join(", "),
                )),
                s => Ok(Some(s)),
            },
            None => Ok(None),
        }
    };
    let resolved = (|| -> Result<Option<(String, String, bool)>, RenderError> {
        Ok(match &auth.kind {
            AuthKind::None => None,
            AuthKind::Bearer { header, prefix } | AuthKind::ApiKeyHeader { header, prefix } => {
                secret(&auth.secret)?.map(|s| {
                    let value = if prefix.is_empty() {
                        s
                    } else {
                        format!("{prefix} {s}")
                    };
                    (header.clone(), value, true)
                })
            }
            AuthKind::ApiKeyQuery { param } => {
                secret(&auth.secret)?.map(|s| (param.clone(), s, false))
            }
            AuthKind::Basic => {
                let pair = match (&auth.username, &auth.secret) {
                    (Some(_), _) => {
                        let user = secret(&auth.username)?.unwrap_or_default();
                        let pass = secret(&auth.password)?.unwrap_or_default();
                        format!("{user}:{pass}")
                    }
                    (None, s) => secret(s)?.unwrap_or_default(),
                };
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                Some((
                    "Authorization".to_string(),
                    format!("Basic {encoded}"),
                    true,
                ))
            }
        })
    })();
    match resolved {
        Ok(Some((name, value, true))) => {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&name));
            headers.push((name, value));
        }
        Ok(Some((name, value, false))) => query.push((name, value)),
        Ok(None) => {}
        Err(e) if auth.required => {
            return Err(CallError::Render {
                tool: cap.name.clone(),
                key: "auth".into(),
                source: e,
            });
        }
        Err(_) => {}
    }
    Ok(())
}

/// Performs the call. Every failure is an `isError: true` result.
pub async fn call(
    cap: &Capability,
    client: &reqwest::Client,
    env: &dyn EnvSource,
    arguments: &Value,
) -> Value {
    match call_inner(cap, client, env, arguments).await {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(tool = %cap.name, error = %e, "capability call failed");
            e.into_result()
        }
    }
}

async fn call_inner(
    cap: &Capability,
    client: &reqwest::Client,
    env: &dyn EnvSource,
    arguments: &Value,
) -> Result<Value, CallError> {
    let prepared = prepare(cap, arguments, env)?;
    let tool = cap.name.clone();
    let target = target_of(&prepared.url);
    let mut builder = client.request(prepared.method.clone(), prepared.url.clone());
    for (k, v) in &prepared.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder = match &prepared.body {
        None => builder,
        Some((BodyFormat::Json, v)) => builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(v.to_string()),
        Some((BodyFormat::Text, v)) => builder
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(scalar_text(v)),
        Some((BodyFormat::Form, v)) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            if let Some(m) = v.as_object() {
                for (k, val) in m {
                    form.append_pair(k, &scalar_text(val));
                }
            }
            builder
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form.finish())
        }
    };
    let limit = cap.request.max_response_bytes;
    let timeout = cap.request.timeout;
    let exchange = async {
        let response = builder.send().await.map_err(|e| CallError::Network {
            tool: tool.clone(),
            target: target.clone(),
            message: describe_reqwest(&e),
        })?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = read_capped(response, limit).await.map_err(|e| match e {
            ReadError::TooLarge => CallError::TooLarge {
                tool: tool.clone(),
                target: target.clone(),
                limit,
            },
            ReadError::Network(message) => CallError::Network {
                tool: tool.clone(),
                target: target.clone(),
                message,
            },
        })?;
        Ok::<_, CallError>((status, content_type, body))
    };
    let outcome = tokio::time::timeout(timeout, exchange).await;
    let (status, content_type, body) = match outcome {
        Ok(r) => r?,
        Err(_) => {
            return Err(CallError::Timeout {
                tool,
                target,
                secs: timeout.as_secs_f64(),
            });
        }
    };
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        return Err(CallError::Status {
            tool,
            status: status.as_u16(),
            target,
            body: trim_body(&text),
        });
    }
    let wants_json = cap.request.response_format != ResponseFormat::Text;
    let parsed: Option<Value> = if wants_json && !body.is_empty() {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => Some(v),
            Err(e)
                if cap.request.response_format == ResponseFormat::Json
                    || content_type.contains("json") =>
            {
                return Err(CallError::BadJson {
                    tool,
                    target,
                    message: e.to_string(),
                });
            }
            Err(_) => None,
        }
    } else {
        None
    };
    match parsed {
        Some(value) => {
            let value = match &cap.request.response_path {
                Some(path) => extract(&value, path),
                None => value,
            };
            let text = serde_json::to_string(&value).unwrap_or_default();
            let structured = match value {
                Value::Object(_) => value,
                other => json!({"result": other}),
            };
            Ok(json!({
                "content": [{"type": "text", "text": text}],
                "structuredContent": structured,
                "isError": false,
            }))
        }
        None => {
            let shown = if std::str::from_utf8(&body).is_ok() {
                text.into_owned()
            } else {
                format!(
                    "(binary response: {} bytes, content type `{content_type}`)",
                    body.len()
                )
            };
            Ok(json!({
                "content": [{"type": "text", "text": shown}],
                "isError": false,
            }))
        }
    }
}

/// `a.b.0.c` (dots; numeric segments index arrays). A missing step yields `null`.
pub fn extract(value: &Value, path: &str) -> Value {
    let mut current = value;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        current = match current {
            Value::Object(m) => m.get(segment).unwrap_or(&Value::Null),
            Value::Array(a) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    current.clone()
}

enum ReadError {
    TooLarge,
    Network(String),
}

async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ReadError::Network(describe_reqwest(&e)))?
    {
        if out.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A reqwest error without its URL (which may carry an API key in the query).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "error reading the body"
    } else {
        "request error"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
