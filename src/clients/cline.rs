//! Cline (VS Code extension): `cline_mcp_settings.json` in the extension's global storage
//! (`<VS Code user dir>/globalStorage/saoudrizwan.claude-dev/settings/`), servers under
//! `mcpServers`: `{command, args, env, disabled, autoApprove}` or `{url, headers}`.
//! User scope only.
//!
//! Source: <https://docs.cline.bot/mcp/configuring-mcp-servers> ("Editing MCP Settings Files").

use std::path::Path;

use super::{Client, HostEnv, Location, Scope};

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
}
