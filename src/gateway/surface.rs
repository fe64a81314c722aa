//! The one rule for which backend tools a client sees next to (or instead of) the meta-tools
//! (`meta_mcp.surface`, or every tool with meta-tools off), and those tools themselves
//! ([`Gateway::direct_tools`]). It never lists a tool that is not cataloged (withheld tools
//! never are) or whose backend is not configured.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Gateway;

impl Gateway {
    /// The one rule for which backend tools the client sees next to (or instead of) the
    /// meta-tools: with meta-tools on, the `surface` ones; with them off, all of them. `tool`
    /// `None` asks whether any tool of `backend` may be.
    pub(super) fn listed_directly(&self, backend: &str, tool: Option<&str>) -> bool {
        let config = self.config();
        let meta = &config.meta_mcp;
        !meta.enabled
            || meta
                .surface
                .iter()
                .any(|r| r.server == backend && tool.is_none_or(|t| r.tool == t))
    }

    /// The cataloged tools `tools/list` shows and `tools/call` accepts by namespaced name, as
    /// `(server, definition)` with the backend's own name: the surfaced tools in config order,
    /// or (meta-tools off) every tool by server. Withheld tools are not cataloged, so never here.
    pub fn direct_tools(&self) -> Vec<(String, Value)> {
        let config = self.config();
        let meta = &config.meta_mcp;
        let names: BTreeSet<String> = self.read_backends().keys().cloned().collect();
        let mut tools = Vec::new();
        if meta.enabled {
            for r in &meta.surface {
                let found = names
                    .contains(&r.server)
                    .then(|| self.catalog.get(&r.server))
                    .flatten();
                if let Some(t) = found.as_ref().and_then(|e| e.tool(&r.tool)) {
                    tools.push((r.server.clone(), t.clone()));
                }
            }
            return tools;
        }
        for entry in self.catalog.snapshot() {
            if !names.contains(&entry.backend) {
                continue;
            }
            for t in &entry.tools {
                let name = t.get("name").and_then(Value::as_str).unwrap_or("");
                if self.listed_directly(&entry.backend, Some(name)) {
                    tools.push((entry.backend.clone(), t.clone()));
                }
            }
        }
        tools
    }
}
