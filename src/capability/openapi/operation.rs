//! One OpenAPI operation → one capability document: its base URL, its auth block from the
//! security schemes, its arguments from path/query/header parameters and the request body.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::resolve::{Resolver, Unusable, drop_read_only, truncate};
use super::{ImportOptions, MAX_DESCRIPTION, arg_name};
/// The base URL template for the generated files.
pub(super) fn base_url(
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
pub(super) fn auth_block(
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

pub(super) struct Args {
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
pub(super) fn param_schema(param: &Value) -> Value {
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
pub(super) fn convert_operation(
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
    let template = crate::capability::template::Template::parse(&url_path)
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
