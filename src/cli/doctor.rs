//! `mcp-gateway doctor`: checks the config, starts and probes every backend, and checks that the
//! binary is on PATH. Prints one line per check; exit 1 if any check failed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{EXIT_USAGE, GlobalArgs};
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

pub fn run(global: &GlobalArgs, args: &DoctorArgs) -> ExitCode {
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
            c
        }
        Err(e) => {
            checks.push(Check::new(Level::Fail, "config", e.to_string()));
            report(&checks, args.json);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    checks.push(binary_on_path());
    if !args.no_probe && !config.backends.is_empty() {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => {
                checks.extend(rt.block_on(probe_backends(config)));
                rt.shutdown_timeout(Duration::from_secs(1));
            }
            Err(e) => checks.push(Check::new(Level::Fail, "runtime", e.to_string())),
        }
    }
    report(&checks, args.json);
    if checks.iter().any(|c| c.level == Level::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
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
    let gateway = match Gateway::start(config, Paths::from_env().as_ref()) {
        Ok(g) => g,
        Err(e) => return vec![Check::new(Level::Fail, "search index", e.to_string())],
    };
    gateway.set_client_capabilities(json!({}));
    let total = gateway.backends().count();
    let mut set = tokio::task::JoinSet::new();
    for b in gateway.backends() {
        let gw = Arc::clone(&gateway);
        let name = b.name().to_string();
        set.spawn(async move {
            let started = Instant::now();
            let result = match gw.backend(&name) {
                Some(b) => b.fetch_listing(Duration::ZERO).await,
                None => return (name, Check::new(Level::Fail, "backend", "vanished")),
            };
            let check = match result {
                Ok(listing) => Check::new(
                    Level::Ok,
                    format!("backend {name}"),
                    format!(
                        "{} tools, {} resources, {} prompts ({} ms)",
                        listing.tools.len(),
                        listing.resources.len(),
                        listing.prompts.len(),
                        started.elapsed().as_millis()
                    ),
                ),
                Err(e) => Check::new(Level::Fail, format!("backend {name}"), e.to_string()),
            };
            (name, check)
        });
    }
    let mut checks = Vec::new();
    let mut done = 0;
    while let Some(joined) = set.join_next().await {
        done += 1;
        progress(done, total);
        if let Ok((_, check)) = joined {
            checks.push(check);
        }
    }
    progress_done();
    checks.sort_by(|a, b| a.what.cmp(&b.what));
    for name in disabled {
        checks.push(Check::new(Level::Ok, format!("backend {name}"), "disabled"));
    }
    gateway.shutdown().await;
    checks
}

fn progress(done: usize, total: usize) {
    use std::io::{IsTerminal, Write};
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\rprobing backends… {done}/{total}");
        let _ = err.flush();
    }
}

fn progress_done() {
    use std::io::{IsTerminal, Write};
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

fn report(checks: &[Check], as_json: bool) {
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
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return;
    }
    let color = super::use_color();
    let width = checks
        .iter()
        .map(|c| c.what.chars().count())
        .max()
        .unwrap_or(0);
    for c in checks {
        let (mark, code) = match c.level {
            Level::Ok => ("ok  ", "32"),
            Level::Warn => ("warn", "33"),
            Level::Fail => ("FAIL", "31"),
        };
        let mark = if color {
            format!("\x1b[{code}m{mark}\x1b[0m")
        } else {
            mark.to_string()
        };
        println!("{mark}  {:<width$}  {}", c.what, c.detail);
    }
}
