//! Kiro: `~/.kiro/settings/mcp.json` (user) and `<project>/.kiro/settings/mcp.json` (workspace),
//! servers under `mcpServers`: `{command, args, env, disabled, autoApprove, disabledTools}` or
//! `{url, headers, …}` (same flags, plus `oauth`). Workspace entries override user ones.
//! `${VAR}` references are expanded (only for variables on Kiro's approved list; others stay
//! literal), so they are imported as gateway `${VAR:-}` references (empty when unset, the
//! import's one unset policy, so an unset variable never stops the gateway from loading).
//!
//! Source: <https://kiro.dev/docs/mcp/configuration/> ("Configuration file structure",
//! "Configuration locations", "Environment variables"), verified 2026-11-21.

use std::path::Path;

use super::{Client, HostEnv, Location};

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
        let (scope, base) = super::home_or_project(env, project);
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
        let entry = json!({"command": "x", "env": {"K": "${TOK}", "P": "p@$$w"}});
        let places = crate::clients::Placeholders {
            home: Path::new("/h"),
            project: None,
        };
        let server = decode_entry("k", &entry, &Kiro, &places).unwrap();
        assert!(
            matches!(&server.spec, ServerSpec::Stdio { env, .. } if env["K"] == "${TOK:-}" && env["P"] == "p@$$$$w")
        );
    }
}
