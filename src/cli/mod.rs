//! The command line: argument definitions and one module per command. `main.rs` only parses
//! and calls [`run`]. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.

mod bench;
mod doctor;
mod list;
pub mod probe;
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
    /// Connect to one MCP server (URL or command), list its tools, optionally call one
    Probe(probe::ProbeArgs),
    /// Benchmarks (retrieval quality of the search ranking)
    Bench(bench::BenchArgs),
    #[command(name = "__reaper", hide = true)]
    Reaper,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command.unwrap_or(Command::Stdio) {
        Command::Stdio => stdio::run(&cli.global),
        Command::List(args) => list::run(&cli.global, &args),
        Command::Doctor(args) => doctor::run(&cli.global, &args),
        Command::Bench(args) => report(bench::run(args)),
        Command::Probe(args) => probe::main(&cli.global, args),
        Command::Reaper => {
            crate::backend::process::run_reaper();
            ExitCode::SUCCESS
        }
    }
}

/// Maps a command's `anyhow` result to an exit code, printing the error chain.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Exit code for usage and config errors.
pub const EXIT_USAGE: u8 = 2;
