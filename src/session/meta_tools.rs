//! The meta-tools: `gateway_search_tools`, `gateway_invoke`, `gateway_list_servers`,
//! `gateway_list_tools`.
//!
//! Their names, descriptions and schemas are constants: they never depend on the backends, so the
//! client's prompt cache survives any change behind the gateway (no live counts here). Tool-level
//! failures (unknown server or tool, a backend that cannot start) are `isError: true` results that
//! name the nearest matches; backend results are returned exactly as the backend sent them.

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::access::{InvokeError, requires_task};
use super::{DISCOVERY_WAIT, Failure, Outcome, Session, clip};
use crate::capability::schema::type_name;
use crate::error::CallError;
use crate::gateway::Kind;
use crate::jsonrpc::{ErrorObject, code, to_raw};
use crate::peer::CallContext;
use crate::search::render_match;

pub const SEARCH: &str = "gateway_search_tools";
pub const INVOKE: &str = "gateway_invoke";
pub const LIST_SERVERS: &str = "gateway_list_servers";
pub const LIST_TOOLS: &str = "gateway_list_tools";

/// `instructions` of the `initialize` result.
pub const INSTRUCTIONS: &str = "Tools of many servers sit behind this gateway. Find one with \
gateway_search_tools, then call it with gateway_invoke using the server, tool and inputSchema \
from the match.";

const DEFAULT_LIMIT: u64 = 5;
const MAX_LIMIT: u64 = 25;
/// Longest description shown by `gateway_list_tools`.
const LIST_DESCRIPTION_CHARS: usize = 120;

/// The meta-tool definitions, always the same.
pub fn definitions() -> Vec<Value> {
    vec![
        json!({
            "name": SEARCH,
            "description": "Search the tools and skills of all connected servers. Use first; returns the best matches with their input schemas.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Task or tool name"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    "server": {"type": "string", "description": "Only this server"},
                    "kind": {"type": "string", "enum": ["tool", "skill"], "description": "Only tools or only skills"}
                },
                "required": ["query"]
            },
            "annotations": {"readOnlyHint": true}
        }),
        json!({
            "name": INVOKE,
            "description": "Call a tool found with gateway_search_tools. Returns that tool's result.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "server": {"type": "string"},
                    "tool": {"type": "string"},
                    "arguments": {"type": "object", "description": "Per the tool's inputSchema"}
                },
                "required": ["server", "tool"]
            }
        }),
        json!({
            "name": LIST_SERVERS,
            "description": "List the connected servers with their state and tool count.",
            "inputSchema": {"type": "object", "properties": {}},
            "annotations": {"readOnlyHint": true}
        }),
        json!({
            "name": LIST_TOOLS,
            "description": "List one server's tools: names and short descriptions.",
            "inputSchema": {
                "type": "object",
                "properties": {"server": {"type": "string"}},
                "required": ["server"]
            },
            "annotations": {"readOnlyHint": true}
        }),
    ]
}

/// Runs meta-tool `name`, or `None` if it is not one.
pub async fn call(
    session: &Arc<Session>,
    name: &str,
    params: &Value,
    ctx: &CallContext,
) -> Option<Outcome> {
    let args = match params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(other) => {
            return [SEARCH, INVOKE, LIST_SERVERS, LIST_TOOLS]
                .contains(&name)
                .then(|| {
                    Ok(tool_error(format!(
                        "the arguments of {name} must be an object (got {})",
                        type_name(other)
                    )))
                });
        }
    };
    let outcome = match name {
        SEARCH => search(session, &args).await,
        INVOKE => invoke(session, &args, params, ctx).await,
        LIST_SERVERS => Ok(list_servers(session)),
        LIST_TOOLS => list_tools(session, &args).await,
        _ => return None,
    };
    Some(outcome)
}

/// `(server, tool)` a meta-tool call is about, for the request log (`None`: not a meta-tool).
pub fn target(name: &str, params: &Value) -> Option<(String, String)> {
    let args = params.get("arguments").unwrap_or(&Value::Null);
    match name {
        INVOKE => Some((
            str_arg(args, &["server", "backend"])
                .unwrap_or("")
                .to_string(),
            str_arg(args, &["tool", "name"]).unwrap_or("").to_string(),
        )),
        LIST_TOOLS => Some((
            str_arg(args, &["server", "backend"])
                .unwrap_or("")
                .to_string(),
            name.to_string(),
        )),
        SEARCH | LIST_SERVERS => Some((String::new(), name.to_string())),
        _ => None,
    }
}

/// A successful tool result carrying `value` as structured content and as text.
fn structured(value: Value) -> Box<RawValue> {
    let text = serde_json::to_string(&value).unwrap_or_default();
    to_raw(&json!({
        "content": [{"type": "text", "text": text}],
        "structuredContent": value,
    }))
}

/// A tool-level failure the model can read.
fn tool_error(text: impl Into<String>) -> Box<RawValue> {
    to_raw(&json!({
        "content": [{"type": "text", "text": text.into()}],
        "isError": true,
    }))
}

/// `limit` of gateway_search_tools: absent means the default; anything but an integer from 1 to
/// [`MAX_LIMIT`] is refused with a message saying so (never silently replaced).
fn search_limit(args: &Value) -> Result<usize, String> {
    let Some(v) = args.get("limit").filter(|v| !v.is_null()) else {
        return Ok(DEFAULT_LIMIT as usize);
    };
    let n = v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    });
    match n {
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
        _ => Err(format!(
            "`limit` must be an integer from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}), not {}",
            clip(&v.to_string())
        )),
    }
}

fn str_arg<'a>(args: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| args.get(*k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

async fn search(session: &Arc<Session>, args: &Value) -> Outcome {
    let Some(query) = str_arg(args, &["query"]) else {
        return Ok(tool_error(
            "`query` is required: describe the task or name the tool",
        ));
    };
    let limit = match search_limit(args) {
        Ok(n) => n,
        Err(why) => return Ok(tool_error(why)),
    };
    let kind = match args.get("kind").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match v.as_str().and_then(Kind::parse) {
            Some(k) => Some(k),
            None => {
                return Ok(tool_error(format!(
                    "`kind` must be \"tool\" or \"skill\", not {}",
                    clip(&v.to_string())
                )));
            }
        },
    };
    let server = str_arg(args, &["server", "backend"]);
    let gw = &session.gateway;
    if let Some(s) = server
        && (gw.backend(s).is_none() || !session.sees_server(s))
    {
        return Ok(tool_error(session.access().unknown_server_text(s)));
    }
    let mut pending = gw.wait_for_discovery(DISCOVERY_WAIT).await;
    pending.retain(|s| session.sees_server(s));
    gw.wait_for_index().await;
    let outcome = session
        .access()
        .search(query, limit, server, kind)
        .map_err(|e| Failure::Rpc(ErrorObject::new(code::INTERNAL_ERROR, e.to_string())))?;
    let matches: Vec<Value> = outcome
        .hits
        .iter()
        .map(|hit| {
            let mut m = render_match(hit);
            m["kind"] = json!(gw.kind_of(&hit.doc.server).label());
            let def = gw.catalog.get(&hit.doc.server);
            if def.and_then(|e| e.tool(&hit.doc.name).map(requires_task)) == Some(true) {
                m["requiresTask"] = Value::Bool(true);
            }
            m
        })
        .collect();
    let mut result = json!({ "matches": matches, "total": outcome.total });
    if outcome.no_good_match {
        result["no_good_match"] = json!(true);
        result["note"] =
            json!("no tool fits this query well; rephrase it, or see gateway_list_servers");
    }
    if !pending.is_empty() {
        result["not_ready"] = json!(pending);
        result["note"] = json!("some servers were still starting; search again for their tools");
    }
    Ok(structured(result))
}

async fn invoke(
    session: &Arc<Session>,
    args: &Value,
    params: &Value,
    ctx: &CallContext,
) -> Outcome {
    for key in ["server", "tool"] {
        if let Some(v) = args.get(key).filter(|v| !v.is_string()) {
            return Ok(tool_error(format!(
                "`{key}` must be a string (got {})",
                type_name(v)
            )));
        }
    }
    let (Some(server), Some(tool)) = (
        str_arg(args, &["server", "backend"]),
        str_arg(args, &["tool", "name"]),
    ) else {
        return Ok(tool_error(
            "`server` and `tool` are required (take both from a gateway_search_tools match)",
        ));
    };
    let arguments = match args.get("arguments").or_else(|| args.get("args")) {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(other) => {
            return Ok(tool_error(format!(
                "`arguments` must be an object: the arguments of {}/{} per its inputSchema \
                 (got {})",
                clip(server),
                clip(tool),
                type_name(other)
            )));
        }
    };
    let access = session.access();
    match access
        .invoke(server, tool, arguments, params.get("_meta"), ctx)
        .await
    {
        Ok(result) => Ok(result),
        Err(InvokeError::Call(e @ (CallError::Cancelled | CallError::Timeout { .. }))) => {
            Err(e.into())
        }
        Err(InvokeError::Call(CallError::Backend { error, .. }))
            if error.code == code::INVALID_PARAMS =>
        {
            Ok(tool_error(format!(
                "{server}/{tool} rejected the call: {}",
                error.message
            )))
        }
        Err(other) => Ok(tool_error(other.to_string())),
    }
}

fn list_servers(session: &Arc<Session>) -> Box<RawValue> {
    let gw = &session.gateway;
    let access = session.access();
    let servers: Vec<Value> = gw
        .backends()
        .iter()
        .filter(|b| session.sees_server(b.name()))
        .filter_map(|b| access.server_status(b.name()))
        .collect();
    let mut listing = json!({ "servers": servers, "search": gw.search_mode() });
    if let Some(error) = gw.config_error() {
        listing["notes"] = json!([format!(
            "the config was edited but does not load, so the previous config keeps serving: {error}"
        )]);
    }
    structured(listing)
}

async fn list_tools(session: &Arc<Session>, args: &Value) -> Outcome {
    let Some(server) = str_arg(args, &["server", "backend"]) else {
        return Ok(tool_error("`server` is required"));
    };
    let gw = &session.gateway;
    if gw.backend(server).is_none() || !session.sees_server(server) {
        return Ok(tool_error(session.access().unknown_server_text(server)));
    }
    let Some(entry) = gw.listing_of(server).await else {
        let reason = gw
            .backend(server)
            .map(|b| match b.status() {
                crate::backend::Status::Failed(r) => r,
                s => s.label().to_string(),
            })
            .unwrap_or_default();
        return Ok(tool_error(format!(
            "the tools of '{server}' are not known yet: {reason}"
        )));
    };
    let tools: Vec<Value> = entry
        .tools
        .iter()
        .filter_map(|t| {
            let name = t.get("name")?.as_str()?;
            if !session.permits(server, name) {
                return None;
            }
            let desc = t.get("description").and_then(Value::as_str).unwrap_or("");
            Some(json!({ "name": name, "description": first_line(desc, LIST_DESCRIPTION_CHARS) }))
        })
        .collect();
    Ok(structured(json!({ "server": server, "tools": tools })))
}

/// The first sentence or line of `text`, at most `max` characters.
fn first_line(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("");
    let sentence = line.find(". ").map(|i| &line[..=i]).unwrap_or(line);
    if sentence.chars().count() <= max {
        return sentence.to_string();
    }
    let cut: String = sentence.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_tools_list_fits_the_budget() {
        let list = serde_json::to_string(&json!({ "tools": definitions() })).unwrap();
        assert!(list.len() <= 2048, "tools/list is {} bytes", list.len());
    }

    #[test]
    fn search_limits_outside_the_schema_are_refused_not_replaced() {
        for ok in [json!({}), json!({"limit": null})] {
            assert_eq!(search_limit(&ok), Ok(DEFAULT_LIMIT as usize));
        }
        assert_eq!(search_limit(&json!({"limit": 25})), Ok(25));
        assert_eq!(search_limit(&json!({"limit": 3.0})), Ok(3));
        for bad in [
            json!(-1),
            json!(0),
            json!(26),
            json!(1e9),
            json!(2.5),
            json!("abc"),
            json!([3]),
        ] {
            let err = search_limit(&json!({ "limit": bad })).unwrap_err();
            assert!(
                err.starts_with("`limit` must be an integer from 1 to 25"),
                "{err}"
            );
        }
    }

    #[test]
    fn first_line_trims() {
        assert_eq!(first_line("Read a file. More text.", 50), "Read a file.");
        assert_eq!(first_line("abcdef", 4), "abc…");
    }
}
