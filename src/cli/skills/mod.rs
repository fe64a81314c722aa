//! `mcp-gateway skills list|search|show|import|remove`: the skills the gateway serves, from the
//! shell.
//!
//! Owns the human-facing output of these commands (stdout for results, stderr for problems) and
//! their exit codes: 0 ok, 1 runtime failure, 2 a bad argument or a skill that cannot be imported.
//! Finding, parsing, screening and importing are `crate::skills`'; `search` asks the gateway's own
//! index (the meta-tool's ranking, narrowed to skills). It never runs a skill's code and never
//! writes anywhere but the import directory.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

mod import;

use crate::skills::{ProblemKind, SkillProblem, SkillSet};
use import::{ImportError, Source};

/// `skills` subcommands.
#[derive(Debug, Args)]
pub struct SkillsArgs {
    #[command(subcommand)]
    pub command: SkillsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// List the skills found (config, project, imported and personal directories) and problems.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a skill: where it comes from, its parts, and its SKILL.md.
    Show {
        name: String,
        /// Print only this part exactly as served (`SKILL.md`, `references/x.md`, `code/1`).
        #[arg(long)]
        part: Option<String>,
    },
    /// Copy a skill folder (PATH) or a SKILL.md over HTTPS (URL) into the gateway's data dir.
    Import {
        /// A skill folder, its SKILL.md, or an https:// URL of a SKILL.md (GitHub page URLs work).
        source: String,
        /// Replace an imported skill of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Remove an imported skill.
    Remove { name: String },
    /// Rank the skills for a task: `mcp-gateway search --kind skill` (the gateway's own index).
    Search {
        /// The task, or the skill's name.
        query: String,
        /// How many matches to show.
        #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: u16,
        /// Print the `gateway_search_tools` result JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `skills` subcommand.
pub fn run(args: SkillsArgs, global: &super::GlobalArgs) -> Result<ExitCode, super::CliError> {
    let paths = crate::state::Paths::from_env();
    let import_dir = || {
        paths
            .as_ref()
            .map(crate::skills::discover::import_dir)
            .context("cannot determine the XDG data dir (is HOME set?)")
    };
    let config = || super::load_config(global);
    Ok(match args.command {
        SkillsCommand::List { json } => {
            let (set, problems) = load(&config()?, paths.as_ref());
            list(&set, &problems, json)?
        }
        SkillsCommand::Show { name, part } => {
            let (set, problems) = load(&config()?, paths.as_ref());
            show(&set, &problems, &name, part.as_deref())?
        }
        SkillsCommand::Import { source, force } => {
            let root = import_dir()?;
            import(&source, &root, &config()?, force)?
        }
        SkillsCommand::Remove { name } => match import::remove(&name, &import_dir()?) {
            Ok(dir) => {
                println!("removed skill `{name}` ({})", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(super::EXIT_USAGE)
            }
        },
        SkillsCommand::Search { query, limit, json } => {
            let search = super::search::SearchArgs {
                query,
                server: None,
                limit,
                kind: Some(crate::gateway::Kind::Skill),
                json,
            };
            super::search::run(global, &search)?
        }
    })
}

fn load(
    config: &crate::config::Config,
    paths: Option<&crate::state::Paths>,
) -> (SkillSet, Vec<SkillProblem>) {
    let dirs = crate::skills::discover::from_env(&config.skills, paths);
    SkillSet::load(&dirs, &config.scanner_allow)
}

fn out(text: &str) -> anyhow::Result<()> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")
}

fn print_problems(problems: &[SkillProblem]) {
    for p in problems {
        let label = match p.kind {
            ProblemKind::Invalid => "skipped",
            ProblemKind::Withheld => "withheld",
            ProblemKind::Shadowed => "shadowed",
            ProblemKind::Warning => "warning",
        };
        eprintln!("{label}: {p}");
    }
}

fn list(set: &SkillSet, problems: &[SkillProblem], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        let skills: Vec<serde_json::Value> = set
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "description": s.description,
                    "scope": s.scope.label(),
                    "file": s.file,
                    "parts": s.parts.iter().map(|p| &p.path).collect::<Vec<_>>(),
                    "code_blocks": s.code_blocks.len(),
                })
            })
            .collect();
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(
                &serde_json::json!({"skills": skills, "problems": problems})
            )?
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    if set.is_empty() {
        out(
            "no skills found (see `mcp-gateway skills --help` and docs/skills.md for where they are looked for)\n",
        )?;
    } else {
        let rows: Vec<[String; 4]> = set
            .iter()
            .map(|s| {
                [
                    s.name.clone(),
                    s.scope.label().to_string(),
                    s.parts.len().to_string(),
                    crate::search::render::trim_description(&s.description, 60),
                ]
            })
            .collect();
        let w = |i: usize, h: &str| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2) = (w(0, "NAME"), w(1, "SCOPE"), w(2, "PARTS"));
        let mut text = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  DESCRIPTION\n",
            "NAME", "SCOPE", "PARTS"
        );
        for [n, s, p, d] in &rows {
            text.push_str(&format!("{n:<w0$}  {s:<w1$}  {p:>w2$}  {d}\n"));
        }
        out(&text)?;
    }
    print_problems(problems);
    Ok(ExitCode::SUCCESS)
}

fn show(
    set: &SkillSet,
    problems: &[SkillProblem],
    name: &str,
    part: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let Some(skill) = set.get(name) else {
        // A broken or withheld skill of that name: say why.
        let why: Vec<&SkillProblem> = problems
            .iter()
            .filter(|p| {
                p.file
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|d| d == name)
                    || p.message.contains(&format!("`{name}`"))
            })
            .collect();
        let hint = crate::suggest::hint(name, set.iter().map(|s| s.name.as_str()));
        eprintln!("error: no skill named `{name}` is served{hint}");
        print_problems(&why.into_iter().cloned().collect::<Vec<_>>());
        return Ok(ExitCode::from(super::EXIT_USAGE));
    };
    if let Some(part) = part {
        return match skill.read(part) {
            Ok(c) => {
                out(&c.text)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(ExitCode::from(super::EXIT_USAGE))
            }
        };
    }
    let mut text = format!(
        "name:        {}\ndescription: {}\nfile:        {} ({})\n",
        skill.name,
        skill.description,
        skill.file.display(),
        skill.scope.label()
    );
    text.push_str(&format!(
        "uri:         {}\n",
        skill.uri(crate::skills::MAIN_FILE)
    ));
    for p in &skill.parts {
        text.push_str(&format!(
            "part:        {}{}\n",
            p.path,
            p.title
                .as_ref()
                .map(|t| format!(" — {t}"))
                .unwrap_or_default()
        ));
    }
    for (i, c) in skill.code_blocks.iter().enumerate() {
        text.push_str(&format!(
            "code/{}:      {} block at line {} (data: never run)\n",
            i + 1,
            if c.language.is_empty() {
                "plain"
            } else {
                &c.language
            },
            c.line
        ));
    }
    for f in &skill.findings {
        text.push_str(&format!("finding:     {f}\n"));
    }
    text.push('\n');
    text.push_str(&skill.read(crate::skills::MAIN_FILE)?.text);
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn import(
    source: &str,
    root: &Path,
    config: &crate::config::Config,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let allow = &config.scanner_allow;
    let done = match Source::parse(source) {
        Ok(Source::Path(p)) if !p.exists() => Err(ImportError::BadSource(source.to_string())),
        Ok(Source::Path(p)) => import::import_path(&p, root, allow, force),
        Ok(Source::Url(url)) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(import::import_url(&url, root, allow, force))
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(done) => {
            for w in &done.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "{} skill `{}` into {} ({} file{})",
                if done.replaced {
                    "replaced"
                } else {
                    "imported"
                },
                done.name,
                done.dir.display(),
                done.files.len(),
                if done.files.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (ImportError::Io { .. } | ImportError::Fetch { .. })) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(super::EXIT_USAGE))
        }
    }
}
