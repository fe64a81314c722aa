//! Continue: `~/.continue/config.yaml`, `mcpServers` is a *list* of entries each with a `name`:
//! `{name, command, args, env}` or `{name, type: sse | streamable-http, url}`. YAML is edited by
//! targeted line edits inside the `mcpServers` block (comments and the rest kept). User scope
//! only: workspace servers live one per file in `.continue/mcpServers/`, which setup leaves alone.
//!
//! Source: <https://docs.continue.dev/customize/deep-dives/mcp> ("How to Configure MCP Servers").

use std::path::Path;

use serde_json::{Map, Value};

use super::{
    Client, FileFormat, HostEnv, Location, RemoteTransport, Scope, Server, ServerSpec, Shape,
};

pub struct Continue;

impl Client for Continue {
    fn id(&self) -> &'static str {
        "continue"
    }
    fn name(&self) -> &'static str {
        "Continue"
    }
    fn docs_url(&self) -> &'static str {
        "https://docs.continue.dev/customize/deep-dives/mcp"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::Continue
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        if project.is_some() {
            return Vec::new();
        }
        vec![Location::new(
            self,
            Scope::User,
            env.home.join(".continue").join("config.yaml"),
            &["mcpServers"],
        )]
    }
    fn format(&self) -> FileFormat {
        FileFormat::Yaml
    }
    fn shape(&self) -> Shape {
        Shape::NamedList
    }
    fn encode(&self, server: &Server) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), server.name.clone().into());
        match &server.spec {
            ServerSpec::Remote { url, transport, .. } => {
                let t = if *transport == RemoteTransport::Sse {
                    "sse"
                } else {
                    "streamable-http"
                };
                m.insert("type".into(), t.into());
                m.insert("url".into(), url.clone().into());
            }
            ServerSpec::Stdio { .. } => {
                if let Value::Object(rest) = super::encode_standard(server, false) {
                    m.extend(rest);
                }
            }
        }
        Value::Object(m)
    }
}
