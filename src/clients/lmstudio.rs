//! LM Studio: `~/.lmstudio/mcp.json`, Cursor's notation: servers under `mcpServers`,
//! `{command, args, env}` or `{url, headers}`. User scope only.
//!
//! Source: <https://lmstudio.ai/docs/app/plugins/mcp> ("Install new servers: mcp.json").

use std::path::Path;

use super::{Client, HostEnv, Location, Scope};

pub struct LmStudio;

impl Client for LmStudio {
    fn id(&self) -> &'static str {
        "lmstudio"
    }
    fn name(&self) -> &'static str {
        "LM Studio"
    }
    fn docs_url(&self) -> &'static str {
        "https://lmstudio.ai/docs/app/plugins/mcp"
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        if project.is_some() {
            return Vec::new();
        }
        vec![Location::new(
            self,
            Scope::User,
            env.home.join(".lmstudio").join("mcp.json"),
            &["mcpServers"],
        )]
    }
}
