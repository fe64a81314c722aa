//! OpenAI Codex CLI: `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`), one table per
//! server: `[mcp_servers.NAME]` with `command`, `args`, `env`, `cwd`, or `url` with
//! `http_headers` / `bearer_token_env_var` (read as an `Authorization: Bearer ${VAR}` header).
//! Project file: `<project>/.codex/config.toml`. Comments and other tables are kept (toml_edit).
//!
//! Source: <https://developers.openai.com/codex/mcp> and
//! <https://github.com/openai/codex/blob/main/docs/config.md> ("mcp_servers").

use std::path::Path;

use serde_json::{Map, Value};

use super::{Client, FileFormat, HostEnv, Location, Scope, Server, ServerSpec};

pub struct Codex;

impl Client for Codex {
    fn id(&self) -> &'static str {
        "codex"
    }
    fn name(&self) -> &'static str {
        "Codex"
    }
    fn docs_url(&self) -> &'static str {
        "https://developers.openai.com/codex/mcp"
    }
    fn timeout_key(&self) -> Option<(&'static str, super::TimeUnit)> {
        Some(("tool_timeout_sec", super::TimeUnit::Seconds))
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        match project {
            None => vec![Location::new(
                self,
                Scope::User,
                env.codex_home.join("config.toml"),
                &["mcp_servers"],
            )],
            Some(dir) => vec![Location::new(
                self,
                Scope::Project,
                dir.join(".codex").join("config.toml"),
                &["mcp_servers"],
            )],
        }
    }
    fn format(&self) -> FileFormat {
        FileFormat::Toml
    }
    fn encode(&self, server: &Server) -> Value {
        match &server.spec {
            ServerSpec::Remote { url, headers, .. } => {
                let mut m = Map::new();
                m.insert("url".into(), url.clone().into());
                if !headers.is_empty() {
                    m.insert("http_headers".into(), super::string_map(headers));
                }
                Value::Object(m)
            }
            ServerSpec::Stdio { .. } => super::encode_standard(server, false),
        }
    }
}
