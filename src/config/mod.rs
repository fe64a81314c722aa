//! Configuration: raw YAML on disk → a validated, immutable [`Config`].
//!
//! Owns discovery (which file wins), `${VAR}` / `${VAR:-default}` expansion, per-project layering
//! (`inherit: true`) and validation with errors that name the file, line and key (and suggest the
//! right key for typos). It never starts processes or touches the network: it only describes them,
//! and it imports nothing that runs. A loaded `Config` is plain data, never mutated and comparable
//! (`PartialEq`), so two loads can be compared.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

mod allow;
mod auth;
pub mod diff;
mod discover;
mod document;
mod duration;
mod error;
pub mod expand;
mod failsafe;
mod load;
mod schema;
#[cfg(test)]
mod tests;
mod tools;
pub(crate) mod yaml;

pub use allow::{AllowEntry, AllowList};
pub use auth::{
    ApiKey, AuthConfig, JwksSource, JwtAlgorithm, JwtConfig, RequestLogConfig, ScopeGrant,
};
pub use discover::{
    Found, Origin, PROJECT_FILE_NAMES, SYSTEM_CONFIG_FILE, SearchPaths, discover_in, project_file,
    project_root,
};
pub use document::layered_document;
pub use duration::parse as parse_duration;
pub use error::{ConfigError, FileProblem};
pub use failsafe::{Failsafe, FailsafePatch};
pub use load::{WrittenFile, discover, load, load_file, parse_as_written, parse_str};
pub use schema::valid_backend_name;
pub use tools::ToolFilter;

/// Default port of the shared HTTP listener.
pub const DEFAULT_PORT: u16 = 39400;
/// Default per-call timeout for a backend request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default idle time after which a lazily started backend is stopped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The validated configuration of one gateway instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Files this config was built from, lowest precedence first (empty: built-in defaults).
    pub sources: Vec<PathBuf>,
    pub server: ServerConfig,
    /// `share:`: a stdio client's `mcp-gateway` bridges to one shared `serve` process per config
    /// file instead of starting its own backends.
    pub share: bool,
    pub meta_mcp: MetaMcpConfig,
    /// Backends by name; `BTreeMap` keeps every listing deterministic.
    pub backends: BTreeMap<String, BackendConfig>,
    pub capabilities: CapabilitiesConfig,
    /// `skills:`: where SKILL.md folders are found (see `crate::skills`).
    pub skills: SkillsConfig,
    pub log: LogConfig,
    /// `scanner.allow`: tool-description findings the operator accepted (per server, tool, rule).
    pub scanner_allow: AllowList,
    /// `auth:`: API keys, JWT, default rate limit (used by the HTTP listener).
    pub auth: AuthConfig,
    /// `request_log:`: the per-call log in memory and in the state dir.
    pub request_log: RequestLogConfig,
    /// `failsafe:`: the gateway-wide defaults every backend's own `failsafe:` patches (the
    /// effective values of a backend are in [`BackendConfig::failsafe`]).
    pub failsafe: Failsafe,
    /// Keys that were accepted but are not implemented (keys of the MikkoParkkola/mcp-gateway
    /// format such as `failsafe`), as `file:line: message`. Loading happens before logging is
    /// set up, so the caller reports them with [`Config::log_warnings`] once it is.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// `Origin` values a browser may send to the listener besides loopback origins (exact
    /// `scheme://host[:port]`); any other `Origin` is refused with 403 (DNS rebinding).
    pub allowed_origins: Vec<String>,
    /// `Host` values (`name` or `name:port`) accepted besides loopback names; others get 403.
    pub allowed_hosts: Vec<String>,
    /// Largest request body the listener reads, in bytes; larger ones get 413.
    pub max_body_size: usize,
    /// `server.public_url`: the listener's address as clients reach it (`https://gw.example.com`),
    /// the base of the OAuth protected-resource metadata and of `WWW-Authenticate`; never taken
    /// from a request's `Host`. Stored without a trailing `/`.
    pub public_url: Option<String>,
}

/// Default cap on an HTTP request body (4 MiB).
pub const DEFAULT_MAX_BODY_SIZE: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct MetaMcpConfig {
    /// `false`: list every backend tool directly as `server__tool`.
    pub enabled: bool,
    /// Tools surfaced directly in `tools/list` next to the meta-tools.
    pub surface: Vec<ToolRef>,
}

/// `server/tool` reference written in config.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ToolRef {
    pub server: String,
    pub tool: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackendConfig {
    /// `[A-Za-z0-9_-]{1,32}`.
    pub name: String,
    /// `tags:`: labels usable in scopes (`@tag`) and REST filters (`?tag=`).
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub transport: Transport,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Stop the backend after this long without traffic.
    pub idle_timeout: Duration,
    /// `tools: {allow, deny}`: which of its tools are served.
    pub tools: ToolFilter,
    /// `isolate: true`: one instance per client session (a browser, a REPL) instead of one
    /// shared by every session.
    pub isolate: bool,
    /// Effective failsafe settings: the gateway-wide `failsafe:` patched with this backend's.
    pub failsafe: Failsafe,
    /// What this backend's own `failsafe:` sets.
    pub failsafe_patch: FailsafePatch,
    /// `pin_tools: true`: tool definitions are pinned once approved; a changed or new tool is
    /// held back until `mcp-gateway approve NAME`.
    pub pin_tools: bool,
}

impl BackendConfig {
    /// A backend the gateway adds and serves in process (the capabilities, the skills): named
    /// `name`, never written in a config, never stopped for idleness (it watches its files).
    pub fn in_process(name: &str, description: &str, transport: Transport) -> BackendConfig {
        BackendConfig {
            name: name.to_string(),
            tags: Vec::new(),
            description: Some(description.to_string()),
            enabled: true,
            transport,
            timeout: DEFAULT_TIMEOUT,
            idle_timeout: Duration::from_secs(10 * 365 * 24 * 3600),
            tools: ToolFilter::default(),
            isolate: false,
            failsafe: Failsafe::default(),
            failsafe_patch: FailsafePatch::default(),
            pin_tools: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Stdio(StdioSpec),
    Http(HttpSpec),
    /// The in-process REST capabilities backend (built from `capabilities:` by the gateway, never
    /// written as a backend).
    Capabilities(CapabilitiesSpec),
    /// The in-process skills backend (built from `skills:` by the gateway, never written as a
    /// backend).
    Skills(SkillsSpec),
}

impl Transport {
    /// Served inside the gateway (the capabilities, the skills): no process to stop, and a watch
    /// on its files that must keep running, so it is never stopped for idleness.
    pub fn is_in_process(&self) -> bool {
        matches!(self, Transport::Capabilities(_) | Transport::Skills(_))
    }

    /// Short name shown to users: `stdio`, `http`, `sse`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Stdio(_) => "stdio",
            Transport::Capabilities(_) => "capabilities",
            Transport::Skills(_) => "skills",
            Transport::Http(h) => match h.kind {
                HttpKind::Sse => "sse",
                HttpKind::Auto | HttpKind::StreamableHttp => "http",
            },
        }
    }
}

/// A child process speaking newline-delimited JSON-RPC on stdin/stdout.
#[derive(Debug, Clone, PartialEq)]
pub struct StdioSpec {
    /// Program to run (already split from a one-string `command`).
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment, values already expanded.
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
}

/// A remote MCP server.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    pub url: String,
    /// Headers sent on every request, values already expanded.
    pub headers: BTreeMap<String, String>,
    pub kind: HttpKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpKind {
    /// Try Streamable HTTP, fall back to legacy SSE.
    Auto,
    StreamableHttp,
    Sse,
}

/// What the in-process capabilities backend serves: plain data, like a command line.
#[derive(Debug, Clone, PartialEq)]
pub struct CapabilitiesSpec {
    pub directories: Vec<PathBuf>,
    /// The pin lock file (`None`: nothing is pinned).
    pub pins: Option<PathBuf>,
}

/// What the in-process skills backend serves: its directories in search order, and the scanner's
/// allow-list that screens them.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillsSpec {
    pub directories: Vec<SkillDir>,
    pub allow: AllowList,
}

/// Where a skill directory comes from, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkillScope {
    /// `skills.directories` in gateway.yaml.
    Config,
    /// A project's agent directory (working directory up to the repository root).
    Project,
    /// `mcp-gateway skills import` (the gateway's data dir).
    Imported,
    /// A user's agent directory under the home directory.
    User,
}

impl SkillScope {
    pub fn label(self) -> &'static str {
        match self {
            SkillScope::Config => "config",
            SkillScope::Project => "project",
            SkillScope::Imported => "imported",
            SkillScope::User => "user",
        }
    }
}

/// One directory to search for skills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillDir {
    pub path: PathBuf,
    pub scope: SkillScope,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CapabilitiesConfig {
    pub enabled: bool,
    /// Directories relative to the config file are already resolved.
    pub directories: Vec<PathBuf>,
}

/// `skills:` in gateway.yaml.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillsConfig {
    /// `false`: no skills are served (default `true`).
    pub enabled: bool,
    /// Extra skill directories (each holds one folder per skill), searched before the defaults;
    /// relative paths are already resolved against the config file.
    pub directories: Vec<PathBuf>,
    /// Also search the locations AI agents document for skills (`~/.claude/skills`, a
    /// project's `.claude/skills`, …; see `crate::skills::discover`). Default `true`.
    pub default_directories: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// An `EnvFilter` directive such as `info` or `mcp_gateway=debug`.
    pub level: Option<String>,
    pub format: LogFormat,
    /// Log to this file instead of stderr.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sources: Vec::new(),
            server: ServerConfig {
                host: "127.0.0.1".to_string(),
                port: DEFAULT_PORT,
                allowed_origins: Vec::new(),
                allowed_hosts: Vec::new(),
                max_body_size: DEFAULT_MAX_BODY_SIZE,
                public_url: None,
            },
            share: false,
            meta_mcp: MetaMcpConfig {
                enabled: true,
                surface: Vec::new(),
            },
            backends: BTreeMap::new(),
            capabilities: CapabilitiesConfig {
                enabled: false,
                directories: Vec::new(),
            },
            skills: SkillsConfig {
                enabled: true,
                directories: Vec::new(),
                default_directories: true,
            },
            log: LogConfig {
                level: None,
                format: LogFormat::Text,
                file: None,
            },
            scanner_allow: AllowList::default(),
            auth: AuthConfig::default(),
            request_log: RequestLogConfig::default(),
            failsafe: Failsafe::default(),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// Logs every entry of [`Config::warnings`] with `tracing::warn!`. Call once logging is up.
    pub fn log_warnings(&self) {
        for w in &self.warnings {
            tracing::warn!("{w}");
        }
    }
}

impl BackendConfig {
    /// A stable fingerprint of what this backend runs: catalog entries are keyed by it, so a
    /// changed command never serves a stale tool list.
    pub fn launch_fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        match &self.transport {
            Transport::Stdio(s) => {
                h.update(b"stdio\0");
                h.update(s.program.as_bytes());
                for a in &s.args {
                    h.update(b"\0");
                    h.update(a.as_bytes());
                }
                h.update(b"\0cwd\0");
                if let Some(c) = &s.cwd {
                    h.update(c.to_string_lossy().as_bytes());
                }
                // Env *names* only: a rotated secret must not invalidate the catalog.
                for k in s.env.keys() {
                    h.update(b"\0env\0");
                    h.update(k.as_bytes());
                }
            }
            Transport::Http(s) => {
                h.update(b"http\0");
                h.update(s.url.as_bytes());
            }
            Transport::Capabilities(c) => {
                h.update(b"capabilities\0");
                for d in &c.directories {
                    h.update(d.to_string_lossy().as_bytes());
                    h.update(b"\0");
                }
            }
            Transport::Skills(c) => {
                h.update(b"skills\0");
                for d in &c.directories {
                    h.update(d.path.to_string_lossy().as_bytes());
                    h.update(b"\0");
                }
            }
        }
        // The catalog holds only the tools the filter serves: a changed filter lists again.
        if !self.tools.is_empty() {
            h.update(b"\0tools\0");
            for a in self.tools.allow.iter().flatten() {
                h.update(b"\0allow\0");
                h.update(a.as_bytes());
            }
            for d in &self.tools.deny {
                h.update(b"\0deny\0");
                h.update(d.as_bytes());
            }
            h.update(if self.tools.allow.is_some() {
                b"A"
            } else {
                b"-"
            });
        }
        hex::encode(&h.finalize()[..8])
    }
}
