//! `mcp-gateway` binary: parse the command line, hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    mcp_gateway::cli::run(mcp_gateway::cli::Cli::parse())
}
