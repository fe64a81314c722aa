//! `mcp-gateway setup [--yes] [--dry-run] [--client NAME]… [--project DIR]`, `setup undo
//! [--list] [--force]`, `setup export --target CLIENT|all`: the command-line face of
//! `crate::setup`. Parses arguments, decides interactivity (a TTY on stdin and stdout), prints;
//! all file logic lives in `crate::setup`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use serde_json::json;

use super::CliError;
use crate::clients::{self, Client, ClientError, HostEnv};
use crate::configedit::backup::BackupError;
use crate::configedit::{self, Scope, backends as gateway_yaml, backup};
use crate::output::{Style, table};
use crate::setup::plan::{self, Plan};
use crate::setup::{self as core, wizard};
use crate::state::Paths;

/// Move the MCP servers of your AI clients behind the gateway
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SetupArgs {
    #[command(subcommand)]
    pub action: Option<SetupAction>,
    /// Import every server and rewrite every client without asking
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the unified diff of every file that would change; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Only this client (repeatable): claude-code, cursor, vscode, codex, …
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,
    /// Use the project-scoped client files of DIR and write DIR/.mcp-gateway.yaml
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
    /// At the end, install the embedding model hybrid search uses without asking (a download of
    /// about 91 MB, or from --model-from); on a terminal setup asks instead
    #[arg(long)]
    pub fetch_model: bool,
    /// Install the embedding model from this local copy instead of downloading it (same
    /// checksums as `mcp-gateway model fetch --from`)
    #[arg(long, value_name = "DIR")]
    pub model_from: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum SetupAction {
    /// Restore the files changed by the last setup run, byte for byte
    Undo(UndoArgs),
    /// Only add the gateway entry to client configs (moves nothing)
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct UndoArgs {
    /// List the recorded runs instead of undoing
    #[arg(long)]
    pub list: bool,
    /// Restore even if a file changed after the run
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Client id, or `all` (every client whose config directory exists)
    #[arg(long, value_name = "CLIENT|all")]
    pub target: String,
    /// Write the client's project file in DIR (pointing at DIR/.mcp-gateway.yaml)
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

/// `setup` without `--yes` / `--dry-run` when stdin or stdout is not a terminal (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error(
    "setup needs a terminal to ask which servers to import; pass --yes to import all, or --dry-run to preview"
)]
pub struct NeedsTerminal;

/// Everything a setup run depends on, so tests can run it against a temporary HOME.
pub struct SetupEnv {
    pub host: HostEnv,
    pub paths: Paths,
    /// `--config` / `$MCP_GATEWAY_CONFIG`: write there instead of the default file.
    pub config_override: Option<PathBuf>,
    /// What client entries run (see [`core::gateway_program`]).
    pub program: String,
    pub style: Style,
}

impl SetupEnv {
    pub fn from_process(config_override: Option<PathBuf>) -> anyhow::Result<SetupEnv> {
        Ok(SetupEnv {
            host: HostEnv::from_env()?,
            paths: Paths::from_env()
                .context("cannot determine the XDG directories (is HOME set?)")?,
            config_override,
            program: core::gateway_program(),
            style: Style::detect(),
        })
    }

    fn gateway_config(&self, project: Option<&Path>) -> PathBuf {
        self.config_override.clone().unwrap_or_else(|| {
            let scope = project.map_or(Scope::User, Scope::Project);
            configedit::scope_file(&self.paths, scope)
        })
    }

    /// The entry clients get: `--config` is spelled out unless it is the user default.
    fn entry(&self, project: Option<&Path>) -> clients::Server {
        core::entry_for(&self.program, &self.paths, &self.gateway_config(project))
    }
}

/// Entry point from the CLI.
pub fn run(config: Option<&Path>, args: SetupArgs) -> Result<ExitCode, CliError> {
    let env = SetupEnv::from_process(config.map(Path::to_path_buf))?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    run_with(&env, args, interactive, &mut input, &mut out)
}

/// The whole command against an explicit environment and streams.
pub fn run_with(
    env: &SetupEnv,
    args: SetupArgs,
    interactive: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    match args.action {
        Some(SetupAction::Undo(u)) => undo(env, &u, out),
        Some(SetupAction::Export(e)) => export(env, &e, out),
        None => setup(env, &args, interactive, input, out),
    }
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    p.canonicalize()
        .with_context(|| format!("project directory {}", p.display()))
}

fn selected_clients(names: &[String]) -> Result<Vec<&'static dyn Client>, ClientError> {
    if names.is_empty() {
        return Ok(clients::all().to_vec());
    }
    names.iter().map(|n| clients::by_id(n)).collect()
}

fn setup(
    env: &SetupEnv,
    args: &SetupArgs,
    interactive: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let code = import(env, args, interactive, input, out)?;
    if !args.dry_run {
        offer_model(env, args, interactive && !args.json, input, out)?;
    }
    Ok(code)
}

/// The end of setup: hybrid search needs the embedding model. Installed already: nothing to do.
/// Otherwise it is installed on `--fetch-model` or on a yes at the prompt (the answer defaults
/// to no); without either, setup only says how to get it. Nothing is downloaded otherwise.
fn offer_model(
    env: &SetupEnv,
    args: &SetupArgs,
    ask: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use crate::embedding::{self, ModelSpec, Source};
    let models_dir = embedding::models_dir(&env.paths);
    if embedding::installed(&models_dir).is_some() {
        return Ok(());
    }
    let spec = ModelSpec::default_model();
    let mb = spec.files.iter().map(|f| f.bytes).sum::<u64>() / 1_000_000;
    let (source, from) = match &args.model_from {
        Some(dir) => (Source::Dir(dir.clone()), dir.display().to_string()),
        None => (Source::Download, spec.base_url.clone().unwrap_or_default()),
    };
    let yes = if args.fetch_model {
        true
    } else if ask {
        writeln!(out)?;
        writeln!(
            out,
            "Search is BM25 only until the embedding model is installed: with it, searches also match what a request means (\"How did Liverpool do?\" finds a sports-scores tool)."
        )?;
        wizard::confirm(
            input,
            out,
            &format!(
                "Install the search model {} ({} MB, {}) from {from}?",
                spec.id, mb, spec.license
            ),
            false,
        )?
    } else {
        false
    };
    if !yes {
        if !args.json {
            writeln!(
                out,
                "Search model not installed; `mcp-gateway model fetch` (or setup --fetch-model) installs it ({mb} MB)."
            )?;
        }
        return Ok(());
    }
    if !args.json {
        writeln!(out, "Installing {} from {from} …", spec.id)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let dir = runtime
        .block_on(embedding::install(&spec, &source, &models_dir))
        .map_err(|e| anyhow!("the search model was not installed: {e}"))?;
    if !args.json {
        writeln!(
            out,
            "Installed {} in {}: search is hybrid in newly started gateways.",
            spec.id,
            dir.display()
        )?;
    }
    Ok(())
}

/// Scan, pick, plan, confirm, write: moving the servers behind the gateway.
fn import(
    env: &SetupEnv,
    args: &SetupArgs,
    interactive: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let project = args.project.as_deref().map(absolute).transpose()?;
    let chosen_clients = selected_clients(&args.clients)?;
    let detected = plan::scan(&env.host, project.as_deref(), &chosen_clients);
    let gw_path = env.gateway_config(project.as_deref());
    let gw_text = configedit::read_for_edit(&gw_path)?.unwrap_or_default();
    let existing = gateway_yaml::read(&gw_text, &gw_path)?;
    let merged = plan::candidates(&detected, &existing);
    let candidates = &merged.candidates;
    if !args.json {
        wizard::print_overview(out, &detected, &merged, env.style)?;
    }
    let broken = broken_files(&detected);
    if candidates.is_empty() {
        if let Some(e) = broken {
            return Err(e);
        }
        return finish_json_or(
            out,
            args.json,
            json!({"detected": plan::detected_json(&detected), "candidates": [], "kept": merged.kept, "changes": []}),
            "\nNothing to import: no MCP servers found outside the gateway.",
        );
    }
    let picked: Vec<usize> = if args.yes || args.dry_run {
        (0..candidates.len()).collect()
    } else if interactive {
        writeln!(out)?;
        match wizard::ask_selection(input, out, candidates.len())? {
            Some(sel) => sel,
            None => return Ok(ExitCode::SUCCESS),
        }
    } else {
        return Err(CliError::usage(NeedsTerminal));
    };
    if picked.is_empty() {
        writeln!(out, "Nothing selected; nothing written.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut names: Vec<String> = picked
        .iter()
        .map(|&i| candidates[i].backend.clone())
        .collect();
    let mut as_references: Vec<String> = Vec::new();
    if let Some(dir) = project.as_deref() {
        let leaks = plan::project_leaks(&detected, candidates, &names, dir, &gw_path);
        let ask = interactive && !args.yes && !args.dry_run;
        match secrets_into_project(&leaks, &gw_path, ask, input, out)? {
            LeakChoice::Nothing | LeakChoice::Literal => {}
            LeakChoice::References => {
                as_references = leaks.iter().map(|l| l.backend.clone()).collect();
            }
            LeakChoice::KeepInClients => names.retain(|n| !leaks.iter().any(|l| &l.backend == n)),
        }
        if names.is_empty() {
            writeln!(out, "Nothing left to import; nothing written.")?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let entry = env.entry(project.as_deref());
    let places = clients::Placeholders {
        home: &env.host.home,
        project: project.as_deref(),
    };
    let the_plan = plan::build(
        &detected,
        candidates,
        &names,
        &gw_path,
        &entry,
        &places,
        &as_references,
    )?;
    if the_plan.is_empty() {
        return finish_json_or(
            out,
            args.json,
            json!({"changes": []}),
            "Nothing to change: everything is already behind the gateway.",
        );
    }
    if args.dry_run {
        return print_dry_run(out, &the_plan, args.json);
    }
    if !args.json {
        writeln!(out)?;
        print_plan_summary(out, &the_plan, env.style)?;
    }
    if interactive
        && !args.yes
        && !wizard::confirm(
            input,
            out,
            "Write these changes (every file is backed up first)?",
            true,
        )?
    {
        writeln!(out, "Nothing written.")?;
        return Ok(ExitCode::SUCCESS);
    }
    // The selection is the servers themselves (what they run), not their names: a re-read may
    // name them differently (a server added meanwhile can take a name first).
    let specs_of = |names: &[String]| -> Vec<clients::ServerSpec> {
        candidates
            .iter()
            .filter(|c| names.contains(&c.backend))
            .map(|c| c.spec.clone())
            .collect()
    };
    let (chosen_specs, reference_specs) = (specs_of(&names), specs_of(&as_references));
    let replan = || -> Result<Plan, CliError> {
        let detected = plan::scan(&env.host, project.as_deref(), &chosen_clients);
        let gw_text = configedit::read_for_edit(&gw_path)?.unwrap_or_default();
        let existing = gateway_yaml::read(&gw_text, &gw_path)?;
        let merged = plan::candidates(&detected, &existing);
        let named = |specs: &[clients::ServerSpec]| -> Vec<String> {
            merged
                .candidates
                .iter()
                .filter(|c| specs.iter().any(|s| gateway_yaml::same_server(s, &c.spec)))
                .map(|c| c.backend.clone())
                .collect()
        };
        Ok(plan::build(
            &detected,
            &merged.candidates,
            &named(&chosen_specs),
            &gw_path,
            &entry,
            &places,
            &named(&reference_specs),
        )?)
    };
    let mut the_plan = the_plan;
    let mut attempts = 0;
    let run = loop {
        check_loads(&the_plan, &gw_path)?;
        match configedit::apply(&the_plan.changes, &env.paths, "setup") {
            // A client (or the user) edited a file after it was read: read everything again and
            // plan the same selection over what is there now, so their edit is kept.
            Err(BackupError::ChangedDuringRun { path }) if attempts < 3 => {
                attempts += 1;
                if !args.json {
                    writeln!(
                        out,
                        "{} changed while setup ran; reading it again",
                        path.display()
                    )?;
                }
                the_plan = replan()?;
            }
            other => break other?,
        }
    };
    report_applied(out, &the_plan, run.as_ref(), args.json, env.style)?;
    if !args.json {
        for n in &the_plan.notes {
            writeln!(out, "Note: {n}")?;
        }
    }
    match broken {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// What to do about secrets that would move from private files into a project's config.
enum LeakChoice {
    /// There are none.
    Nothing,
    /// Write them as they are (the file is not in a git work tree, or the user said so).
    Literal,
    /// Write `${VAR}` references instead.
    References,
    /// Leave those servers in their clients.
    KeepInClients,
}

/// `--project`: secrets from files outside the project (Claude Code's local scope, user files)
/// would be written into the project's gateway config. On a terminal: warn and offer `${VAR}`
/// references, else ask before writing them. Without one: never into a file git may commit
/// (those servers stay in their clients); elsewhere write them and say so.
fn secrets_into_project(
    leaks: &[plan::Leak],
    gw_path: &Path,
    ask: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<LeakChoice, CliError> {
    if leaks.is_empty() {
        return Ok(LeakChoice::Nothing);
    }
    let list: Vec<String> = leaks
        .iter()
        .map(|l| {
            let from: Vec<String> = l.from.iter().map(|p| p.display().to_string()).collect();
            format!("`{}` (from {})", l.backend, from.join(", "))
        })
        .collect();
    writeln!(
        out,
        "Warning: {} server(s) would carry secrets from files outside the project into {}, which lives in the project:",
        list.len(),
        gw_path.display()
    )?;
    for l in &list {
        writeln!(out, "  {l}")?;
    }
    let committable = core::may_be_committed(gw_path);
    if ask {
        if wizard::confirm(
            input,
            out,
            "Write them as ${VAR} references instead (you then set the variables)?",
            true,
        )? {
            return Ok(LeakChoice::References);
        }
        let question = if committable {
            "Write the secrets into this file, which git may commit, anyway?"
        } else {
            "Write the secrets into this file anyway?"
        };
        return Ok(if wizard::confirm(input, out, question, false)? {
            LeakChoice::Literal
        } else {
            writeln!(out, "Those servers stay in their clients.")?;
            LeakChoice::KeepInClients
        });
    }
    if committable {
        writeln!(
            out,
            "Kept in their clients: {} is in a git work tree and not ignored; run setup on a terminal to write ${{VAR}} references instead.",
            gw_path.display()
        )?;
        return Ok(LeakChoice::KeepInClients);
    }
    writeln!(
        out,
        "Written as they are: {} is not in a git work tree (mode 600).",
        gw_path.display()
    )?;
    Ok(LeakChoice::Literal)
}

/// The client files that could not be read, as the error setup ends with (exit code 1): they
/// were left untouched, and their servers were not imported.
fn broken_files(detected: &[plan::Detected]) -> Option<CliError> {
    let broken: Vec<&str> = detected
        .iter()
        .filter_map(|d| match &d.state {
            plan::LocationState::Broken(e) => Some(e.as_str()),
            _ => None,
        })
        .collect();
    (!broken.is_empty()).then(|| {
        CliError::Failed(anyhow!(
            "{} client config file(s) could not be read and were left untouched; fix them and run setup again:\n  {}",
            broken.len(),
            broken.join("\n  ")
        ))
    })
}

/// Setup never writes a gateway config the gateway would refuse: the new text is loaded with the
/// real loader (variables from this environment) before any file is touched.
fn check_loads(the_plan: &Plan, gw_path: &Path) -> Result<(), CliError> {
    let real = configedit::fsio::real_path(gw_path);
    // The config the rewritten clients will start the gateway with: the new text, or the file
    // as it is when only client entries move.
    let text = match the_plan.changes.iter().find(|c| c.path == real) {
        Some(change) => change.after.clone(),
        None if the_plan.changes.is_empty() => return Ok(()),
        None => configedit::read_for_edit(&real)?.unwrap_or_default(),
    };
    crate::config::parse_str(&text, gw_path).map_err(|e| {
        CliError::Failed(anyhow::Error::new(e).context(format!(
            "the gateway config {} would not load, so the clients pointed at it would lose their servers; nothing was written",
            gw_path.display()
        )))
    })?;
    Ok(())
}

fn finish_json_or(
    out: &mut dyn Write,
    json: bool,
    value: serde_json::Value,
    text: &str,
) -> Result<ExitCode, CliError> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(out, "{text}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The changes with their diffs, secrets masked.
fn changes_json(p: &Plan) -> serde_json::Value {
    json!(
        p.changes
            .iter()
            .map(|c| json!({"path": c.path, "created": c.before.is_none(), "diff": p.mask(&c.diff())}))
            .collect::<Vec<_>>()
    )
}

fn print_dry_run(out: &mut dyn Write, p: &Plan, json: bool) -> Result<ExitCode, CliError> {
    if json {
        let v = json!({"dry_run": true, "added": p.added, "rewritten": p.rewritten, "notes": p.notes, "changes": changes_json(p)});
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out)?;
        for c in &p.changes {
            write!(out, "{}", p.mask(&c.diff()))?;
        }
        for n in &p.notes {
            writeln!(out, "Note: {n}")?;
        }
        writeln!(
            out,
            "\nDry run: {} file(s) would change; nothing was written.",
            p.changes.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plan_summary(out: &mut dyn Write, p: &Plan, style: Style) -> std::io::Result<()> {
    if !p.added.is_empty() {
        writeln!(
            out,
            "{} {}",
            style.bold("Add to gateway config:"),
            p.added.join(", ")
        )?;
    }
    for r in &p.rewritten {
        writeln!(out, "{} {r}", style.bold("Rewrite to one `gateway` entry:"))?;
    }
    Ok(())
}

fn report_applied(
    out: &mut dyn Write,
    p: &Plan,
    run: Option<&backup::Run>,
    json: bool,
    style: Style,
) -> Result<ExitCode, CliError> {
    if json {
        let v = json!({"run": run.map(|r| r.id.clone()), "backup_dir": run.map(|r| r.dir.clone()), "added": p.added, "rewritten": p.rewritten, "notes": p.notes, "changes": changes_json(p)});
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for c in &p.changes {
        let verb = if c.before.is_none() {
            "created"
        } else {
            "updated"
        };
        writeln!(out, "{} {verb} {}", style.green("✓"), c.path.display())?;
    }
    if let Some(r) = run {
        writeln!(
            out,
            "Backups: {}\nUndo with: mcp-gateway setup undo",
            r.dir.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What a recorded run did: `applied`, `partial` (failed after writing some of its files),
/// `nothing written` (failed before), `undone`.
fn run_state(r: &backup::Run) -> &'static str {
    let written = r.written().count();
    match () {
        _ if r.undone => "undone",
        _ if written == 0 => "nothing written",
        _ if written < r.files.len() => "partial",
        _ => "applied",
    }
}

fn undo(env: &SetupEnv, args: &UndoArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let root = configedit::backups_root(&env.paths);
    if args.list {
        let runs = backup::list_runs(&root)?;
        if args.json {
            let v: Vec<_> = runs
                .iter()
                .map(|r| json!({"id": r.id, "command": r.command, "state": run_state(r), "undone": r.undone, "dir": r.dir, "files": r.files.iter().map(|f| json!({"path": f.path, "existed": f.backup.is_some(), "written": f.written_sha256.is_some()})).collect::<Vec<_>>()}))
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        } else if runs.is_empty() {
            writeln!(out, "No setup runs recorded in {}", root.display())?;
        } else {
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    let files: Vec<String> =
                        r.written().map(|f| f.path.display().to_string()).collect();
                    vec![
                        r.id.clone(),
                        r.command.clone(),
                        run_state(r).to_string(),
                        files.join(", "),
                    ]
                })
                .collect();
            write!(
                out,
                "{}",
                table(&["RUN", "COMMAND", "STATE", "FILES WRITTEN"], &rows)
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (run, files) = configedit::undo_last(&env.paths, args.force)?;
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"run": run.id, "restored": files}))?
        )?;
    } else {
        for f in &files {
            writeln!(out, "{} restored {}", env.style.green("✓"), f.display())?;
        }
        writeln!(out, "Undid setup run {} ({}).", run.id, run.command)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn export(env: &SetupEnv, args: &ExportArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let project = args.project.as_deref().map(absolute).transpose()?;
    let all = args.target.eq_ignore_ascii_case("all");
    let targets: Vec<&'static dyn Client> = if all {
        clients::all().to_vec()
    } else {
        vec![clients::by_id(&args.target)?]
    };
    let mut locations = Vec::new();
    for c in targets {
        let Some(first) = c
            .locations(&env.host, project.as_deref())
            .into_iter()
            .next()
        else {
            if !all {
                return Err(CliError::usage(anyhow!(
                    "{} has no {} config file",
                    c.name(),
                    if project.is_some() {
                        "project-scoped"
                    } else {
                        "user"
                    }
                )));
            }
            continue;
        };
        // With `all`, only clients that look installed: their file exists, or their own config
        // directory does (the home or project directory itself proves nothing: a file kept
        // there, such as `~/.claude.json`, is created only by its client).
        let base = project.as_deref().unwrap_or(&env.host.home);
        let own_dir = first
            .path
            .parent()
            .is_some_and(|dir| dir != base && dir.is_dir());
        if all && !first.path.exists() && !own_dir {
            continue;
        }
        locations.push(first);
    }
    let entry = env.entry(project.as_deref());
    let places = clients::Placeholders {
        home: &env.host.home,
        project: project.as_deref(),
    };
    let the_plan = plan::build_export(&locations, &entry, &places)?;
    if args.dry_run {
        return print_dry_run(out, &the_plan, args.json);
    }
    if the_plan.is_empty() {
        return finish_json_or(
            out,
            args.json,
            json!({"changes": []}),
            "Every target already has a gateway entry.",
        );
    }
    let run = configedit::apply(
        &the_plan.changes,
        &env.paths,
        &format!("setup export --target {}", args.target),
    )?;
    report_applied(out, &the_plan, run.as_ref(), args.json, env.style)
}
