//! AI client config adapters: one module per client, one shared interface ([`Client`]).
//!
//! Owns knowing where each AI client (Claude Desktop, Claude Code, Cursor, VS Code, …) keeps its
//! MCP server list, how its entries look, and how to edit those files without losing anything:
//! unknown keys, key order, comments (JSONC via a concrete syntax tree, TOML via `toml_edit`, YAML
//! via targeted line edits verified by re-parsing, all in `crate::docedit`). Every edit is re-read and compared with what
//! was intended before it is handed back; a file that does not parse is reported, never rewritten.
//!
//! It never writes files itself (that is `crate::configedit`, which backs up first), never starts a
//! server, and never reads a path that does not derive from `HOME`, `APPDATA`, `XDG_CONFIG_HOME`,
//! `CODEX_HOME`, `CLAUDE_CONFIG_DIR` or an explicit project directory, so tests redirect it all
//! with a temporary `HOME`.
//!
//! This file holds the shared types (a [`Server`] and its [`ServerSpec`], [`ClientError`]), the
//! [`Client`] interface and the list of clients ([`all`], [`by_id`]); the generic parts live in
//! one child each: `location.rs` (reading and rewriting a location's text), `entry.rs` (one
//! entry decoded from any client's spelling, and the common encoding), `env_syntax.rs` (client
//! variables and placeholders into the gateway's grammar), `host.rs` (the directories paths
//! derive from) and `gateway_entry.rs` (recognising and naming the gateway's own entry).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

pub use crate::config::ToolFilter;
use crate::docedit as doc;
pub use crate::docedit::{FileFormat, Shape};

mod entry;
mod env_syntax;
mod gateway_entry;
mod host;
mod location;

pub use entry::decode_entry;
pub(crate) use entry::{encode_standard, string_map};
pub use env_syntax::{EnvSyntax, Placeholders};
pub use gateway_entry::{free_entry_name, is_gateway_entry};
pub(crate) use host::home_or_project;
pub use host::{HostEnv, HostOs};
pub use location::{Entry, Location, Scope};

pub mod claude_code;
pub mod claude_desktop;
pub mod cline;
pub mod codex;
pub mod continue_dev;
pub mod cursor;
pub mod gemini;
pub mod goose;
pub mod kiro;
pub mod lmstudio;
pub mod opencode;
pub mod vscode;
pub mod windsurf;
pub mod zed;

/// How a server is reached, as read from (or written to) a client config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpec {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<String>,
    },
    Remote {
        url: String,
        headers: BTreeMap<String, String>,
        transport: RemoteTransport,
    },
}

/// Which HTTP flavour a remote entry declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteTransport {
    /// Not stated: Streamable HTTP with legacy SSE fallback.
    Auto,
    /// Streamable HTTP.
    Http,
    /// Legacy HTTP+SSE.
    Sse,
}

/// One MCP server entry of a client config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The name as the client spells it (map key, or `name` field for list-shaped configs).
    pub name: String,
    pub spec: ServerSpec,
    /// `false` when the client marks the entry disabled (`disabled: true`, `enabled: false`).
    pub enabled: bool,
    /// Which of its tools the client lets the model use.
    pub tools: ToolFilter,
    /// The client's per-request timeout for this server, when it sets one.
    pub timeout: Option<Duration>,
}

impl Server {
    /// A server with no tool restrictions and no timeout of its own.
    pub fn new(name: impl Into<String>, spec: ServerSpec, enabled: bool) -> Server {
        Server {
            name: name.into(),
            spec,
            enabled,
            tools: ToolFilter::default(),
            timeout: None,
        }
    }
}

/// The unit of a client's timeout key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{}: {source}", path.display())]
    Doc {
        path: PathBuf,
        #[source]
        source: doc::DocError,
    },
    #[error("{}: server `{name}`: {message}", path.display())]
    Entry {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("no home directory: set HOME (or USERPROFILE on Windows)")]
    NoHome,
    #[error("unknown client `{name}`{}; known clients: {known}", crate::suggest::phrase(suggestion.as_deref()))]
    UnknownClient {
        name: String,
        suggestion: Option<String>,
        known: String,
    },
}

/// The shared interface every client module implements.
pub trait Client: Sync {
    /// Stable id used on the command line (`--client cursor`).
    fn id(&self) -> &'static str;
    /// Human name.
    fn name(&self) -> &'static str;
    /// Where the file format is documented.
    fn docs_url(&self) -> &'static str;
    /// Candidate locations: user-level ones when `project` is `None`, else that project's.
    fn locations(&'static self, env: &HostEnv, project: Option<&Path>) -> Vec<Location>;
    fn format(&self) -> FileFormat {
        FileFormat::Json
    }
    fn shape(&self) -> Shape {
        Shape::Map
    }
    /// How the client's values reference environment variables.
    fn env_syntax(&self) -> EnvSyntax {
        EnvSyntax::Literal
    }
    /// The key of a per-server request timeout and its unit, for clients that have one.
    fn timeout_key(&self) -> Option<(&'static str, TimeUnit)> {
        None
    }
    /// The client's entry for a server (the gateway entry is stdio; remote entries are written
    /// in the client's own remote form where it has one).
    fn encode(&self, server: &Server) -> Value {
        encode_standard(server, false)
    }
}

/// Every supported client, in display order.
pub fn all() -> [&'static dyn Client; 14] {
    [
        &claude_code::ClaudeCode,
        &claude_desktop::ClaudeDesktop,
        &cursor::Cursor,
        &vscode::VsCode,
        &windsurf::Windsurf,
        &zed::Zed,
        &codex::Codex,
        &continue_dev::Continue,
        &cline::Cline,
        &gemini::GeminiCli,
        &goose::Goose,
        &opencode::OpenCode,
        &lmstudio::LmStudio,
        &kiro::Kiro,
    ]
}

/// Looks a client up by id (case-insensitive), suggesting the closest id on a typo.
pub fn by_id(id: &str) -> Result<&'static dyn Client, ClientError> {
    let wanted = id.to_ascii_lowercase();
    if let Some(c) = all().into_iter().find(|c| c.id() == wanted) {
        return Ok(c);
    }
    let suggestion =
        crate::suggest::closest(&wanted, all().into_iter().map(|c| c.id())).map(str::to_string);
    Err(ClientError::UnknownClient {
        name: id.to_string(),
        suggestion,
        known: all().iter().map(|c| c.id()).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn places() -> Placeholders<'static> {
        Placeholders {
            home: Path::new("/home/u"),
            project: None,
        }
    }

    #[test]
    fn every_client_path_per_os() {
        let vars = |k: &str| match k {
            "HOME" => Some("/h".into()),
            "APPDATA" => Some("/w/Roaming".into()),
            "CODEX_HOME" => Some("/cx".into()),
            _ => None,
        };
        let user = |os, id: &str| -> Vec<String> {
            by_id(id)
                .unwrap()
                .locations(&HostEnv::from_vars(os, vars).unwrap(), None)
                .iter()
                .map(|l| l.path.to_string_lossy().into_owned())
                .collect()
        };
        use HostOs::*;
        assert_eq!(
            user(Linux, "vscode"),
            [
                "/h/.config/Code/User/mcp.json",
                "/h/.config/Code/User/settings.json"
            ]
        );
        assert_eq!(
            user(MacOs, "vscode")[0],
            "/h/Library/Application Support/Code/User/mcp.json"
        );
        assert_eq!(user(Windows, "vscode")[0], "/w/Roaming/Code/User/mcp.json");
        assert_eq!(
            user(MacOs, "cline"),
            [
                "/h/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"
            ]
        );
        assert_eq!(user(MacOs, "zed"), ["/h/.config/zed/settings.json"]);
        assert_eq!(user(Windows, "zed"), ["/w/Roaming/Zed/settings.json"]);
        assert_eq!(
            user(Windows, "goose"),
            ["/w/Roaming/Block/goose/config/config.yaml"]
        );
        assert_eq!(user(Linux, "goose"), ["/h/.config/goose/config.yaml"]);
        assert_eq!(user(Linux, "codex"), ["/cx/config.toml"]);
        assert_eq!(user(Linux, "claude-code"), ["/h/.claude.json"]);
        assert_eq!(
            user(Linux, "windsurf"),
            ["/h/.codeium/windsurf/mcp_config.json"]
        );
        assert_eq!(user(Linux, "gemini"), ["/h/.gemini/settings.json"]);
        assert_eq!(
            user(Linux, "opencode"),
            ["/h/.config/opencode/opencode.json"]
        );
        assert_eq!(user(Linux, "lmstudio"), ["/h/.lmstudio/mcp.json"]);
        assert_eq!(user(Linux, "kiro"), ["/h/.kiro/settings/mcp.json"]);
        assert_eq!(user(Linux, "continue"), ["/h/.continue/config.yaml"]);
        let env = HostEnv::from_vars(Linux, vars).unwrap();
        let project: Vec<(String, Vec<String>)> = all()
            .iter()
            .flat_map(|c| c.locations(&env, Some(Path::new("/p"))))
            .map(|l| (l.path.to_string_lossy().into_owned(), l.section.clone()))
            .collect();
        let paths: Vec<&str> = project.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/p/.mcp.json",
                "/h/.claude.json",
                "/p/.cursor/mcp.json",
                "/p/.vscode/mcp.json",
                "/p/.zed/settings.json",
                "/p/.codex/config.toml",
                "/p/.gemini/settings.json",
                "/p/opencode.json",
                "/p/.kiro/settings/mcp.json"
            ]
        );
        assert_eq!(project[1].1, ["projects", "/p", "mcpServers"]);
    }

    #[test]
    fn client_lookup_suggests() {
        assert_eq!(by_id("Cursor").unwrap().id(), "cursor");
        match by_id("cursr") {
            Err(ClientError::UnknownClient { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some("cursor"))
            }
            other => panic!("{:?}", other.map(|c| c.id())),
        }
        let ids: std::collections::BTreeSet<_> = all().iter().map(|c| c.id()).collect();
        assert_eq!(ids.len(), all().len());
    }
}
