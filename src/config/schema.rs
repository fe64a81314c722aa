//! The `gateway.yaml` schema: node tree of one file → a validated [`FileConfig`].
//!
//! Owns which keys exist at every level (ours plus the published format of
//! MikkoParkkola/mcp-gateway, so its users can switch), what each value may be, `${VAR}` and `~`
//! expansion of values, relative-path resolution against the file's directory, and the
//! did-you-mean for unknown keys. Keys of that format we do not implement are accepted with a
//! warning in [`FileConfig::warnings`] (logged by the caller), never silently. It never reads files or looks for them (see `discover`),
//! and it only records what was written: defaults are applied when files are combined.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod auth;
mod backend;
mod failsafe;

use super::expand::{self, ExpandError, Vars};
use super::yaml::{Key, Node, Pos, TypedKind, Value};
use super::{BackendConfig, ConfigError, LogFormat, ToolRef};

/// What one file says. `None`: the file does not set it (a lower layer or the default applies).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct FileConfig {
    pub path: PathBuf,
    /// `inherit:` and where it was written.
    pub inherit: Option<(bool, Pos)>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub allowed_origins: Option<Vec<String>>,
    pub allowed_hosts: Option<Vec<String>>,
    pub max_body_size: Option<usize>,
    pub public_url: Option<String>,
    pub share: Option<bool>,
    pub meta_enabled: Option<bool>,
    pub surface: Option<Vec<ToolRef>>,
    pub backends: BTreeMap<String, BackendConfig>,
    /// In an inheriting file: backends that only say `enabled: …`, switching an inherited
    /// backend on or off, with where the name was written.
    pub backend_switches: BTreeMap<String, (bool, Pos)>,
    pub capabilities_enabled: Option<bool>,
    pub capability_dirs: Option<Vec<PathBuf>>,
    pub skills_enabled: Option<bool>,
    pub skill_dirs: Option<Vec<PathBuf>>,
    pub skill_default_dirs: Option<bool>,
    pub log_level: Option<String>,
    pub log_format: Option<LogFormat>,
    pub log_file: Option<PathBuf>,
    /// `scanner.allow`: exceptions to the tool-description scanner.
    pub scanner_allow: Option<Vec<super::AllowEntry>>,
    /// `auth:` (replaced as a whole by an upper layer).
    pub auth: Option<super::AuthConfig>,
    /// `request_log:` (replaced as a whole by an upper layer).
    pub request_log: Option<super::RequestLogConfig>,
    /// `failsafe:` (merged leaf by leaf with lower layers).
    pub failsafe: super::FailsafePatch,
    /// Accepted but unimplemented keys, as `file:line: message`.
    pub warnings: Vec<String>,
}

impl FileConfig {
    /// `self` with `upper` layered on top: `upper` wins wherever it sets something; backends
    /// merge by name (a backend in `upper` replaces the one of the same name, and a switch in
    /// `upper` turns one of `self`'s backends on or off).
    pub fn overlay(mut self, upper: FileConfig) -> Result<FileConfig, ConfigError> {
        for (name, (enabled, pos)) in upper.backend_switches {
            match self.backends.get_mut(&name) {
                Some(b) => b.enabled = enabled,
                None => {
                    return Err(ConfigError::Invalid {
                        path: upper.path,
                        line: pos.line,
                        column: pos.column,
                        key: format!("backends.{name}"),
                        message: "sets only `enabled`, but no inherited backend has this name; a new backend needs `command` or `http_url`".to_string(),
                    });
                }
            }
        }
        self.backends.extend(upper.backends);
        self.warnings.extend(upper.warnings);
        Ok(FileConfig {
            path: upper.path,
            inherit: upper.inherit,
            host: upper.host.or(self.host),
            port: upper.port.or(self.port),
            allowed_origins: upper.allowed_origins.or(self.allowed_origins),
            allowed_hosts: upper.allowed_hosts.or(self.allowed_hosts),
            max_body_size: upper.max_body_size.or(self.max_body_size),
            public_url: upper.public_url.or(self.public_url),
            share: upper.share.or(self.share),
            meta_enabled: upper.meta_enabled.or(self.meta_enabled),
            surface: upper.surface.or(self.surface),
            backends: self.backends,
            backend_switches: BTreeMap::new(),
            capabilities_enabled: upper.capabilities_enabled.or(self.capabilities_enabled),
            capability_dirs: upper.capability_dirs.or(self.capability_dirs),
            skills_enabled: upper.skills_enabled.or(self.skills_enabled),
            skill_dirs: upper.skill_dirs.or(self.skill_dirs),
            skill_default_dirs: upper.skill_default_dirs.or(self.skill_default_dirs),
            log_level: upper.log_level.or(self.log_level),
            log_format: upper.log_format.or(self.log_format),
            log_file: upper.log_file.or(self.log_file),
            scanner_allow: upper.scanner_allow.or(self.scanner_allow),
            auth: upper.auth.or(self.auth),
            request_log: upper.request_log.or(self.request_log),
            failsafe: self.failsafe.overlay(upper.failsafe),
            warnings: self.warnings,
        })
    }
}

// Keys per level. `*_IGNORED` are keys of the MikkoParkkola/mcp-gateway format that we accept
// and warn about; everything else is an error with a suggestion.
const TOP: &[&str] = &[
    "server",
    "meta_mcp",
    "backends",
    "capabilities",
    "skills",
    "log",
    "scanner",
    "inherit",
    "share",
    "auth",
    "request_log",
    "failsafe",
];
const SCANNER: &[&str] = &["allow"];
const ALLOW_ENTRY: &[&str] = &["server", "backend", "tool", "rules"];
const TOP_IGNORED: &[&str] = &[
    "env_files",
    "streaming",
    "cache",
    "playbooks",
    "security",
    "webhooks",
    "routing_profiles",
    "default_routing_profile",
    "code_mode",
    "mtls",
    "key_server",
    "agent_auth",
    "marketplace",
    "cost_governance",
    "telemetry",
];
const SERVER: &[&str] = &[
    "host",
    "port",
    "allowed_origins",
    "allowed_hosts",
    "max_body_size",
    "public_url",
];
const SERVER_IGNORED: &[&str] = &["ws_port", "request_timeout", "shutdown_timeout"];
const META: &[&str] = &["enabled", "surface", "surfaced_tools"];
const META_IGNORED: &[&str] = &[
    "cache_tools",
    "cache_ttl",
    "warm_start",
    "prompts_resources_fetch_timeout",
    "projection_mode",
    "exposed_meta_tools",
    "expose_stats_tool",
];
const BACKEND: &[&str] = &[
    "command",
    "args",
    "env",
    "cwd",
    "description",
    "enabled",
    "timeout",
    "idle_timeout",
    "stop_when_idle_for",
    "tags",
    "isolate",
    "http_url",
    "url",
    "headers",
    "transport",
    "streamable_http",
    "ws_url",
    "a2a_url",
    "tools",
    "failsafe",
    "pin_tools",
];
const BACKEND_TOOLS: &[&str] = &["allow", "deny"];
const BACKEND_IGNORED: &[&str] = &[
    "protocol_version",
    "oauth",
    "secrets",
    "passthrough",
    "max_frame_bytes",
    "allow_flagged_tools",
    "input_schema_enforcement",
    "allow_cleartext_credentials",
    "runtime_profile",
    "identity_propagation",
    "account",
    "signature_chain",
    "chain_origins",
    "chain_signer",
];
const CAPABILITIES: &[&str] = &["enabled", "directories"];
const CAPABILITIES_IGNORED: &[&str] = &["name"];
const SKILLS: &[&str] = &["enabled", "directories", "default_directories"];
const LOG: &[&str] = &["level", "format", "file"];
const SURFACE_ENTRY: &[&str] = &["server", "tool"];
/// Flat keys of older formats and where they live now.
const MOVED: &[(&str, &str)] = &[
    ("log_level", "log.level"),
    ("enable_meta_mcp", "meta_mcp.enabled"),
    ("host", "server.host"),
    ("port", "server.port"),
];

/// Converts one file's node tree. `vars` supplies `${VAR}` values and `HOME`.
pub(super) fn convert(
    root: &Node,
    path: &Path,
    vars: &dyn Vars,
) -> Result<FileConfig, ConfigError> {
    convert_with(root, path, vars, false)
}

/// Converts one file's node tree as written: the same checks, but strings (commands, args,
/// env and header values, URLs, paths) keep their `${…}` and `~` unexpanded; only values that
/// must be read as a number, duration or switch are expanded with `vars`.
pub(super) fn convert_as_written(
    root: &Node,
    path: &Path,
    vars: &dyn Vars,
) -> Result<FileConfig, ConfigError> {
    convert_with(root, path, vars, true)
}

fn convert_with(
    root: &Node,
    path: &Path,
    vars: &dyn Vars,
    as_written: bool,
) -> Result<FileConfig, ConfigError> {
    let base_dir = match path.parent() {
        Some(dir) if dir.is_absolute() => dir.to_path_buf(),
        Some(dir) => std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf()),
        None => PathBuf::new(),
    };
    let home = vars
        .var("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let cx = Cx {
        path,
        base_dir,
        home,
        vars,
        as_written,
        warnings: RefCell::new(Vec::new()),
    };
    let mut file = cx.file(root)?;
    file.warnings = cx.warnings.into_inner();
    Ok(file)
}

struct Cx<'a> {
    path: &'a Path,
    base_dir: PathBuf,
    home: Option<PathBuf>,
    vars: &'a dyn Vars,
    /// Keep strings as written (see [`convert_as_written`]).
    as_written: bool,
    warnings: RefCell<Vec<String>>,
}

/// A mapping being read: its entries and its dotted key path (empty at top level).
struct Section<'n> {
    key: String,
    entries: &'n [(Key, Node)],
}

impl<'n> Section<'n> {
    /// The value of `name`. A key with an empty value (`key:` or `key: ~`) counts as not set.
    fn get(&self, name: &str) -> Option<&'n Node> {
        self.entry(name).map(|(_, v)| v)
    }

    fn entry(&self, name: &str) -> Option<&'n (Key, Node)> {
        self.entries
            .iter()
            .find(|(k, v)| k.name == name && v.value != Value::Null)
    }

    fn child(&self, name: &str) -> String {
        if self.key.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.key)
        }
    }
}

impl Cx<'_> {
    // ---- errors -------------------------------------------------------------------------

    fn invalid(&self, pos: Pos, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: pos.line,
            column: pos.column,
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn expand_err(&self, pos: Pos, key: &str, err: ExpandError) -> ConfigError {
        match err {
            ExpandError::Missing(var) => ConfigError::MissingEnv {
                path: self.path.to_path_buf(),
                line: pos.line,
                column: pos.column,
                key: key.to_string(),
                var,
            },
            ExpandError::Syntax(message) => self.invalid(pos, key, message),
        }
    }

    fn expected(&self, node: &Node, key: &str, what: &str) -> ConfigError {
        self.invalid(
            node.pos,
            key,
            format!("expected {what}, found {}", node.value.describe()),
        )
    }

    // ---- sections and keys --------------------------------------------------------------

    /// `node` as a mapping whose keys must be `known` (or `ignored`, with a warning). A null
    /// node (`log:` with nothing after it) is an empty mapping.
    fn section<'n>(
        &self,
        node: &'n Node,
        key: &str,
        known: &[&str],
        ignored: &[&str],
    ) -> Result<Section<'n>, ConfigError> {
        let entries: &[(Key, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => return Err(self.expected(node, display_key(key), "a mapping")),
        };
        let section = Section {
            key: key.to_string(),
            entries,
        };
        for (k, _) in entries {
            if known.contains(&k.name.as_str()) {
                continue;
            }
            let dotted = section.child(&k.name);
            // `x-…` at the top level: a place for YAML anchors (`x-defaults: &d {…}`).
            if key.is_empty() && k.name.starts_with("x-") {
                continue;
            }
            if ignored.contains(&k.name.as_str()) {
                self.warnings.borrow_mut().push(format!(
                    "{}:{}: `{dotted}` is not implemented by this gateway, ignored",
                    self.path.display(),
                    k.pos.line
                ));
                continue;
            }
            let suggestion = crate::suggest::closest(&k.name, known.iter().copied())
                .map(str::to_string)
                .or_else(|| {
                    key.is_empty()
                        .then(|| moved_key(&k.name))
                        .flatten()
                        .map(str::to_string)
                });
            return Err(ConfigError::UnknownKey {
                path: self.path.to_path_buf(),
                line: k.pos.line,
                column: k.pos.column,
                key: dotted,
                suggestion,
            });
        }
        Ok(section)
    }

    // ---- scalars ------------------------------------------------------------------------

    /// A string value: `${…}` expanded (as written in [`convert_as_written`], after a syntax
    /// check). Numbers and booleans keep their spelling.
    fn string(&self, node: &Node, key: &str) -> Result<String, ConfigError> {
        match &node.value {
            Value::Str(s) if self.as_written => {
                self.check_syntax(s, node.pos, key)?;
                Ok(s.clone())
            }
            _ => self.expanded(node, key),
        }
    }

    /// Whether `text` would expand, without looking any variable up.
    fn check_syntax(&self, text: &str, pos: Pos, key: &str) -> Result<(), ConfigError> {
        let any = |_: &str| Some(String::new());
        expand::expand(text, &any)
            .map(drop)
            .map_err(|e| self.expand_err(pos, key, e))
    }

    /// A string value with `${…}` expanded, always (values read as numbers or switches).
    fn expanded(&self, node: &Node, key: &str) -> Result<String, ConfigError> {
        match &node.value {
            Value::Str(s) => {
                expand::expand(s, self.vars).map_err(|e| self.expand_err(node.pos, key, e))
            }
            Value::Typed { raw, .. } => Ok(raw.clone()),
            _ => Err(self.expected(node, key, "a string")),
        }
    }

    fn nonempty_string(&self, node: &Node, key: &str) -> Result<String, ConfigError> {
        let s = self.string(node, key)?;
        if s.trim().is_empty() {
            return Err(self.invalid(node.pos, key, "must not be empty"));
        }
        Ok(s)
    }

    fn bool(&self, node: &Node, key: &str) -> Result<bool, ConfigError> {
        if let Value::Typed {
            kind: TypedKind::Bool(b),
            ..
        } = node.value
        {
            return Ok(b);
        }
        if let Value::Str(_) = node.value {
            match self
                .expanded(node, key)?
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "true" => return Ok(true),
                "false" => return Ok(false),
                other => {
                    return Err(self.invalid(
                        node.pos,
                        key,
                        format!("expected `true` or `false`, found `{other}`"),
                    ));
                }
            }
        }
        Err(self.expected(node, key, "`true` or `false`"))
    }

    fn duration(&self, node: &Node, key: &str) -> Result<Duration, ConfigError> {
        let text = match &node.value {
            Value::Typed {
                kind: TypedKind::Int(i),
                ..
            } if *i < 0 => {
                return Err(self.invalid(node.pos, key, "a duration cannot be negative"));
            }
            Value::Str(_) | Value::Typed { .. } => self.expanded(node, key)?,
            _ => return Err(self.expected(node, key, "a duration such as `30s`")),
        };
        let d = super::duration::parse(&text).map_err(|m| self.invalid(node.pos, key, m))?;
        if d.is_zero() {
            return Err(self.invalid(node.pos, key, "must be greater than zero"));
        }
        Ok(d)
    }

    fn path_value(&self, node: &Node, key: &str) -> Result<PathBuf, ConfigError> {
        let s = self.nonempty_string(node, key)?;
        if self.as_written {
            return Ok(PathBuf::from(s));
        }
        expand::path(&s, self.home.as_deref(), &self.base_dir)
            .map_err(|m| self.invalid(node.pos, key, m))
    }

    fn seq<'n>(&self, node: &'n Node, key: &str) -> Result<&'n [Node], ConfigError> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            Value::Null => Ok(&[]),
            _ => Err(self.expected(node, key, "a list")),
        }
    }

    /// A mapping of names to strings (`env`, `headers`), values expanded.
    fn string_map(&self, node: &Node, key: &str) -> Result<Vec<(Key, String, Pos)>, ConfigError> {
        let entries: &[(Key, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => return Err(self.expected(node, key, "a mapping of names to values")),
        };
        entries
            .iter()
            .map(|(k, v)| {
                let dotted = format!("{key}.{}", k.name);
                Ok((k.clone(), self.string(v, &dotted)?, v.pos))
            })
            .collect()
    }

    // ---- the file -----------------------------------------------------------------------

    fn file(&self, root: &Node) -> Result<FileConfig, ConfigError> {
        if !matches!(root.value, Value::Map(_) | Value::Null) {
            return Err(self.expected(
                root,
                "",
                "a mapping of sections (`server:`, `backends:` …)",
            ));
        }
        let top = self.section(root, "", TOP, TOP_IGNORED)?;
        let mut out = FileConfig {
            path: self.path.to_path_buf(),
            ..FileConfig::default()
        };
        if let Some(n) = top.get("inherit") {
            out.inherit = Some((self.bool(n, "inherit")?, n.pos));
        }
        if let Some(n) = top.get("server") {
            let s = self.section(n, "server", SERVER, SERVER_IGNORED)?;
            if let Some(h) = s.get("host") {
                out.host = Some(self.nonempty_string(h, "server.host")?);
            }
            if let Some(p) = s.get("port") {
                out.port = Some(self.port(p, "server.port")?);
            }
            for (field, slot) in [
                ("allowed_origins", &mut out.allowed_origins),
                ("allowed_hosts", &mut out.allowed_hosts),
            ] {
                if let Some(l) = s.get(field) {
                    let key = format!("server.{field}");
                    let items = self
                        .seq(l, &key)?
                        .iter()
                        .map(|item| {
                            self.nonempty_string(item, &key)
                                .map(|v| v.trim().to_string())
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    *slot = Some(items);
                }
            }
            if let Some(n) = s.get("max_body_size") {
                out.max_body_size = Some(self.byte_size(n, "server.max_body_size")?);
            }
            if let Some(n) = s.get("public_url") {
                out.public_url = Some(self.public_url(n)?);
            }
        }
        if let Some(n) = top.get("share") {
            out.share = Some(self.bool(n, "share")?);
        }
        if let Some(n) = top.get("meta_mcp") {
            let s = self.section(n, "meta_mcp", META, META_IGNORED)?;
            if let Some(e) = s.get("enabled") {
                out.meta_enabled = Some(self.bool(e, "meta_mcp.enabled")?);
            }
            for list in ["surface", "surfaced_tools"] {
                if let Some(l) = s.get(list) {
                    let refs = self.tool_refs(l, &format!("meta_mcp.{list}"))?;
                    let all = out.surface.get_or_insert_with(Vec::new);
                    for r in refs {
                        if !all.contains(&r) {
                            all.push(r);
                        }
                    }
                }
            }
        }
        if let Some(n) = top.get("backends") {
            let entries: &[(Key, Node)] = match &n.value {
                Value::Map(entries) => entries,
                Value::Null => &[],
                _ => return Err(self.expected(n, "backends", "a mapping of backend names")),
            };
            for (k, v) in entries {
                if let Some(enabled) = self.switch(k, v, out.inherit)? {
                    out.backend_switches
                        .insert(k.name.clone(), (enabled, k.pos));
                    continue;
                }
                let backend = self.backend(k, v)?;
                out.backends.insert(k.name.clone(), backend);
            }
        }
        if let Some(n) = top.get("capabilities") {
            let s = self.section(n, "capabilities", CAPABILITIES, CAPABILITIES_IGNORED)?;
            if let Some(e) = s.get("enabled") {
                out.capabilities_enabled = Some(self.bool(e, "capabilities.enabled")?);
            }
            if let Some(d) = s.get("directories") {
                let key = "capabilities.directories";
                let dirs = self
                    .seq(d, key)?
                    .iter()
                    .map(|item| self.path_value(item, key))
                    .collect::<Result<Vec<_>, _>>()?;
                out.capability_dirs = Some(dirs);
            }
        }
        if let Some(n) = top.get("skills") {
            let s = self.section(n, "skills", SKILLS, &[])?;
            if let Some(e) = s.get("enabled") {
                out.skills_enabled = Some(self.bool(e, "skills.enabled")?);
            }
            if let Some(e) = s.get("default_directories") {
                out.skill_default_dirs = Some(self.bool(e, "skills.default_directories")?);
            }
            if let Some(d) = s.get("directories") {
                let key = "skills.directories";
                let dirs = self
                    .seq(d, key)?
                    .iter()
                    .map(|item| self.path_value(item, key))
                    .collect::<Result<Vec<_>, _>>()?;
                out.skill_dirs = Some(dirs);
            }
        }
        if let Some(n) = top.get("scanner") {
            let s = self.section(n, "scanner", SCANNER, &[])?;
            if let Some(list) = s.get("allow") {
                let mut entries = Vec::new();
                for (i, item) in self.seq(list, "scanner.allow")?.iter().enumerate() {
                    let key = format!("scanner.allow[{i}]");
                    let e = self.section(item, &key, ALLOW_ENTRY, &[])?;
                    let text = |name: &str| -> Result<String, ConfigError> {
                        match e.get(name) {
                            Some(n) => self.string(n, &format!("{key}.{name}")),
                            None => Ok("*".to_string()),
                        }
                    };
                    let backend = match e.get("server") {
                        Some(_) => text("server")?,
                        None => text("backend")?,
                    };
                    let rules = match e.get("rules") {
                        Some(r) => self
                            .seq(r, &format!("{key}.rules"))?
                            .iter()
                            .map(|n| self.string(n, &format!("{key}.rules")))
                            .collect::<Result<Vec<_>, _>>()?,
                        None => Vec::new(),
                    };
                    entries.push(super::AllowEntry {
                        backend,
                        tool: text("tool")?,
                        rules,
                    });
                }
                out.scanner_allow = Some(entries);
            }
        }
        if let Some(n) = top.get("auth") {
            out.auth = Some(self.auth(n)?);
        }
        if let Some(n) = top.get("request_log") {
            out.request_log = Some(self.request_log(n)?);
        }
        if let Some(n) = top.get("failsafe") {
            out.failsafe = self.failsafe(n, "failsafe")?;
        }
        if let Some(n) = top.get("log") {
            let s = self.section(n, "log", LOG, &[])?;
            if let Some(l) = s.get("level") {
                out.log_level = Some(self.log_level(l)?);
            }
            if let Some(f) = s.get("format") {
                let text = self.expanded(f, "log.format")?;
                out.log_format = Some(match text.trim().to_ascii_lowercase().as_str() {
                    "text" | "pretty" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => {
                        return Err(self.invalid(
                            f.pos,
                            "log.format",
                            format!("expected `text` or `json`, found `{text}`"),
                        ));
                    }
                });
            }
            if let Some(f) = s.get("file") {
                out.log_file = Some(self.path_value(f, "log.file")?);
            }
        }
        Ok(out)
    }

    /// A positive number of bytes: `1048576`, or with a unit `64KiB`, `4MiB`, `4MB`.
    fn byte_size(&self, node: &Node, key: &str) -> Result<usize, ConfigError> {
        let text = self.string(node, key)?;
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" | "k" | "kib" => 1024,
            "mb" | "m" | "mib" => 1024 * 1024,
            "gb" | "g" | "gib" => 1024 * 1024 * 1024,
            _ => {
                return Err(self.invalid(
                    node.pos,
                    key,
                    format!(
                        "`{text}` is not a size: use bytes (`1048576`) or a unit (`64KiB`, `4MiB`)"
                    ),
                ));
            }
        };
        match digits
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
        {
            Some(n) if n > 0 => Ok(n),
            _ => Err(self.invalid(
                node.pos,
                key,
                format!("`{text}` is not a positive size in bytes"),
            )),
        }
    }

    /// `server.public_url`: an absolute `http(s)` URL with a host and nothing after the path
    /// (no userinfo, query or fragment), stored without a trailing `/`.
    fn public_url(&self, node: &Node) -> Result<String, ConfigError> {
        let key = "server.public_url";
        let text = self.nonempty_string(node, key)?;
        let bad = |why: &str| {
            self.invalid(
                node.pos,
                key,
                format!(
                    "`{text}` is not a usable public URL: {why} (e.g. `https://gw.example.com`)"
                ),
            )
        };
        let url = url::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be https (or http)"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("it must not carry credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not have a query or fragment"));
        }
        Ok(url.as_str().trim_end_matches('/').to_string())
    }

    fn port(&self, node: &Node, key: &str) -> Result<u16, ConfigError> {
        let text = match &node.value {
            Value::Typed {
                kind: TypedKind::Int(i),
                ..
            } => i.to_string(),
            Value::Str(_) => self.expanded(node, key)?,
            _ => return Err(self.expected(node, key, "a port number")),
        };
        text.trim().parse::<u16>().map_err(|_| {
            self.invalid(
                node.pos,
                key,
                format!("`{text}` is not a port number (0–65535)"),
            )
        })
    }

    fn log_level(&self, node: &Node) -> Result<String, ConfigError> {
        let key = "log.level";
        let level = self.nonempty_string(node, key)?;
        tracing_subscriber::EnvFilter::builder()
            .parse(&level)
            .map_err(|e| {
                self.invalid(
                    node.pos,
                    key,
                    format!("`{level}` is not a log level or filter (e.g. `info`, `mcp_gateway=debug`): {e}"),
                )
            })?;
        Ok(level)
    }

    fn tool_refs(&self, node: &Node, key: &str) -> Result<Vec<ToolRef>, ConfigError> {
        self.seq(node, key)?
            .iter()
            .map(|item| {
                let (server, tool) = match &item.value {
                    Value::Map(_) => {
                        let s = self.section(item, key, SURFACE_ENTRY, &[])?;
                        let field = |name: &str| match s.get(name) {
                            Some(n) => self.nonempty_string(n, &format!("{key}.{name}")),
                            None => Err(self.invalid(item.pos, key, format!("entry needs `{name}`"))),
                        };
                        (field("server")?, field("tool")?)
                    }
                    _ => {
                        let text = self.string(item, key)?;
                        match text.split_once('/') {
                            Some((s, t)) if !s.is_empty() && !t.is_empty() => {
                                (s.to_string(), t.to_string())
                            }
                            _ => {
                                return Err(self.invalid(
                                    item.pos,
                                    key,
                                    format!("`{text}` is not a `server/tool` reference"),
                                ));
                            }
                        }
                    }
                };
                if !valid_backend_name(&server) {
                    return Err(self.invalid(
                        item.pos,
                        key,
                        format!("`{server}` is not a valid server name ([A-Za-z0-9_-], at most 32 characters, no `__`, not ending in `_`)"),
                    ));
                }
                Ok(ToolRef { server, tool })
            })
            .collect()
    }

    // ---- backends -----------------------------------------------------------------------

    /// In a file with `inherit: true`, an entry holding nothing but `enabled` switches an
    /// inherited backend on or off: `Some(enabled)`.
    fn switch(
        &self,
        name: &Key,
        node: &Node,
        inherit: Option<(bool, Pos)>,
    ) -> Result<Option<bool>, ConfigError> {
        let Value::Map(entries) = &node.value else {
            return Ok(None);
        };
        match entries.as_slice() {
            [(k, v)] if k.name == "enabled" && matches!(inherit, Some((true, _))) => Ok(Some(
                self.bool(v, &format!("backends.{}.enabled", name.name))?,
            )),
            _ => Ok(None),
        }
    }
}

/// A backend (server) name: `[A-Za-z0-9_-]{1,32}` without `__` (the separator of namespaced
/// names, see `crate::catalog::names`) and without a trailing `_` (which would blur it).
pub fn valid_backend_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.contains("__")
        && !name.ends_with('_')
}

fn display_key(key: &str) -> &str {
    if key.is_empty() { "(top level)" } else { key }
}

fn moved_key(name: &str) -> Option<&'static str> {
    MOVED
        .iter()
        .find(|(old, _)| *old == name)
        .map(|(_, new)| *new)
}
