//! Kiro: `~/.kiro/settings/mcp.json` (user) and `<project>/.kiro/settings/mcp.json` (workspace),
//! servers under `mcpServers`: `{command, args, env, disabled, autoApprove}` or `{url, headers}`.
//!
//! Source: <https://kiro.dev/docs/mcp/configuration/> ("Configuration file structure").

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
