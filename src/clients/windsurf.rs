//! Windsurf (Cascade): `~/.codeium/windsurf/mcp_config.json`, servers under `mcpServers`:
//! `{command, args, env}` or, for remote servers, `{serverUrl, headers}`. User scope only.
//!
//! Source: <https://docs.windsurf.com/windsurf/cascade/mcp> ("mcp_config.json").

use std::path::Path;

use serde_json::{Map, Value};

use super::{Client, HostEnv, Location, Scope, Server, ServerSpec};

pub struct Windsurf;

impl Client for Windsurf {
    fn id(&self) -> &'static str {
        "windsurf"
    }
    fn name(&self) -> &'static str {
        "Windsurf"
    }
    fn docs_url(&self) -> &'static str {
        "https://docs.windsurf.com/windsurf/cascade/mcp"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::Dollar
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        if project.is_some() {
            return Vec::new();
        }
        let path = env
            .home
            .join(".codeium")
            .join("windsurf")
            .join("mcp_config.json");
        vec![Location::new(self, Scope::User, path, &["mcpServers"])]
    }
    fn encode(&self, server: &Server) -> Value {
        match &server.spec {
            ServerSpec::Remote { url, headers, .. } => {
                let mut m = Map::new();
                m.insert("serverUrl".into(), url.clone().into());
                if !headers.is_empty() {
                    m.insert("headers".into(), super::string_map(headers));
                }
                Value::Object(m)
            }
            ServerSpec::Stdio { .. } => super::encode_standard(server, false),
        }
    }
}
