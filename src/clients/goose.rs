//! Goose: `~/.config/goose/config.yaml` (`%APPDATA%\Block\goose\config\config.yaml` on Windows),
//! `extensions` is a map keyed by extension id: `{name, type: stdio, cmd, args, envs, enabled,
//! timeout}` or `{type: sse | streamable_http, uri, headers}`; `builtin` extensions are not MCP
//! servers to move and are skipped by setup. Edited by targeted line edits (comments kept).
//!
//! Source: <https://block.github.io/goose/docs/guides/config-files> ("Extensions Configuration").

use std::path::Path;

use serde_json::{Map, Value};

use super::{
    Client, FileFormat, HostEnv, HostOs, Location, RemoteTransport, Scope, Server, ServerSpec,
};

pub struct Goose;

impl Client for Goose {
    fn id(&self) -> &'static str {
        "goose"
    }
    fn name(&self) -> &'static str {
        "Goose"
    }
    fn docs_url(&self) -> &'static str {
        "https://block.github.io/goose/docs/guides/config-files"
    }
    fn timeout_key(&self) -> Option<(&'static str, super::TimeUnit)> {
        Some(("timeout", super::TimeUnit::Seconds))
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        if project.is_some() {
            return Vec::new();
        }
        let path = match env.os {
            HostOs::Windows => env
                .appdata
                .join("Block")
                .join("goose")
                .join("config")
                .join("config.yaml"),
            HostOs::Linux | HostOs::MacOs => env.xdg_config.join("goose").join("config.yaml"),
        };
        vec![Location::new(self, Scope::User, path, &["extensions"])]
    }
    fn format(&self) -> FileFormat {
        FileFormat::Yaml
    }
    fn encode(&self, server: &Server) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), server.name.clone().into());
        match &server.spec {
            ServerSpec::Stdio {
                command, args, env, ..
            } => {
                m.insert("type".into(), "stdio".into());
                m.insert("cmd".into(), command.clone().into());
                m.insert("args".into(), args.clone().into());
                m.insert("envs".into(), super::string_map(env));
            }
            ServerSpec::Remote {
                url,
                headers,
                transport,
            } => {
                let t = if *transport == RemoteTransport::Sse {
                    "sse"
                } else {
                    "streamable_http"
                };
                m.insert("type".into(), t.into());
                m.insert("uri".into(), url.clone().into());
                m.insert("headers".into(), super::string_map(headers));
            }
        }
        m.insert("enabled".into(), server.enabled.into());
        m.insert("timeout".into(), 300.into());
        Value::Object(m)
    }
}
