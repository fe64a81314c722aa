//! LM Studio: `~/.lmstudio/mcp.json`, Cursor's notation: servers under `mcpServers`,
//! `{command, args, env}` or `{url, headers}`. User scope only.
//!
//! Source: <https://lmstudio.ai/docs/app/plugins/mcp> ("Install new servers: mcp.json"; repo
//! `lmstudio-ai/docs`, `0_app/2_plugins/mcp/index.md`), verified 2026-11-21 for the key and the
//! entry shape. The page opens the file from the app and names no path; `~/.lmstudio/mcp.json` is
//! the location third-party install guides use. No `${VAR}` expansion is documented.

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
