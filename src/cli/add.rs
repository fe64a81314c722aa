//! `mcp-gateway add NAME -- CMD ARGS…` / `add NAME --url URL` / `add NAME` (from the built-in
//! registry): adds one backend to gateway.yaml, `claude mcp add`-compatible where they overlap
//! (`-e KEY=VAL`, `--transport stdio|http|sse`, `-H "K: V"`, `--scope user|project`).
//! Edits keep the file's comments; the previous file is backed up (`setup undo` restores it).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::{CliError, usage};

use super::ScopeArg;
use crate::clients::{RemoteTransport, ServerSpec};
use crate::configedit::{self, backends as gateway_yaml};
use crate::registry;

/// Add a backend: a command, a URL, or a well-known server by name
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Backend name ([A-Za-z0-9_-], at most 32 characters); alone: a registry entry
    pub name: String,
    /// The command and its arguments (after `--`), or the URL for --transport http|sse
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND_OR_URL"
    )]
    pub command: Vec<String>,
    /// Environment variable for the server (repeatable)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// URL of a remote server
    #[arg(long, conflicts_with = "command")]
    pub url: Option<String>,
    /// Transport (default: stdio for a command, http for a URL)
    #[arg(short = 't', long, value_enum)]
    pub transport: Option<TransportArg>,
    /// HTTP header for a remote server, "Name: value" (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Which config file to write (default: the file in effect, as `get`, `remove` and `list`)
    #[arg(short = 's', long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Description shown by `list` and `gateway_list_servers`
    #[arg(long)]
    pub description: Option<String>,
    /// Replace an existing backend of the same name
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    Stdio,
    Http,
    Sse,
}

fn parse_pairs(
    items: &[String],
    sep: char,
    what: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|item| {
            let (k, v) = item
                .split_once(sep)
                .with_context(|| format!("{what} `{item}` must look like NAME{sep}VALUE"))?;
            let k = k.trim();
            if k.is_empty() {
                bail!("{what} `{item}` has an empty name");
            }
            Ok((
                k.to_string(),
                if sep == ':' {
                    v.trim().to_string()
                } else {
                    v.to_string()
                },
            ))
        })
        .collect()
}

/// The spec the arguments describe, plus notes for the user.
pub fn spec_from_args(
    args: &AddArgs,
    cwd: &Path,
) -> anyhow::Result<(ServerSpec, Option<String>, Vec<String>)> {
    let env = parse_pairs(&args.env, '=', "--env")?;
    let mut header_args = args.headers.clone();
    let remote = matches!(args.transport, Some(TransportArg::Http | TransportArg::Sse));
    let url = match (&args.url, args.command.split_first()) {
        (Some(u), _) => Some(u.clone()),
        (None, Some((first, rest))) if remote => {
            // `claude mcp add --transport http NAME URL --header "K: V"`: options after the URL.
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "-H" | "--header" => header_args.push(
                        it.next()
                            .with_context(|| format!("{a} needs a value"))?
                            .clone(),
                    ),
                    other => match other.strip_prefix("--header=") {
                        Some(v) => header_args.push(v.to_string()),
                        None => bail!("unexpected `{other}` after the URL"),
                    },
                }
            }
            Some(first.clone())
        }
        _ => None,
    };
    let headers = parse_pairs(&header_args, ':', "--header")?;
    if let Some(url) = url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("`{url}` is not an http(s) URL");
        }
        if !env.is_empty() {
            bail!("--env applies to stdio servers; a remote server takes --header");
        }
        let transport = match args.transport {
            Some(TransportArg::Sse) => RemoteTransport::Sse,
            Some(TransportArg::Http) => RemoteTransport::Http,
            Some(TransportArg::Stdio) => bail!("--transport stdio needs a command, not a URL"),
            None => RemoteTransport::Auto,
        };
        return Ok((
            ServerSpec::Remote {
                url,
                headers,
                transport,
            },
            args.description.clone(),
            Vec::new(),
        ));
    }
    if !headers.is_empty() {
        bail!("--header applies to remote servers (--url)");
    }
    if let Some((program, rest)) = args.command.split_first() {
        let spec = ServerSpec::Stdio {
            command: program.clone(),
            args: rest.to_vec(),
            env,
            cwd: None,
        };
        return Ok((spec, args.description.clone(), Vec::new()));
    }
    let Some(entry) = registry::get(&args.name) else {
        let near = registry::suggest(&args.name);
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!(" (did you mean {}?)", near.join(", "))
        };
        bail!(
            "`{}` is not in the built-in registry{hint}; give a command after `--` or --url",
            args.name
        );
    };
    let mut env = env;
    let mut notes = Vec::new();
    for (var, what) in entry.env {
        if !env.contains_key(*var) {
            env.insert(var.to_string(), format!("${{{var}:-}}"));
            notes.push(format!("{var} ({what}) is read from the gateway's environment when the server starts: export {var}=… (or re-run with -e {var}=…)"));
        }
    }
    let spec = ServerSpec::Stdio {
        command: entry.command.to_string(),
        args: entry.args_in(cwd),
        env,
        cwd: None,
    };
    Ok((
        spec,
        Some(
            args.description
                .clone()
                .unwrap_or_else(|| entry.description.to_string()),
        ),
        notes,
    ))
}

/// What a project file `add --scope project` creates starts with.
const NEW_PROJECT_FILE: &str =
    "# Layered over the user file (see docs/configuration.md).\ninherit: true\n";

pub fn run(config: Option<&Path>, args: AddArgs) -> Result<ExitCode, CliError> {
    let paths = super::paths()?;
    let cwd = std::env::current_dir()?;
    let name = gateway_yaml::sanitize_name(&args.name);
    if name != args.name {
        usage!(
            "`{}` is not a valid backend name: use [A-Za-z0-9_-], at most 32 characters (e.g. `{name}`)",
            args.name
        );
    }
    let (spec, description, notes) = spec_from_args(&args, &cwd).map_err(CliError::Usage)?;
    let path = configedit::target_file(&paths, config, args.scope.map(|s| s.at(&cwd)), &cwd);
    // A new project file layers over the user file: without `inherit: true` it would hide
    // every user backend.
    let new_project_file = args.scope == Some(ScopeArg::Project) && !path.exists();
    let value = gateway_yaml::backend_value(
        &spec,
        true,
        description.as_deref(),
        &Default::default(),
        None,
    );
    let exists = configedit::edit_config(&paths, &path, &format!("add {name}"), |text| {
        let text = match text {
            Some(text) => text,
            None if new_project_file => NEW_PROJECT_FILE,
            None => "",
        };
        let exists = gateway_yaml::read(text, &path)?.has(&name);
        if exists && !args.force {
            usage!(
                "{} already has a backend `{name}` (use --force to replace it)",
                path.display()
            );
        }
        let remove = if exists {
            vec![name.clone()]
        } else {
            Vec::new()
        };
        let new_text = gateway_yaml::edit_backends(text, &remove, &[(name.clone(), value)])
            .with_context(|| format!("cannot edit {}", path.display()))?;
        gateway_yaml::read(&new_text, &path)?;
        Ok::<_, CliError>((new_text, exists))
    })?;
    println!(
        "{} backend `{name}` in {}",
        if exists { "Replaced" } else { "Added" },
        path.display()
    );
    for n in notes {
        println!("  note: {n}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: AddArgs,
    }

    fn parse(argv: &[&str]) -> AddArgs {
        T::try_parse_from(std::iter::once("add").chain(argv.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn claude_compatible_forms() {
        let cwd = Path::new("/w");
        let (spec, ..) = spec_from_args(
            &parse(&["fs", "-e", "A=1=2", "--", "npx", "-y", "srv", "--flag"]),
            cwd,
        )
        .unwrap();
        assert_eq!(
            spec,
            ServerSpec::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "srv".into(), "--flag".into()],
                env: [("A".to_string(), "1=2".to_string())].into(),
                cwd: None
            }
        );
        let (spec, ..) = spec_from_args(
            &parse(&[
                "--transport",
                "http",
                "sentry",
                "https://mcp.sentry.dev/mcp",
                "-H",
                "Authorization: Bearer x",
            ]),
            cwd,
        )
        .unwrap();
        assert!(
            matches!(spec, ServerSpec::Remote { transport: RemoteTransport::Http, ref headers, .. } if headers["Authorization"] == "Bearer x")
        );
        let (spec, _, notes) = spec_from_args(&parse(&["github"]), cwd).unwrap();
        assert!(
            matches!(spec, ServerSpec::Stdio { ref env, .. } if env["GITHUB_PERSONAL_ACCESS_TOKEN"] == "${GITHUB_PERSONAL_ACCESS_TOKEN:-}")
        );
        assert_eq!(notes.len(), 1);
        let (spec, ..) = spec_from_args(&parse(&["filesystem"]), cwd).unwrap();
        assert!(
            matches!(spec, ServerSpec::Stdio { ref args, .. } if args.last().map(String::as_str) == Some("/w"))
        );
        assert!(
            spec_from_args(&parse(&["githb"]), cwd)
                .unwrap_err()
                .to_string()
                .contains("did you mean github")
        );
        assert!(spec_from_args(&parse(&["x", "--url", "ftp://x"]), cwd).is_err());
        assert!(spec_from_args(&parse(&["x", "-H", "A: b", "--", "cmd"]), cwd).is_err());
    }
}
