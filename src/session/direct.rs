//! One backend's own surface (`/mcp/{backend}` of `mcp-gateway serve`): its tools, resources,
//! resource templates and prompts under their own names, with every request routed to it.
//!
//! Owns the lists of one backend (from the catalog, learned first if the backend was never
//! listed) and the routing of `tools/call`, `resources/*`, `prompts/get` and
//! `completion/complete` to it with the names and URIs untouched. Calls go through the one
//! invocation path ([`super::access::Access::invoke`]: scope, the `tools` filter, screening,
//! task-only tools), so what the gateway withholds stays withheld here. It never shows another
//! backend, and never namespaces a name.

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::access::InvokeError;
use super::{Failure, Outcome, Session, clip, paginate};
use crate::catalog::CatalogEntry;
use crate::error::CallError;
use crate::jsonrpc::{ErrorObject, code};

/// The methods a one-backend session serves from that backend (the per-hop ones stay the
/// session's).
pub fn serves(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "tools/call"
            | "resources/list"
            | "resources/templates/list"
            | "prompts/list"
            | "resources/read"
            | "resources/subscribe"
            | "resources/unsubscribe"
            | "prompts/get"
            | "completion/complete"
    )
}

/// `instructions` of the `initialize` result of a one-backend session.
pub fn instructions(server: &str) -> String {
    format!(
        "The tools, resources and prompts of the MCP server `{server}`, under their own names, \
         through mcp-gateway."
    )
}

/// Serves one of the methods [`serves`] for `server`.
pub async fn handle(
    session: &Arc<Session>,
    server: &str,
    method: &str,
    params: Value,
    cancel: &CancellationToken,
) -> Outcome {
    let access = session.access();
    if !access.sees_server(server) {
        // Checked when the session was opened; a config reload may have removed it since.
        return Err(
            ErrorObject::new(code::INVALID_PARAMS, access.unknown_server_text(server)).into(),
        );
    }
    match method {
        "tools/list" => {
            let entry = listed(session, server).await?;
            let tools: Vec<Value> = entry
                .tools
                .iter()
                .filter(|t| {
                    t.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| access.permits(server, n))
                })
                .cloned()
                .collect();
            paginate(tools, &params, "tools")
        }
        "resources/list" | "resources/templates/list" | "prompts/list" => {
            let entry = listed(session, server).await?;
            let items = match method {
                "resources/list" => &entry.resources,
                "resources/templates/list" => &entry.resource_templates,
                _ => &entry.prompts,
            };
            paginate(items.clone(), &params, super::forward::list_key(method))
        }
        "tools/call" => {
            let started = std::time::Instant::now();
            let request_bytes = params.to_string().len();
            let tool = params
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| ErrorObject::new(code::INVALID_PARAMS, "`name` is required"))?
                .to_string();
            let arguments = params
                .get("arguments")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()));
            let ctx = session.call_context(&params, cancel);
            let invoked = access
                .invoke(server, &tool, arguments.clone(), params.get("_meta"), &ctx)
                .await;
            let invoked = match invoked {
                Err(InvokeError::Call(e)) if e.is_tool_level() => {
                    e.as_tool_result().ok_or(InvokeError::Call(e))
                }
                other => other,
            };
            let outcome = invoked.map_err(|e| match e {
                InvokeError::Call(e) => Failure::from(e),
                InvokeError::NotListed(m) => {
                    Failure::Rpc(ErrorObject::new(code::BACKEND_UNAVAILABLE, m))
                }
                InvokeError::UnknownServer(m)
                | InvokeError::UnknownTool(m)
                | InvokeError::TaskOnly(m) => Failure::Rpc(ErrorObject::new(
                    code::INVALID_PARAMS,
                    // The one-backend surface has no meta-tools to point at.
                    m.replace(" Use gateway_search_tools to find tools.", ""),
                )),
            });
            session.record(
                method,
                (server, &tool),
                started,
                request_bytes,
                Some(&arguments),
                &outcome,
            );
            outcome
        }
        _ => {
            // resources/read|subscribe|unsubscribe, prompts/get, completion/complete: the
            // backend's own names and URIs, forwarded as they are.
            let started = std::time::Instant::now();
            let request_bytes = params.to_string().len();
            let label = super::forward::label(&params);
            let backend = session.backend(server).ok_or_else(|| {
                ErrorObject::new(code::INVALID_PARAMS, access.unknown_server_text(server))
            })?;
            let ctx = session.call_context(&params, cancel);
            let outcome: Outcome = backend
                .request(method, Some(params), &ctx)
                .await
                .map_err(Failure::from);
            if matches!(method, "resources/read" | "prompts/get") {
                session.record(
                    method,
                    (server, &label),
                    started,
                    request_bytes,
                    None,
                    &outcome,
                );
            }
            outcome
        }
    }
}

/// The backend's catalog entry, learning (and screening) its lists first if it was never
/// listed; an error naming why when that fails.
async fn listed(session: &Session, server: &str) -> Result<Arc<CatalogEntry>, Failure> {
    let gw = &session.gateway;
    let Some(backend) = gw.backend(server) else {
        return Err(ErrorObject::new(
            code::INVALID_PARAMS,
            format!("unknown server `{}`", clip(server)),
        )
        .into());
    };
    gw.listing_of(server).await.ok_or_else(|| {
        let why = match backend.status() {
            crate::backend::Status::Failed(reason) => reason,
            other => other.label().to_string(),
        };
        Failure::from(CallError::Unavailable {
            backend: server.to_string(),
            reason: format!("its tools could not be listed ({why})"),
        })
    })
}
