//! Resources, prompts and completions: aggregated lists and routed requests.
//!
//! Lists come from the catalog (every backend, without starting any); names and URIs are
//! namespaced reversibly (`server__prompt`, `server+uri`). Requests are routed by those names to
//! one backend with the original name or URI put back; results come back as the backend sent
//! them, except that resource URIs inside are namespaced again so the client can use them.

use serde_json::Value;

use super::{Failure, Outcome};
use crate::catalog::names::{self, NameMap};
use crate::gateway::Gateway;
use crate::jsonrpc::{ErrorObject, code, to_raw};
use crate::peer::CallContext;

/// The result key of a list method.
pub fn list_key(method: &str) -> &'static str {
    match method {
        "resources/list" => "resources",
        "resources/templates/list" => "resourceTemplates",
        _ => "prompts",
    }
}

/// Every enabled backend's items for a list method, namespaced, ordered by backend; only the
/// backends `visible` admits (the caller's scope).
pub fn aggregate(
    gateway: &Gateway,
    method: &str,
    visible: &(dyn Fn(&str) -> bool + Sync),
) -> Vec<Value> {
    let mut items = Vec::new();
    for entry in gateway.catalog.snapshot() {
        if gateway.backend(&entry.backend).is_none() || !visible(&entry.backend) {
            continue;
        }
        let server = entry.backend.as_str();
        let (source, field) = match method {
            "resources/list" => (&entry.resources, "uri"),
            "resources/templates/list" => (&entry.resource_templates, "uriTemplate"),
            _ => (&entry.prompts, "name"),
        };
        for item in source {
            let mut item = item.clone();
            if let Some(original) = item.get(field).and_then(Value::as_str) {
                let public = if field == "name" {
                    names::namespaced(server, original)
                } else {
                    names::namespace_uri(server, original)
                };
                item[field] = Value::String(public);
            }
            items.push(item);
        }
    }
    items
}

fn invalid(message: String) -> Failure {
    Failure::Rpc(ErrorObject::new(code::INVALID_PARAMS, message))
}

/// Splits a public resource URI into its backend and original URI.
fn route_uri<'a>(gateway: &Gateway, public: &'a str) -> Result<(String, &'a str), Failure> {
    match names::split_uri(public) {
        Some((server, uri)) if gateway.backend(&server).is_some() => Ok((server, uri)),
        _ => Err(invalid(format!(
            "unknown resource `{public}`: gateway resource URIs look like `server+original-uri`"
        ))),
    }
}

/// Maps a public prompt name back to its backend and original name, waiting for first
/// discoveries if the name is not known yet (a cold start must cost only time).
async fn route_prompt(gateway: &Gateway, public: &str) -> Result<(String, String), Failure> {
    if let Ok(found) = lookup_prompt(gateway, public) {
        return Ok(found);
    }
    gateway.wait_for_discovery(super::DISCOVERY_WAIT).await;
    lookup_prompt(gateway, public)
}

fn lookup_prompt(gateway: &Gateway, public: &str) -> Result<(String, String), Failure> {
    let snapshot = gateway.catalog.snapshot();
    let map = NameMap::build(snapshot.iter().flat_map(|e| {
        e.prompts
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .map(move |p| (e.backend.as_str(), p))
    }));
    map.resolve(public)
        .map(|(s, p)| (s.to_string(), p.to_string()))
        .ok_or_else(|| invalid(format!("unknown prompt `{public}`")))
}

/// What a routed request names (a prompt name or resource URI, as the client wrote it), for the
/// request log.
pub fn label(params: &Value) -> String {
    params
        .get("name")
        .or_else(|| params.get("uri"))
        .or_else(|| params.pointer("/ref/name"))
        .or_else(|| params.pointer("/ref/uri"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Routes `resources/read|subscribe|unsubscribe`, `prompts/get`, `completion/complete` for
/// `session` to a backend its caller sees (the session's own instance of an isolated one); any
/// other is answered exactly like one that does not exist.
pub async fn routed(
    session: &super::Session,
    method: &str,
    params: Value,
    ctx: &CallContext,
) -> Outcome {
    let gateway: &Gateway = &session.gateway;
    let visible = |s: &str| session.sees_server(s);
    let unknown = |params: &Value| {
        let prompt = method == "prompts/get"
            || params.pointer("/ref/type").and_then(Value::as_str) == Some("ref/prompt");
        if prompt {
            invalid(format!("unknown prompt `{}`", label(params)))
        } else {
            invalid(format!(
                "unknown resource `{}`: gateway resource URIs look like `server+original-uri`",
                label(params)
            ))
        }
    };
    let original = params.clone();
    let mut params = params;
    let server = match method {
        "prompts/get" => {
            let public = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (server, name) = route_prompt(gateway, public).await?;
            params["name"] = Value::String(name);
            server
        }
        "completion/complete" => {
            let reference = params.get("ref").cloned().unwrap_or(Value::Null);
            match reference.get("type").and_then(Value::as_str) {
                Some("ref/prompt") => {
                    let public = reference
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let (server, name) = route_prompt(gateway, public).await?;
                    params["ref"]["name"] = Value::String(name);
                    server
                }
                Some("ref/resource") => {
                    let public = reference
                        .get("uri")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let (server, uri) = route_uri(gateway, public)?;
                    params["ref"]["uri"] = Value::String(uri.to_string());
                    server
                }
                _ => {
                    return Err(invalid(
                        "`ref.type` must be ref/prompt or ref/resource".into(),
                    ));
                }
            }
        }
        _ => {
            let public = params
                .get("uri")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (server, uri) = route_uri(gateway, &public)?;
            params["uri"] = Value::String(uri.to_string());
            server
        }
    };
    if !visible(&server) {
        return Err(unknown(&original));
    }
    let backend = session
        .backend(&server)
        .ok_or_else(|| invalid(format!("unknown server `{server}`")))?;
    let raw = backend.request(method, Some(params), ctx).await?;
    if method != "resources/read" {
        return Ok(raw);
    }
    // Contents carry the backend's URIs; give the client the ones it can read again.
    let mut result: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    if let Some(Value::Array(contents)) = result.get_mut("contents") {
        for c in contents {
            if let Some(uri) = c.get("uri").and_then(Value::as_str) {
                c["uri"] = Value::String(names::namespace_uri(&server, uri));
            }
        }
    }
    Ok(to_raw(&result))
}
