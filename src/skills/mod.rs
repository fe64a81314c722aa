//! Agent Skills: folders with a `SKILL.md` (YAML front matter, Markdown instructions) and
//! optional extra Markdown files, found in the places AI agents keep them.
//!
//! Owns finding skill folders ([`discover`]), parsing SKILL.md ([`parse`]), loading a
//! [`SkillSet`] with the skill's other Markdown files as parts, screening every text with the
//! scanner (a skill is instructions for the model: a high finding withholds the whole skill),
//! reading a skill or part back byte for byte ([`Skill::read`]) and the MCP shape of skills
//! ([`serve`]). A broken skill is a [`SkillProblem`] (file, line, key) and is skipped without
//! affecting the others. Importing skills is the `skills import` command's (`cli::skills`).
//!
//! Skills are data. It never runs a code block or a script of a skill, never follows a link in
//! one, and never writes a file. What it serves is what it screened: each file's SHA-256 is
//! recorded when the skill is loaded and a read of a file changed since then is refused until
//! the next reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::scanner::{self, AllowList, Finding, Severity};

pub mod discover;
pub mod parse;
pub mod serve;

pub use discover::{Scope, SkillDir};
pub use parse::{CodeBlock, FrontMatter};

/// The catalog name of the skills (a backend of this name in config hides them).
pub const BACKEND_NAME: &str = "skills";
/// The resource URI scheme of skill files: `skill://NAME/PATH`.
pub const URI_SCHEME: &str = "skill";
/// The main file of a skill.
pub const MAIN_FILE: &str = "SKILL.md";
/// Largest SKILL.md or part read (bigger files are skipped with a problem).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most Markdown parts one skill may have (the rest are skipped with a problem).
pub const MAX_PARTS: usize = 64;
/// How deep the search for `SKILL.md` goes below a skills directory (grouping folders).
const MAX_SKILL_DEPTH: usize = 3;
/// How deep parts are looked for inside a skill folder.
const MAX_PART_DEPTH: usize = 4;

/// What kind of problem a skill has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Cannot be read or is not a valid SKILL.md: skipped.
    Invalid,
    /// A high scanner finding: withheld.
    Withheld,
    /// Another directory earlier in the search order defines the same name.
    Shadowed,
    /// Loaded, but something is worth knowing (an unknown key, a medium finding, a skipped part).
    Warning,
}

/// One skill (or part) that was not loaded as written, and why.
pub type SkillProblem = crate::config::FileProblem<ProblemKind>;

/// An extra Markdown file of a skill, disclosed on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Path inside the skill folder with `/` separators (`references/api.md`).
    pub path: String,
    pub file: PathBuf,
    /// The file's first `#` heading, if any.
    pub title: Option<String>,
    pub bytes: u64,
    sha256: String,
}

/// A loaded, screened skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    pub front: FrontMatter,
    /// The skill's folder and its SKILL.md.
    pub dir: PathBuf,
    pub file: PathBuf,
    pub scope: Scope,
    /// `#` headings of the body (searchable).
    pub headings: Vec<String>,
    /// Fenced code blocks of the body: data, never run.
    pub code_blocks: Vec<CodeBlock>,
    pub parts: Vec<Part>,
    /// SHA-256 (hex) of SKILL.md as screened.
    pub sha256: String,
    /// 1-based line where the body starts.
    pub body_line: usize,
    /// Medium and low findings (high ones withhold the skill).
    pub findings: Vec<Finding>,
}

/// What can go wrong reading a skill file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("no skill named `{0}`")]
    UnknownSkill(String),
    #[error("skill `{skill}` has no part `{part}` (it has: {available})")]
    UnknownPart {
        skill: String,
        part: String,
        available: String,
    },
    #[error("{}: cannot read: {message}", file.display())]
    Io { file: PathBuf, message: String },
    #[error(
        "{} changed since it was screened; it is served again once the gateway reloads it",
        file.display()
    )]
    Changed { file: PathBuf },
}

/// A file's text, what the model gets, with its MIME type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub uri: String,
    pub mime_type: &'static str,
    pub text: String,
}

impl Skill {
    /// `skill://NAME/PATH`.
    pub fn uri(&self, path: &str) -> String {
        format!("{URI_SCHEME}://{}/{path}", self.name)
    }

    /// The readable paths: `SKILL.md`, each part, `code/N` for each code block (1-based).
    pub fn paths(&self) -> Vec<String> {
        let mut out = vec![MAIN_FILE.to_string()];
        out.extend(self.parts.iter().map(|p| p.path.clone()));
        out.extend((1..=self.code_blocks.len()).map(|i| format!("code/{i}")));
        out
    }

    /// Reads `path` (see [`Skill::paths`]) exactly as screened: SKILL.md and parts byte for
    /// byte, a code block as the lines between its fences.
    pub fn read(&self, path: &str) -> Result<Content, ReadError> {
        let path = path.trim_start_matches('/');
        if path == MAIN_FILE || path.is_empty() {
            let text = read_checked(&self.file, &self.sha256)?;
            return Ok(Content {
                uri: self.uri(MAIN_FILE),
                mime_type: "text/markdown",
                text,
            });
        }
        if let Some(n) = path.strip_prefix("code/")
            && let Ok(n) = n.parse::<usize>()
            && let Some(block) = n.checked_sub(1).and_then(|i| self.code_blocks.get(i))
        {
            // The blocks were taken from the screened SKILL.md; check it is still that file.
            read_checked(&self.file, &self.sha256)?;
            return Ok(Content {
                uri: self.uri(path),
                mime_type: "text/plain",
                text: block.code.clone(),
            });
        }
        match self.parts.iter().find(|p| p.path == path) {
            Some(part) => Ok(Content {
                uri: self.uri(&part.path),
                mime_type: "text/markdown",
                text: read_checked(&part.file, &part.sha256)?,
            }),
            None => Err(ReadError::UnknownPart {
                skill: self.name.clone(),
                part: path.to_string(),
                available: self.paths().join(", "),
            }),
        }
    }

    /// The body of SKILL.md (after the front matter), as screened.
    pub fn body(&self) -> Result<String, ReadError> {
        let text = self.read(MAIN_FILE)?.text;
        Ok(text
            .split_inclusive('\n')
            .skip(self.body_line.saturating_sub(1))
            .collect())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read_checked(file: &Path, sha256: &str) -> Result<String, ReadError> {
    let bytes = std::fs::read(file).map_err(|e| ReadError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    if sha256_hex(&bytes) != sha256 {
        return Err(ReadError::Changed {
            file: file.to_path_buf(),
        });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::Changed {
        file: file.to_path_buf(),
    })
}

/// Splits `skill://NAME/PATH` into its name and path.
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix(URI_SCHEME)?.strip_prefix("://")?;
    let (name, path) = rest.split_once('/').unwrap_or((rest, MAIN_FILE));
    (!name.is_empty()).then_some((name, path))
}

/// The skills found in a list of directories, screened, by name.
#[derive(Debug, Clone, Default)]
pub struct SkillSet {
    by_name: BTreeMap<String, Arc<Skill>>,
    /// Skills the scanner withheld: name → why.
    withheld: BTreeMap<String, String>,
}

impl SkillSet {
    /// Loads every skill under `dirs` (first directory wins a name), screening each with the
    /// scanner under `allow` (backend [`BACKEND_NAME`], tool = the skill's name). Problems are
    /// returned, not logged.
    pub fn load(dirs: &[SkillDir], allow: &AllowList) -> (SkillSet, Vec<SkillProblem>) {
        let mut set = SkillSet::default();
        let mut problems = Vec::new();
        let mut seen_files: Vec<PathBuf> = Vec::new();
        for dir in dirs {
            for file in find_skill_files(&dir.path) {
                let real = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                if seen_files.contains(&real) {
                    continue;
                }
                seen_files.push(real);
                let Some(skill) =
                    load_skill(&file, dir.scope, allow, &mut problems, &mut set.withheld)
                else {
                    continue;
                };
                if let Some(first) = set.by_name.get(&skill.name) {
                    if first.sha256 != skill.sha256 {
                        problems.push(SkillProblem {
                            file: file.clone(),
                            line: None,
                            key: None,
                            message: format!(
                                "skill `{}` is also defined by {}, which comes first; this one is not served",
                                skill.name,
                                first.file.display()
                            ),
                            kind: ProblemKind::Shadowed,
                        });
                    }
                    continue;
                }
                set.by_name.insert(skill.name.clone(), Arc::new(skill));
            }
        }
        (set, problems)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Skill>> {
        self.by_name.get(name)
    }

    /// Skills the scanner withheld, name → why (never served).
    pub fn withheld(&self) -> &BTreeMap<String, String> {
        &self.withheld
    }

    /// Skills ordered by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Skill>> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Reads `skill://NAME/PATH`.
    pub fn read_uri(&self, uri: &str) -> Result<Content, ReadError> {
        let (name, path) =
            split_uri(uri).ok_or_else(|| ReadError::UnknownSkill(uri.to_string()))?;
        self.get(name)
            .ok_or_else(|| ReadError::UnknownSkill(name.to_string()))?
            .read(path)
    }
}

/// Every `SKILL.md` under `dir`: `dir` itself when it is a skill folder, else its sub-folders
/// (grouping folders allowed, up to a few levels), sorted. Hidden folders are skipped; a
/// missing or unreadable directory has none.
pub fn find_skill_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let main = d.join(MAIN_FILE);
        if main.is_file() {
            out.push(main);
            continue;
        }
        if depth >= MAX_SKILL_DEPTH {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && path.is_dir() {
                stack.push((path, depth + 1));
            }
        }
    }
    out.sort();
    out
}

/// Reads a file of at most [`MAX_FILE_BYTES`].
fn read_limited(file: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} bytes, more than the {MAX_FILE_BYTES} a skill file may have",
            meta.len()
        ));
    }
    std::fs::read(file).map_err(|e| format!("cannot read: {e}"))
}

fn load_skill(
    file: &Path,
    scope: Scope,
    allow: &AllowList,
    problems: &mut Vec<SkillProblem>,
    withheld: &mut BTreeMap<String, String>,
) -> Option<Skill> {
    let problem = |line: Option<usize>, key: Option<String>, message: String, kind| SkillProblem {
        file: file.to_path_buf(),
        line,
        key,
        message,
        kind,
    };
    let bytes = match read_limited(file) {
        Ok(b) => b,
        Err(m) => {
            problems.push(problem(None, None, m, ProblemKind::Invalid));
            return None;
        }
    };
    let sha256 = sha256_hex(&bytes);
    let Ok(text) = String::from_utf8(bytes) else {
        problems.push(problem(
            None,
            None,
            "not UTF-8 text".into(),
            ProblemKind::Invalid,
        ));
        return None;
    };
    let parsed = match parse::parse(&text, file) {
        Ok(p) => p,
        Err(e) => {
            problems.push(problem(
                Some(e.line).filter(|l| *l > 0),
                e.key,
                e.message,
                ProblemKind::Invalid,
            ));
            return None;
        }
    };
    for (line, w) in &parsed.warnings {
        problems.push(problem(Some(*line), None, w.clone(), ProblemKind::Warning));
    }
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut texts: Vec<(String, String)> = vec![(MAIN_FILE.into(), parsed.body.clone())];
    if !parsed.front.keywords.is_empty() {
        texts.push(("keywords".into(), parsed.front.keywords.join(", ")));
    }
    let mut parts = Vec::new();
    for (path, part_file) in find_parts(&dir) {
        if parts.len() == MAX_PARTS {
            problems.push(problem(
                None,
                None,
                format!("more than {MAX_PARTS} Markdown parts; the rest are not served"),
                ProblemKind::Warning,
            ));
            break;
        }
        let bytes = match read_limited(&part_file) {
            Ok(b) => b,
            Err(m) => {
                problems.push(SkillProblem {
                    file: part_file,
                    line: None,
                    key: None,
                    message: format!("part not served: {m}"),
                    kind: ProblemKind::Warning,
                });
                continue;
            }
        };
        let sha = sha256_hex(&bytes);
        let len = bytes.len() as u64;
        let Ok(part_text) = String::from_utf8(bytes) else {
            problems.push(SkillProblem {
                file: part_file,
                line: None,
                key: None,
                message: "part not served: not UTF-8 text".into(),
                kind: ProblemKind::Warning,
            });
            continue;
        };
        let title = part_text.lines().find_map(|l| {
            l.strip_prefix("# ")
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        texts.push((path.clone(), part_text));
        parts.push(Part {
            path,
            file: part_file,
            title,
            bytes: len,
            sha256: sha,
        });
    }
    // Name and description as a tool's (length rules included); the rest as documents.
    let as_tool = serde_json::json!({"name": parsed.name, "description": parsed.description});
    let mut findings = scanner::not_allowed(
        BACKEND_NAME,
        &parsed.name,
        scanner::scan_tool(&as_tool),
        allow,
    );
    for (field, text) in &texts {
        let found = scanner::scan_document(field, text);
        findings.extend(scanner::not_allowed(
            BACKEND_NAME,
            &parsed.name,
            found,
            allow,
        ));
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(b.rule)));
    if let Some(high) = findings.iter().find(|f| f.severity == Severity::High) {
        let p = problem(
            None,
            None,
            format!(
                "skill `{}` withheld by the scanner: {high} (accept it with `scanner.allow: \
                 [{{server: {BACKEND_NAME}, tool: {}, rules: [{}]}}]` once reviewed)",
                parsed.name, parsed.name, high.rule
            ),
            ProblemKind::Withheld,
        );
        withheld
            .entry(parsed.name.clone())
            .or_insert_with(|| p.to_string());
        problems.push(p);
        return None;
    }
    for f in findings.iter().filter(|f| f.severity == Severity::Medium) {
        problems.push(problem(
            None,
            None,
            format!("scanner warning: {f}"),
            ProblemKind::Warning,
        ));
    }
    Some(Skill {
        name: parsed.name,
        description: parsed.description,
        front: parsed.front,
        dir,
        file: file.to_path_buf(),
        scope,
        headings: parsed.headings,
        code_blocks: parsed.code_blocks,
        parts,
        sha256,
        body_line: parsed.body_line,
        findings,
    })
}

/// The Markdown files of a skill folder other than its SKILL.md, sorted by path, that stay
/// inside the folder (a symlink pointing out is ignored). Hidden entries are skipped.
fn find_parts(dir: &Path) -> Vec<(String, PathBuf)> {
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Ok(real) = std::fs::canonicalize(&path) else {
                continue;
            };
            if !real.starts_with(&root) {
                continue;
            }
            if real.is_dir() {
                if depth + 1 < MAX_PART_DEPTH {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            let markdown = Path::new(&name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| {
                    e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown")
                });
            if !markdown || crate::capability::is_temp_file(&path) {
                continue;
            }
            let Ok(rel) = path.strip_prefix(dir) else {
                continue;
            };
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let rel = rel.join("/");
            if rel != MAIN_FILE {
                out.push((rel, path));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests;
