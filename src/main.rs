//! `mcp-gateway` binary: hand over to the library.

fn main() -> std::process::ExitCode {
    mcp_gateway::cli::main()
}
