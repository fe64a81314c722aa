//! `mcp-gateway doctor`: checks the config (and its compatibility warnings), the AI clients' config
//! files (user scope and the current project), starts and probes every backend, and checks that
//! the binary is on PATH. Prints one line per check; exit 1 if any check failed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{CliError, EXIT_USAGE, GlobalArgs};
use crate::clients::Location;
use crate::config;
use crate::gateway::Gateway;
use crate::state::Paths;

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print JSON instead of lines
    #[arg(long)]
    pub json: bool,
    /// Skip starting backends
    #[arg(long)]
    pub no_probe: bool,
    /// Repair what can be repaired: add the gateway entry to client configs that lack it
    /// (backed up first; undo with `mcp-gateway setup undo`)
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Check {
    level: Level,
    what: String,
    detail: String,
}

impl Check {
    fn new(level: Level, what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            level,
            what: what.into(),
            detail: detail.into(),
        }
    }
}

pub fn run(global: &GlobalArgs, args: &DoctorArgs) -> Result<ExitCode, CliError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut checks = Vec::new();
    let config = match config::load(global.config.as_deref(), &cwd) {
        Ok(c) => {
            let sources = if c.sources.is_empty() {
                "no config file found; built-in defaults".to_string()
            } else {
                c.sources
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" + ")
            };
            let level = if c.sources.is_empty() {
                Level::Warn
            } else {
                Level::Ok
            };
            checks.push(Check::new(level, "config", sources));
            // Keys accepted for compatibility but ignored (file, line, key and why).
            for w in &c.warnings {
                checks.push(Check::new(Level::Warn, "config", w.clone()));
            }
            c
        }
        Err(e) => {
            checks.push(Check::new(Level::Fail, "config", e.to_string()));
            report(&checks, args.json)?;
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    checks.push(binary_on_path());
    checks.push(search_model());
    checks.extend(capability_files(&config));
    let unpointed = client_configs(&cwd, &mut checks);
    if args.fix && !unpointed.is_empty() {
        checks.extend(fix_clients(global, &unpointed));
    }
    if !args.no_probe && !config.backends.is_empty() {
        let rt = super::runtime()?;
        checks.extend(rt.block_on(probe_backends(config)));
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    report(&checks, args.json)?;
    Ok(if checks.iter().any(|c| c.level == Level::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `--fix`: adds the gateway entry to exactly the client files flagged, in one backup run.
fn fix_clients(global: &GlobalArgs, flagged: &[Location]) -> Vec<Check> {
    use crate::configedit;
    let what = |l: &Location| format!("fix client {}", l.client.id());
    let Some(paths) = Paths::from_env() else {
        return flagged
            .iter()
            .map(|l| {
                Check::new(
                    Level::Fail,
                    what(l),
                    "cannot determine the XDG directories (is HOME set?)",
                )
            })
            .collect();
    };
    let config = global
        .config
        .clone()
        .unwrap_or_else(|| configedit::scope_file(&paths, configedit::Scope::User));
    let entry = crate::setup::entry_for(&crate::setup::gateway_program(), &paths, &config);
    let home = crate::clients::HostEnv::from_env().map(|e| e.home);
    let cwd = std::env::current_dir().ok();
    let applied = home
        .map_err(anyhow::Error::from)
        .and_then(|home| {
            let places = crate::clients::Placeholders {
                home: &home,
                project: cwd.as_deref(),
            };
            crate::setup::plan::build_export(flagged, &entry, &places).map_err(anyhow::Error::from)
        })
        .and_then(|plan| {
            configedit::apply(&plan.changes, &paths, "doctor --fix").map_err(anyhow::Error::from)
        });
    flagged
        .iter()
        .map(|l| match &applied {
            Ok(_) => Check::new(
                Level::Ok,
                what(l),
                format!(
                    "gateway entry added to {} (undo: mcp-gateway setup undo)",
                    l.describe()
                ),
            ),
            Err(e) => Check::new(Level::Fail, what(l), format!("{e:#}")),
        })
        .collect()
}

/// Whether search is hybrid: the embedding model is installed (and loads), or BM25 only.
fn search_model() -> Check {
    use crate::embedding::{self, ModelSpec, Status};
    let Some(paths) = Paths::from_env() else {
        return Check::new(
            Level::Warn,
            "search",
            "BM25 only: no XDG data dir for a model",
        );
    };
    let spec = ModelSpec::default_model();
    let models_dir = embedding::models_dir(&paths);
    match embedding::status(&spec, &models_dir) {
        Status::Missing { .. } => Check::new(
            Level::Warn,
            "search",
            "BM25 only: no embedding model installed (run `mcp-gateway model fetch` for hybrid search)",
        ),
        Status::Installed { dir, .. } => match embedding::load(&spec, &models_dir) {
            Ok(_) => Check::new(
                Level::Ok,
                "search",
                format!("hybrid: BM25 + {} ({})", spec.id, dir.display()),
            ),
            Err(e) => Check::new(
                Level::Fail,
                "search",
                format!("{e}; reinstall with `mcp-gateway model fetch`"),
            ),
        },
    }
}

/// Capability files that do not load, or changed since they were pinned.
fn capability_files(config: &config::Config) -> Vec<Check> {
    use crate::capability::{CapabilitySet, PinStore, ProblemKind};
    if !config.capabilities.enabled {
        return Vec::new();
    }
    let pins = match Paths::from_env().map(|p| PinStore::open(&p)) {
        Some(Ok(pins)) => pins,
        Some(Err(e)) => return vec![Check::new(Level::Fail, "capability pins", e.to_string())],
        None => PinStore::in_memory(),
    };
    let (set, problems) = CapabilitySet::load(&config.capabilities.directories, &pins);
    let mut checks = vec![Check::new(
        Level::Ok,
        "capabilities",
        format!(
            "{} loaded",
            crate::output::counted(set.tools().len(), "tool", "tools")
        ),
    )];
    for p in problems {
        let level = match p.kind {
            ProblemKind::ChangedSinceApproval => Level::Warn,
            ProblemKind::Invalid => Level::Fail,
        };
        checks.push(Check::new(level, "capability file", p.to_string()));
    }
    checks
}

/// Which AI clients point at the gateway. Returns the locations that list servers but no
/// gateway entry.
fn client_configs(cwd: &std::path::Path, checks: &mut Vec<Check>) -> Vec<Location> {
    let Ok(env) = crate::clients::HostEnv::from_env() else {
        return Vec::new();
    };
    let mut unpointed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for client in crate::clients::all() {
        // User scope, then the current project (a file both scopes name is checked once).
        let locations = client
            .locations(&env, None)
            .into_iter()
            .chain(client.locations(&env, Some(cwd)));
        for loc in locations {
            if !seen.insert(loc.describe()) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&loc.path) else {
                continue;
            };
            let what = format!("client {}", client.id());
            let places = crate::clients::Placeholders {
                home: &env.home,
                project: Some(cwd),
            };
            match loc.entries(&text, &places) {
                Ok(servers)
                    if servers.iter().any(|e| {
                        e.server
                            .as_ref()
                            .is_ok_and(crate::clients::is_gateway_entry)
                    }) =>
                {
                    checks.push(Check::new(
                        Level::Ok,
                        what,
                        format!("{} uses the gateway", loc.describe()),
                    ));
                }
                Ok(servers) if servers.is_empty() => {}
                Ok(servers) => {
                    checks.push(Check::new(
                        Level::Warn,
                        what,
                        format!(
                            "{} has {} but no gateway entry (fix: mcp-gateway setup, or doctor --fix)",
                            loc.describe(),
                            crate::output::counted(servers.len(), "server", "servers")
                        ),
                    ));
                    unpointed.push(loc.clone());
                }
                Err(e) => checks.push(Check::new(Level::Warn, what, e.to_string())),
            }
        }
    }
    unpointed
}

/// High findings are withheld by the gateway; medium ones are served with a warning.
fn scan_listing(name: &str, tools: &[Value], allow: &crate::scanner::AllowList) -> Vec<Check> {
    use crate::scanner::{Severity, scan_tool_for};
    let mut checks = Vec::new();
    for tool in tools {
        let tool_name = tool.get("name").and_then(Value::as_str).unwrap_or("?");
        for f in scan_tool_for(name, tool, allow) {
            let (level, verdict) = match f.severity {
                Severity::High => (Level::Warn, "withheld"),
                Severity::Medium => (Level::Warn, "served with a warning"),
                Severity::Low => continue,
            };
            checks.push(Check::new(
                level,
                format!("tool {name}/{tool_name}"),
                format!("{verdict}: {} ({})", f.detail, f.rule),
            ));
        }
    }
    checks
}

fn binary_on_path() -> Check {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("mcp-gateway"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Check::new(Level::Ok, "binary on PATH", p.display().to_string()),
        None => Check::new(
            Level::Warn,
            "binary on PATH",
            "mcp-gateway is not on PATH; clients configured with \"command\": \"mcp-gateway\" will not find it (run ./install.sh)",
        ),
    }
}

async fn probe_backends(config: config::Config) -> Vec<Check> {
    let disabled: Vec<String> = config
        .backends
        .values()
        .filter(|b| !b.enabled)
        .map(|b| b.name.clone())
        .collect();
    let allow = Arc::new(config.scanner_allow.clone());
    let gateway = match Gateway::start(config, Paths::from_env().as_ref()) {
        Ok(g) => g,
        Err(e) => return vec![Check::new(Level::Fail, "search index", e.to_string())],
    };
    gateway.set_client_capabilities(json!({}));
    let total = gateway.backends().len();
    let mut set = tokio::task::JoinSet::new();
    for b in gateway.backends() {
        let gw = Arc::clone(&gateway);
        let allow = Arc::clone(&allow);
        let name = b.name().to_string();
        set.spawn(async move {
            let started = Instant::now();
            let result = match gw.backend(&name) {
                Some(b) => b.fetch_listing(Duration::ZERO).await,
                None => return (name, Vec::new()),
            };
            let checks =
                match result {
                    Ok(listing) => {
                        let mut checks = vec![Check::new(
                            Level::Ok,
                            format!("backend {name}"),
                            format!(
                                "{}, {}, {} ({} ms)",
                                crate::output::counted(listing.tools.len(), "tool", "tools"),
                                crate::output::counted(
                                    listing.resources.len(),
                                    "resource",
                                    "resources"
                                ),
                                crate::output::counted(listing.prompts.len(), "prompt", "prompts"),
                                started.elapsed().as_millis()
                            ),
                        )];
                        // What the server got wrong without losing its tools: notes, not failures.
                        if let Some(b) = gw.backend(&name) {
                            checks.extend(b.report().notes.into_iter().map(|note| {
                                Check::new(Level::Warn, format!("backend {name}"), note)
                            }));
                        }
                        checks.extend(scan_listing(&name, &listing.tools, &allow));
                        if let Some(b) = gw.backend(&name) {
                            checks.extend(pin_checks(&name, &b, &listing.tools));
                        }
                        checks
                    }
                    Err(e) => vec![Check::new(
                        Level::Fail,
                        format!("backend {name}"),
                        e.to_string(),
                    )],
                };
            let mut checks = checks;
            if let Some(b) = gw.backend(&name) {
                checks.push(failsafe_check(&name, &b));
            }
            (name, checks)
        });
    }
    let mut checks = Vec::new();
    let mut done = 0;
    while let Some(joined) = set.join_next().await {
        done += 1;
        crate::output::progress(&format!("probing backends… {done}/{total}"));
        if let Ok((_, found)) = joined {
            checks.extend(found);
        }
    }
    crate::output::progress_done();
    checks.sort_by(|a, b| a.what.cmp(&b.what));
    for name in disabled {
        checks.push(Check::new(Level::Ok, format!("backend {name}"), "disabled"));
    }
    gateway.shutdown().await;
    checks
}

/// `pin_tools: true`: what the listing holds back against the approved pins (read only: the
/// doctor never pins or approves anything).
fn pin_checks(name: &str, b: &crate::backend::Backend, tools: &[Value]) -> Vec<Check> {
    if !b.config.pin_tools {
        return Vec::new();
    }
    let what = format!("backend {name} pins");
    let store = Paths::from_env()
        .map(|p| crate::capability::PinStore::open(&p))
        .transpose();
    let pins = match store {
        Ok(Some(s)) => s.backend(name).cloned(),
        Ok(None) => None,
        Err(e) => return vec![Check::new(Level::Fail, what, e.to_string())],
    };
    let Some(pins) = pins else {
        return vec![Check::new(
            Level::Ok,
            what,
            "not pinned yet: the gateway pins the tools at its first listing",
        )];
    };
    let (served, held) = pins.classify(name, tools.to_vec());
    if held.is_empty() {
        return vec![Check::new(
            Level::Ok,
            what,
            match served.len() {
                1 => "1 tool matches its approved definition".to_string(),
                n => format!("{n} tools match their approved definitions"),
            },
        )];
    }
    held.into_values()
        .map(|h| Check::new(Level::Warn, what.clone(), h.reason))
        .collect()
}

/// A backend's failsafe settings, and what the probe saw of them (retries, an open breaker).
fn failsafe_check(name: &str, b: &crate::backend::Backend) -> Check {
    let settings = crate::backend::failsafe::settings_summary(
        &b.config.failsafe,
        matches!(b.config.transport, config::Transport::Http(_)),
    );
    let state = b.failsafe_state();
    let open = state.breaker != crate::backend::failsafe::BreakerState::Closed;
    let detail = if open || state.retries > 0 || state.consecutive_failures > 0 {
        format!(
            "{settings}; probe: {}, {} retries",
            state.summary(),
            state.retries
        )
    } else {
        settings
    };
    let level = if open { Level::Warn } else { Level::Ok };
    Check::new(level, format!("backend {name} failsafe"), detail)
}

fn report(checks: &[Check], as_json: bool) -> Result<(), CliError> {
    if as_json {
        let rows: Vec<Value> = checks
            .iter()
            .map(|c| {
                json!({
                    "check": c.what,
                    "status": match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "fail" },
                    "detail": c.detail,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let style = crate::output::Style::detect();
    let rows = checks.iter().map(|c| {
        let mark = match c.level {
            Level::Ok => style.green("ok"),
            Level::Warn => style.yellow("warn"),
            Level::Fail => style.red("FAIL"),
        };
        vec![mark, c.what.clone(), c.detail.clone()]
    });
    print!("{}", crate::output::Table::headless().rows(rows).render());
    Ok(())
}
