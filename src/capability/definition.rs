//! The capability file format: YAML text → a validated [`Capability`].
//!
//! Owns the key names (compatible with the published `fulcrum` capability files: `name`,
//! `description`, `schema.input`, `providers.primary.config.{base_url, path, endpoint, method,
//! headers, params, param_map, static_params, body, response_path, …}`, `auth`, `metadata`) and
//! every load-time check, each reported with the offending key. It never performs requests and
//! never reads the environment (that happens per call in `http`).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};

use super::template::Template;

/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Longest accepted tool name (MCP clients cap names at 64).
pub const MAX_NAME_LEN: usize = 64;

/// One REST operation exposed as an MCP tool.
#[derive(Debug, Clone)]
pub struct Capability {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    /// JSON Schema of the arguments (always `type: object`).
    pub input_schema: Value,
    pub annotations: Annotations,
    pub request: RequestSpec,
    pub auth: AuthSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// How the body of a POST/PUT/PATCH request is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Text,
    Form,
}

/// How the response body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// JSON when the content type says so or the body parses as JSON; text otherwise.
    Auto,
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: reqwest::Method,
    /// Full URL template (`base_url` + `path`, or `endpoint`).
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    /// Query parameters from templates; dropped when an argument they name is missing.
    pub params: Vec<(String, Template)>,
    /// Argument name → query parameter name.
    pub param_map: Vec<(String, String)>,
    /// Fixed values merged under the caller's arguments.
    pub static_params: Map<String, Value>,
    pub body: Option<Value>,
    pub body_format: BodyFormat,
    pub response_path: Option<String>,
    pub response_format: ResponseFormat,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    None,
    /// `Authorization: <prefix> <secret>` (prefix `Bearer` unless set).
    Bearer {
        header: String,
        prefix: String,
    },
    /// A header holding the key as is (or with a prefix).
    ApiKeyHeader {
        header: String,
        prefix: String,
    },
    /// A query parameter holding the key.
    ApiKeyQuery {
        param: String,
    },
    /// `Authorization: Basic base64(user:password)`.
    Basic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSpec {
    pub kind: AuthKind,
    /// `true`: a missing secret fails the call; `false`: the request goes without auth.
    pub required: bool,
    /// Template for the secret (`${VAR}`); for basic either `user:password` or empty when
    /// `username`/`password` are given.
    pub secret: Option<Template>,
    pub username: Option<Template>,
    pub password: Option<Template>,
}

/// A load error: the dotted key it concerns (empty: the whole file) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefError {
    pub key: String,
    pub message: String,
}

fn err<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, DefError> {
    Err(DefError {
        key: key.into(),
        message: message.into(),
    })
}

/// Top-level keys accepted (some only for compatibility and otherwise ignored).
const TOP_KEYS: &[&str] = &[
    "fulcrum",
    "name",
    "title",
    "description",
    "schema",
    "providers",
    "auth",
    "metadata",
    "annotations",
    "cache",
    "transform",
    "response_transform",
    "projection",
    "webhooks",
    "sha256",
    "visible_in_states",
];
const PROVIDER_KEYS: &[&str] = &["service", "cost_per_call", "timeout", "config"];
const CONFIG_KEYS: &[&str] = &[
    "base_url",
    "path",
    "endpoint",
    "method",
    "headers",
    "params",
    "param_map",
    "static_params",
    "body",
    "body_content_type",
    "response_path",
    "response_format",
    "max_response_bytes",
];
const AUTH_KEYS: &[&str] = &[
    "required",
    "type",
    "key",
    "header",
    "prefix",
    "param",
    "username",
    "password",
    "description",
    "scopes",
];
const ANNOTATION_KEYS: &[&str] = &[
    "read_only",
    "destructive",
    "idempotent",
    "open_world",
    "title",
];

/// Rejects keys of `map` (at `path`) that are not in `known`, suggesting the closest one.
/// Keys starting with `x-` or `_` are the author's notes and always accepted.
fn check_keys(map: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), DefError> {
    for key in map.keys() {
        if key.starts_with("x-") || key.starts_with('_') || known.contains(&key.as_str()) {
            continue;
        }
        let hint = crate::suggest::hint(key, known.iter().copied());
        return err(join(path, key), format!("unknown key{hint}"));
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn opt_str<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, DefError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => err(
            join(path, key),
            format!("expected a string, found {}", kind_of(other)),
        ),
    }
}

fn opt_bool(map: &Map<String, Value>, path: &str, key: &str) -> Result<Option<bool>, DefError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => err(
            join(path, key),
            format!("expected true or false, found {}", kind_of(other)),
        ),
    }
}

fn opt_map<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, DefError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => err(
            join(path, key),
            format!("expected a mapping, found {}", kind_of(other)),
        ),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A map of string templates (`headers`, `params`); scalar values are taken as text.
fn string_map(
    map: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Vec<(String, String)>, DefError> {
    let Some(m) = opt_map(map, path, key)? else {
        return Ok(Vec::new());
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
            other => err(
                join(&join(path, key), k),
                format!("expected a string, found {}", kind_of(other)),
            ),
        })
        .collect()
}

/// Is `name` acceptable as an MCP tool name?
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses and validates one capability document (already decoded from YAML).
pub fn parse(doc: &Value) -> Result<Capability, DefError> {
    let Some(root) = doc.as_object() else {
        return err(
            "",
            format!("expected a mapping at the top, found {}", kind_of(doc)),
        );
    };
    check_keys(root, "", TOP_KEYS)?;
    let name = match opt_str(root, "", "name")? {
        Some(n) => n.to_string(),
        None => return err("name", "missing (the tool name, e.g. `weather_forecast`)"),
    };
    if !valid_tool_name(&name) {
        return err(
            "name",
            format!("`{name}` is not a valid tool name: use 1-{MAX_NAME_LEN} of A-Z a-z 0-9 _ -"),
        );
    }
    let description = opt_str(root, "", "description")?
        .unwrap_or("")
        .trim()
        .to_string();
    if description.is_empty() {
        return err(
            "description",
            "missing: the model needs it to pick this tool",
        );
    }
    let title = opt_str(root, "", "title")?.map(str::to_string);

    let input_schema = parse_input_schema(root)?;
    let properties: BTreeSet<String> = input_schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();

    let (provider_path, provider) = primary_provider(root)?;
    check_keys(provider, &provider_path, PROVIDER_KEYS)?;
    if let Some(service) = opt_str(provider, &provider_path, "service")?
        && !matches!(service, "rest" | "http" | "")
    {
        // The published format names REST providers after the service ("open_meteo");
        // anything that is a known non-REST protocol is refused.
        if matches!(
            service,
            "graphql" | "jsonrpc" | "cli" | "mcp" | "process" | "grpc"
        ) {
            return err(
                join(&provider_path, "service"),
                format!("service `{service}` is not supported: only REST providers are"),
            );
        }
    }
    let timeout = match provider.get("timeout") {
        None | Some(Value::Null) => DEFAULT_TIMEOUT,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|s| s > 0.0 && s <= 3600.0) => {
            Duration::from_secs_f64(n.as_f64().unwrap_or(30.0))
        }
        Some(other) => {
            return err(
                join(&provider_path, "timeout"),
                format!("expected seconds between 0 and 3600, found {other}"),
            );
        }
    };
    let config_path = join(&provider_path, "config");
    let Some(config) = opt_map(provider, &provider_path, "config")? else {
        return err(config_path, "missing: where and how to call the API");
    };
    check_keys(config, &config_path, CONFIG_KEYS)?;
    let request = parse_request(config, &config_path, timeout, &properties)?;
    let auth = parse_auth(root)?;
    let annotations = parse_annotations(root, &request.method)?;

    Ok(Capability {
        name,
        title,
        description,
        input_schema,
        annotations,
        request,
        auth,
    })
}

fn parse_input_schema(root: &Map<String, Value>) -> Result<Value, DefError> {
    let Some(schema) = opt_map(root, "", "schema")? else {
        return Ok(serde_json::json!({"type": "object", "properties": {}}));
    };
    check_keys(schema, "schema", &["input", "output"])?;
    let mut input = match schema.get("input") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return err(
                "schema.input",
                format!("expected a JSON Schema mapping, found {}", kind_of(other)),
            );
        }
    };
    match input.get("type") {
        None => {
            input.insert("type".into(), Value::String("object".into()));
        }
        Some(Value::String(t)) if t == "object" => {}
        Some(other) => {
            return err(
                "schema.input.type",
                format!("tool arguments are an object; found type {other}"),
            );
        }
    }
    if input.get("properties").is_some_and(Value::is_null) {
        input.remove("properties");
    }
    if let Some(props) = input.get("properties") {
        let Some(props) = props.as_object() else {
            return err(
                "schema.input.properties",
                "expected a mapping of argument schemas",
            );
        };
        for (k, v) in props {
            if !v.is_object() && !v.is_boolean() {
                return err(
                    format!("schema.input.properties.{k}"),
                    format!("expected a schema mapping, found {}", kind_of(v)),
                );
            }
        }
    } else {
        input.insert("properties".into(), Value::Object(Map::new()));
    }
    if let Some(req) = input.get("required") {
        let names: Option<Vec<&str>> = req
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        let props = input.get("properties").and_then(Value::as_object);
        match names {
            Some(names) => {
                for n in names {
                    if !props.is_some_and(|p| p.contains_key(n)) {
                        return err(
                            "schema.input.required",
                            format!("`{n}` is required but not among the properties"),
                        );
                    }
                }
            }
            None => return err("schema.input.required", "expected a list of argument names"),
        }
    }
    Ok(Value::Object(input))
}

fn primary_provider(root: &Map<String, Value>) -> Result<(String, &Map<String, Value>), DefError> {
    let Some(providers) = opt_map(root, "", "providers")? else {
        return err(
            "providers",
            "missing: add `providers: {primary: {config: …}}`",
        );
    };
    let (key, value) = match providers.get("primary") {
        Some(p) => ("primary", p),
        None => match providers.iter().find(|(k, _)| k.as_str() != "fallback") {
            Some((k, v)) => (k.as_str(), v),
            None => return err("providers", "no provider: add `primary:`"),
        },
    };
    let path = format!("providers.{key}");
    match value.as_object() {
        Some(m) => Ok((path, m)),
        None => err(
            path,
            format!("expected a mapping, found {}", kind_of(value)),
        ),
    }
}

fn parse_request(
    config: &Map<String, Value>,
    path: &str,
    timeout: Duration,
    properties: &BTreeSet<String>,
) -> Result<RequestSpec, DefError> {
    let method_text = opt_str(config, path, "method")?
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let method = match method_text.as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        "PUT" => reqwest::Method::PUT,
        "PATCH" => reqwest::Method::PATCH,
        "DELETE" => reqwest::Method::DELETE,
        "HEAD" => reqwest::Method::HEAD,
        "OPTIONS" => reqwest::Method::OPTIONS,
        other => {
            return err(
                join(path, "method"),
                format!(
                    "`{other}` is not an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)"
                ),
            );
        }
    };
    let endpoint = opt_str(config, path, "endpoint")?.filter(|s| !s.is_empty());
    let base_url = opt_str(config, path, "base_url")?.filter(|s| !s.is_empty());
    let url_path = opt_str(config, path, "path")?.unwrap_or("");
    let (url_text, url_key) = match (endpoint, base_url) {
        (Some(e), _) => (e.to_string(), join(path, "endpoint")),
        (None, Some(b)) => {
            let joined = if url_path.is_empty() || b.ends_with('/') || url_path.starts_with('/') {
                format!("{}{}", b, url_path)
            } else {
                format!("{b}/{url_path}")
            };
            (joined, join(path, "base_url"))
        }
        (None, None) => {
            return err(
                join(path, "base_url"),
                "missing: set `base_url` (+ `path`) or `endpoint`",
            );
        }
    };
    let scheme_ok = url_text.starts_with("http://")
        || url_text.starts_with("https://")
        || url_text.starts_with("${")
        || url_text.starts_with("{env.");
    if !scheme_ok {
        return err(
            url_key,
            format!("`{url_text}` must start with http:// or https:// (or a ${{VAR}})"),
        );
    }
    let url = template(&url_text, &url_key)?;

    let static_params = opt_map(config, path, "static_params")?
        .cloned()
        .unwrap_or_default();
    let known = |arg: &str| properties.contains(arg) || static_params.contains_key(arg);
    let check_args = |t: &Template, key: String| -> Result<(), DefError> {
        for a in t.args() {
            if !known(a) {
                let hint = crate::suggest::hint(a, properties.iter().map(String::as_str));
                return err(
                    key,
                    format!("`{{{a}}}` names no argument in schema.input.properties{hint}"),
                );
            }
        }
        Ok(())
    };
    check_args(&url, url_key)?;

    let mut headers = Vec::new();
    for (k, v) in string_map(config, path, "headers")? {
        let t = template(&v, join(&join(path, "headers"), &k))?;
        check_args(&t, join(&join(path, "headers"), &k))?;
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return err(
                join(&join(path, "headers"), &k),
                "not a valid HTTP header name",
            );
        }
        headers.push((k, t));
    }
    let mut params = Vec::new();
    for (k, v) in string_map(config, path, "params")? {
        let t = template(&v, join(&join(path, "params"), &k))?;
        check_args(&t, join(&join(path, "params"), &k))?;
        params.push((k, t));
    }
    let param_map = string_map(config, path, "param_map")?;
    for (arg, _) in &param_map {
        if !known(arg) {
            return err(
                join(&join(path, "param_map"), arg),
                format!("`{arg}` names no argument in schema.input.properties"),
            );
        }
    }
    let body = config.get("body").filter(|b| !b.is_null()).cloned();
    if let Some(b) = &body {
        let mut templates = Vec::new();
        collect_body_templates(b, &mut templates);
        for t in templates {
            check_args(&template(&t, join(path, "body"))?, join(path, "body"))?;
        }
    }
    let body_format = match opt_str(config, path, "body_content_type")?.unwrap_or("") {
        "" | "application/json" | "json" => BodyFormat::Json,
        "text/plain" | "text" => BodyFormat::Text,
        "application/x-www-form-urlencoded" | "form" => BodyFormat::Form,
        other => {
            return err(
                join(path, "body_content_type"),
                format!(
                    "`{other}` is not supported (application/json, text/plain, application/x-www-form-urlencoded)"
                ),
            );
        }
    };
    let response_format = match opt_str(config, path, "response_format")?.unwrap_or("") {
        "" | "auto" => ResponseFormat::Auto,
        "json" => ResponseFormat::Json,
        "text" => ResponseFormat::Text,
        other => {
            return err(
                join(path, "response_format"),
                format!("`{other}` is not supported (auto, json, text)"),
            );
        }
    };
    let response_path = opt_str(config, path, "response_path")?
        .map(|p| {
            p.trim_start_matches('$')
                .trim_start_matches('.')
                .to_string()
        })
        .filter(|p| !p.is_empty());
    let max_response_bytes = match config.get("max_response_bytes") {
        None | Some(Value::Null) => DEFAULT_MAX_RESPONSE_BYTES,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|b| b > 0) => {
            usize::try_from(n.as_u64().unwrap_or(0)).unwrap_or(usize::MAX)
        }
        Some(other) => {
            return err(
                join(path, "max_response_bytes"),
                format!("expected a positive number of bytes, found {other}"),
            );
        }
    };
    Ok(RequestSpec {
        method,
        url,
        headers,
        params,
        param_map,
        static_params,
        body,
        body_format,
        response_path,
        response_format,
        timeout,
        max_response_bytes,
    })
}

fn collect_body_templates(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_body_templates(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_body_templates(x, out)),
        _ => {}
    }
}

/// `text` (the value at `key`) parsed as a template; a malformed `${…}` is an error at `key`.
fn template(text: &str, key: impl Into<String>) -> Result<Template, DefError> {
    Template::parse(text).or_else(|e| err(key, e.0))
}

/// `env:VAR`, `${VAR}`, `{env.VAR}` or a bare `VAR` → a secret template.
fn secret_template(key: &str) -> Result<Template, DefError> {
    if let Some(var) = key.strip_prefix("env:") {
        template(&format!("${{{var}}}"), "auth.key")
    } else if key.contains('{') {
        template(key, "auth.key")
    } else {
        template(&format!("${{{key}}}"), "auth.key")
    }
}

fn parse_auth(root: &Map<String, Value>) -> Result<AuthSpec, DefError> {
    let none = AuthSpec {
        kind: AuthKind::None,
        required: false,
        secret: None,
        username: None,
        password: None,
    };
    let Some(auth) = opt_map(root, "", "auth")? else {
        return Ok(none);
    };
    check_keys(auth, "auth", AUTH_KEYS)?;
    let required = opt_bool(auth, "auth", "required")?;
    let kind_text = opt_str(auth, "auth", "type")?
        .unwrap_or("")
        .to_ascii_lowercase();
    let key = opt_str(auth, "auth", "key")?.filter(|k| !k.is_empty());
    let header = opt_str(auth, "auth", "header")?.map(str::to_string);
    let prefix = opt_str(auth, "auth", "prefix")?.map(str::to_string);
    let param = opt_str(auth, "auth", "param")?.map(str::to_string);
    let username = opt_str(auth, "auth", "username")?
        .map(|t| template(t, "auth.username"))
        .transpose()?;
    let password = opt_str(auth, "auth", "password")?
        .map(|t| template(t, "auth.password"))
        .transpose()?;
    let kind = match kind_text.as_str() {
        "" | "none" if key.is_none() && username.is_none() => return Ok(none),
        "none" => return Ok(none),
        "bearer" | "oauth" | "oauth2" | "token" | "" => AuthKind::Bearer {
            header: header.unwrap_or_else(|| "Authorization".to_string()),
            prefix: prefix.unwrap_or_else(|| "Bearer".to_string()),
        },
        "api_key" | "apikey" | "api-key" => match param {
            Some(param) => AuthKind::ApiKeyQuery { param },
            None => AuthKind::ApiKeyHeader {
                header: header.unwrap_or_else(|| "Authorization".to_string()),
                prefix: prefix.unwrap_or_default(),
            },
        },
        "basic" => AuthKind::Basic,
        other => {
            return err(
                "auth.type",
                format!("`{other}` is not supported (bearer, api_key, basic, none)"),
            );
        }
    };
    if let AuthKind::Bearer { header, .. } | AuthKind::ApiKeyHeader { header, .. } = &kind
        && reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
    {
        return err(
            "auth.header",
            format!("`{header}` is not a valid HTTP header name"),
        );
    }
    if let Some(k) = key
        && !k.starts_with("env:")
        && !k.contains('{')
        && k.contains(':')
    {
        return err(
            "auth.key",
            format!("`{k}`: only environment variables hold secrets (`env:VAR` or `${{VAR}}`)"),
        );
    }
    let secret = key.map(secret_template).transpose()?;
    if secret.is_none() && !(kind == AuthKind::Basic && username.is_some()) {
        return err(
            "auth.key",
            "missing: name the environment variable holding the secret, e.g. `${API_TOKEN}`",
        );
    }
    Ok(AuthSpec {
        kind,
        required: required.unwrap_or(true),
        secret,
        username,
        password,
    })
}

fn parse_annotations(
    root: &Map<String, Value>,
    method: &reqwest::Method,
) -> Result<Annotations, DefError> {
    let meta = opt_map(root, "", "metadata")?;
    let ann = opt_map(root, "", "annotations")?;
    if let Some(a) = ann {
        check_keys(a, "annotations", ANNOTATION_KEYS)?;
    }
    let get = |key: &str| -> Result<Option<bool>, DefError> {
        if let Some(a) = ann
            && let Some(v) = opt_bool(a, "annotations", key)?
        {
            return Ok(Some(v));
        }
        match meta {
            Some(m) => opt_bool(m, "metadata", key),
            None => Ok(None),
        }
    };
    let safe_method = matches!(
        *method,
        reqwest::Method::GET | reqwest::Method::HEAD | reqwest::Method::OPTIONS
    );
    let read_only = get("read_only")?.unwrap_or(safe_method);
    let destructive =
        get("destructive")?.unwrap_or(!read_only && *method == reqwest::Method::DELETE);
    let idempotent = get("idempotent")?
        .unwrap_or(read_only || matches!(*method, reqwest::Method::PUT | reqwest::Method::DELETE));
    let open_world = get("open_world")?.unwrap_or(true);
    Ok(Annotations {
        read_only,
        destructive,
        idempotent,
        open_world,
    })
}

impl Capability {
    /// The MCP `Tool` object served for this capability.
    pub fn tool(&self) -> Value {
        let mut annotations = Map::new();
        if let Some(t) = &self.title {
            annotations.insert("title".into(), Value::String(t.clone()));
        }
        annotations.insert(
            "readOnlyHint".into(),
            Value::Bool(self.annotations.read_only),
        );
        annotations.insert(
            "destructiveHint".into(),
            Value::Bool(self.annotations.destructive),
        );
        annotations.insert(
            "idempotentHint".into(),
            Value::Bool(self.annotations.idempotent),
        );
        annotations.insert(
            "openWorldHint".into(),
            Value::Bool(self.annotations.open_world),
        );
        let mut tool = Map::new();
        tool.insert("name".into(), Value::String(self.name.clone()));
        if let Some(t) = &self.title {
            tool.insert("title".into(), Value::String(t.clone()));
        }
        tool.insert(
            "description".into(),
            Value::String(self.description.clone()),
        );
        tool.insert("inputSchema".into(), self.input_schema.clone());
        tool.insert("annotations".into(), Value::Object(annotations));
        Value::Object(tool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "name": "thing",
            "description": "Gets a thing",
            "schema": {"input": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}},
            "providers": {"primary": {"service": "rest", "config": {"base_url": "https://x.test", "path": "/things/{id}"}}}
        })
    }

    #[test]
    fn parses_minimal_and_builds_tool() {
        let cap = parse(&minimal()).unwrap();
        assert_eq!(cap.request.method, reqwest::Method::GET);
        let tool = cap.tool();
        assert_eq!(tool["name"], "thing");
        assert_eq!(tool["annotations"]["readOnlyHint"], true);
        assert_eq!(tool["annotations"]["destructiveHint"], false);
        assert_eq!(tool["inputSchema"]["required"], json!(["id"]));
    }

    #[test]
    fn errors_name_the_key() {
        let mut d = minimal();
        d["providers"]["primary"]["config"]["methd"] = json!("GET");
        assert_eq!(
            parse(&d).unwrap_err(),
            DefError {
                key: "providers.primary.config.methd".into(),
                message: "unknown key (did you mean `method`?)".into()
            }
        );
        let mut d = minimal();
        d["providers"]["primary"]["config"]["path"] = json!("/things/{idd}");
        let e = parse(&d).unwrap_err();
        assert_eq!(e.key, "providers.primary.config.base_url");
        assert!(e.message.contains("did you mean `id`"), "{}", e.message);
        let mut d = minimal();
        d["name"] = json!("bad name!");
        assert_eq!(parse(&d).unwrap_err().key, "name");
        let mut d = minimal();
        d["auth"] = json!({"type": "kerberos", "key": "env:X"});
        assert_eq!(parse(&d).unwrap_err().key, "auth.type");
        let mut d = minimal();
        d["schema"]["input"]["required"] = json!(["nope"]);
        assert_eq!(parse(&d).unwrap_err().key, "schema.input.required");
    }

    #[test]
    fn auth_kinds() {
        let mut d = minimal();
        d["auth"] = json!({"required": true, "type": "api_key", "key": "env:K", "param": "apikey"});
        assert_eq!(
            parse(&d).unwrap().auth.kind,
            AuthKind::ApiKeyQuery {
                param: "apikey".into()
            }
        );
        d["auth"] = json!({"type": "api_key", "key": "${K}", "header": "X-Api-Key"});
        assert_eq!(
            parse(&d).unwrap().auth.kind,
            AuthKind::ApiKeyHeader {
                header: "X-Api-Key".into(),
                prefix: String::new()
            }
        );
        d["auth"] = json!({"required": false});
        assert_eq!(parse(&d).unwrap().auth.kind, AuthKind::None);
        d["auth"] = json!({"type": "basic", "username": "${U}", "password": "${P}"});
        assert_eq!(parse(&d).unwrap().auth.kind, AuthKind::Basic);
    }
}
