//! Which config file(s) to use, and layering a project file over the user file.
//!
//! Order, first found wins: the explicit path (`--config` / `$MCP_GATEWAY_CONFIG`), the nearest
//! `.mcp-gateway.yaml` or `gateway.yaml` from the working directory up to the repository root
//! (only the working directory itself when it is not inside a repository), the user file,
//! the system file. A project (or explicit) file saying `inherit: true` is layered over the
//! first of the user and system files that exists. Every location comes in through
//! [`SearchPaths`] so tests never touch the real home or `/etc`. It never writes anything.

use std::path::{Path, PathBuf};

use super::expand::Vars;
use super::schema::{self, FileConfig};
use super::{Config, ConfigError};

/// File names looked for in each project directory, in order.
pub const PROJECT_FILE_NAMES: [&str; 2] = [".mcp-gateway.yaml", "gateway.yaml"];
/// The system-wide config file.
pub const SYSTEM_CONFIG_FILE: &str = "/etc/mcp-gateway/gateway.yaml";

/// Where discovery looks besides the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPaths {
    /// `$XDG_CONFIG_HOME/mcp-gateway/gateway.yaml` (`None` when no home directory is known).
    pub user_file: Option<PathBuf>,
    /// `/etc/mcp-gateway/gateway.yaml`.
    pub system_file: PathBuf,
}

impl SearchPaths {
    /// The real locations, from the environment.
    pub fn from_env() -> SearchPaths {
        SearchPaths {
            user_file: crate::state::Paths::from_env().map(|p| p.user_config_file()),
            system_file: PathBuf::from(SYSTEM_CONFIG_FILE),
        }
    }
}

/// How a config file was found; decides whether `inherit` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Explicit,
    Project,
    User,
    System,
}

/// A file chosen by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub origin: Origin,
}

/// Runs discovery against `paths`. `None`: no file anywhere, use built-in defaults.
pub fn discover_in(explicit: Option<&Path>, cwd: &Path, paths: &SearchPaths) -> Option<Found> {
    if let Some(p) = explicit {
        return Some(Found {
            path: p.to_path_buf(),
            origin: Origin::Explicit,
        });
    }
    if let Some(path) = project_file(cwd) {
        return Some(Found {
            path,
            origin: Origin::Project,
        });
    }
    base_file(paths)
}

/// The nearest project file from `cwd` up to and including the repository root (the nearest
/// ancestor holding `.git`); only `cwd` itself when there is no repository.
pub fn project_file(cwd: &Path) -> Option<PathBuf> {
    let stop = project_root(cwd);
    for dir in cwd.ancestors() {
        for name in PROJECT_FILE_NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        if dir == stop {
            break;
        }
    }
    None
}

/// Where project-level lookups stop walking up from `cwd`: the repository root (the nearest
/// ancestor holding `.git`), or `cwd` itself when there is no repository.
pub fn project_root(cwd: &Path) -> &Path {
    cwd.ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(cwd)
}

/// The user file if it exists, else the system file if it exists.
fn base_file(paths: &SearchPaths) -> Option<Found> {
    let user = paths
        .user_file
        .as_ref()
        .filter(|p| p.is_file())
        .map(|p| Found {
            path: p.clone(),
            origin: Origin::User,
        });
    user.or_else(|| {
        paths.system_file.is_file().then(|| Found {
            path: paths.system_file.clone(),
            origin: Origin::System,
        })
    })
}

/// Discovers and loads, layering as `inherit` asks. `vars` supplies `${VAR}` values and `HOME`.
pub(crate) fn load_in(
    explicit: Option<&Path>,
    cwd: &Path,
    paths: &SearchPaths,
    vars: &dyn Vars,
) -> Result<Config, ConfigError> {
    let Some(found) = discover_in(explicit, cwd, paths) else {
        return Ok(Config::default());
    };
    let top = read_file(&found.path, vars)?;
    let inherit = match top.inherit {
        Some((true, pos)) if matches!(found.origin, Origin::User | Origin::System) => {
            return Err(inherit_in_base(&found.path, pos));
        }
        Some((true, _)) => true,
        _ => false,
    };
    if !inherit {
        return standalone(top);
    }
    let lower = match base_file(paths).filter(|b| !same_file(&b.path, &found.path)) {
        Some(base) => {
            let lower = read_file(&base.path, vars)?;
            if let Some((true, pos)) = lower.inherit {
                return Err(inherit_in_base(&base.path, pos));
            }
            Some(lower)
        }
        None => None,
    };
    let sources: Vec<PathBuf> = lower
        .iter()
        .map(|l| l.path.clone())
        .chain([top.path.clone()])
        .collect();
    let merged = lower.unwrap_or_default().overlay(top)?;
    Ok(finish(merged, sources))
}

fn inherit_in_base(path: &Path, pos: super::yaml::Pos) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: pos.line,
        column: pos.column,
        key: "inherit".to_string(),
        message: "only applies to a project file (or one given with --config); the user and system files are what others inherit from".to_string(),
    }
}

/// Reads and converts one file.
/// Largest config file read (a config is a few KiB; this stops `--config /dev/zero`).
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

pub(super) fn read_file(path: &Path, vars: &dyn Vars) -> Result<FileConfig, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = crate::state::read_capped(path, MAX_CONFIG_BYTES).map_err(io)?;
    parse_text(&text, path, vars)
}

pub(super) fn parse_text(
    text: &str,
    path: &Path,
    vars: &dyn Vars,
) -> Result<FileConfig, ConfigError> {
    let root = super::yaml::parse(text, path)?;
    schema::convert(&root, path, vars)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// One file on its own (over the defaults; switches of inherited backends have nothing to switch).
pub(super) fn standalone(file: FileConfig) -> Result<Config, ConfigError> {
    let sources = vec![file.path.clone()];
    Ok(finish(FileConfig::default().overlay(file)?, sources))
}

/// Applies defaults to what the files said.
pub(super) fn finish(f: FileConfig, sources: Vec<PathBuf>) -> Config {
    let d = Config::default();
    let capability_dirs = f.capability_dirs.unwrap_or(d.capabilities.directories);
    let failsafe = d.failsafe.patched(&f.failsafe);
    let mut backends = f.backends;
    for b in backends.values_mut() {
        b.failsafe = failsafe.patched(&b.failsafe_patch);
    }
    Config {
        sources,
        server: super::ServerConfig {
            host: f.host.unwrap_or(d.server.host),
            port: f.port.unwrap_or(d.server.port),
            allowed_origins: f.allowed_origins.unwrap_or(d.server.allowed_origins),
            allowed_hosts: f.allowed_hosts.unwrap_or(d.server.allowed_hosts),
            max_body_size: f.max_body_size.unwrap_or(d.server.max_body_size),
            public_url: f.public_url.or(d.server.public_url),
        },
        share: f.share.unwrap_or(d.share),
        meta_mcp: super::MetaMcpConfig {
            enabled: f.meta_enabled.unwrap_or(d.meta_mcp.enabled),
            surface: f.surface.unwrap_or(d.meta_mcp.surface),
        },
        backends,
        capabilities: super::CapabilitiesConfig {
            // Listing directories turns capabilities on unless `enabled: false` says otherwise.
            enabled: f
                .capabilities_enabled
                .unwrap_or(d.capabilities.enabled || !capability_dirs.is_empty()),
            directories: capability_dirs,
        },
        skills: super::SkillsConfig {
            enabled: f.skills_enabled.unwrap_or(d.skills.enabled),
            directories: f.skill_dirs.unwrap_or(d.skills.directories),
            default_directories: f.skill_default_dirs.unwrap_or(d.skills.default_directories),
        },
        log: super::LogConfig {
            level: f.log_level.or(d.log.level),
            format: f.log_format.unwrap_or(d.log.format),
            file: f.log_file.or(d.log.file),
        },
        scanner_allow: super::AllowList {
            entries: f.scanner_allow.unwrap_or_default(),
        },
        auth: f.auth.unwrap_or_default(),
        request_log: f.request_log.unwrap_or_default(),
        failsafe,
        warnings: f.warnings,
    }
}
