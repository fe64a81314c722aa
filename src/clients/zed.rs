//! Zed: `context_servers` in `settings.json` (JSON with comments): user file
//! `$XDG_CONFIG_HOME/zed/settings.json` (also on macOS: `~/.config/zed`), `%APPDATA%\Zed` on
//! Windows, project file `<project>/.zed/settings.json`. Entries: `{command, args, env}` (older
//! releases nest `{command: {path, args, env}}`, read too) or `{url, headers}`.
//! Comments and all other settings are kept.
//!
//! Source: <https://zed.dev/docs/ai/mcp> ("As Custom Servers").

use std::path::Path;

use serde_json::Value;

use super::{Client, HostEnv, HostOs, Location, Scope, Server, ServerSpec};

pub struct Zed;

impl Client for Zed {
    fn id(&self) -> &'static str {
        "zed"
    }
    fn name(&self) -> &'static str {
        "Zed"
    }
    fn docs_url(&self) -> &'static str {
        "https://zed.dev/docs/ai/mcp"
    }
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location> {
        match project {
            None => {
                let dir = match env.os {
                    HostOs::Windows => env.appdata.join("Zed"),
                    HostOs::Linux | HostOs::MacOs => env.xdg_config.join("zed"),
                };
                vec![Location::new(
                    self,
                    Scope::User,
                    dir.join("settings.json"),
                    &["context_servers"],
                )]
            }
            Some(dir) => vec![Location::new(
                self,
                Scope::Project,
                dir.join(".zed").join("settings.json"),
                &["context_servers"],
            )],
        }
    }
    fn encode(&self, server: &Server) -> Value {
        let mut v = super::encode_standard(server, false);
        if let (ServerSpec::Stdio { env, .. }, Some(m)) = (&server.spec, v.as_object_mut())
            && env.is_empty()
        {
            m.insert("env".into(), Value::Object(Default::default()));
        }
        v
    }
}
