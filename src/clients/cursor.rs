//! Cursor: `~/.cursor/mcp.json` (global) and `<project>/.cursor/mcp.json`, servers under
//! `mcpServers`: `{command, args, env}` or `{url, headers}` (stdio, SSE and Streamable HTTP; the
//! transport of a `url` entry is detected). Values may use `${env:NAME}` (also `${userHome}`,
//! `${workspaceFolder}`).
//!
//! Source: <https://cursor.com/docs/mcp> (formerly docs.cursor.com/context/model-context-protocol;
//! "Configuration locations", "Config interpolation"), verified 2026-11-21.

use std::path::Path;

use super::{Client, HostEnv, Location};

pub struct Cursor;

impl Client for Cursor {
    fn id(&self) -> &'static str {
        "cursor"
    }
    fn name(&self) -> &'static str {
        "Cursor"
    }
    fn docs_url(&self) -> &'static str {
        "https://cursor.com/docs/mcp"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::Editor
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        let (scope, base) = super::home_or_project(env, project);
        vec![Location::new(
            self,
            scope,
            base.join(".cursor").join("mcp.json"),
            &["mcpServers"],
        )]
    }
}
