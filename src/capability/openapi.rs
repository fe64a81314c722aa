//! OpenAPI 3.0 / 3.1 → capability files (`mcp-gateway cap import`).
//!
//! Owns turning each operation of a spec into one capability document: local `$ref`s resolved
//! (cycles cut), path/query/header parameters and JSON, form or text bodies mapped to
//! arguments, security schemes mapped to environment-variable auth, and a reason for every
//! operation skipped. It never fetches remote `$ref`s, and it writes only into the output
//! directory it is given, each file validated by the same loader the gateway uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::definition::{MAX_NAME_LEN, valid_tool_name};

/// Longest description written into a capability.
const MAX_DESCRIPTION: usize = 2000;
/// Nested `$ref` expansions deeper than this are cut to a plain schema.
const MAX_REF_DEPTH: usize = 12;
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {source_name}: {message}")]
    Read {
        source_name: String,
        message: String,
    },
    #[error("{source_name} is neither JSON nor YAML: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("{source_name} is not an OpenAPI 3.x document: {message}")]
    NotOpenApi {
        source_name: String,
        message: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid --include pattern `{pattern}`: {message}")]
    Include { pattern: String, message: String },
}

/// Options of one import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Prefix for tool names (`P_name`) and environment variables (`P_TOKEN`).
    pub prefix: Option<String>,
    /// Only operations whose tool name, operationId or path matches one of these globs.
    pub include: Vec<String>,
    /// Base URL when the spec's `servers` is missing or relative.
    pub base_url: Option<String>,
}

/// One generated capability.
#[derive(Debug, Clone)]
pub struct Generated {
    pub name: String,
    /// `GET /pets/{id}`.
    pub operation: String,
    pub document: Value,
}

/// The outcome of converting a spec.
#[derive(Debug, Default)]
pub struct Conversion {
    pub generated: Vec<Generated>,
    /// (`METHOD /path`, reason).
    pub skipped: Vec<(String, String)>,
    /// Operations left out by `--include`.
    pub excluded: usize,
    /// Environment variables the generated capabilities read.
    pub env_vars: BTreeSet<String>,
}

/// Reads a spec from a file path or an http(s) URL.
pub async fn read_spec(source: &str) -> Result<(Value, Option<url::Url>), ImportError> {
    let read_err = |message: String| ImportError::Read {
        source_name: source.to_string(),
        message,
    };
    let (text, url) = if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(source).map_err(|e| read_err(e.to_string()))?;
        let response = reqwest::Client::new()
            .get(url.clone())
            .send()
            .await
            .map_err(|e| read_err(e.to_string()))?;
        if !response.status().is_success() {
            return Err(read_err(format!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| read_err(e.to_string()))?;
        (text, Some(url))
    } else {
        let text = std::fs::read_to_string(source).map_err(|e| read_err(e.to_string()))?;
        (text, None)
    };
    Ok((parse_spec(&text, source)?, url))
}

/// Parses spec text (JSON first, then YAML) and checks it is OpenAPI 3.x.
pub fn parse_spec(text: &str, source_name: &str) -> Result<Value, ImportError> {
    let spec: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json_err) => serde_saphyr::from_str(text).map_err(|yaml_err| ImportError::Parse {
            source_name: source_name.to_string(),
            message: format!(
                "as JSON: {json_err}; as YAML: {}",
                yaml_err.to_string().lines().next().unwrap_or("")
            ),
        })?,
    };
    match spec.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => Ok(spec),
        Some(v) => Err(ImportError::NotOpenApi {
            source_name: source_name.to_string(),
            message: format!("version {v} (only 3.0 and 3.1 are supported)"),
        }),
        None if spec.get("swagger").is_some() => Err(ImportError::NotOpenApi {
            source_name: source_name.to_string(),
            message: "Swagger 2.0 (convert it to OpenAPI 3 first)".to_string(),
        }),
        None => Err(ImportError::NotOpenApi {
            source_name: source_name.to_string(),
            message: "no `openapi` version field".to_string(),
        }),
    }
}

fn upper_snake(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    let out: String = out.chars().take(30).collect();
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("API_{out}")
    } else {
        out
    }
}

/// `text` as a tool-name fragment: `[A-Za-z0-9_-]`, others become `_`.
fn name_fragment(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_string()
}

/// An argument name usable in `{…}` templates.
fn arg_name(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "arg".to_string()
    } else {
        out
    }
}

/// Limits a name to the tool-name length, keeping it unique with a short hash suffix.
fn fit_name(name: String) -> String {
    if name.len() <= MAX_NAME_LEN {
        return name;
    }
    let hash = &super::pins::sha256_hex(name.as_bytes())[..8];
    let keep: String = name.chars().take(MAX_NAME_LEN - 9).collect();
    format!("{keep}_{hash}")
}

/// Resolves local `$ref`s inside `value` (JSON pointers into `spec`).
struct Resolver<'a> {
    spec: &'a Value,
}

#[derive(Debug)]
struct Unusable(String);

impl<'a> Resolver<'a> {
    fn lookup(&self, reference: &str) -> Result<&'a Value, Unusable> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(Unusable(format!(
                "remote $ref `{reference}` is not fetched"
            )));
        };
        self.spec
            .pointer(pointer)
            .ok_or_else(|| Unusable(format!("$ref `{reference}` points nowhere")))
    }

    /// `value` with every `$ref` replaced by its target (recursively), cycles cut to `{}`.
    fn resolve(&self, value: &Value, stack: &mut Vec<String>) -> Result<Value, Unusable> {
        match value {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    if stack.contains(r) || stack.len() >= MAX_REF_DEPTH {
                        return Ok(json!({"description": "(recursive structure, not expanded)"}));
                    }
                    let target = self.lookup(r)?;
                    stack.push(r.clone());
                    let resolved = self.resolve(target, stack);
                    stack.pop();
                    let mut resolved = resolved?;
                    // 3.1 allows siblings next to $ref (description, …): they win.
                    if let Value::Object(out) = &mut resolved {
                        for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "$ref") {
                            out.insert(k.clone(), self.resolve(v, stack)?);
                        }
                    }
                    return Ok(resolved);
                }
                let mut out = Map::new();
                for (k, v) in m {
                    if matches!(
                        k.as_str(),
                        "xml" | "externalDocs" | "discriminator" | "example" | "examples"
                    ) {
                        continue;
                    }
                    out.insert(k.clone(), self.resolve(v, stack)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(a) => a
                .iter()
                .map(|v| self.resolve(v, stack))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
}

/// Drops `readOnly` properties from a request-body schema (the server sets them).
fn drop_read_only(schema: &mut Value) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        let read_only: Vec<String> = props
            .iter()
            .filter(|(_, v)| v.get("readOnly").and_then(Value::as_bool) == Some(true))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &read_only {
            props.remove(k);
        }
        if let Some(req) = schema.get_mut("required").and_then(Value::as_array_mut) {
            req.retain(|r| r.as_str().is_none_or(|r| !read_only.iter().any(|k| k == r)));
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The base URL template for the generated files.
fn base_url(
    spec: &Value,
    opts: &ImportOptions,
    spec_url: Option<&url::Url>,
    env_prefix: &str,
) -> String {
    let var = format!("{env_prefix}_BASE_URL");
    if let Some(b) = &opts.base_url {
        return format!("${{{var}:-{}}}", b.trim_end_matches('/'));
    }
    let server = spec.pointer("/servers/0");
    let mut url = server
        .and_then(|s| s.get("url"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(vars) = server
        .and_then(|s| s.get("variables"))
        .and_then(Value::as_object)
    {
        for (k, v) in vars {
            let default = v.get("default").and_then(Value::as_str).unwrap_or("");
            url = url.replace(&format!("{{{k}}}"), default);
        }
    }
    let url = url.trim_end_matches('/').to_string();
    if url.starts_with("http://") || url.starts_with("https://") {
        return format!("${{{var}:-{url}}}");
    }
    if let Some(resolved) = spec_url.and_then(|base| base.join(&url).ok()) {
        return format!("${{{var}:-{}}}", resolved.as_str().trim_end_matches('/'));
    }
    format!("${{{var}}}{url}")
}

/// The auth block for an operation, or why it cannot be expressed.
fn auth_block(
    spec: &Value,
    op: &Value,
    env_prefix: &str,
    env_vars: &mut BTreeSet<String>,
) -> Result<Option<Value>, Unusable> {
    let requirements = op
        .get("security")
        .or_else(|| spec.get("security"))
        .and_then(Value::as_array);
    let Some(requirements) = requirements.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let optional = requirements
        .iter()
        .any(|r| r.as_object().is_some_and(Map::is_empty));
    let schemes = spec.pointer("/components/securitySchemes");
    let mut cookie_only = None;
    for requirement in requirements.iter().filter_map(Value::as_object) {
        for scheme_name in requirement.keys() {
            let Some(scheme) = schemes.and_then(|s| s.get(scheme_name)) else {
                continue;
            };
            let scheme = if let Some(r) = scheme.get("$ref").and_then(Value::as_str) {
                match (Resolver { spec }).lookup(r) {
                    Ok(s) => s,
                    Err(_) => continue,
                }
            } else {
                scheme
            };
            let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
            let http_scheme = scheme
                .get("scheme")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            let mut block = match (kind, http_scheme.as_str()) {
                ("http", "basic") => {
                    let (u, p) = (
                        format!("{env_prefix}_USERNAME"),
                        format!("{env_prefix}_PASSWORD"),
                    );
                    env_vars.insert(u.clone());
                    env_vars.insert(p.clone());
                    json!({"type": "basic", "username": format!("${{{u}}}"), "password": format!("${{{p}}}")})
                }
                ("http", _) | ("oauth2", _) | ("openIdConnect", _) => {
                    let v = format!("{env_prefix}_TOKEN");
                    env_vars.insert(v.clone());
                    json!({"type": "bearer", "key": format!("${{{v}}}")})
                }
                ("apiKey", _) => {
                    let name = scheme.get("name").and_then(Value::as_str).unwrap_or("");
                    let v = format!("{env_prefix}_API_KEY");
                    match scheme.get("in").and_then(Value::as_str) {
                        Some("header") if !name.is_empty() => {
                            env_vars.insert(v.clone());
                            json!({"type": "api_key", "header": name, "key": format!("${{{v}}}")})
                        }
                        Some("query") if !name.is_empty() => {
                            env_vars.insert(v.clone());
                            json!({"type": "api_key", "param": name, "key": format!("${{{v}}}")})
                        }
                        other => {
                            cookie_only = Some(format!(
                                "security scheme `{scheme_name}` (apiKey in {}) cannot be sent",
                                other.unwrap_or("?")
                            ));
                            continue;
                        }
                    }
                }
                _ => continue,
            };
            if let Some(obj) = block.as_object_mut() {
                obj.insert("required".into(), Value::Bool(!optional));
            }
            return Ok(Some(block));
        }
    }
    match cookie_only {
        Some(reason) if !optional => Err(Unusable(reason)),
        _ => Ok(None),
    }
}

struct Args {
    properties: Map<String, Value>,
    required: Vec<String>,
}

impl Args {
    /// Adds an argument under a name not yet taken (`name`, `{alt}_{name}`, `name_2`, …).
    fn add(&mut self, wanted: &str, alt_prefix: &str, schema: Value, required: bool) -> String {
        let base = arg_name(wanted);
        let mut name = base.clone();
        if self.properties.contains_key(&name) {
            name = format!("{alt_prefix}_{base}");
        }
        let mut n = 2;
        while self.properties.contains_key(&name) {
            name = format!("{alt_prefix}_{base}_{n}");
            n += 1;
        }
        self.properties.insert(name.clone(), schema);
        if required {
            self.required.push(name.clone());
        }
        name
    }
}

/// The JSON schema of a parameter (`schema`, or the first media type of `content`).
fn param_schema(param: &Value) -> Value {
    let mut schema = param
        .get("schema")
        .cloned()
        .or_else(|| {
            param
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
                .cloned()
        })
        .unwrap_or_else(|| json!({"type": "string"}));
    if let (Some(d), Value::Object(m)) = (
        param.get("description").and_then(Value::as_str),
        &mut schema,
    ) && !m.contains_key("description")
    {
        m.insert("description".into(), Value::String(truncate(d, 500)));
    }
    schema
}

/// Converts one operation into a capability document.
#[allow(clippy::too_many_arguments)]
fn convert_operation(
    spec: &Value,
    resolver: &Resolver,
    path: &str,
    path_item: &Value,
    method: &str,
    op: &Value,
    name: &str,
    base: &str,
    env_prefix: &str,
    env_vars: &mut BTreeSet<String>,
) -> Result<Value, Unusable> {
    let mut stack = Vec::new();
    let op = resolver.resolve(op, &mut stack)?;
    // Parameters: path-level first, overridden by operation-level (same name + in).
    let mut params: Vec<Value> = Vec::new();
    for source in [path_item.get("parameters"), op.get("parameters")] {
        for p in source.and_then(Value::as_array).into_iter().flatten() {
            let p = resolver.resolve(p, &mut stack)?;
            let key = |v: &Value| (v.get("name").cloned(), v.get("in").cloned());
            params.retain(|existing| key(existing) != key(&p));
            params.push(p);
        }
    }
    let mut args = Args {
        properties: Map::new(),
        required: Vec::new(),
    };
    let mut url_path = path.to_string();
    let mut param_map = Map::new();
    let mut headers = Map::new();
    for p in &params {
        let api_name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let location = p.get("in").and_then(Value::as_str).unwrap_or("");
        if api_name.is_empty() {
            return Err(Unusable(format!("a {location} parameter has no name")));
        }
        let required = p
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(location == "path");
        match location {
            "path" => {
                let arg = args.add(api_name, "path", param_schema(p), true);
                url_path = url_path.replace(&format!("{{{api_name}}}"), &format!("{{{arg}}}"));
            }
            "query" => {
                let arg = args.add(api_name, "query", param_schema(p), required);
                param_map.insert(arg, Value::String(api_name.to_string()));
            }
            "header" => {
                if ["accept", "content-type", "authorization"]
                    .contains(&api_name.to_ascii_lowercase().as_str())
                {
                    continue;
                }
                if reqwest::header::HeaderName::from_bytes(api_name.as_bytes()).is_err() {
                    return Err(Unusable(format!(
                        "header parameter `{api_name}` is not a valid header name"
                    )));
                }
                let arg = args.add(api_name, "header", param_schema(p), required);
                headers.insert(api_name.to_string(), Value::String(format!("{{{arg}}}")));
            }
            "cookie" if required => {
                return Err(Unusable(format!(
                    "required cookie parameter `{api_name}` cannot be sent"
                )));
            }
            _ => {}
        }
    }
    // Every `{x}` in the path must be a parameter.
    let template = super::template::Template::parse(&url_path)
        .map_err(|e| Unusable(format!("path `{url_path}`: {e}")))?;
    if let Some(missing) = template.args().find(|a| !args.properties.contains_key(*a)) {
        return Err(Unusable(format!(
            "path placeholder `{{{missing}}}` has no parameter"
        )));
    }

    let mut body = None;
    let mut body_content_type = None;
    if let Some(rb) = op.get("requestBody") {
        let required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
        let content = rb.get("content").and_then(Value::as_object);
        let pick = |pred: &dyn Fn(&str) -> bool| {
            content.and_then(|c| c.iter().find(|(mt, _)| pred(&mt.to_ascii_lowercase())))
        };
        let json_media = pick(&|mt| {
            mt == "application/json" || mt.ends_with("+json") || mt.starts_with("application/json")
        });
        let form_media = pick(&|mt| mt == "application/x-www-form-urlencoded");
        let text_media = pick(&|mt| mt.starts_with("text/plain"));
        let chosen = json_media
            .map(|m| ("json", m))
            .or(form_media.map(|m| ("form", m)))
            .or(text_media.map(|m| ("text", m)));
        match chosen {
            Some((kind, (_, media))) => {
                let mut schema = media.get("schema").cloned().unwrap_or_else(|| json!({}));
                drop_read_only(&mut schema);
                let props = schema.get("properties").and_then(Value::as_object).cloned();
                match (kind, props) {
                    ("json" | "form", Some(props))
                        if schema.get("type").is_none_or(|t| t == "object") =>
                    {
                        let body_required: Vec<String> = schema
                            .get("required")
                            .and_then(Value::as_array)
                            .map(|r| {
                                r.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        let mut template = Map::new();
                        for (prop, prop_schema) in props {
                            let arg = args.add(
                                &prop,
                                "body",
                                prop_schema,
                                required && body_required.contains(&prop),
                            );
                            template.insert(prop, Value::String(format!("{{{arg}}}")));
                        }
                        body = Some(Value::Object(template));
                    }
                    ("text", _) => {
                        let arg = args.add(
                            "body",
                            "request",
                            json!({"type": "string", "description": "Request body (text)"}),
                            required,
                        );
                        body = Some(Value::String(format!("{{{arg}}}")));
                    }
                    _ => {
                        if let Value::Object(m) = &mut schema
                            && !m.contains_key("description")
                        {
                            m.insert("description".into(), Value::String("Request body".into()));
                        }
                        let arg = args.add("body", "request", schema, required);
                        body = Some(Value::String(format!("{{{arg}}}")));
                    }
                }
                body_content_type = match kind {
                    "form" => Some("application/x-www-form-urlencoded"),
                    "text" => Some("text/plain"),
                    _ => None,
                };
            }
            None if required => {
                let types: Vec<&String> = content.map(|c| c.keys().collect()).unwrap_or_default();
                return Err(Unusable(format!(
                    "request body media type {} is not supported (JSON, form or text only)",
                    types
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            None => {}
        }
    }

    let summary = op
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let details = op
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let mut description = match (summary.is_empty(), details.is_empty()) {
        (false, false) if details.starts_with(summary) => details.to_string(),
        (false, false) => format!("{summary}\n\n{details}"),
        (false, true) => summary.to_string(),
        (true, false) => details.to_string(),
        (true, true) => format!("{} {path}", method.to_ascii_uppercase()),
    };
    if op.get("deprecated").and_then(Value::as_bool) == Some(true) {
        description = format!("(Deprecated) {description}");
    }
    let description = truncate(&description, MAX_DESCRIPTION);

    let mut input = Map::new();
    input.insert("type".into(), json!("object"));
    input.insert("properties".into(), Value::Object(args.properties));
    if !args.required.is_empty() {
        input.insert("required".into(), json!(args.required));
    }
    let mut config = Map::new();
    config.insert("base_url".into(), Value::String(base.to_string()));
    config.insert("path".into(), Value::String(url_path));
    config.insert("method".into(), Value::String(method.to_ascii_uppercase()));
    if !headers.is_empty() {
        config.insert("headers".into(), Value::Object(headers));
    }
    if !param_map.is_empty() {
        config.insert("param_map".into(), Value::Object(param_map));
    }
    if let Some(b) = body {
        config.insert("body".into(), b);
    }
    if let Some(ct) = body_content_type {
        config.insert("body_content_type".into(), Value::String(ct.to_string()));
    }
    let mut doc = Map::new();
    doc.insert("fulcrum".into(), json!("1.0"));
    doc.insert("name".into(), Value::String(name.to_string()));
    doc.insert("description".into(), Value::String(description));
    doc.insert("schema".into(), json!({"input": Value::Object(input)}));
    doc.insert(
        "providers".into(),
        json!({"primary": {"service": "rest", "timeout": 30, "config": Value::Object(config)}}),
    );
    if let Some(auth) = auth_block(spec, &op, env_prefix, env_vars)? {
        doc.insert("auth".into(), auth);
    }
    let tags: Vec<Value> = op
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut metadata = Map::new();
    if !tags.is_empty() {
        metadata.insert("tags".into(), Value::Array(tags));
    }
    metadata.insert(
        "source".into(),
        Value::String(format!("{} {path}", method.to_ascii_uppercase())),
    );
    if let Some(id) = op.get("operationId") {
        metadata.insert("operation_id".into(), id.clone());
    }
    doc.insert("metadata".into(), Value::Object(metadata));
    Ok(Value::Object(doc))
}

/// Converts every operation of `spec` (no I/O).
pub fn convert(
    spec: &Value,
    opts: &ImportOptions,
    spec_url: Option<&url::Url>,
) -> Result<Conversion, ImportError> {
    let include: Vec<globset::GlobMatcher> = opts
        .include
        .iter()
        .map(|p| {
            globset::Glob::new(p)
                .map(|g| g.compile_matcher())
                .map_err(|e| ImportError::Include {
                    pattern: p.clone(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let env_prefix = match &opts.prefix {
        Some(p) => upper_snake(p),
        None => upper_snake(
            spec.pointer("/info/title")
                .and_then(Value::as_str)
                .unwrap_or("API"),
        ),
    };
    let name_prefix = opts
        .prefix
        .as_deref()
        .map(name_fragment)
        .filter(|p| !p.is_empty());
    let base = base_url(spec, opts, spec_url, &env_prefix);
    let resolver = Resolver { spec };
    let mut out = Conversion::default();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let paths: BTreeMap<&String, &Value> = spec
        .get("paths")
        .and_then(Value::as_object)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    for (path, item) in paths {
        // A path item may itself be a `$ref`; its operations are resolved one by one below.
        let item = match item.get("$ref").and_then(Value::as_str) {
            Some(r) => match resolver.lookup(r) {
                Ok(i) => i.clone(),
                Err(Unusable(reason)) => {
                    out.skipped.push((format!("* {path}"), reason));
                    continue;
                }
            },
            None => (*item).clone(),
        };
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let operation = format!("{} {path}", method.to_ascii_uppercase());
            let op_id = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string);
            let raw = op_id
                .as_deref()
                .map(name_fragment)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| name_fragment(&format!("{method}_{path}")));
            let raw = match &name_prefix {
                Some(p) => format!("{p}_{raw}"),
                None => raw,
            };
            let mut name = fit_name(raw);
            let mut n = 2;
            while taken.contains(&name) {
                name = fit_name(format!("{name}_{n}"));
                n += 1;
            }
            if !include.is_empty()
                && !include.iter().any(|g| {
                    g.is_match(&name)
                        || g.is_match(path)
                        || op_id.as_deref().is_some_and(|id| g.is_match(id))
                })
            {
                out.excluded += 1;
                continue;
            }
            if !valid_tool_name(&name) {
                out.skipped.push((
                    operation,
                    format!("cannot derive a valid tool name (`{name}`)"),
                ));
                continue;
            }
            match convert_operation(
                spec,
                &resolver,
                path,
                &item,
                method,
                op,
                &name,
                &base,
                &env_prefix,
                &mut out.env_vars,
            ) {
                Ok(document) => {
                    taken.insert(name.clone());
                    out.generated.push(Generated {
                        name,
                        operation,
                        document,
                    });
                }
                Err(Unusable(reason)) => out.skipped.push((operation, reason)),
            }
        }
    }
    if base.starts_with("${") && !base.contains(":-") {
        out.env_vars.insert(format!("{env_prefix}_BASE_URL"));
    }
    Ok(out)
}

/// Result of writing a conversion.
#[derive(Debug, Default)]
pub struct WriteReport {
    pub written: Vec<PathBuf>,
    /// (operation, reason) for documents that failed validation or the scanner.
    pub rejected: Vec<(String, String)>,
}

/// Writes each generated capability to `dir/<name>.yaml`, after checking it loads cleanly and
/// has no high-severity scanner finding.
pub fn write(conversion: &Conversion, dir: &Path) -> Result<WriteReport, ImportError> {
    std::fs::create_dir_all(dir).map_err(|source| ImportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut report = WriteReport::default();
    for g in &conversion.generated {
        let path = dir.join(format!("{}.yaml", g.name));
        let yaml = match serde_saphyr::to_string(&g.document) {
            Ok(y) => format!("# Imported from OpenAPI: {}\n{y}", g.operation),
            Err(e) => {
                report
                    .rejected
                    .push((g.operation.clone(), format!("cannot write YAML: {e}")));
                continue;
            }
        };
        match super::parse_text(&yaml, &path) {
            Ok(cap) => {
                let findings = crate::scanner::scan_tool(&cap.tool());
                if let Some(high) = findings
                    .iter()
                    .find(|f| f.severity == crate::scanner::Severity::High)
                {
                    report.rejected.push((
                        g.operation.clone(),
                        format!("withheld by the scanner: {high}"),
                    ));
                    continue;
                }
            }
            Err(p) => {
                report
                    .rejected
                    .push((g.operation.clone(), format!("does not load: {p}")));
                continue;
            }
        }
        std::fs::write(&path, yaml).map_err(|source| ImportError::Write {
            path: path.clone(),
            source,
        })?;
        report.written.push(path);
    }
    Ok(report)
}
