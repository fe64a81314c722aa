//! VS Code (GitHub Copilot agent mode): `<project>/.vscode/mcp.json` and the user profile's
//! `mcp.json` (`~/.config/Code/User/mcp.json` on Linux, `~/Library/Application Support/Code/User`
//! on macOS, `%APPDATA%\Code\User` on Windows; servers still in the user `settings.json` under
//! `mcp.servers`, the older location, are read and moved too). The key is `servers` (not `mcpServers`) and
//! entries carry `type`: `stdio` with `command`/`args`/`env`, or `http`/`sse` with
//! `url`/`headers` (stdio entries may also carry `envFile`). The file is JSON with comments; the
//! sibling `inputs` array is kept. Values may use VS Code variables (`${env:NAME}`, `${input:id}`).
//!
//! Source: <https://code.visualstudio.com/docs/copilot/reference/mcp-configuration> (repo
//! `microsoft/vscode-docs`, `docs/copilot/reference/mcp-configuration.md`: "Configuration
//! structure", "Standard I/O (stdio) servers", "HTTP and Server-Sent Events (SSE) servers"),
//! verified 2026-11-21. The page says "user profile" without a path; `<Code>/User/mcp.json` is the
//! default profile's folder.

use std::path::Path;

use serde_json::Value;

use super::{Client, HostEnv, Location, Scope, Server};

pub struct VsCode;

impl Client for VsCode {
    fn id(&self) -> &'static str {
        "vscode"
    }
    fn name(&self) -> &'static str {
        "VS Code"
    }
    fn docs_url(&self) -> &'static str {
        "https://code.visualstudio.com/docs/copilot/customization/mcp-servers"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::Editor
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        match project {
            None => {
                let user = env.app_config_dir().join("Code").join("User");
                vec![
                    Location::new(self, Scope::User, user.join("mcp.json"), &["servers"]),
                    // Older releases kept servers in settings.json under `mcp.servers`.
                    Location::new(
                        self,
                        Scope::User,
                        user.join("settings.json"),
                        &["mcp", "servers"],
                    ),
                ]
            }
            Some(dir) => vec![Location::new(
                self,
                Scope::Project,
                dir.join(".vscode").join("mcp.json"),
                &["servers"],
            )],
        }
    }
    fn encode(&self, server: &Server) -> Value {
        super::encode_standard(server, true)
    }
}
