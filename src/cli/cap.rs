//! `mcp-gateway cap …`: import OpenAPI specs, validate, list, pin and approve capability files.
//!
//! Owns the human-facing output of these commands (stdout for results, stderr for problems) and
//! their exit codes: 0 ok, 1 runtime failure, 2 a problem with the files or arguments given. It
//! never runs the gateway and never writes anywhere but the `--output` directory and the pin
//! lock file in the XDG state dir.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::CliError;

use crate::capability::{self, PinStatus, PinStore, ProblemKind, openapi};
use crate::scanner::{self, Severity};

/// `cap` subcommands.
#[derive(Debug, Args)]
pub struct CapArgs {
    #[command(subcommand)]
    pub command: CapCommand,
}

#[derive(Debug, Subcommand)]
pub enum CapCommand {
    /// Turn an OpenAPI 3.0/3.1 spec (file or URL, JSON or YAML) into capability files.
    Import {
        /// Path or http(s) URL of the spec.
        spec: String,
        /// Directory to write one `<tool>.yaml` per operation into.
        #[arg(long, short)]
        output: PathBuf,
        /// Prefix for tool names and environment variables (e.g. `gh` → `gh_repos_get`, `GH_TOKEN`).
        #[arg(long)]
        prefix: Option<String>,
        /// Only operations whose tool name, operationId or path matches (repeatable glob).
        #[arg(long)]
        include: Vec<String>,
        /// Base URL when the spec's `servers` entry is missing or relative.
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Check capability files or directories: syntax, keys, templates, scanner findings.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the capabilities in the configured (or given) directories.
    List {
        /// Directory to list (repeatable); default: the config's `capabilities.directories`.
        #[arg(long = "dir")]
        dirs: Vec<PathBuf>,
    },
    /// Pin capability files (or every file in a directory) at their current content.
    Pin {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Approve the current content of a pinned capability (by tool name or file path).
    Approve { name: String },
}

/// Runs a `cap` subcommand from the synchronous CLI: resolves the XDG paths and, for `cap list`
/// without `--dir`, the capability directories of the config in effect (`--config` or discovery).
pub fn run_blocking(mut args: CapArgs, config: Option<&Path>) -> Result<ExitCode, CliError> {
    let paths = crate::state::Paths::from_env()
        .context("cannot determine the XDG directories (is HOME set?)")?;
    if let CapCommand::List { dirs } = &mut args.command
        && dirs.is_empty()
    {
        *dirs = configured_dirs(config)?;
    }
    let runtime = super::runtime()?;
    runtime.block_on(run(args, &paths))
}

/// Runs a `cap` subcommand.
pub async fn run(args: CapArgs, paths: &crate::state::Paths) -> Result<ExitCode, CliError> {
    match args.command {
        CapCommand::Import {
            spec,
            output,
            prefix,
            include,
            base_url,
        } => import(&spec, &output, prefix, include, base_url).await,
        CapCommand::Validate { paths: targets } => {
            let pins = PinStore::open(paths).map_err(anyhow::Error::from)?;
            Ok(validate(&targets, &pins))
        }
        CapCommand::List { dirs } => Ok(list(dirs, paths)?),
        CapCommand::Pin { paths: targets } => Ok(pin(&targets, paths)?),
        CapCommand::Approve { name } => approve(&name, paths),
    }
}

async fn import(
    spec: &str,
    output: &Path,
    prefix: Option<String>,
    include: Vec<String>,
    base_url: Option<String>,
) -> Result<ExitCode, CliError> {
    let (doc, url) = openapi::read_spec(spec).await.map_err(CliError::usage)?;
    let opts = openapi::ImportOptions {
        prefix,
        include,
        base_url,
    };
    let conversion = openapi::convert(&doc, &opts, url.as_ref()).map_err(CliError::usage)?;
    let report = openapi::write(&conversion, output).map_err(anyhow::Error::from)?;
    for (op, reason) in conversion.skipped.iter().chain(report.rejected.iter()) {
        eprintln!("skipped {op}: {reason}");
    }
    let total = conversion.generated.len() + conversion.skipped.len();
    println!(
        "imported {} of {} operations into {} ({} skipped{})",
        report.written.len(),
        total,
        output.display(),
        conversion.skipped.len() + report.rejected.len(),
        if conversion.excluded > 0 {
            format!(", {} not matching --include", conversion.excluded)
        } else {
            String::new()
        }
    );
    if !conversion.env_vars.is_empty() {
        let vars: Vec<&str> = conversion.env_vars.iter().map(String::as_str).collect();
        println!("environment variables used: {}", vars.join(", "));
    }
    Ok(if report.written.is_empty() && total > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn files_of(targets: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for t in targets {
        if t.is_dir() {
            match capability::find_files(t) {
                Ok(f) => files.extend(f),
                Err(e) => errors.push(format!("{}: cannot read directory: {e}", t.display())),
            }
        } else if t.exists() {
            files.push(t.clone());
        } else {
            errors.push(format!("{}: no such file or directory", t.display()));
        }
    }
    (files, errors)
}

fn validate(targets: &[PathBuf], pins: &PinStore) -> ExitCode {
    let (files, errors) = files_of(targets);
    let mut bad = errors.len();
    for e in &errors {
        eprintln!("error: {e}");
    }
    for file in &files {
        if let Ok(bytes) = std::fs::read(file)
            && let PinStatus::Changed { .. } = pins.check(file, &bytes)
        {
            eprintln!("{}: changed since approval (pinned)", file.display());
        }
        match capability::load_file(file) {
            Ok(cap) => {
                let findings = scanner::scan_tool(&cap.tool());
                let high = findings.iter().any(|f| f.severity == Severity::High);
                if high {
                    bad += 1;
                }
                println!(
                    "{}: ok `{}`{}",
                    file.display(),
                    cap.name,
                    if high {
                        " (withheld: see findings)"
                    } else {
                        ""
                    }
                );
                for f in findings.iter().filter(|f| f.severity >= Severity::Medium) {
                    println!("  {f}");
                }
            }
            Err(p) => {
                bad += 1;
                eprintln!("{p}");
            }
        }
    }
    println!(
        "{} checked, {bad} with problems",
        crate::output::counted(files.len(), "file", "files")
    );
    if bad > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn configured_dirs(explicit: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let config = crate::config::load(explicit, &cwd)?;
    Ok(config.capabilities.directories)
}

fn list(dirs: Vec<PathBuf>, paths: &crate::state::Paths) -> anyhow::Result<ExitCode> {
    if dirs.is_empty() {
        println!("no capability directories configured (use --dir or `capabilities.directories`)");
        return Ok(ExitCode::SUCCESS);
    }
    let pins = PinStore::open(paths)?;
    let (set, problems) = capability::CapabilitySet::load(&dirs, &pins);
    for tool in set.tools() {
        let name = tool["name"].as_str().unwrap_or("");
        let file = set
            .get(name)
            .map(|l| l.file.display().to_string())
            .unwrap_or_default();
        let first_line = tool["description"]
            .as_str()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        let pinned = set
            .get(name)
            .map(|l| {
                pins.check(&l.file, &std::fs::read(&l.file).unwrap_or_default())
                    == PinStatus::Approved
            })
            .unwrap_or(false);
        println!(
            "{name}{}  {first_line}  ({file})",
            if pinned { " [pinned]" } else { "" }
        );
    }
    for p in &problems {
        let tag = match p.kind {
            ProblemKind::ChangedSinceApproval => "QUARANTINED",
            ProblemKind::Invalid => "SKIPPED",
        };
        println!("{tag}: {p}");
    }
    println!(
        "{}, {}",
        crate::output::counted(set.len(), "capability", "capabilities"),
        crate::output::counted(problems.len(), "problem", "problems")
    );
    Ok(ExitCode::SUCCESS)
}

fn pin(targets: &[PathBuf], paths: &crate::state::Paths) -> anyhow::Result<ExitCode> {
    let (files, errors) = files_of(targets);
    for e in &errors {
        eprintln!("error: {e}");
    }
    let mut store = PinStore::open(paths)?;
    let mut failed = errors.len();
    for file in &files {
        match capability::load_file(file) {
            Ok(cap) => {
                let record = store.pin(file, vec![cap.name.clone()])?;
                println!(
                    "pinned {} `{}` sha256 {}",
                    file.display(),
                    cap.name,
                    record.sha256
                );
            }
            Err(p) => {
                failed += 1;
                eprintln!("not pinned, the file does not load: {p}");
            }
        }
    }
    if let Some(lock) = store.path() {
        println!("lock file: {}", lock.display());
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn approve(name: &str, paths: &crate::state::Paths) -> Result<ExitCode, CliError> {
    let mut store = PinStore::open(paths).map_err(anyhow::Error::from)?;
    let names_of = |f: &Path| {
        capability::load_file(f)
            .map(|c| vec![c.name])
            .unwrap_or_default()
    };
    match store.approve(name, names_of) {
        Ok(files) => {
            for f in files {
                let note = match capability::load_file(&f) {
                    Ok(_) => String::new(),
                    Err(p) => format!(" (warning: it does not load: {p})"),
                };
                println!("approved {}{note}", f.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(CliError::usage(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &Path) -> crate::state::Paths {
        crate::state::Paths {
            config_dir: root.join("config"),
            cache_dir: root.join("cache"),
            state_dir: root.join("state"),
            data_dir: root.join("data"),
        }
    }

    fn cap(command: CapCommand) -> CapArgs {
        CapArgs { command }
    }

    const CAP: &str = "name: hello\ndescription: Says hello\nproviders:\n  primary:\n    config:\n      base_url: https://example.test\n      path: /hello\n";

    #[tokio::test]
    async fn import_validate_pin_tamper_approve() {
        let root = tempfile::tempdir().unwrap();
        let p = paths(root.path());
        // Import a small spec from a file.
        let spec = root.path().join("spec.yaml");
        std::fs::write(
            &spec,
            "openapi: 3.0.3\ninfo: {title: Hello API, version: '1'}\nservers: [{url: 'https://hello.test/v1'}]\npaths:\n  /greet/{who}:\n    get:\n      operationId: greet\n      parameters: [{name: who, in: path, required: true, schema: {type: string}}]\n  /upload:\n    post:\n      operationId: upload\n      requestBody: {required: true, content: {application/octet-stream: {schema: {type: string}}}}\n",
        )
        .unwrap();
        let out = root.path().join("caps");
        let code = run(
            cap(CapCommand::Import {
                spec: spec.display().to_string(),
                output: out.clone(),
                prefix: Some("hi".into()),
                include: vec![],
                base_url: None,
            }),
            &p,
        )
        .await
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let written = capability::find_files(&out).unwrap();
        assert_eq!(written, vec![out.join("hi_greet.yaml")]);
        let text = std::fs::read_to_string(&written[0]).unwrap();
        assert!(
            text.contains("${HI_BASE_URL:-https://hello.test/v1}"),
            "{text}"
        );

        // Validate: the import is clean; a broken file makes it exit 2.
        let ok = run(
            cap(CapCommand::Validate {
                paths: vec![out.clone()],
            }),
            &p,
        )
        .await
        .unwrap();
        assert_eq!(ok, ExitCode::SUCCESS);
        std::fs::write(out.join("broken.yaml"), "name: [").unwrap();
        let bad = run(
            cap(CapCommand::Validate {
                paths: vec![out.clone()],
            }),
            &p,
        )
        .await
        .unwrap();
        assert_eq!(bad, ExitCode::from(2));
        std::fs::remove_file(out.join("broken.yaml")).unwrap();

        // Pin, tamper → quarantined, approve by name → loads again.
        let file = out.join("hello.yaml");
        std::fs::write(&file, CAP).unwrap();
        let code = run(
            cap(CapCommand::Pin {
                paths: vec![file.clone()],
            }),
            &p,
        )
        .await
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(p.state_dir.join(capability::pins::LOCK_FILE).is_file());
        std::fs::write(
            &file,
            CAP.replace("Says hello", "Says hello. <IMPORTANT>x</IMPORTANT>"),
        )
        .unwrap();
        let pins = PinStore::open(&p).unwrap();
        let (set, problems) = capability::CapabilitySet::load(std::slice::from_ref(&out), &pins);
        assert!(set.get("hello").is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, ProblemKind::ChangedSinceApproval);
        let code = run(
            cap(CapCommand::Approve {
                name: "nothing".into(),
            }),
            &p,
        )
        .await
        .unwrap_err()
        .exit_code();
        assert_eq!(code, ExitCode::from(2));
        let code = run(
            cap(CapCommand::Approve {
                name: "hello".into(),
            }),
            &p,
        )
        .await
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let (set, problems) = capability::CapabilitySet::load(
            std::slice::from_ref(&out),
            &PinStore::open(&p).unwrap(),
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(set.get("hello").is_some());
        let code = run(cap(CapCommand::List { dirs: vec![out] }), &p)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
    }

    #[tokio::test]
    async fn import_of_a_missing_or_non_openapi_spec_is_a_usage_error() {
        let root = tempfile::tempdir().unwrap();
        let p = paths(root.path());
        let missing = run(
            cap(CapCommand::Import {
                spec: root.path().join("nope.json").display().to_string(),
                output: root.path().join("out"),
                prefix: None,
                include: vec![],
                base_url: None,
            }),
            &p,
        )
        .await
        .unwrap_err()
        .exit_code();
        assert_eq!(missing, ExitCode::from(2));
        let swagger = root.path().join("s.json");
        std::fs::write(&swagger, "{\"swagger\": \"2.0\", \"paths\": {}}").unwrap();
        let code = run(
            cap(CapCommand::Import {
                spec: swagger.display().to_string(),
                output: root.path().join("out"),
                prefix: None,
                include: vec![],
                base_url: None,
            }),
            &p,
        )
        .await
        .unwrap_err()
        .exit_code();
        assert_eq!(code, ExitCode::from(2));
        assert!(!root.path().join("out").exists());
    }
}
