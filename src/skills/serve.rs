//! The skills as an MCP server: the in-process `skills` backend.
//!
//! Owns the MCP shape of a [`SkillSet`]: each skill is one read-only tool (calling it returns
//! the SKILL.md body, or one part with `{"part": PATH}`, and lists the other parts), and every
//! SKILL.md, Markdown part and code block is a resource (`skill://NAME/PATH`) read back byte for
//! byte. The gateway hosts it like the capabilities ([`LocalConnection`]): it reloads when the
//! skill directories change (the capabilities' watcher) and announces `list_changed` for tools
//! and resources. It never runs anything: "calling" a skill only reads text that was screened
//! when the skill was loaded.

use std::sync::{Arc, RwLock};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{MAIN_FILE, ReadError, Skill, SkillSet};
use crate::capability::server::ReportFn;
use crate::config::SkillsSpec;
use crate::jsonrpc::{ErrorObject, code};
use crate::peer::Unrouted;
use crate::peer::local::{LocalConnection, LocalServer, Reply};

/// `_meta` key marking a tool of the skills backend as a skill.
pub const KIND_META: &str = "io.mcp-gateway/kind";
/// MCP's "resource not found" error code.
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// The tool that loads `skill`. Its description is the skill's, followed (after a blank line,
/// so search snippets leave it out) by its keywords and section headings for the index.
pub fn tool(skill: &Skill) -> Value {
    let mut description = skill.description.clone();
    if !skill.front.keywords.is_empty() {
        description.push_str("\n\nKeywords: ");
        description.push_str(&skill.front.keywords.join(", "));
        description.push('.');
    }
    if !skill.headings.is_empty() {
        description.push_str("\n\nSections: ");
        description.push_str(&skill.headings.join("; "));
        description.push('.');
    }
    let mut tool = json!({
        "name": skill.name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": {
                "part": {"type": "string", "description": "Read this part instead of SKILL.md"}
            }
        },
        "annotations": {"readOnlyHint": true, "openWorldHint": false},
        "_meta": {KIND_META: "skill"},
    });
    if let Some(h) = skill.headings.first() {
        tool["title"] = json!(h);
    }
    tool
}

/// Every readable file of `skill` as MCP `Resource`s (original `skill://` URIs).
pub fn resources(skill: &Skill) -> Vec<Value> {
    let mut out = vec![json!({
        "uri": skill.uri(MAIN_FILE),
        "name": format!("{}/{MAIN_FILE}", skill.name),
        "description": skill.description,
        "mimeType": "text/markdown",
    })];
    for p in &skill.parts {
        let mut r = json!({
            "uri": skill.uri(&p.path),
            "name": format!("{}/{}", skill.name, p.path),
            "mimeType": "text/markdown",
            "size": p.bytes,
        });
        if let Some(t) = &p.title {
            r["title"] = json!(t);
        }
        out.push(r);
    }
    for (i, c) in skill.code_blocks.iter().enumerate() {
        let lang = if c.language.is_empty() {
            "plain"
        } else {
            &c.language
        };
        out.push(json!({
            "uri": skill.uri(&format!("code/{}", i + 1)),
            "name": format!("{}/code/{}", skill.name, i + 1),
            "description": format!("{lang} code block at line {} of SKILL.md (data; the gateway never runs it)", c.line),
            "mimeType": "text/plain",
        }));
    }
    out
}

/// What the model sees of the other parts of `skill`, with how to read each in one call.
fn parts_note(skill: &Skill, read: &str) -> Option<String> {
    let others: Vec<String> = skill.paths().into_iter().filter(|p| p != read).collect();
    if others.is_empty() {
        return None;
    }
    let mut text = format!(
        "Skill `{}` (folder {}). Its other parts, read with gateway_invoke {{\"server\": \"{}\", \"tool\": \"{}\", \"arguments\": {{\"part\": PATH}}}} or resources/read of the URI:",
        skill.name,
        skill.dir.display(),
        super::BACKEND_NAME,
        skill.name
    );
    for path in others {
        let uri = crate::catalog::names::namespace_uri(super::BACKEND_NAME, &skill.uri(&path));
        let what = if let Some(n) = path.strip_prefix("code/") {
            n.parse::<usize>()
                .ok()
                .and_then(|n| skill.code_blocks.get(n.wrapping_sub(1)))
                .map(|c| format!(" ({} code block, line {})", c.language, c.line))
                .unwrap_or_default()
        } else {
            skill
                .parts
                .iter()
                .find(|p| p.path == path)
                .and_then(|p| p.title.as_ref())
                .map(|t| format!(" — {t}"))
                .unwrap_or_default()
        };
        text.push_str(&format!("\n- {path}{what}: {uri}"));
    }
    Some(text)
}

fn error_result(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}

/// `tools/call` of a skill: SKILL.md's body (or `arguments.part`) and the list of other parts.
pub fn call(set: &SkillSet, name: &str, arguments: &Value) -> Value {
    let Some(skill) = set.get(name) else {
        let hint = crate::suggest::hint(name, set.iter().map(|s| s.name.as_str()));
        return error_result(format!("no skill named `{name}`{hint}"));
    };
    let part = arguments
        .get("part")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty() && *p != MAIN_FILE);
    let (read, text) = match part {
        None => (MAIN_FILE, skill.body()),
        Some(p) => (p, skill.read(p).map(|c| c.text)),
    };
    match text {
        Ok(text) => {
            let mut content = vec![json!({"type": "text", "text": text})];
            if let Some(note) = parts_note(skill, read) {
                content.push(json!({"type": "text", "text": note}));
            }
            json!({ "content": content })
        }
        Err(e) => error_result(e.to_string()),
    }
}

/// `resources/read` of a `skill://` URI: the file exactly as screened.
pub fn read(set: &SkillSet, uri: &str) -> Result<Value, ErrorObject> {
    match set.read_uri(uri) {
        Ok(c) => Ok(json!({
            "contents": [{"uri": c.uri, "mimeType": c.mime_type, "text": c.text}]
        })),
        Err(e @ (ReadError::UnknownSkill(_) | ReadError::UnknownPart { .. })) => {
            Err(ErrorObject::new(RESOURCE_NOT_FOUND, e.to_string()))
        }
        Err(e) => Err(ErrorObject::new(code::INTERNAL_ERROR, e.to_string())),
    }
}

/// Answers one request of the MCP methods the skills backend serves.
pub fn handle(set: &SkillSet, method: &str, params: &Value) -> Result<Value, ErrorObject> {
    match method {
        "initialize" => {
            let version = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or(crate::mcp::LATEST_VERSION);
            Ok(json!({
                "protocolVersion": version,
                "capabilities": {
                    "tools": {"listChanged": true},
                    "resources": {"listChanged": true},
                },
                "serverInfo": {"name": "mcp-gateway-skills", "version": env!("CARGO_PKG_VERSION")},
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": set.iter().map(|s| tool(s)).collect::<Vec<_>>()})),
        "resources/list" => Ok(json!({
            "resources": set.iter().flat_map(|s| resources(s)).collect::<Vec<_>>()
        })),
        "resources/templates/list" => Ok(json!({"resourceTemplates": []})),
        "prompts/list" => Ok(json!({"prompts": []})),
        "tools/call" => {
            let Some(name) = params.get("name").and_then(Value::as_str) else {
                return Err(ErrorObject::new(code::INVALID_PARAMS, "`name` is required"));
            };
            let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
            Ok(call(set, name, &arguments))
        }
        "resources/read" => {
            let Some(uri) = params.get("uri").and_then(Value::as_str) else {
                return Err(ErrorObject::new(code::INVALID_PARAMS, "`uri` is required"));
            };
            read(set, uri)
        }
        other => Err(ErrorObject::new(
            code::METHOD_NOT_FOUND,
            format!("the skills backend does not implement `{other}`"),
        )),
    }
}

/// The skills as a [`LocalServer`], reloaded from their directories.
struct SkillServer {
    backend: String,
    spec: SkillsSpec,
    report: ReportFn,
    set: RwLock<Arc<SkillSet>>,
}

impl SkillServer {
    fn load(&self) -> Arc<SkillSet> {
        let (set, problems) = SkillSet::load(&self.spec.directories, &self.spec.allow);
        tracing::info!(
            backend = %self.backend,
            skills = set.len(),
            problems = problems.len(),
            "skills loaded"
        );
        let held = set
            .withheld()
            .iter()
            .map(|(n, why)| (n.clone(), why.clone()))
            .collect();
        (self.report)(problems.iter().map(ToString::to_string).collect(), held);
        Arc::new(set)
    }
}

impl LocalServer for SkillServer {
    fn handle(self: Arc<Self>, method: String, params: Value) -> Reply {
        let set = Arc::clone(&self.set.read().unwrap_or_else(|e| e.into_inner()));
        let reply = handle(&set, &method, &params);
        Box::pin(async move { reply })
    }

    fn reload(&self) -> Vec<&'static str> {
        let fresh = self.load();
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        vec![
            "notifications/tools/list_changed",
            "notifications/resources/list_changed",
        ]
    }
}

/// Loads the skills, starts watching their directories and serving requests.
pub fn start(
    backend: &str,
    spec: &SkillsSpec,
    report: ReportFn,
) -> (Arc<LocalConnection>, mpsc::UnboundedReceiver<Unrouted>) {
    let server = Arc::new(SkillServer {
        backend: backend.to_string(),
        spec: spec.clone(),
        report,
        set: RwLock::new(Arc::new(SkillSet::default())),
    });
    let first = server.load();
    *server.set.write().unwrap_or_else(|e| e.into_inner()) = first;
    let dirs: Vec<_> = spec.directories.iter().map(|d| d.path.clone()).collect();
    let (watcher, reloads) = crate::capability::watch::reloads(&dirs, backend, "skill");
    LocalConnection::start(backend, server, reloads, watcher)
}

/// The backend the gateway adds for `skills:` (named [`super::BACKEND_NAME`]), or `None` when
/// skills are off, none of their directories exists, or a configured backend already uses the
/// name.
pub fn backend_config(
    config: &crate::config::Config,
    paths: Option<&crate::state::Paths>,
) -> Option<crate::config::BackendConfig> {
    if !config.skills.enabled {
        return None;
    }
    let directories = super::discover::from_env(&config.skills, paths);
    if !directories.iter().any(|d| d.path.is_dir()) {
        return None;
    }
    let name = super::BACKEND_NAME;
    if config.backends.contains_key(name) {
        tracing::warn!("a backend is named `{name}`: the skills are not served");
        return None;
    }
    Some(crate::config::BackendConfig::in_process(
        name,
        "Agent Skills (SKILL.md): call one to read its instructions",
        crate::config::Transport::Skills(SkillsSpec {
            directories,
            allow: config.scanner_allow.clone(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::AllowList;

    fn set() -> SkillSet {
        let dirs = [super::super::SkillDir {
            path: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/skills/good"),
            scope: super::super::Scope::User,
        }];
        SkillSet::load(&dirs, &AllowList::default()).0
    }

    #[test]
    fn a_skill_is_a_read_only_tool_that_returns_its_body_and_parts() {
        let set = set();
        let tools = handle(&set, "tools/list", &json!({})).unwrap();
        let pdf = tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "pdf-forms")
            .unwrap();
        assert_eq!(pdf["_meta"][KIND_META], "skill");
        assert_eq!(pdf["title"], "PDF forms");
        assert!(
            pdf["description"]
                .as_str()
                .unwrap()
                .starts_with("Fill in and flatten")
        );
        let r = handle(&set, "tools/call", &json!({"name": "pdf-forms"})).unwrap();
        let body = r["content"][0]["text"].as_str().unwrap();
        assert!(body.starts_with("\n# PDF forms\n"), "{body}");
        let note = r["content"][1]["text"].as_str().unwrap();
        assert!(
            note.contains("- references/fields.md — Listing fields: skills+skill://pdf-forms/references/fields.md"),
            "{note}"
        );
        let r = handle(
            &set,
            "tools/call",
            &json!({"name": "pdf-forms", "arguments": {"part": "references/filling.md"}}),
        )
        .unwrap();
        assert!(
            r["content"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("# Filling")
        );
        let r = handle(&set, "tools/call", &json!({"name": "pdf-form"})).unwrap();
        assert_eq!(r["isError"], true);
        assert!(
            r["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("did you mean `pdf-forms`")
        );
    }

    #[test]
    fn resources_list_and_read() {
        let set = set();
        let list = handle(&set, "resources/list", &json!({})).unwrap();
        let uris: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["uri"].as_str())
            .filter(|u| u.starts_with("skill://release-notes/"))
            .collect();
        assert_eq!(
            uris,
            [
                "skill://release-notes/SKILL.md",
                "skill://release-notes/code/1",
                "skill://release-notes/code/2",
                "skill://release-notes/code/3"
            ]
        );
        let r = handle(
            &set,
            "resources/read",
            &json!({"uri": "skill://commit-message/SKILL.md"}),
        )
        .unwrap();
        let file = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/skills/good/commit-message/SKILL.md"),
        )
        .unwrap();
        assert_eq!(r["contents"][0]["text"], file);
        let e = handle(
            &set,
            "resources/read",
            &json!({"uri": "skill://nope/SKILL.md"}),
        )
        .unwrap_err();
        assert_eq!(e.code, RESOURCE_NOT_FOUND);
    }
}
