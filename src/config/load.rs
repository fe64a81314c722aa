//! The public entry points: discover, load, load one file, parse text.
//!
//! Owns nothing but wiring the real environment (process variables, XDG paths, `/etc`) into
//! `discover` and `schema`; it never decides anything itself, so every rule is testable without
//! touching the real home directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::discover::{self, SearchPaths};
use super::expand::ProcessEnv;
use super::{BackendConfig, Config, ConfigError};

/// Finds the config file to use: `explicit` (from `--config` or `$MCP_GATEWAY_CONFIG`), then the
/// nearest `.mcp-gateway.yaml` / `gateway.yaml` from `cwd` up to the repository root, then the
/// user file, then `/etc/mcp-gateway/gateway.yaml`. `None`: run on built-in defaults.
pub fn discover(explicit: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    discover::discover_in(explicit, cwd, &SearchPaths::from_env()).map(|f| f.path)
}

/// Discovers and loads the effective config (layering a project file over the user file when it
/// says `inherit: true`).
pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Config, ConfigError> {
    discover::load_in(explicit, cwd, &SearchPaths::from_env(), &ProcessEnv)
}

/// Loads exactly one file (no layering, even if it says `inherit: true`).
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    discover::standalone(discover::read_file(path, &ProcessEnv)?)
}

/// Parses config text as if read from `path` (used for messages and relative paths).
pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    discover::standalone(discover::parse_text(text, path, &ProcessEnv)?)
}

/// One file as its author wrote it: checked by the same schema as [`load`], with `${VAR}`, `~`
/// and relative paths left unexpanded. What the config-editing commands (`get`, `remove`,
/// `setup`) read, so they never show or compare the environment's values.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenFile {
    pub path: PathBuf,
    /// `inherit: true`.
    pub inherit: bool,
    pub backends: BTreeMap<String, BackendConfig>,
    /// In an inheriting file: names that only switch an inherited backend on or off.
    pub switches: BTreeMap<String, bool>,
}

impl WrittenFile {
    /// Whether `name` is a backend or a switch in this file.
    pub fn has(&self, name: &str) -> bool {
        self.backends.contains_key(name) || self.switches.contains_key(name)
    }
}

/// Parses config text as written (see [`WrittenFile`]); `path` is used for messages.
pub fn parse_as_written(text: &str, path: &Path) -> Result<WrittenFile, ConfigError> {
    let root = super::yaml::parse(text, path)?;
    let file = super::schema::convert_as_written(&root, path, &ProcessEnv)?;
    Ok(WrittenFile {
        path: file.path,
        inherit: matches!(file.inherit, Some((true, _))),
        backends: file.backends,
        switches: file
            .backend_switches
            .into_iter()
            .map(|(name, (enabled, _))| (name, enabled))
            .collect(),
    })
}
