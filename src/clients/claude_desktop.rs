//! Claude Desktop: `claude_desktop_config.json`, servers under `mcpServers`
//! (`{command, args, env}`). User scope only.
//!
//! Paths: macOS `~/Library/Application Support/Claude/`, Windows `%APPDATA%\Claude\`, Linux
//! `$XDG_CONFIG_HOME/Claude/` (the community Linux build's location; the official page names no
//! Linux path). No `${VAR}` expansion is documented, so values are read literally.
//!
//! Source: <https://modelcontextprotocol.io/docs/develop/connect-local-servers> ("Access Developer
//! Settings"; repo `modelcontextprotocol/modelcontextprotocol`,
//! `docs/docs/develop/connect-local-servers.mdx`), verified 2026-11-21.

use std::path::Path;

use super::{Client, HostEnv, Location, Scope};

pub struct ClaudeDesktop;

impl Client for ClaudeDesktop {
    fn id(&self) -> &'static str {
        "claude-desktop"
    }
    fn name(&self) -> &'static str {
        "Claude Desktop"
    }
    fn docs_url(&self) -> &'static str {
        "https://modelcontextprotocol.io/docs/develop/connect-local-servers"
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        if project.is_some() {
            return Vec::new();
        }
        let path = env
            .app_config_dir()
            .join("Claude")
            .join("claude_desktop_config.json");
        vec![Location::new(self, Scope::User, path, &["mcpServers"])]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::HostOs;
    use std::path::PathBuf;

    #[test]
    fn paths_per_os() {
        let vars = |k: &str| match k {
            "HOME" => Some("/h".into()),
            "APPDATA" => Some("/h/AppData/Roaming".into()),
            _ => None,
        };
        let path = |os| {
            ClaudeDesktop.locations(&HostEnv::from_vars(os, vars).unwrap(), None)[0]
                .path
                .clone()
        };
        assert_eq!(
            path(HostOs::MacOs),
            PathBuf::from("/h/Library/Application Support/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            path(HostOs::Windows),
            PathBuf::from("/h/AppData/Roaming/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            path(HostOs::Linux),
            PathBuf::from("/h/.config/Claude/claude_desktop_config.json")
        );
    }
}
