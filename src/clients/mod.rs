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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

pub use crate::config::ToolFilter;
use crate::config::expand::is_var_name;
use crate::docedit as doc;
pub use crate::docedit::{FileFormat, Shape};

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

/// One entry of a client location: its name and the server, or why it cannot be moved.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub server: Result<Server, String>,
}

/// Whether a location belongs to the user or to one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    User,
    Project,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }
}

/// One place in one file where a client keeps servers.
#[derive(Clone)]
pub struct Location {
    pub client: &'static dyn Client,
    pub scope: Scope,
    pub path: PathBuf,
    /// Key path from the document root to the server collection, e.g. `["mcpServers"]` or
    /// `["projects", "/abs/dir", "mcpServers"]`.
    pub section: Vec<String>,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("client", &self.client.id())
            .field("scope", &self.scope)
            .field("path", &self.path)
            .field("section", &self.section)
            .finish()
    }
}

impl Location {
    pub(crate) fn new(
        client: &'static dyn Client,
        scope: Scope,
        path: PathBuf,
        section: &[&str],
    ) -> Location {
        Location {
            client,
            scope,
            path,
            section: section.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `path` plus the section when it is not the client's usual top-level key (Claude Code's
    /// per-project entries), for messages.
    pub fn describe(&self) -> String {
        if self.section.len() > 1 {
            format!("{} ({})", self.path.display(), self.section.join(" › "))
        } else {
            self.path.display().to_string()
        }
    }

    /// Reads the entries of this location from `text`: each one decoded, or why it cannot be
    /// moved (a malformed entry, a placeholder the gateway cannot fill in). Only a file that does
    /// not parse is an error.
    pub fn entries(
        &self,
        text: &str,
        places: &Placeholders<'_>,
    ) -> Result<Vec<Entry>, ClientError> {
        let entries = doc::read_entries(
            text,
            self.client.format(),
            &self.section,
            self.client.shape(),
        )
        .map_err(|e| self.err(e))?;
        Ok(entries
            .into_iter()
            .map(|(name, value)| Entry {
                server: decode_entry(&name, &value, self.client, places),
                name,
            })
            .collect())
    }

    /// Returns `text` with the servers named in `remove` deleted and `add` appended (skipping
    /// names already present). Everything else in the file is kept as written.
    pub fn rewrite(
        &self,
        text: &str,
        remove: &[String],
        add: &[Server],
    ) -> Result<String, ClientError> {
        let add: Vec<(String, Value)> = add
            .iter()
            .map(|s| (s.name.clone(), self.client.encode(s)))
            .collect();
        doc::edit_entries(
            text,
            self.client.format(),
            &self.section,
            self.client.shape(),
            remove,
            &add,
        )
        .map_err(|e| self.err(e))
    }

    fn err(&self, source: doc::DocError) -> ClientError {
        ClientError::Doc {
            path: self.path.clone(),
            source,
        }
    }
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

/// Operating system whose path conventions apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOs {
    Linux,
    MacOs,
    Windows,
}

/// The directories client paths derive from.
#[derive(Debug, Clone)]
pub struct HostEnv {
    pub os: HostOs,
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, default `~/.config`.
    pub xdg_config: PathBuf,
    /// `%APPDATA%` (Windows), default `~/AppData/Roaming`.
    pub appdata: PathBuf,
    /// `$CODEX_HOME`, default `~/.codex`.
    pub codex_home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR` (where Claude Code keeps `.claude.json`), default `~`.
    pub claude_config_dir: PathBuf,
}

impl HostEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<HostEnv, ClientError> {
        let os = if cfg!(target_os = "macos") {
            HostOs::MacOs
        } else if cfg!(windows) {
            HostOs::Windows
        } else {
            HostOs::Linux
        };
        Self::from_vars(os, |k| std::env::var_os(k).filter(|v| !v.is_empty()))
    }

    /// Builds from a variable lookup (tests pass their own).
    pub fn from_vars(
        os: HostOs,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<HostEnv, ClientError> {
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(PathBuf::from)
            .ok_or(ClientError::NoHome)?;
        let abs = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
        Ok(HostEnv {
            os,
            xdg_config: abs(var("XDG_CONFIG_HOME")).unwrap_or_else(|| home.join(".config")),
            appdata: abs(var("APPDATA")).unwrap_or_else(|| home.join("AppData").join("Roaming")),
            codex_home: abs(var("CODEX_HOME")).unwrap_or_else(|| home.join(".codex")),
            claude_config_dir: abs(var("CLAUDE_CONFIG_DIR")).unwrap_or_else(|| home.clone()),
            home,
        })
    }

    /// The per-user application config dir: `~/Library/Application Support` on macOS,
    /// `%APPDATA%` on Windows, `$XDG_CONFIG_HOME` elsewhere.
    pub fn app_config_dir(&self) -> PathBuf {
        match self.os {
            HostOs::MacOs => self.home.join("Library").join("Application Support"),
            HostOs::Windows => self.appdata.clone(),
            HostOs::Linux => self.xdg_config.clone(),
        }
    }
}

/// Where a client that keeps the same file under `~` and in a project looks: the home directory
/// (user scope) or the project directory.
pub(crate) fn home_or_project(env: &HostEnv, project: Option<&Path>) -> (Scope, PathBuf) {
    match project {
        None => (Scope::User, env.home.clone()),
        Some(dir) => (Scope::Project, dir.to_path_buf()),
    }
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

/// The common `{command, args, env}` / `{url, headers}` entry. `typed`: also write `type`.
pub(crate) fn encode_standard(server: &Server, typed: bool) -> Value {
    let mut m = Map::new();
    match &server.spec {
        ServerSpec::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            if typed {
                m.insert("type".into(), "stdio".into());
            }
            m.insert("command".into(), command.clone().into());
            m.insert("args".into(), args.clone().into());
            if !env.is_empty() {
                m.insert("env".into(), string_map(env));
            }
            if let Some(cwd) = cwd {
                m.insert("cwd".into(), cwd.clone().into());
            }
        }
        ServerSpec::Remote {
            url,
            headers,
            transport,
        } => {
            if typed || *transport == RemoteTransport::Sse {
                let t = if *transport == RemoteTransport::Sse {
                    "sse"
                } else {
                    "http"
                };
                m.insert("type".into(), t.into());
            }
            m.insert("url".into(), url.clone().into());
            if !headers.is_empty() {
                m.insert("headers".into(), string_map(headers));
            }
        }
    }
    Value::Object(m)
}

pub(crate) fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// How a client's config values refer to environment variables. Values are converted to the
/// gateway's grammar on import (`${NAME:-}`, `${NAME:-default}`, `$$` for a literal `$`), so a
/// secret written literally stays exactly that secret, a reference stays a reference, and a
/// client placeholder is filled in (editor folders) or refused (prompts, files, secret stores).
///
/// The unset policy is the same for every client: a reference without a default becomes
/// `${NAME:-}`, empty when the variable is unset, so one unset variable makes that one value
/// empty instead of stopping the whole gateway from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvSyntax {
    /// No expansion: every `$` is literal (escaped to `$$`).
    Literal,
    /// Literal, but `${{ secrets.X }}` / `${{ inputs.X }}` are Continue's own placeholders,
    /// which the gateway cannot read: such a server stays in Continue.
    Continue,
    /// `${NAME}`, `${NAME:-default}` and `${env:NAME}` (Claude Code, Kiro, Windsurf); any other
    /// `${…}` cannot be carried.
    Dollar,
    /// Like `Dollar`, plus bare `$NAME` (Gemini CLI).
    DollarBare,
    /// The editors' variables (VS Code, Cursor): `${env:NAME}`, `${userHome}`,
    /// `${workspaceFolder}` (only with a project), `${workspaceFolderBasename}`,
    /// `${pathSeparator}`, `${/}`; `${input:…}` prompts and any other `${…}` cannot be carried.
    /// Every other `$` is literal.
    Editor,
    /// `{env:NAME}` (opencode); `{file:…}` cannot be carried; any `$` is literal.
    Braces,
}

/// What client placeholders stand for on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Placeholders<'a> {
    /// `${userHome}`.
    pub home: &'a Path,
    /// `${workspaceFolder}`: the `--project` directory; `None` at user scope, where the folder
    /// is whatever the editor has open, so such a value cannot be carried.
    pub project: Option<&'a Path>,
}

fn is_var_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl EnvSyntax {
    /// `value` in the gateway's grammar, or why it cannot be carried (the server then stays in
    /// its client).
    pub fn to_gateway(self, value: &str, places: &Placeholders<'_>) -> Result<String, String> {
        match self {
            EnvSyntax::Literal => Ok(value.replace('$', "$$")),
            EnvSyntax::Continue => match value.find("${{") {
                Some(i) => {
                    let end = value[i..].find("}}").map_or(value.len(), |e| i + e + 2);
                    Err(format!(
                        "`{}` is a Continue secret or input the gateway cannot read",
                        &value[i..end]
                    ))
                }
                None => Ok(value.replace('$', "$$")),
            },
            EnvSyntax::Dollar => dollar(value, false, None),
            EnvSyntax::DollarBare => dollar(value, true, None),
            EnvSyntax::Editor => dollar(value, false, Some(places)),
            EnvSyntax::Braces => braces(&value.replace('$', "$$")),
        }
    }
}

/// A path as a literal in the gateway's grammar.
fn literal(p: &Path) -> String {
    p.to_string_lossy().replace('$', "$$")
}

/// `${body}` of an editor: a predefined variable filled in, or why it cannot be.
fn editor_variable(body: &str, places: &Placeholders<'_>) -> Result<String, String> {
    let folder = || {
        places.project.ok_or_else(|| {
            format!("`${{{body}}}` is the folder open in the editor, which the gateway cannot know (run setup with --project DIR to fill it in)")
        })
    };
    match body {
        "userHome" => Ok(literal(places.home)),
        "workspaceFolder" => folder().map(literal),
        "workspaceFolderBasename" => folder().map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().replace('$', "$$"))
                .unwrap_or_default()
        }),
        "pathSeparator" | "/" => Ok(std::path::MAIN_SEPARATOR.to_string()),
        _ if body.starts_with("input:") => Err(format!(
            "`${{{body}}}` is an input prompt of the editor; the gateway cannot ask for it"
        )),
        _ => Err(format!(
            "`${{{body}}}` is an editor placeholder the gateway cannot fill in"
        )),
    }
}

/// A value of a client that expands `${NAME}`, `${NAME:-default}` and `${env:NAME}` (and, with
/// `bare`, `$NAME`; with `editor`, the editors' own variables) in the gateway's grammar. Every
/// other `$` is literal in these clients and is escaped to `$$`, so `p@$$w0rd` arrives byte for
/// byte.
fn dollar(value: &str, bare: bool, editor: Option<&Placeholders<'_>>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(body_and_tail) = after.strip_prefix('{')
            && let Some(end) = body_and_tail.find('}')
        {
            let body = &body_and_tail[..end];
            rest = &body_and_tail[end + 1..];
            if let Some(name) = body.strip_prefix("env:")
                && is_var_name(name)
            {
                out.push_str(&format!("${{{name}:-}}"));
                continue;
            }
            if let Some(places) = editor {
                out.push_str(&editor_variable(body, places)?);
                continue;
            }
            let (var, default) = body.split_once(":-").unwrap_or((body, ""));
            if is_var_name(var) && !default.contains(['{', '}']) {
                out.push_str(&format!("${{{var}:-{}}}", default.replace('$', "$$")));
                continue;
            }
            return Err(format!(
                "`${{{body}}}` is a placeholder the gateway cannot fill in"
            ));
        }
        let name: String = after.chars().take_while(|c| is_var_char(*c)).collect();
        if bare && is_var_name(&name) {
            out.push_str(&format!("${{{name}:-}}"));
            rest = &after[name.len()..];
            continue;
        }
        out.push_str("$$");
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// opencode's `{env:NAME}` → `${NAME:-}`; `{file:path}` cannot be carried; anything else is kept.
fn braces(s: &str) -> Result<String, String> {
    if let Some(i) = s.find("{file:") {
        let end = s[i..].find('}').map_or(s.len(), |e| i + e + 1);
        return Err(format!(
            "`{}` reads a file in opencode; the gateway cannot",
            &s[i..end]
        ));
    }
    let (open, close) = ("{env:", "}");
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) if j > 0 && after[..j].chars().all(is_var_char) => {
                out.push_str(&format!("${{{}:-}}", &after[..j]));
                rest = &after[j + close.len()..];
            }
            _ => {
                out.push_str(open);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads any client's entry. The clients differ in spelling, not meaning, so one lenient reader
/// covers them all: `command` as a string (most), an array with the arguments (opencode) or an
/// object `{path, args, env}` (older Zed); `cmd` (Goose); env under `env`, `envs` (Goose) or
/// `environment` (opencode); the URL under `url`, `serverUrl` (Windsurf), `httpUrl` (Gemini CLI)
/// or `uri` (Goose); headers under `headers` or `http_headers` (Codex), plus Codex's
/// `bearer_token_env_var`.
pub fn decode_entry(
    name: &str,
    value: &Value,
    client: &dyn Client,
    places: &Placeholders<'_>,
) -> Result<Server, String> {
    let conv = |s: &str| client.env_syntax().to_gateway(s, places);
    let obj = value.as_object().ok_or("the entry is not an object")?;
    let enabled = !obj
        .get("disabled")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && obj.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let ty = obj
        .get("type")
        .or_else(|| obj.get("transport"))
        .and_then(Value::as_str)
        .map(|t| t.to_ascii_lowercase().replace(['-', '_'], ""));
    // Goose keeps these variables' values in its keyring, which the gateway cannot read: the
    // server would start without them.
    if let Some(Value::Array(keys)) = obj.get("env_keys")
        && !keys.is_empty()
    {
        let names: Vec<String> = keys.iter().filter_map(scalar_string).collect();
        return Err(format!(
            "its variables {} come from Goose's keyring (`env_keys`), which the gateway cannot read",
            names.join(", ")
        ));
    }
    let command = obj.get("command").or_else(|| obj.get("cmd"));
    let spec = if let Some(command) = command {
        let (mut program, mut args, mut env) = match command {
            Value::String(s) => (s.clone(), Vec::new(), BTreeMap::new()),
            Value::Array(items) => {
                let mut words = strings(items, "command")?;
                if words.is_empty() {
                    return Err("`command` is an empty array".into());
                }
                let program = words.remove(0);
                (program, words, BTreeMap::new())
            }
            Value::Object(o) => {
                let path = o
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or("`command.path` is missing")?;
                let args = match o.get("args") {
                    Some(Value::Array(a)) => strings(a, "command.args")?,
                    _ => Vec::new(),
                };
                (
                    path.to_string(),
                    args,
                    env_map(o.get("env"), "command.env")?,
                )
            }
            _ => return Err("`command` is neither a string, an array nor an object".into()),
        };
        if program.trim().is_empty() {
            return Err("`command` is empty".into());
        }
        if let Some(a) = obj.get("args") {
            match a {
                Value::Array(items) => args.extend(strings(items, "args")?),
                Value::Null => {}
                _ => return Err("`args` is not an array".into()),
            }
        }
        for key in ["env", "envs", "environment"] {
            env.extend(env_map(obj.get(key), key)?);
        }
        let cwd = obj
            .get("cwd")
            .and_then(Value::as_str)
            .map(conv)
            .transpose()?;
        program = conv(program.trim())?;
        ServerSpec::Stdio {
            command: program,
            args: args.iter().map(|a| conv(a)).collect::<Result<_, _>>()?,
            env: env
                .into_iter()
                .map(|(k, v)| Ok((k, conv(&v)?)))
                .collect::<Result<_, String>>()?,
            cwd,
        }
    } else {
        let (url, from_http_url) = ["url", "serverUrl", "uri", "httpUrl"]
            .iter()
            .find_map(|k| {
                obj.get(*k)
                    .and_then(Value::as_str)
                    .map(|u| (u, *k == "httpUrl"))
            })
            .ok_or("the entry has neither `command` nor `url`")?;
        let mut headers = BTreeMap::new();
        for key in ["headers", "http_headers"] {
            for (k, v) in env_map(obj.get(key), key)? {
                headers.insert(k, conv(&v)?);
            }
        }
        if let Some(var) = obj.get("bearer_token_env_var").and_then(Value::as_str) {
            // `:-`: an unset variable fails this server's requests, not the whole gateway config.
            headers.insert("Authorization".into(), format!("Bearer ${{{var}:-}}"));
        }
        let transport = match ty.as_deref() {
            Some("sse") => RemoteTransport::Sse,
            Some("http" | "streamablehttp") => RemoteTransport::Http,
            _ if from_http_url => RemoteTransport::Http,
            _ => RemoteTransport::Auto,
        };
        ServerSpec::Remote {
            url: conv(url)?,
            headers,
            transport,
        }
    };
    Ok(Server {
        name: name.to_string(),
        spec,
        enabled,
        tools: tool_filter(obj)?,
        timeout: timeout(obj, client.timeout_key())?,
    })
}

fn strings(items: &[Value], key: &str) -> Result<Vec<String>, String> {
    items
        .iter()
        .map(|v| scalar_string(v).ok_or_else(|| format!("`{key}` holds a non-string item")))
        .collect()
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The client's tool restrictions: Gemini CLI `includeTools`/`excludeTools`, Codex
/// `enabled_tools`/`disabled_tools`, Kiro `disabledTools`.
fn tool_filter(obj: &Map<String, Value>) -> Result<ToolFilter, String> {
    let list = |key: &str| -> Result<Option<Vec<String>>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => strings(items, key).map(Some),
            Some(_) => Err(format!("`{key}` is not a list of tool names")),
        }
    };
    let mut allow: Option<Vec<String>> = None;
    for key in ["includeTools", "enabled_tools"] {
        if let Some(names) = list(key)? {
            allow.get_or_insert_with(Vec::new).extend(names);
        }
    }
    let mut deny = Vec::new();
    for key in ["excludeTools", "disabled_tools", "disabledTools"] {
        deny.extend(list(key)?.unwrap_or_default());
    }
    Ok(ToolFilter { allow, deny })
}

/// The client's per-request timeout, read from the key `key` names (in its unit).
fn timeout(
    obj: &Map<String, Value>,
    key: Option<(&'static str, TimeUnit)>,
) -> Result<Option<Duration>, String> {
    let Some((key, unit)) = key else {
        return Ok(None);
    };
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let n = n
                .as_f64()
                .filter(|n| n.is_finite() && *n > 0.0)
                .ok_or_else(|| format!("`{key}` is not a positive number"))?;
            let secs = match unit {
                TimeUnit::Seconds => n,
                TimeUnit::Millis => n / 1000.0,
            };
            Duration::try_from_secs_f64(secs)
                .map(Some)
                .map_err(|_| format!("`{key}` is out of range"))
        }
        Some(_) => Err(format!("`{key}` is not a number")),
    }
}

fn env_map(v: Option<&Value>, key: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| {
                scalar_string(v)
                    .map(|s| (k.clone(), s))
                    .ok_or_else(|| format!("`{key}.{k}` is not a string"))
            })
            .collect(),
        Some(_) => Err(format!("`{key}` is not an object")),
    }
}

/// Whether `server` is this gateway's own entry: our program (`mcp-gateway`, by path or on
/// `PATH`) with only our arguments (`stdio`, `--config PATH`). Anything else, such as
/// `/opt/x/bin/mcp-gateway.py` or another product's `mcp-gateway serve`, is a server to move.
pub fn is_gateway_entry(server: &Server) -> bool {
    let ServerSpec::Stdio { command, args, .. } = &server.spec else {
        return false;
    };
    let file = Path::new(command)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file != "mcp-gateway" && file != "mcp-gateway.exe" {
        return false;
    }
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "stdio" => {}
            "--config" | "-c" => {
                if args.next().is_none() {
                    return false;
                }
            }
            other if other.starts_with("--config=") => {}
            _ => return false,
        }
    }
    true
}

/// A name for the gateway entry that no other server in `taken` has: `gateway`, else
/// `mcp-gateway`, else `gateway-2`, `gateway-3`, ….
pub fn free_entry_name(preferred: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(preferred) {
        return preferred.to_string();
    }
    if !taken("mcp-gateway") {
        return "mcp-gateway".to_string();
    }
    (2..)
        .map(|n| format!("{preferred}-{n}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| preferred.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn places() -> Placeholders<'static> {
        Placeholders {
            home: Path::new("/home/u"),
            project: None,
        }
    }

    fn decode(name: &str, v: &Value) -> Result<Server, String> {
        decode_entry(name, v, &claude_code::ClaudeCode, &places())
    }

    fn conv(syntax: EnvSyntax, value: &str) -> Result<String, String> {
        syntax.to_gateway(value, &places())
    }

    #[test]
    fn env_syntaxes_convert_to_the_gateway_grammar() {
        // Unset policy: a reference without a default is `${NAME:-}` (empty when unset).
        assert_eq!(
            conv(EnvSyntax::Literal, "pa$$word${X}").unwrap(),
            "pa$$$$word$${X}"
        );
        assert_eq!(
            conv(EnvSyntax::Dollar, "${env:TOKEN} ${A:-b} ${KR} $5").unwrap(),
            "${TOKEN:-} ${A:-b} ${KR:-} $$5"
        );
        assert_eq!(
            conv(EnvSyntax::DollarBare, "$KEY and ${B} and $$ and 5$").unwrap(),
            "${KEY:-} and ${B:-} and $$$$ and 5$$"
        );
        assert_eq!(
            conv(EnvSyntax::DollarBare, "Bearer $GM_TOKEN").unwrap(),
            "Bearer ${GM_TOKEN:-}"
        );
        // `$$` is two literal dollars in these clients: it must reach the server byte for byte.
        for syntax in [EnvSyntax::Dollar, EnvSyntax::Editor, EnvSyntax::Continue] {
            assert_eq!(
                conv(syntax, "p@$$w0rd").unwrap(),
                "p@$$$$w0rd",
                "{syntax:?}"
            );
        }
        // A default with a `$` keeps it literal.
        assert_eq!(conv(EnvSyntax::Dollar, "${A:-x$y}").unwrap(), "${A:-x$$y}");
        assert!(conv(EnvSyntax::Dollar, "${bad name}").is_err());
        assert!(conv(EnvSyntax::Dollar, "${file:/x}").is_err());
        assert_eq!(
            conv(EnvSyntax::Braces, "Bearer {env:OC_TOKEN} costs $5").unwrap(),
            "Bearer ${OC_TOKEN:-} costs $$5"
        );
        assert!(conv(EnvSyntax::Braces, "{file:~/.secret}").is_err());
        assert!(conv(EnvSyntax::Continue, "${{ secrets.GH }}").is_err());
        let codex = decode_entry(
            "g",
            &json!({"url": "https://x", "bearer_token_env_var": "TOK", "http_headers": {"X": "a$b"}}),
            &codex::Codex,
            &places(),
        )
        .unwrap();
        assert!(
            matches!(&codex.spec, ServerSpec::Remote { headers, .. } if headers["Authorization"] == "Bearer ${TOK:-}" && headers["X"] == "a$$b")
        );
    }

    #[test]
    fn editor_placeholders_are_filled_in_or_refused() {
        let project = Placeholders {
            home: Path::new("/home/u"),
            project: Some(Path::new("/work/p$1")),
        };
        let ed = |v: &str, p: &Placeholders<'_>| EnvSyntax::Editor.to_gateway(v, p);
        assert_eq!(
            ed(
                "${workspaceFolder}/db ${userHome}${/}x ${env:TOK}",
                &project
            )
            .unwrap(),
            "/work/p$$1/db /home/u/x ${TOK:-}"
        );
        assert_eq!(ed("${workspaceFolderBasename}", &project).unwrap(), "p$$1");
        let no_project = ed("${workspaceFolder}/db", &places()).unwrap_err();
        assert!(no_project.contains("--project"), "{no_project}");
        let input = ed("${input:tok}", &project).unwrap_err();
        assert!(input.contains("input prompt"), "{input}");
        // An editor does not read `${NAME}` from the environment: not carried either.
        assert!(ed("${TOK}", &project).is_err());
        // Through a whole entry: the server is not decoded, so it stays in its client.
        let e = decode_entry(
            "v",
            &json!({"type": "stdio", "command": "x", "env": {"T": "${input:tok}"}}),
            &vscode::VsCode,
            &project,
        );
        assert!(e.unwrap_err().contains("${input:tok}"));
    }

    #[test]
    fn tool_restrictions_and_timeouts_are_read() {
        let g = decode_entry(
            "g",
            &json!({"command": "x", "excludeTools": ["delete_repository"], "includeTools": ["a", "delete_repository"], "timeout": 1500}),
            &gemini::GeminiCli,
            &places(),
        )
        .unwrap();
        assert_eq!(g.tools.deny, ["delete_repository"]);
        assert_eq!(
            g.tools.allow.as_deref(),
            Some(&["a".to_string(), "delete_repository".to_string()][..])
        );
        assert_eq!(g.timeout, Some(Duration::from_millis(1500)));
        let c = decode_entry(
            "c",
            &json!({"command": "x", "disabled_tools": ["rm"], "tool_timeout_sec": 90}),
            &codex::Codex,
            &places(),
        )
        .unwrap();
        assert_eq!(
            (c.tools.deny.as_slice(), c.timeout),
            (&["rm".to_string()][..], Some(Duration::from_secs(90)))
        );
        let k = decode_entry(
            "k",
            &json!({"command": "x", "disabledTools": ["rm"]}),
            &kiro::Kiro,
            &places(),
        )
        .unwrap();
        assert_eq!(k.tools.deny, ["rm"]);
        // Claude Code has no timeout key: a `timeout` there means nothing to it.
        assert_eq!(
            decode("x", &json!({"command": "x", "timeout": 5}))
                .unwrap()
                .timeout,
            None
        );
        let goose = decode_entry(
            "k",
            &json!({"cmd": "x", "env_keys": ["GITHUB_TOKEN"]}),
            &goose::Goose,
            &places(),
        );
        assert!(goose.unwrap_err().contains("GITHUB_TOKEN"));
        assert!(
            decode_entry(
                "g",
                &json!({"command": "x", "timeout": "soon"}),
                &gemini::GeminiCli,
                &places()
            )
            .is_err()
        );
    }

    #[test]
    fn decodes_every_spelling() {
        let s = decode(
            "a",
            &json!({"command": "npx", "args": ["-y", "x"], "env": {"K": "v"}}),
        )
        .unwrap();
        assert_eq!(
            s.spec,
            ServerSpec::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "x".into()],
                env: [("K".to_string(), "v".to_string())].into(),
                cwd: None
            }
        );
        let oc = decode("b", &json!({"type": "local", "command": ["bun", "x", "y"], "environment": {"A": "1"}, "enabled": false})).unwrap();
        assert!(!oc.enabled);
        assert!(
            matches!(&oc.spec, ServerSpec::Stdio { command, args, env, .. } if command == "bun" && args == &["x", "y"] && env["A"] == "1")
        );
        let zed = decode(
            "c",
            &json!({"command": {"path": "/bin/srv", "args": ["run"], "env": {"Z": "1"}}}),
        )
        .unwrap();
        assert!(
            matches!(&zed.spec, ServerSpec::Stdio { command, args, env, .. } if command == "/bin/srv" && args == &["run"] && env["Z"] == "1")
        );
        let goose = decode(
            "d",
            &json!({"type": "stdio", "cmd": "uvx", "args": ["t"], "envs": {"E": "2"}}),
        )
        .unwrap();
        assert!(matches!(&goose.spec, ServerSpec::Stdio { command, .. } if command == "uvx"));
        let ws = decode(
            "e",
            &json!({"serverUrl": "https://x/sse", "headers": {"H": "v"}}),
        )
        .unwrap();
        assert!(
            matches!(&ws.spec, ServerSpec::Remote { url, transport: RemoteTransport::Auto, .. } if url == "https://x/sse")
        );
        let gem = decode("f", &json!({"httpUrl": "https://x/mcp"})).unwrap();
        assert!(matches!(
            &gem.spec,
            ServerSpec::Remote {
                transport: RemoteTransport::Http,
                ..
            }
        ));
        let codex = decode(
            "g",
            &json!({"url": "https://x", "bearer_token_env_var": "TOK"}),
        )
        .unwrap();
        assert!(
            matches!(&codex.spec, ServerSpec::Remote { headers, .. } if headers["Authorization"] == "Bearer ${TOK:-}")
        );
        let sse = decode("h", &json!({"type": "sse", "url": "https://x/sse"})).unwrap();
        assert!(matches!(
            &sse.spec,
            ServerSpec::Remote {
                transport: RemoteTransport::Sse,
                ..
            }
        ));
        assert!(
            decode("i", &json!({"foo": 1}))
                .unwrap_err()
                .contains("neither")
        );
        assert!(
            decode("j", &json!({"command": "x", "args": "nope"}))
                .unwrap_err()
                .contains("args")
        );
        assert!(
            !decode("k", &json!({"command": "x", "disabled": true}))
                .unwrap()
                .enabled
        );
    }

    #[test]
    fn env_paths_follow_variables() {
        let vars = |k: &str| match k {
            "HOME" => Some("/h".into()),
            "XDG_CONFIG_HOME" => Some("/xdg".into()),
            "APPDATA" => Some("/appdata".into()),
            _ => None,
        };
        let linux = HostEnv::from_vars(HostOs::Linux, vars).unwrap();
        assert_eq!(linux.app_config_dir(), PathBuf::from("/xdg"));
        assert_eq!(linux.codex_home, PathBuf::from("/h/.codex"));
        let mac = HostEnv::from_vars(HostOs::MacOs, vars).unwrap();
        assert_eq!(
            mac.app_config_dir(),
            PathBuf::from("/h/Library/Application Support")
        );
        let win = HostEnv::from_vars(HostOs::Windows, vars).unwrap();
        assert_eq!(win.app_config_dir(), PathBuf::from("/appdata"));
        assert!(matches!(
            HostEnv::from_vars(HostOs::Linux, |_| None),
            Err(ClientError::NoHome)
        ));
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

    #[test]
    fn gateway_entry_detection() {
        let s = |c: &str| {
            Server::new(
                "x",
                ServerSpec::Stdio {
                    command: c.into(),
                    args: vec![],
                    env: BTreeMap::new(),
                    cwd: None,
                },
                true,
            )
        };
        assert!(is_gateway_entry(&s("mcp-gateway")));
        assert!(is_gateway_entry(&s("/home/u/.cargo/bin/mcp-gateway")));
        assert!(!is_gateway_entry(&s("npx")));
        // Only our program with our arguments is our entry.
        assert!(!is_gateway_entry(&s("/opt/lasso/bin/mcp-gateway.py")));
        let with = |args: &[&str]| {
            Server::new(
                "g",
                ServerSpec::Stdio {
                    command: "mcp-gateway".into(),
                    args: args.iter().map(|a| a.to_string()).collect(),
                    env: BTreeMap::new(),
                    cwd: None,
                },
                true,
            )
        };
        assert!(is_gateway_entry(&with(&[
            "--config",
            "/p/.mcp-gateway.yaml"
        ])));
        assert!(!is_gateway_entry(&with(&["serve", "--port", "1"])));
        assert_eq!(
            free_entry_name("gateway", |n| n == "gateway"),
            "mcp-gateway"
        );
        assert_eq!(
            free_entry_name("gateway", |n| n == "gateway" || n == "mcp-gateway"),
            "gateway-2"
        );
    }
}
