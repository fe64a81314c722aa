//! `mcp-gateway completions bash|zsh|fish`: prints a shell completion script generated from the
//! full clap command (passed in by the caller, so this module never depends on `Cli`).

use std::process::ExitCode;

/// Print a shell completion script
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Writes the script for `args.shell` to `out`.
pub fn write(args: &CompletionsArgs, mut cmd: clap::Command, out: &mut dyn std::io::Write) {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

pub fn run(args: CompletionsArgs, cmd: clap::Command) -> Result<ExitCode, super::CliError> {
    write(&args, cmd, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
