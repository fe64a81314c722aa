//! Cursor: `~/.cursor/mcp.json` (global) and `<project>/.cursor/mcp.json`, servers under
//! `mcpServers`: `{command, args, env}` or `{url, headers}`.
//!
//! Source: <https://docs.cursor.com/context/model-context-protocol> ("Configuration locations").

use std::path::Path;

use super::{Client, HostEnv, Location, Scope};

pub struct Cursor;

impl Client for Cursor {
    fn id(&self) -> &'static str {
        "cursor"
    }
    fn name(&self) -> &'static str {
        "Cursor"
    }
    fn docs_url(&self) -> &'static str {
        "https://docs.cursor.com/context/model-context-protocol"
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
            base.join(".cursor").join("mcp.json"),
            &["mcpServers"],
        )]
    }
}
