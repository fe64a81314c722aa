//! Kiro: `~/.kiro/settings/mcp.json` (user) and `<project>/.kiro/settings/mcp.json` (workspace),
//! servers under `mcpServers`: `{command, args, env, disabled, autoApprove, disabledTools}` or
//! `{url, headers, …}` (same flags, plus `oauth`). Workspace entries override user ones.
//! `${VAR}` references are expanded (only for variables on Kiro's approved list; others stay
//! literal), so they are imported as gateway `${VAR}` references.
//!
//! Source: <https://kiro.dev/docs/mcp/configuration/> ("Configuration file structure",
//! "Configuration locations", "Environment variables"), verified 2026-11-21.

use std::path::Path;

use super::{Client, HostEnv, Location, Scope};

pub struct Kiro;

impl Client for Kiro {
    fn id(&self) -> &'static str {
        "kiro"
    }
    fn name(&self) -> &'static str {
        "Kiro"
    }
    fn docs_url(&self) -> &'static str {
        "https://kiro.dev/docs/mcp/configuration/"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::Dollar
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        let (scope, base) = match project {
            None => (Scope::User, env.home.clone()),
            Some(dir) => (Scope::Project, dir.to_path_buf()),
        };
        vec![Location::new(
            self,
            scope,
            base.join(".kiro").join("settings").join("mcp.json"),
            &["mcpServers"],
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{ServerSpec, decode_entry};
    use serde_json::json;

    #[test]
    fn dollar_references_stay_references() {
        let entry = json!({"command": "x", "env": {"K": "${TOK}"}});
        let server = decode_entry("k", &entry, Kiro.env_syntax()).unwrap();
        assert!(matches!(&server.spec, ServerSpec::Stdio { env, .. } if env["K"] == "${TOK}"));
    }
}
