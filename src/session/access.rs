//! What one caller may see and reach, and calling one backend tool for it: the code behind
//! `gateway_invoke` and the REST API's `POST /api/v1/tools/call`.
//!
//! Owns the scope checks of a caller against the gateway's backends (with their tags), the texts
//! for an unknown server or tool (which never name anything outside the scope: a hidden tool gets
//! exactly the answer a tool that does not exist gets), and the one invocation path: learn and
//! screen a backend's tools before forwarding anything, refuse task-only tools, forward the call
//! and record it in the usage profiles ([`forward_call`], also used for surfaced tools). It never shapes the answer for a front (text for the model, HTTP status for
//! REST): callers do that from [`InvokeError`].

use std::sync::Arc;
use std::time::Instant;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::clip;
use crate::auth::Caller;
use crate::backend::{Backend, Status};
use crate::error::CallError;
use crate::gateway::{Gateway, Kind};
use crate::metrics::CallOutcome;
use crate::peer::CallContext;
use crate::search::{SearchError, SearchOutcome};

/// Candidates ranked for a scoped caller before the ones outside its scope are dropped.
const SCOPED_CANDIDATES: usize = 500;

/// A caller's view of the gateway.
#[derive(Clone, Copy)]
pub struct Access<'a> {
    pub gateway: &'a Arc<Gateway>,
    pub caller: &'a Caller,
    /// The session calling, whose own instances of `isolate: true` backends calls go to
    /// (`None`: REST, which has no session, uses the shared instance).
    session: Option<&'a super::Session>,
}

/// Why a tool was not called.
#[derive(Debug)]
pub enum InvokeError {
    /// No such server, or one outside the caller's scope (the message lists visible ones).
    UnknownServer(String),
    /// No such tool, or one outside the caller's scope (did-you-mean among permitted tools).
    UnknownTool(String),
    /// The backend's tools could not be listed, so nothing is forwarded unscreened.
    NotListed(String),
    /// The tool only runs as a task, which the gateway does not support.
    TaskOnly(String),
    /// The backend (or the way to it) failed the call.
    Call(CallError),
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::UnknownServer(m)
            | InvokeError::UnknownTool(m)
            | InvokeError::NotListed(m)
            | InvokeError::TaskOnly(m) => f.write_str(m),
            InvokeError::Call(e) => write!(f, "{e}"),
        }
    }
}

impl<'a> Access<'a> {
    pub fn new(gateway: &'a Arc<Gateway>, caller: &'a Caller) -> Access<'a> {
        Access {
            gateway,
            caller,
            session: None,
        }
    }

    /// One backend as `gateway_list_servers` and REST `/api/v1/servers` show it (one shape for
    /// both): its state and why it failed, the tools this caller may call, problems, listing
    /// notes, held-back tools and the failsafe state. `None` for an unknown backend.
    pub fn server_status(&self, name: &str) -> Option<Value> {
        let b = self.gateway.backend(name)?;
        let status = b.status();
        let tools = self
            .gateway
            .catalog
            .get(name)
            .map(|e| e.tool_names().filter(|t| self.permits(name, t)).count());
        let mut s = serde_json::json!({
            "name": name,
            "description": b.config.description,
            "transport": b.config.transport.kind(),
            "state": status.label(),
            "tags": b.config.tags,
            "tools": tools,
        });
        if let crate::backend::Status::Failed(reason) = status {
            s["reason"] = serde_json::json!(reason);
        }
        let report = b.report();
        if !report.problems.is_empty() {
            s["problems"] = serde_json::json!(report.problems);
        }
        if !report.notes.is_empty() {
            s["notes"] = serde_json::json!(report.notes);
        }
        if !report.held.is_empty() {
            s["held"] = serde_json::json!(report.held);
        }
        s["failsafe"] = b.failsafe_state().to_json();
        Some(s)
    }

    /// The view of `session`'s caller; calls go to the session's own isolated instances.
    pub(crate) fn of_session(session: &'a super::Session) -> Access<'a> {
        Access {
            gateway: &session.gateway,
            caller: &session.caller,
            session: Some(session),
        }
    }

    fn tags(&self, server: &str) -> Vec<String> {
        self.gateway
            .backend(server)
            .map(|b| b.config.tags.clone())
            .unwrap_or_default()
    }

    /// Whether the caller may see and call `server`/`tool`.
    pub fn permits(&self, server: &str, tool: &str) -> bool {
        self.caller.policy.permits(server, tool, &self.tags(server))
    }

    /// Whether the caller may see `server` at all (an enabled backend within its scope).
    pub fn sees_server(&self, server: &str) -> bool {
        self.gateway.backend(server).is_some()
            && self.caller.policy.sees_server(server, &self.tags(server))
    }

    /// Names of the servers the caller sees, in order.
    pub fn visible_servers(&self) -> Vec<String> {
        self.gateway
            .backends()
            .iter()
            .map(|b| b.name().to_string())
            .filter(|n| self.sees_server(n))
            .collect()
    }

    /// "unknown server" naming only servers the caller sees.
    pub fn unknown_server_text(&self, server: &str) -> String {
        let names = self.visible_servers();
        let near = nearest(server, names.iter().map(String::as_str));
        let mut text = format!("unknown server '{}'.", clip(server));
        if near.is_empty() {
            text.push_str(&format!(" Servers: {}.", names.join(", ")));
        } else {
            text.push_str(&format!(" Did you mean: {}?", near.join(", ")));
        }
        text
    }

    /// "unknown tool" with did-you-mean and other servers, among permitted tools only.
    pub fn unknown_tool_text(&self, server: &str, tool: &str) -> String {
        let gw = self.gateway;
        let mut text = format!("unknown tool '{}' on server '{server}'.", clip(tool));
        if let Some(entry) = gw.catalog.get(server) {
            let near = nearest(tool, entry.tool_names().filter(|t| self.permits(server, t)));
            if !near.is_empty() {
                text.push_str(&format!(" Did you mean: {}?", near.join(", ")));
            }
        }
        let elsewhere: Vec<String> = gw
            .catalog
            .snapshot()
            .iter()
            .filter(|e| {
                e.backend != server && e.tool(tool).is_some() && self.permits(&e.backend, tool)
            })
            .map(|e| e.backend.clone())
            .collect();
        if !elsewhere.is_empty() {
            text.push_str(&format!(
                " '{}' exists on: {}.",
                clip(tool),
                elsewhere.join(", ")
            ));
        }
        text.push_str(" Use gateway_search_tools to find tools.");
        text
    }

    /// The best `limit` matches for `query` among the tools the caller may call (the search of
    /// `gateway_search_tools` and `GET /api/v1/tools?q=`); `total` counts only those.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        server: Option<&str>,
        kind: Option<Kind>,
    ) -> Result<SearchOutcome, SearchError> {
        let restricted = self.caller.policy.is_restricted();
        // A scoped caller's matches are the best ones it may see: rank more, keep the permitted.
        let wanted = if restricted { SCOPED_CANDIDATES } else { limit };
        let mut outcome = self.gateway.search(query, wanted, server, kind)?;
        if restricted {
            outcome
                .hits
                .retain(|hit| self.permits(&hit.doc.server, &hit.doc.name));
            outcome.total = outcome.hits.len();
            outcome.hits.truncate(limit);
            outcome.no_good_match |= outcome.hits.is_empty();
        }
        Ok(outcome)
    }

    /// Calls `server`/`tool` with `arguments` (and the request's `_meta`, if any), after the
    /// scope check and screening; returns the backend's result exactly as it sent it.
    pub async fn invoke(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
        meta: Option<&Value>,
        ctx: &CallContext,
    ) -> Result<Box<RawValue>, InvokeError> {
        let gw = self.gateway;
        let Some(backend) = gw.backend(server).filter(|_| self.sees_server(server)) else {
            return Err(InvokeError::UnknownServer(self.unknown_server_text(server)));
        };
        if !self.permits(server, tool) {
            return Err(InvokeError::UnknownTool(
                self.unknown_tool_text(server, tool),
            ));
        }
        // The operator's `tools` filter: refused by name, before any listing or start.
        if !backend.config.tools.permits(tool) {
            return Err(InvokeError::UnknownTool(format!(
                "{server}/{tool} is not served: `backends.{server}.tools` in the gateway config rules it out"
            )));
        }
        // Some(None): cataloged backend without that tool; Some(Some(task_only)) otherwise.
        let known = |gw: &Gateway| {
            gw.catalog
                .get(server)
                .map(|e| e.tool(tool).map(requires_task))
        };
        let mut found = known(gw);
        if found.is_none() {
            // Never listed yet: learn (and screen) its tools before forwarding anything, so a
            // tool the scanner withholds is never called, not even before the first discovery.
            // A discovery under way is bounded by the backend's own timeout (start, then list).
            gw.wait_for_discovery_of(server, 2 * backend.config.timeout + super::DISCOVERY_WAIT)
                .await;
            found = known(gw);
            if found.is_none() {
                gw.refresh(server).await;
                found = known(gw);
            }
        }
        if matches!(found, Some(None)) && backend.status() != Status::Running {
            // The catalog may predate the backend's current tools: look again before refusing.
            gw.refresh(server).await;
            found = known(gw);
        }
        match found {
            None => {
                let why = match backend.status() {
                    Status::Failed(reason) => reason,
                    other => other.label().to_string(),
                };
                let tool = clip(tool);
                return Err(InvokeError::NotListed(format!(
                    "cannot invoke {server}/{tool}: the tools of server '{server}' could not be \
                     listed ({why}), and no tool is called before it is screened"
                )));
            }
            Some(None) => {
                if let Some(reason) = backend.held_reason(tool) {
                    return Err(InvokeError::UnknownTool(reason));
                }
                return Err(InvokeError::UnknownTool(
                    self.unknown_tool_text(server, tool),
                ));
            }
            Some(Some(true)) => {
                return Err(InvokeError::TaskOnly(format!(
                    "{server}/{tool} only runs as a task, which the gateway does not support yet"
                )));
            }
            _ => {}
        }
        let mut forwarded = json!({ "name": tool, "arguments": arguments });
        if let Some(meta) = meta {
            forwarded["_meta"] = meta.clone();
        }
        let target = self
            .session
            .and_then(|s| s.backend(server))
            .unwrap_or_else(|| Arc::clone(&backend));
        forward_call(gw, &target, server, tool, forwarded, ctx)
            .await
            .map_err(InvokeError::Call)
    }
}

/// Forwards a `tools/call` of `server`/`tool` (params as the backend gets them) to `target` and
/// records it in the usage profiles. The one place a tool call is counted: `gateway_invoke`,
/// REST `tools/call`, `/mcp/{backend}` and surfaced (directly listed) tools all come here.
pub(crate) async fn forward_call(
    gw: &Gateway,
    target: &Backend,
    server: &str,
    tool: &str,
    params: Value,
    ctx: &CallContext,
) -> Result<Box<RawValue>, CallError> {
    let started = Instant::now();
    let replay = gw.replay_of(server, tool);
    let result = target
        .request_with("tools/call", Some(params), ctx, replay)
        .await;
    // A call the failsafes refused (breaker open, queue full, rate limit) is an error here, even
    // though the client reads it as an `isError` result: the tool never ran.
    let outcome = match &result {
        Ok(raw) if crate::mcp::is_error_result(raw.get()) => CallOutcome::ToolError,
        Ok(_) => CallOutcome::Ok,
        Err(CallError::Cancelled) => CallOutcome::Cancelled,
        Err(_) => CallOutcome::Error,
    };
    gw.profiles.record(server, tool, outcome, started.elapsed());
    result
}

/// Tools whose `execution.taskSupport` is `required` cannot run without tasks.
pub fn requires_task(tool: &Value) -> bool {
    tool.pointer("/execution/taskSupport")
        .and_then(Value::as_str)
        == Some("required")
}

/// Up to three candidates close to `wanted` (see `crate::suggest`), best first.
fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut near = crate::suggest::ranked(wanted, candidates);
    near.truncate(3);
    near
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ranks_typos_first() {
        assert_eq!(
            nearest("filesytem", ["memory", "filesystem", "time"]),
            vec!["filesystem"]
        );
        assert!(nearest("zzz", ["memory"]).is_empty());
    }
}
