//! What setup would do, computed without touching anything: scan the clients, merge their
//! servers into candidates (one per distinct server, however many clients list it), and turn a
//! selection into a [`Plan`]: the exact new text of gateway.yaml and of every client file.
//!
//! A plan is applied by `crate::configedit::apply` (backup first, then atomic writes). A plan
//! with no changes is a no-op, which is what makes re-running setup safe.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::clients::{
    self, Client, ClientError, Entry, HostEnv, Location, Placeholders, Server, ServerSpec,
    ToolFilter,
};

use crate::config::WrittenFile;
use crate::configedit::{FileChange, backends as gateway_yaml, fsio};

/// What was found at one client location.
#[derive(Debug)]
pub struct Detected {
    pub location: Location,
    pub state: LocationState,
}

#[derive(Debug)]
pub enum LocationState {
    /// No such file.
    Missing,
    /// Could not be read or parsed: reported, never rewritten.
    Broken(String),
    Read {
        text: String,
        servers: Vec<Server>,
        /// Entries that are not movable servers (Goose builtins, malformed entries), kept as is.
        skipped: Vec<String>,
    },
}

/// Reads every location of `clients` (user scope, or `project`'s).
pub fn scan(
    env: &HostEnv,
    project: Option<&Path>,
    clients: &[&'static dyn Client],
) -> Vec<Detected> {
    let mut out = Vec::new();
    for client in clients {
        for location in client.locations(env, project) {
            let state = match fsio::read_optional(&location.path) {
                Err(e) => LocationState::Broken(format!("{}: {e}", location.path.display())),
                Ok(None) => LocationState::Missing,
                Ok(Some(bytes)) => match String::from_utf8(bytes) {
                    Err(_) => LocationState::Broken(format!(
                        "{}: not UTF-8 text",
                        location.path.display()
                    )),
                    Ok(text) => read_location(&location, text, project, &env.home),
                },
            };
            out.push(Detected { location, state });
        }
    }
    out
}

fn read_location(
    location: &Location,
    text: String,
    project: Option<&Path>,
    home: &Path,
) -> LocationState {
    let entries = match crate::docedit::read_entries(
        &text,
        location.client.format(),
        &location.section,
        location.client.shape(),
    ) {
        Ok(e) => e,
        Err(e) => {
            return LocationState::Broken(
                ClientError::Doc {
                    path: location.path.clone(),
                    source: e,
                }
                .to_string(),
            );
        }
    };
    let places = Placeholders { home, project };
    let mut servers = Vec::new();
    let mut skipped = Vec::new();
    for (name, value) in entries {
        let builtin = matches!(
            value.get("type").and_then(Value::as_str),
            Some("builtin" | "platform" | "frontend" | "inline_python")
        );
        match clients::decode_entry(&name, &value, location.client, &places) {
            Ok(s) if clients::is_gateway_entry(&s) => {}
            Ok(s) => servers.push(s),
            Err(_) if builtin => skipped.push(format!("{name} (built-in extension)")),
            Err(why) => skipped.push(format!("{name}: {why}; kept in {}", location.client.name())),
        }
    }
    LocationState::Read {
        text,
        servers,
        skipped,
    }
}

/// One server to offer, merged across clients.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Backend name in gateway.yaml (sanitised, unique).
    pub backend: String,
    pub spec: ServerSpec,
    pub enabled: bool,
    /// The clients' tool restrictions (the same in every client that lists it).
    pub tools: ToolFilter,
    /// The longest per-request timeout any of its clients set.
    pub timeout: Option<std::time::Duration>,
    /// `(index into the detected list, name in that client)`.
    pub sources: Vec<(usize, String)>,
    /// Already in gateway.yaml under `backend`: nothing to add, only the client entries move.
    pub already_in_gateway: bool,
}

impl Candidate {
    /// Short "command args" / URL for tables and JSON, secrets masked (secret-looking
    /// arguments, URL userinfo and query values).
    pub fn target(&self) -> String {
        match &self.spec {
            ServerSpec::Stdio { command, args, .. } => {
                let hidden = secret_args(args);
                let mut words = vec![command.clone()];
                words.extend(args.iter().map(|a| {
                    if hidden.contains(a) {
                        "****".to_string()
                    } else {
                        a.clone()
                    }
                }));
                shell_words::join(words)
            }
            ServerSpec::Remote { url, .. } => crate::redact::url_text(url),
        }
    }
    pub fn transport(&self) -> &'static str {
        match &self.spec {
            ServerSpec::Stdio { .. } => "stdio",
            ServerSpec::Remote {
                transport: clients::RemoteTransport::Sse,
                ..
            } => "sse",
            ServerSpec::Remote { .. } => "http",
        }
    }
}

/// What the merge found: the servers to offer, and those kept in their clients with why.
#[derive(Debug, Default)]
pub struct Merged {
    pub candidates: Vec<Candidate>,
    /// One line per server that stays where it is.
    pub kept: Vec<String>,
}

/// Merges the servers of `detected` into candidates; `existing` is gateway.yaml as written.
///
/// The result never takes a working server away from a client: a server enabled in any client
/// is enabled behind the gateway, and a disabled backend never absorbs an enabled server. The
/// gateway serves one tool list to every client, so a server whose clients restrict its tools
/// differently (or differently from the backend already in gateway.yaml) stays in its clients.
pub fn candidates(detected: &[Detected], existing: &WrittenFile) -> Merged {
    struct Known {
        name: String,
        spec: Option<ServerSpec>,
        enabled: bool,
        tools: ToolFilter,
    }
    let existing: Vec<Known> = existing
        .backends
        .iter()
        .map(|(n, b)| Known {
            name: n.clone(),
            spec: gateway_yaml::spec_of(b),
            enabled: b.enabled,
            tools: b.tools.clone(),
        })
        .chain(existing.switches.keys().map(|n| Known {
            name: n.clone(),
            spec: None,
            enabled: true,
            tools: ToolFilter::default(),
        }))
        .collect();
    let mut out: Vec<Candidate> = Vec::new();
    // Candidates whose sources disagree on tool restrictions: why.
    let mut conflict: Vec<Option<String>> = Vec::new();
    for (i, d) in detected.iter().enumerate() {
        let LocationState::Read { servers, .. } = &d.state else {
            continue;
        };
        for s in servers {
            if let Some(k) = out
                .iter()
                .position(|c| gateway_yaml::same_server(&c.spec, &s.spec))
            {
                let c = &mut out[k];
                if c.tools != s.tools && conflict[k].is_none() {
                    conflict[k] = Some("its clients restrict its tools differently".into());
                }
                c.enabled |= s.enabled;
                c.timeout = c.timeout.max(s.timeout);
                c.sources.push((i, s.name.clone()));
                continue;
            }
            let base = gateway_yaml::sanitize_name(&s.name);
            let in_gateway = existing.iter().find(|e| {
                (e.enabled || !s.enabled)
                    && e.spec
                        .as_ref()
                        .is_some_and(|spec| gateway_yaml::same_server(spec, &s.spec))
            });
            let mut why = None;
            let (backend, already) = match in_gateway {
                Some(e) => {
                    if e.tools != s.tools {
                        why = Some(format!(
                            "the gateway config has it as `{}` with other tool restrictions",
                            e.name
                        ));
                    }
                    (e.name.clone(), true)
                }
                None => {
                    let taken = |n: &str| {
                        out.iter().any(|c| c.backend == n) || existing.iter().any(|e| e.name == n)
                    };
                    let mut name = base.clone();
                    let mut k = 2;
                    while taken(&name) {
                        let suffix = format!("-{k}");
                        name = format!("{}{suffix}", &base[..base.len().min(32 - suffix.len())]);
                        k += 1;
                    }
                    (name, false)
                }
            };
            out.push(Candidate {
                backend,
                spec: s.spec.clone(),
                enabled: s.enabled,
                tools: s.tools.clone(),
                timeout: s.timeout,
                sources: vec![(i, s.name.clone())],
                already_in_gateway: already,
            });
            conflict.push(why);
        }
    }
    let mut merged = Merged::default();
    for (c, why) in out.into_iter().zip(conflict) {
        match why {
            None => merged.candidates.push(c),
            Some(why) => {
                let mut found: Vec<String> = Vec::new();
                for (d, name) in &c.sources {
                    let f = format!("{} `{name}`", detected[*d].location.client.name());
                    if !found.contains(&f) {
                        found.push(f);
                    }
                }
                merged.kept.push(format!(
                    "{}: {why}; kept in {}",
                    c.target(),
                    found.join(", ")
                ));
            }
        }
    }
    merged
}

#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<FileChange>,
    /// Backends added to gateway.yaml.
    pub added: Vec<String>,
    /// Client locations rewritten (for messages).
    pub rewritten: Vec<String>,
    /// Literal secret values the plan moves: masked wherever the plan is shown.
    pub secrets: Vec<String>,
    /// What the user should know (a file made private, variables to set).
    pub notes: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// `text` (a diff of this plan) with every secret it moves masked: the whole value, also
    /// as escaped in JSON and with `$$` as the client wrote `$`. Values shorter than four
    /// characters are masked only as a whole quoted string, so the rest of the diff stays legible.
    pub fn mask(&self, text: &str) -> String {
        let mut forms: Vec<(String, bool)> = Vec::new();
        for secret in &self.secrets {
            let client = secret.replace("$$", "$");
            for v in [secret.clone(), client] {
                let json = serde_json::to_string(&v).unwrap_or_default();
                let inner = json[1..json.len().saturating_sub(1)].to_string();
                for f in [v.clone(), inner] {
                    if !f.is_empty() && !forms.iter().any(|(g, _)| *g == f) {
                        let short = f.chars().count() < 4;
                        forms.push((f, short));
                    }
                }
            }
        }
        // Longest first, so a secret containing another is masked whole.
        forms.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
        let mut out = text.to_string();
        for (f, short) in forms {
            out = if short {
                out.replace(&format!("\"{f}\""), "\"****\"")
            } else {
                out.replace(&f, "****")
            };
        }
        out
    }
}

/// The literal secret values in a `backends.NAME` value: the strings `config export` would hide
/// (env and header values that are more than a bare `${NAME}`, secret-looking arguments) — one
/// rule for what a secret is, `crate::redact`'s.
pub fn secret_values(value: &Value) -> Vec<String> {
    fn walk(shown: &Value, real: &Value, out: &mut Vec<String>) {
        match (shown, real) {
            (Value::String(a), Value::String(b)) if a != b => out.push(b.clone()),
            (Value::Array(a), Value::Array(b)) => {
                a.iter().zip(b).for_each(|(a, b)| walk(a, b, out));
            }
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    if let Some(s) = a.get(k) {
                        walk(s, v, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut shown = value.clone();
    crate::redact::backend_entry(&mut shown);
    let mut out = Vec::new();
    walk(&shown, value, &mut out);
    // What is hidden may be a reference with a default: only the literal text is secret.
    out.retain(|s| !s.trim().is_empty());
    out
}

fn backend_value_of(c: &Candidate, description: Option<&str>) -> Value {
    gateway_yaml::backend_value(&c.spec, c.enabled, description, &c.tools, c.timeout)
}

/// Whether a key of `env` or `headers` names a secret (`GITHUB_TOKEN`, `OPENAI_KEY`,
/// `Authorization`, …).
fn secret_key(key: &str) -> bool {
    crate::request_log::is_secret_key(key) || key.to_ascii_lowercase().ends_with("key")
}

/// Whether a value is literal text worth hiding (anything but a bare `${NAME}`).
fn literal(value: &str) -> bool {
    !secret_values(&serde_json::json!({"env": {"X": value}})).is_empty()
}

/// The arguments `crate::redact` would hide (after `--token`, secret-shaped, …).
fn secret_args(args: &[String]) -> Vec<String> {
    secret_values(&serde_json::json!({ "args": args }))
}

/// Whether a server carries a credential written literally: a secret-named env var or header
/// with a literal value, or a secret-looking argument.
fn carries_secrets(spec: &ServerSpec) -> bool {
    let named = |m: &std::collections::BTreeMap<String, String>| {
        m.iter().any(|(k, v)| secret_key(k) && literal(v))
    };
    match spec {
        ServerSpec::Stdio { args, env, .. } => named(env) || !secret_args(args).is_empty(),
        ServerSpec::Remote { headers, .. } => named(headers),
    }
}

/// A chosen server that would carry secrets from a file outside `project` (Claude Code's
/// local scope in `~/.claude.json`, a user file) into the project's gateway config.
#[derive(Debug, Clone)]
pub struct Leak {
    pub backend: String,
    /// The files outside the project it comes from.
    pub from: Vec<std::path::PathBuf>,
}

/// The chosen servers that would move secrets into `gateway_config` inside `project` from files
/// outside it.
pub fn project_leaks(
    detected: &[Detected],
    candidates: &[Candidate],
    chosen: &[String],
    project: &Path,
    gateway_config: &Path,
) -> Vec<Leak> {
    if !fsio::real_path(gateway_config).starts_with(project) {
        return Vec::new();
    }
    candidates
        .iter()
        .filter(|c| chosen.contains(&c.backend) && !c.already_in_gateway)
        .filter(|c| carries_secrets(&c.spec))
        .filter_map(|c| {
            let mut from: Vec<std::path::PathBuf> = Vec::new();
            for (i, _) in &c.sources {
                let p = fsio::real_path(&detected[*i].location.path);
                if !p.starts_with(project) && !from.contains(&p) {
                    from.push(p);
                }
            }
            (!from.is_empty()).then(|| Leak {
                backend: c.backend.clone(),
                from,
            })
        })
        .collect()
}

/// `spec` with every literal secret replaced by a `${VAR:-}` reference: env values by their
/// own name, headers and arguments by `BACKEND_HEADER` / `BACKEND_ARG<n>`. Returns the
/// variables to set.
fn secrets_to_references(backend: &str, spec: &mut ServerSpec) -> Vec<String> {
    let var = |parts: &[&str]| -> String {
        let mut v: String = parts
            .join("_")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        if v.starts_with(|c: char| c.is_ascii_digit()) {
            v.insert(0, '_');
        }
        v
    };
    let mut vars = Vec::new();
    let mut swap = |value: &mut String, name: String| {
        *value = format!("${{{name}:-}}");
        vars.push(name);
    };
    match spec {
        ServerSpec::Stdio { args, env, .. } => {
            for (k, v) in env.iter_mut() {
                if secret_key(k) && literal(v) {
                    let name = if crate::config::expand::is_var_name(k) {
                        k.clone()
                    } else {
                        var(&[backend, k])
                    };
                    swap(v, name);
                }
            }
            let shown = secret_args(args);
            for (i, a) in args.iter_mut().enumerate() {
                if shown.contains(a) {
                    swap(a, var(&[backend, &format!("ARG{i}")]));
                }
            }
        }
        ServerSpec::Remote { headers, .. } => {
            for (k, v) in headers.iter_mut() {
                if secret_key(k) && literal(v) {
                    swap(v, var(&[backend, k]));
                }
            }
        }
    }
    vars
}

/// Accumulates edits per file so several locations in one file compose.
#[derive(Default)]
struct Edits {
    files: Vec<FileChange>,
}

impl Edits {
    fn current(&self, path: &Path) -> Option<String> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.after.clone())
    }
    fn set(&mut self, path: &Path, original: Option<String>, after: String, new_mode: Option<u32>) {
        match self.files.iter_mut().find(|f| f.path == path) {
            Some(f) => f.after = after,
            None => self.files.push(FileChange {
                path: path.to_path_buf(),
                before: original,
                after,
                new_mode,
            }),
        }
    }
    fn finish(self) -> Vec<FileChange> {
        self.files
            .into_iter()
            .filter(|f| f.before.as_deref() != Some(f.after.as_str()))
            .collect()
    }
}

/// Builds the plan for moving `chosen` (candidate backend names) into `gateway_config` and
/// leaving `gateway_entry` in each client location they came from.
pub fn build(
    detected: &[Detected],
    candidates: &[Candidate],
    chosen: &[String],
    gateway_config: &Path,
    gateway_entry: &Server,
    places: &Placeholders<'_>,
    as_references: &[String],
) -> Result<Plan, ClientError> {
    let mut edits = Edits::default();
    let mut plan = Plan::default();
    let gw_path = fsio::real_path(gateway_config);
    let gw_before = read_text(&gw_path)?;
    let mut referenced: Vec<Candidate> = Vec::new();
    for c in candidates
        .iter()
        .filter(|c| as_references.contains(&c.backend))
    {
        let mut c = c.clone();
        let vars = secrets_to_references(&c.backend, &mut c.spec);
        if !vars.is_empty() {
            plan.notes.push(format!(
                "`{}` reads its secrets from the environment now: set {} where your clients start the gateway",
                c.backend,
                vars.join(", ")
            ));
        }
        referenced.push(c);
    }
    let picked: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| chosen.contains(&c.backend))
        .map(|c| {
            referenced
                .iter()
                .find(|r| r.backend == c.backend)
                .unwrap_or(c)
        })
        .collect();
    let add: Vec<(String, Value)> = picked
        .iter()
        .filter(|c| !c.already_in_gateway)
        .map(|c| {
            let from: Vec<&str> = c
                .sources
                .iter()
                .map(|(i, _)| detected[*i].location.client.name())
                .collect();
            let mut from_unique: Vec<&str> = Vec::new();
            for f in from {
                if !from_unique.contains(&f) {
                    from_unique.push(f);
                }
            }
            let description = format!("imported from {}", from_unique.join(", "));
            (c.backend.clone(), backend_value_of(c, Some(&description)))
        })
        .collect();
    if !add.is_empty() {
        let text = gateway_yaml::edit_backends(gw_before.as_deref().unwrap_or(""), &[], &add)
            .map_err(|source| ClientError::Doc {
                path: gw_path.clone(),
                source,
            })?;
        plan.added = add.iter().map(|(n, _)| n.clone()).collect();
        for (_, v) in &add {
            for s in secret_values(v) {
                if !plan.secrets.contains(&s) {
                    plan.secrets.push(s);
                }
            }
        }
        // Secrets from a private (0600) client file never land in a file others can read.
        let private_source = picked.iter().any(|c| {
            !c.already_in_gateway
                && carries_secrets(&c.spec)
                && c.sources.iter().any(|(i, _)| {
                    fsio::mode_of(&detected[*i].location.path).is_some_and(|m| m & 0o077 == 0)
                })
        });
        let open_mode = fsio::mode_of(&gw_path).filter(|m| m & 0o077 != 0);
        let mode = match (gw_before.is_some(), open_mode) {
            (false, _) => Some(0o600),
            (true, Some(m)) if private_source => {
                plan.notes.push(format!(
                    "{} was readable by others (mode {m:o}) and now holds secrets from private client files: it is written with mode 600",
                    gw_path.display()
                ));
                Some(0o600)
            }
            _ => None,
        };
        edits.set(&gw_path, gw_before.clone(), text, mode);
    }
    // Client side: per location, remove the picked servers it lists and add the gateway entry.
    for (i, d) in detected.iter().enumerate() {
        let LocationState::Read { text, .. } = &d.state else {
            continue;
        };
        let remove: Vec<String> = picked
            .iter()
            .flat_map(|c| {
                c.sources
                    .iter()
                    .filter(|(src, _)| *src == i)
                    .map(|(_, n)| n.clone())
            })
            .collect();
        if remove.is_empty() {
            continue;
        }
        let path = fsio::real_path(&d.location.path);
        let current = edits.current(&path).unwrap_or_else(|| text.clone());
        let entries = d.location.entries(&current, places)?;
        let add = entry_for_location(&entries, &remove, gateway_entry);
        let after = d.location.rewrite(&current, &remove, &add)?;
        plan.rewritten.push(format!(
            "{} {}",
            d.location.client.name(),
            d.location.describe()
        ));
        edits.set(&path, Some(text.clone()), after, None);
    }
    plan.changes = edits.finish();
    Ok(plan)
}

/// The gateway entry to add where `servers` stay after `remove`: none when our entry is already
/// there (under any name), else ours under a name no remaining server has, so it is never
/// skipped for a clash with a user's own server called `gateway`.
fn entry_for_location(entries: &[Entry], remove: &[String], entry: &Server) -> Vec<Server> {
    let staying = || entries.iter().filter(|e| !remove.contains(&e.name));
    if staying().any(|e| e.server.as_ref().is_ok_and(clients::is_gateway_entry)) {
        return Vec::new();
    }
    let name = clients::free_entry_name(&entry.name, |n| staying().any(|e| e.name == n));
    vec![Server {
        name,
        ..entry.clone()
    }]
}

/// Plan for `setup export`: add `gateway_entry` to each location (creating files as needed).
pub fn build_export(
    locations: &[Location],
    gateway_entry: &Server,
    places: &Placeholders<'_>,
) -> Result<Plan, ClientError> {
    let mut edits = Edits::default();
    let mut plan = Plan::default();
    for location in locations {
        let path = fsio::real_path(&location.path);
        let original = read_text(&path)?;
        let current = edits
            .current(&path)
            .or_else(|| original.clone())
            .unwrap_or_default();
        let entries = location.entries(&current, places)?;
        let add = entry_for_location(&entries, &[], gateway_entry);
        if add.is_empty() {
            continue;
        }
        let after = location.rewrite(&current, &[], &add)?;
        plan.rewritten.push(format!(
            "{} {}",
            location.client.name(),
            location.describe()
        ));
        let mode = original.is_none().then_some(0o600);
        edits.set(&path, original, after, mode);
    }
    plan.changes = edits.finish();
    Ok(plan)
}

fn read_text(path: &Path) -> Result<Option<String>, ClientError> {
    let doc_err = |message: String| ClientError::Doc {
        path: path.to_path_buf(),
        source: crate::docedit::DocError::Parse {
            line: 0,
            column: 0,
            message,
        },
    };
    match fsio::read_optional(path) {
        Ok(None) => Ok(None),
        Ok(Some(b)) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| doc_err("not UTF-8 text".into())),
        Err(e) => Err(doc_err(e.to_string())),
    }
}

/// Groups the candidates by backend name for JSON output.
pub fn candidates_json(detected: &[Detected], candidates: &[Candidate]) -> Value {
    let list: Vec<Value> = candidates
        .iter()
        .map(|c| {
            let sources: Vec<Value> = c
                .sources
                .iter()
                .map(|(i, name)| {
                    let l = &detected[*i].location;
                    serde_json::json!({"client": l.client.id(), "path": l.path, "name": name})
                })
                .collect();
            serde_json::json!({
                "backend": c.backend,
                "transport": c.transport(),
                "target": c.target(),
                "already_in_gateway": c.already_in_gateway,
                "sources": sources,
            })
        })
        .collect();
    Value::Array(list)
}

/// Per-location status lines for JSON output.
pub fn detected_json(detected: &[Detected]) -> Value {
    let mut by_client: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for d in detected {
        let (state, count, error) = match &d.state {
            LocationState::Missing => ("missing", 0, None),
            LocationState::Broken(e) => ("broken", 0, Some(e.clone())),
            LocationState::Read { servers, .. } => ("ok", servers.len(), None),
        };
        by_client.entry(d.location.client.id()).or_default().push(serde_json::json!({
            "path": d.location.path, "section": d.location.section, "scope": d.location.scope.as_str(),
            "state": state, "servers": count, "error": error,
        }));
    }
    serde_json::to_value(by_client).unwrap_or(Value::Null)
}
