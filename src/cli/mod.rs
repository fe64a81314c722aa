//! The command line: argument definitions and one module per command. `main.rs` only parses
//! and calls [`run`]. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.

mod add;
mod approve;
mod bench;
pub mod cap;
mod completions;
mod config_export;
mod doctor;
pub mod get;
pub mod init;
mod keys;
mod list;
mod model;
pub mod probe;
pub mod remove;
mod search;
pub mod serve;
pub mod setup;
mod skills;
mod stats;
mod stdio;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// One MCP server in front of many: search-first meta-tools over all your MCP servers.
#[derive(Debug, Parser)]
#[command(name = "mcp-gateway", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Config file (default: discovered; see docs/configuration.md)
    #[arg(long, short = 'c', env = "MCP_GATEWAY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log level or filter, e.g. `debug` or `mcp_gateway=trace` (logs go to stderr)
    #[arg(long, env = "MCP_GATEWAY_LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
    /// Log format
    #[arg(long, value_enum, env = "MCP_GATEWAY_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP on stdin/stdout (the default; what client configs run)
    Stdio,
    /// Serve MCP over Streamable HTTP: one shared gateway and backend pool for many clients
    Serve(serve::ServeArgs),
    /// List configured backends with state and tool counts (from the catalog; starts nothing)
    List(list::ListArgs),
    /// Check the config, start and probe every backend, check the installation
    Doctor(doctor::DoctorArgs),
    /// Approve the tool definitions a backend with `pin_tools: true` holds back
    Approve(approve::ApproveArgs),
    /// Search every backend's tools with the meta-tool's ranking
    Search(search::SearchArgs),
    /// Connect to one MCP server (URL or command), list its tools, optionally call one
    Probe(probe::ProbeArgs),
    /// Usage per tool: calls, errors, p50/p95 latency, last use (also --json, --prometheus)
    Stats(stats::StatsArgs),
    /// Benchmarks (retrieval quality of the search ranking)
    Bench(bench::BenchArgs),
    /// The local embedding model of hybrid search: fetch it, or show what is installed
    Model(model::ModelArgs),
    /// Import the MCP servers of your AI clients and point the clients at the gateway
    Setup(setup::SetupArgs),
    /// Add a backend (a command, a URL, or a well-known server by name)
    Add(add::AddArgs),
    /// Remove a backend
    Remove(remove::RemoveArgs),
    /// Show one backend's configuration
    Get(get::GetArgs),
    /// Write a starter gateway.yaml
    Init(init::InitArgs),
    /// Config file commands
    #[command(subcommand)]
    Config(ConfigCommand),
    /// REST capabilities: import OpenAPI specs, validate, list, pin and approve files
    Cap(cap::CapArgs),
    /// Agent skills (SKILL.md folders): list, show, import, remove
    Skills(skills::SkillsArgs),
    /// API keys for the HTTP listener: add (printed once), list, revoke
    Keys(keys::KeysArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
}

/// `--scope`: which gateway.yaml a config-editing command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// `$XDG_CONFIG_HOME/mcp-gateway/gateway.yaml`
    User,
    /// `./.mcp-gateway.yaml` (or the `gateway.yaml` already there)
    Project,
}

impl ScopeArg {
    /// The scope, with the working directory as the project.
    pub fn at(self, cwd: &std::path::Path) -> crate::configedit::Scope<'_> {
        match self {
            ScopeArg::User => crate::configedit::Scope::User,
            ScopeArg::Project => crate::configedit::Scope::Project(cwd),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the config in effect with env and header values redacted
    Export(config_export::ConfigExportArgs),
}

/// Runs the parsed command line: the one place that prints a command's error and turns it into
/// an exit code.
/// The binary's entry point: the internal reaper (started only by the gateway itself, so it is
/// not a command of the parser and no completion script offers it), else the command line.
pub fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|a| a == crate::backend::process::REAPER_ARG)
        && args.next().is_none()
    {
        crate::backend::process::run_reaper();
        return ExitCode::SUCCESS;
    }
    run(<Cli as clap::Parser>::parse())
}

pub fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Stdio);
    if !matches!(command, Command::Stdio | Command::Serve(_)) {
        // Shell commands log warnings and errors only, unless asked for more.
        let level = cli.global.log_level.as_deref().unwrap_or("warn");
        let format = match cli.global.log_format {
            Some(LogFormatArg::Json) => crate::config::LogFormat::Json,
            _ => crate::config::LogFormat::Text,
        };
        if let Err(e) = crate::logging::init(level, format, None) {
            return report(&CliError::usage(e));
        }
    }
    match dispatch(&cli.global, command) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

fn dispatch(global: &GlobalArgs, command: Command) -> Result<ExitCode, CliError> {
    let config = global.config.as_deref();
    match command {
        Command::Stdio => stdio::run(global),
        Command::Serve(args) => serve::run(global, &args),
        Command::List(args) => list::run(global, &args),
        Command::Doctor(args) => doctor::run(global, &args),
        Command::Approve(args) => approve::run(global, &args),
        Command::Bench(args) => {
            bench::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe(args) => probe::main(args),
        Command::Search(args) => search::run(global, &args),
        Command::Stats(args) => stats::run(&args),
        Command::Setup(args) => setup::run(config, args),
        Command::Add(args) => add::run(config, args),
        Command::Remove(args) => remove::run(config, args),
        Command::Get(args) => get::run(config, args),
        Command::Init(args) => init::run(config, args),
        Command::Config(ConfigCommand::Export(args)) => config_export::run(config, args),
        Command::Cap(args) => cap::run_blocking(args, config),
        Command::Completions(args) => {
            completions::run(args, <Cli as clap::CommandFactory>::command())
        }
        Command::Keys(args) => Ok(keys::run(args)?),
        Command::Model(args) => {
            model::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Skills(args) => skills::run(args, global),
    }
}

/// Prints `e` to stderr and returns its exit code.
fn report(e: &CliError) -> ExitCode {
    eprintln!("mcp-gateway: {e}");
    e.exit_code()
}

/// Why a command failed. Its variant alone decides the exit code: 2 for a usage or config error,
/// 1 for everything else (a command that ran and found problems returns its code as `Ok`).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The config does not load: named with its file, line and key.
    #[error("config error: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The command line asks for something impossible or unknown.
    #[error("{0:#}")]
    Usage(anyhow::Error),
    /// The command could not do its job.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    pub fn usage(e: impl Into<anyhow::Error>) -> CliError {
        CliError::Usage(e.into())
    }

    /// The one error → exit-code map.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_) | CliError::Usage(_) => ExitCode::from(EXIT_USAGE),
            CliError::Failed(_) => ExitCode::FAILURE,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError::Failed(e.into())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> CliError {
        CliError::Failed(e.into())
    }
}

impl From<crate::configedit::backup::BackupError> for CliError {
    fn from(e: crate::configedit::backup::BackupError) -> CliError {
        CliError::Failed(e.into())
    }
}

impl From<crate::clients::ClientError> for CliError {
    fn from(e: crate::clients::ClientError) -> CliError {
        match e {
            crate::clients::ClientError::UnknownClient { .. } => CliError::usage(e),
            other => CliError::Failed(other.into()),
        }
    }
}

/// `return Err(CliError::Usage(…))` with a formatted message.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err($crate::cli::CliError::Usage(anyhow::anyhow!($($arg)*)))
    };
}
pub(crate) use usage;

/// The one async runtime every command that needs one runs on: two worker threads (the
/// gateway's few tasks need no more, and they keep the idle memory small).
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::Failed(anyhow::Error::new(e).context("cannot start the async runtime"))
        })
}

/// The XDG directories, or why they are unknown.
fn paths() -> Result<crate::state::Paths, CliError> {
    crate::state::Paths::from_env().ok_or_else(|| {
        CliError::Failed(anyhow::anyhow!(
            "cannot determine the XDG directories (is HOME set?)"
        ))
    })
}

/// Loads the effective config (discovery or `--config`).
fn load_config(global: &GlobalArgs) -> Result<crate::config::Config, CliError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    Ok(crate::config::load(global.config.as_deref(), &cwd)?)
}

/// Exit code for usage and config errors.
pub const EXIT_USAGE: u8 = 2;
