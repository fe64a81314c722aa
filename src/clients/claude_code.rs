//! Claude Code: user scope in `~/.claude.json` (`mcpServers`), local scope per project in the
//! same file (`projects.<absolute project dir>.mcpServers`), project scope in `<dir>/.mcp.json`
//! (`mcpServers`). Entries carry `type` (`stdio`, `http`, `sse`) with `command`/`args`/`env` or
//! `url`/`headers`. `$CLAUDE_CONFIG_DIR` moves `.claude.json` (not on the MCP page; unverified).
//! `${VAR}` and `${VAR:-default}` are expanded in `command`, `args`, `env`, `url` and `headers`.
//!
//! Source: <https://code.claude.com/docs/en/mcp> (formerly docs.anthropic.com/en/docs/claude-code/mcp;
//! "MCP installation scopes", "Environment variable expansion in `.mcp.json`"), verified 2026-11-21.
//! `.claude.json` is large and rewritten by Claude Code itself: only the touched properties change.

use std::path::Path;

use serde_json::Value;

use super::{Client, HostEnv, Location, Scope, Server};

pub struct ClaudeCode;

impl Client for ClaudeCode {
    fn id(&self) -> &'static str {
        "claude-code"
    }
    fn name(&self) -> &'static str {
        "Claude Code"
    }
    fn docs_url(&self) -> &'static str {
        "https://code.claude.com/docs/en/mcp"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::Dollar
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        let user_file = env.claude_config_dir.join(".claude.json");
        match project {
            None => vec![Location::new(self, Scope::User, user_file, &["mcpServers"])],
            Some(dir) => {
                let key = dir.to_string_lossy();
                vec![
                    Location::new(self, Scope::Project, dir.join(".mcp.json"), &["mcpServers"]),
                    Location::new(
                        self,
                        Scope::Project,
                        user_file,
                        &["projects", &key, "mcpServers"],
                    ),
                ]
            }
        }
    }
    fn encode(&self, server: &Server) -> Value {
        super::encode_standard(server, true)
    }
}
