//! Cline (VS Code extension): `cline_mcp_settings.json` in the extension's global storage
//! (`<VS Code user dir>/globalStorage/saoudrizwan.claude-dev/settings/`), servers under
//! `mcpServers`: `{command, args, env, disabled, autoApprove}` or `{type, url, headers}`.
//! User scope only.
//!
//! Remote entries need `type`: `"streamableHttp"` or `"sse"`; a `url` entry without `type` is read
//! as SSE, so Streamable HTTP servers are written with `"type": "streamableHttp"`. No `${VAR}`
//! expansion is documented.
//!
//! Source: <https://docs.cline.bot/mcp/configuring-mcp-servers> ("Editing MCP Settings Files") and
//! <https://docs.cline.bot/mcp/connecting-to-a-remote-server> ("Advanced Configuration"); repo
//! `cline/cline`, `docs/mcp/*.mdx` and `src/services/mcp/schemas.ts` (`ServerConfigSchema`: the
//! stdio / `sse` / `streamableHttp` union), verified 2026-11-21.

use std::path::Path;

use serde_json::{Map, Value};

use super::{Client, HostEnv, Location, RemoteTransport, Scope, Server, ServerSpec};

pub struct Cline;

impl Client for Cline {
    fn id(&self) -> &'static str {
        "cline"
    }
    fn name(&self) -> &'static str {
        "Cline"
    }
    fn docs_url(&self) -> &'static str {
        "https://docs.cline.bot/mcp/configuring-mcp-servers"
    }
    fn timeout_key(&self) -> Option<(&'static str, super::TimeUnit)> {
        Some(("timeout", super::TimeUnit::Seconds))
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        if project.is_some() {
            return Vec::new();
        }
        let path = env
            .app_config_dir()
            .join("Code")
            .join("User")
            .join("globalStorage")
            .join("saoudrizwan.claude-dev")
            .join("settings")
            .join("cline_mcp_settings.json");
        vec![Location::new(self, Scope::User, path, &["mcpServers"])]
    }
    fn encode(&self, server: &Server) -> Value {
        match &server.spec {
            ServerSpec::Remote {
                url,
                headers,
                transport,
            } => {
                let mut m = Map::new();
                let t = if *transport == RemoteTransport::Sse {
                    "sse"
                } else {
                    "streamableHttp"
                };
                m.insert("type".into(), t.into());
                m.insert("url".into(), url.clone().into());
                if !headers.is_empty() {
                    m.insert("headers".into(), super::string_map(headers));
                }
                Value::Object(m)
            }
            ServerSpec::Stdio { .. } => super::encode_standard(server, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn remote(transport: RemoteTransport) -> Server {
        Server::new(
            "r",
            ServerSpec::Remote {
                url: "https://x/mcp".into(),
                headers: BTreeMap::new(),
                transport,
            },
            true,
        )
    }

    #[test]
    fn remote_entries_name_their_transport() {
        let http = json!({"type": "streamableHttp", "url": "https://x/mcp"});
        assert_eq!(Cline.encode(&remote(RemoteTransport::Http)), http);
        assert_eq!(Cline.encode(&remote(RemoteTransport::Auto)), http);
        assert_eq!(
            Cline.encode(&remote(RemoteTransport::Sse)),
            json!({"type": "sse", "url": "https://x/mcp"})
        );
    }
}
