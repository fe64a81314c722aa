//! Gemini CLI: `~/.gemini/settings.json` and `<project>/.gemini/settings.json`, servers under
//! `mcpServers`: `{command, args, env, cwd}`, or `url` (SSE) / `httpUrl` (Streamable HTTP) with
//! `headers`.
//!
//! `env` values may reference `$VAR_NAME` or `${VAR_NAME}`; the transport follows the key
//! (`httpUrl` → Streamable HTTP, `url` → SSE, `command` → stdio).
//!
//! Source: <https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md>
//! ("Configuration Structure", "Configuration Properties", "Transport selection"), verified
//! 2026-11-21.

use std::path::Path;

use serde_json::{Map, Value};

use super::{Client, HostEnv, Location, RemoteTransport, Server, ServerSpec};

pub struct GeminiCli;

impl Client for GeminiCli {
    fn id(&self) -> &'static str {
        "gemini"
    }
    fn name(&self) -> &'static str {
        "Gemini CLI"
    }
    fn docs_url(&self) -> &'static str {
        "https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::DollarBare
    }
    fn timeout_key(&self) -> Option<(&'static str, super::TimeUnit)> {
        Some(("timeout", super::TimeUnit::Millis))
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        let (scope, base) = super::home_or_project(env, project);
        vec![Location::new(
            self,
            scope,
            base.join(".gemini").join("settings.json"),
            &["mcpServers"],
        )]
    }
    fn encode(&self, server: &Server) -> Value {
        match &server.spec {
            ServerSpec::Remote {
                url,
                headers,
                transport,
            } => {
                let mut m = Map::new();
                let key = if *transport == RemoteTransport::Sse {
                    "url"
                } else {
                    "httpUrl"
                };
                m.insert(key.into(), url.clone().into());
                if !headers.is_empty() {
                    m.insert("headers".into(), super::string_map(headers));
                }
                Value::Object(m)
            }
            ServerSpec::Stdio { .. } => super::encode_standard(server, false),
        }
    }
}
