//! opencode: `$XDG_CONFIG_HOME/opencode/opencode.json` (or `opencode.jsonc` when that exists),
//! project `<project>/opencode.json(c)`. Servers under `mcp`: `{type: "local", command: [program,
//! args…], environment, enabled}` or `{type: "remote", url, headers, enabled}`.
//!
//! Source: <https://opencode.ai/docs/mcp-servers/> ("Local", "Remote").

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Client, HostEnv, Location, Scope, Server, ServerSpec};

pub struct OpenCode;

fn config_in(dir: &Path) -> PathBuf {
    let jsonc = dir.join("opencode.jsonc");
    if jsonc.exists() {
        jsonc
    } else {
        dir.join("opencode.json")
    }
}

impl Client for OpenCode {
    fn id(&self) -> &'static str {
        "opencode"
    }
    fn name(&self) -> &'static str {
        "opencode"
    }
    fn docs_url(&self) -> &'static str {
        "https://opencode.ai/docs/mcp-servers/"
    }
    fn env_syntax(&self) -> super::EnvSyntax {
        super::EnvSyntax::Braces
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        match project {
            None => vec![Location::new(
                self,
                Scope::User,
                config_in(&env.xdg_config.join("opencode")),
                &["mcp"],
            )],
            Some(dir) => vec![Location::new(
                self,
                Scope::Project,
                config_in(dir),
                &["mcp"],
            )],
        }
    }
    fn encode(&self, server: &Server) -> Value {
        let mut m = Map::new();
        match &server.spec {
            ServerSpec::Stdio {
                command, args, env, ..
            } => {
                m.insert("type".into(), "local".into());
                let mut words = vec![command.clone()];
                words.extend(args.iter().cloned());
                m.insert("command".into(), words.into());
                if !env.is_empty() {
                    m.insert("environment".into(), super::string_map(env));
                }
            }
            ServerSpec::Remote { url, headers, .. } => {
                m.insert("type".into(), "remote".into());
                m.insert("url".into(), url.clone().into());
                if !headers.is_empty() {
                    m.insert("headers".into(), super::string_map(headers));
                }
            }
        }
        m.insert("enabled".into(), server.enabled.into());
        Value::Object(m)
    }
}
