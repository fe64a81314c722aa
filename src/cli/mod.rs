//! The command line: argument definitions and one module per command. `main.rs` only parses
//! and calls [`run`]. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.

mod add;
mod bench;
pub mod cap;
mod completions;
mod config_export;
mod doctor;
pub mod get;
pub mod init;
mod list;
mod model;
pub mod probe;
pub mod remove;
mod search;
pub mod setup;
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
    /// List configured backends with state and tool counts (from the catalog; starts nothing)
    List(list::ListArgs),
    /// Check the config, start and probe every backend, check the installation
    Doctor(doctor::DoctorArgs),
    /// Search every backend's tools with the meta-tool's ranking
    Search(search::SearchArgs),
    /// Connect to one MCP server (URL or command), list its tools, optionally call one
    Probe(probe::ProbeArgs),
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
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
    #[command(name = "__reaper", hide = true)]
    Reaper,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the config in effect with env and header values redacted
    Export(config_export::ConfigExportArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Stdio);
    if !matches!(command, Command::Stdio | Command::Reaper) {
        // Shell commands log warnings and errors only, unless asked for more.
        let level = cli.global.log_level.as_deref().unwrap_or("warn");
        let format = match cli.global.log_format {
            Some(LogFormatArg::Json) => crate::config::LogFormat::Json,
            _ => crate::config::LogFormat::Text,
        };
        if let Err(e) = crate::logging::init(level, format, None) {
            eprintln!("mcp-gateway: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    match command {
        Command::Stdio => stdio::run(&cli.global),
        Command::List(args) => list::run(&cli.global, &args),
        Command::Doctor(args) => doctor::run(&cli.global, &args),
        Command::Bench(args) => edge(bench::run(args).map(|()| ExitCode::SUCCESS)),
        Command::Model(args) => edge(model::run(args).map(|()| ExitCode::SUCCESS)),
        Command::Probe(args) => probe::main(args),
        Command::Search(args) => match search_gateway(&cli.global, &args) {
            Ok(outcome) => edge(search::print(&args, &outcome).map(|()| ExitCode::SUCCESS)),
            Err(code) => code,
        },
        Command::Setup(args) => edge(setup::run(cli.global.config.as_deref(), args)),
        Command::Add(args) => edge(add::run(cli.global.config.as_deref(), args)),
        Command::Remove(args) => edge(remove::run(cli.global.config.as_deref(), args)),
        Command::Get(args) => edge(get::run(cli.global.config.as_deref(), args)),
        Command::Init(args) => edge(init::run(cli.global.config.as_deref(), args)),
        Command::Config(ConfigCommand::Export(args)) => {
            edge(config_export::run(cli.global.config.as_deref(), args))
        }
        Command::Cap(args) => edge(cap::run_blocking(args, cli.global.config.as_deref())),
        Command::Completions(args) => edge(completions::run(
            args,
            <Cli as clap::CommandFactory>::command(),
        )),
        Command::Reaper => {
            crate::backend::process::run_reaper();
            ExitCode::SUCCESS
        }
    }
}

/// Loads the effective config (discovery or `--config`); a config error is printed with its
/// file, line and key and becomes exit code 2.
fn load_config(global: &GlobalArgs) -> Result<crate::config::Config, ExitCode> {
    let cwd = std::env::current_dir().unwrap_or_default();
    crate::config::load(global.config.as_deref(), &cwd).map_err(|e| {
        eprintln!("mcp-gateway: config error: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// Runs one search through a gateway started on the config: backends the catalog has never seen
/// are discovered first (started once, then stopped), then the gateway's own index answers.
fn search_gateway(
    global: &GlobalArgs,
    args: &search::SearchArgs,
) -> Result<crate::search::SearchOutcome, ExitCode> {
    let config = load_config(global)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("mcp-gateway: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })?;
    let outcome = runtime.block_on(async {
        let paths = crate::state::Paths::from_env();
        let gateway = crate::gateway::Gateway::start(config, paths.as_ref()).map_err(|e| {
            eprintln!("mcp-gateway: {e}");
            ExitCode::FAILURE
        })?;
        gateway.set_client_capabilities(serde_json::json!({}));
        if let Some(s) = &args.server
            && gateway.backend(s).is_none()
        {
            let known: Vec<&str> = gateway.backends().map(|b| b.name()).collect();
            eprintln!(
                "mcp-gateway: no server named `{s}` (configured: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
            gateway.shutdown().await;
            return Err(ExitCode::from(EXIT_USAGE));
        }
        let pending = gateway
            .wait_for_discovery(std::time::Duration::from_millis(100))
            .await;
        if !pending.is_empty() {
            eprintln!("discovering the tools of {} …", pending.join(", "));
            let still = gateway
                .wait_for_discovery(std::time::Duration::from_secs(120))
                .await;
            if !still.is_empty() {
                eprintln!("not ready, left out: {}", still.join(", "));
            }
        }
        gateway.wait_for_index().await;
        gateway
            .wait_for_embeddings(std::time::Duration::from_secs(30))
            .await;
        let outcome = gateway.search(&args.query, usize::from(args.limit), args.server.as_deref());
        gateway.shutdown().await;
        outcome.map_err(|e| {
            eprintln!("mcp-gateway: {e}");
            ExitCode::FAILURE
        })
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    outcome
}

/// Prints an error from an `anyhow` command to stderr and maps it to exit code 1; usage
/// mistakes (an unknown client name, a prompt without a terminal) exit with 2.
fn edge(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        let usage = matches!(
            e.downcast_ref::<crate::clients::ClientError>(),
            Some(crate::clients::ClientError::UnknownClient { .. })
        ) || e.downcast_ref::<setup::NeedsTerminal>().is_some();
        if usage {
            ExitCode::from(EXIT_USAGE)
        } else {
            ExitCode::FAILURE
        }
    })
}

/// Colour only on a terminal, and never when `NO_COLOR` is set.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Exit code for usage and config errors.
pub const EXIT_USAGE: u8 = 2;
