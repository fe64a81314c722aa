//! SKILL.md text → a [`Parsed`] skill: front matter (validated, with file:line errors), the
//! Markdown body, its fenced code blocks and headings.
//!
//! Owns the SKILL.md grammar: a `---` line, YAML front matter, a closing `---` (or `...`) line,
//! then Markdown. The YAML goes through the config's located node tree (`config::yaml`), so a
//! problem names the file's own line. Keys follow the Agent Skills specification
//! (agentskills.io: `name`, `description`, `license`, `compatibility`, `metadata`,
//! `allowed-tools`) plus the extensions agents document (Claude Code's `argument-hint`,
//! `disable-model-invocation`, …) and common `version`/`keywords`/`triggers`/`tags`; other keys
//! are kept as warnings, never errors, because a skill written for one agent must load here. It
//! never reads files, never runs a code block and never interprets the body beyond finding
//! fences and headings.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::yaml::{self, Key, Node, TypedKind, Value};

/// Longest `name` (Agent Skills specification).
pub const MAX_NAME: usize = 64;
/// Longest `description` (Agent Skills specification).
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest `compatibility` (Agent Skills specification).
pub const MAX_COMPATIBILITY: usize = 500;

/// Front-matter keys this gateway reads.
const KNOWN: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
    "version",
    "keywords",
    "triggers",
    "tags",
];
/// Keys other agents define that mean nothing to a gateway (accepted silently).
const AGENT_KEYS: &[&str] = &[
    "argument-hint",
    "disable-model-invocation",
    "user-invocable",
    "user-invokable",
    "model",
    "effort",
    "context",
    "agent",
    "hooks",
    "paths",
    "shell",
    "disallowed-tools",
    "when_to_use",
    "author",
    "category",
    "title",
    "args",
    "dependencies",
];

/// One problem in a SKILL.md, at a line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line in the file (0: the whole file).
    pub line: usize,
    /// Front-matter key, when the problem is one key's.
    pub key: Option<String>,
    pub message: String,
}

/// A fenced code block of the body. Data only: the gateway never runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// The info string's first word (`bash`, `python`), empty when none.
    pub language: String,
    /// 1-based line of the opening fence in the file.
    pub line: usize,
    /// The lines between the fences, each ending in `\n`.
    pub code: String,
}

/// The front matter's optional keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontMatter {
    pub license: Option<String>,
    pub compatibility: Option<String>,
    pub version: Option<String>,
    /// `allowed-tools`: a space-separated string or a list (recorded, never enforced here).
    pub allowed_tools: Vec<String>,
    /// `keywords`, `triggers`, `tags` (and the same names under `metadata`), for search.
    pub keywords: Vec<String>,
    /// `metadata`: string → string (numbers and booleans keep their spelling).
    pub metadata: BTreeMap<String, String>,
}

/// A parsed SKILL.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub name: String,
    pub description: String,
    pub front: FrontMatter,
    /// The Markdown after the front matter, exactly as written.
    pub body: String,
    /// 1-based line of the body's first line.
    pub body_line: usize,
    pub code_blocks: Vec<CodeBlock>,
    /// `#`-headings of the body, in order, without the `#`s.
    pub headings: Vec<String>,
    /// Keys nobody documents, with did-you-mean hints: `file:line`-less messages.
    pub warnings: Vec<(usize, String)>,
}

/// Is `name` a valid skill name (`[A-Za-z0-9_-]`, 1–64, not starting or ending with `-`)?
/// The specification asks for lowercase; capitals and `_` are accepted because published skills
/// use them and the name stays a valid catalog tool name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Splits SKILL.md text into (front matter, its first line, body, the body's first line).
fn split(text: &str) -> Result<(&str, usize, &str, usize), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != "---" {
        return Err(ParseError {
            line: 1,
            key: None,
            message: "a SKILL.md must start with YAML front matter: a `---` line, `name:` and \
                      `description:`, then a closing `---` line"
                .to_string(),
        });
    }
    let start = first.len();
    let mut offset = start;
    for (i, line) in lines.enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            let front = &text[start..offset];
            let body = &text[offset + line.len()..];
            // Line 1 is the opening `---`; the closing one is line i + 2.
            return Ok((front, 2, body, i + 3));
        }
        offset += line.len();
    }
    Err(ParseError {
        line: 1,
        key: None,
        message: "the front matter opened here is never closed with a `---` line".to_string(),
    })
}

/// Parses SKILL.md `text` read from `file` (used in YAML messages only).
pub fn parse(text: &str, file: &Path) -> Result<Parsed, ParseError> {
    let (front_text, front_line, body, body_line) = split(text)?;
    let shift = front_line - 1;
    let root = yaml::parse(front_text, file).map_err(|e| match e {
        crate::config::ConfigError::Syntax { line, message, .. } => ParseError {
            line: if line == 0 { front_line } else { line + shift },
            key: None,
            message: format!("front matter is not valid YAML: {message}"),
        },
        other => ParseError {
            line: front_line,
            key: None,
            message: other.to_string(),
        },
    })?;
    let entries: &[(Key, Node)] = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => &[],
        other => {
            return Err(ParseError {
                line: root.pos.line + shift,
                key: None,
                message: format!(
                    "the front matter must be a mapping (`name: …`), found {}",
                    other.describe()
                ),
            });
        }
    };
    let at = |node: &Node| node.pos.line + shift;
    let err = |line: usize, key: &str, message: String| ParseError {
        line,
        key: Some(key.to_string()),
        message,
    };
    let get = |name: &str| {
        entries
            .iter()
            .find(|(k, v)| k.name == name && v.value != Value::Null)
    };
    let mut warnings = Vec::new();
    for (k, _) in entries {
        if KNOWN.contains(&k.name.as_str()) || AGENT_KEYS.contains(&k.name.as_str()) {
            continue;
        }
        let hint = crate::suggest::hint(&k.name, KNOWN.iter().copied());
        warnings.push((
            k.pos.line + shift,
            format!("unknown front-matter key `{}` ignored{hint}", k.name),
        ));
    }
    let missing = |key: &str| {
        let typo = entries
            .iter()
            .find(|(k, _)| crate::suggest::closest(&k.name, [key]).is_some() && k.name != key);
        let (line, hint) = match typo {
            Some((k, _)) => (
                k.pos.line + shift,
                format!(" (`{}` on this line looks like a typo of it)", k.name),
            ),
            None => (front_line, String::new()),
        };
        err(
            line,
            key,
            format!("`{key}` is required in the front matter{hint}"),
        )
    };

    let name = match get("name") {
        Some((_, v)) => {
            let name = scalar(v).ok_or_else(|| {
                err(
                    at(v),
                    "name",
                    format!("expected text, found {}", v.value.describe()),
                )
            })?;
            if !valid_name(&name) {
                return Err(err(
                    at(v),
                    "name",
                    format!(
                        "`{name}` is not a valid skill name: use 1–{MAX_NAME} letters, digits, \
                         `-` or `_` (lowercase with hyphens, per the Agent Skills specification)"
                    ),
                ));
            }
            name
        }
        None => return Err(missing("name")),
    };
    let description = match get("description") {
        Some((_, v)) => {
            let d = scalar(v).ok_or_else(|| {
                err(
                    at(v),
                    "description",
                    format!("expected text, found {}", v.value.describe()),
                )
            })?;
            let d = d.trim().to_string();
            let chars = d.chars().count();
            if chars > MAX_DESCRIPTION {
                return Err(err(
                    at(v),
                    "description",
                    format!(
                        "{chars} characters; the Agent Skills specification allows at most \
                         {MAX_DESCRIPTION}"
                    ),
                ));
            }
            d
        }
        None => return Err(missing("description")),
    };
    if description.is_empty() {
        return Err(missing("description"));
    }

    let mut front = FrontMatter::default();
    let text_of = |key: &str| -> Result<Option<String>, ParseError> {
        match get(key) {
            Some((_, v)) => scalar(v).map(Some).ok_or_else(|| {
                err(
                    at(v),
                    key,
                    format!("expected text, found {}", v.value.describe()),
                )
            }),
            None => Ok(None),
        }
    };
    front.license = text_of("license")?;
    front.version = text_of("version")?;
    front.compatibility = text_of("compatibility")?;
    if let (Some(c), Some((_, v))) = (&front.compatibility, get("compatibility"))
        && c.chars().count() > MAX_COMPATIBILITY
    {
        return Err(err(
            at(v),
            "compatibility",
            format!("longer than the {MAX_COMPATIBILITY} characters the specification allows"),
        ));
    }
    if let Some((_, v)) = get("allowed-tools") {
        front.allowed_tools = words(v, "allowed-tools", shift)?;
    }
    for key in ["keywords", "triggers", "tags"] {
        if let Some((_, v)) = get(key) {
            front.keywords.extend(words_or_phrases(v, key, shift)?);
        }
    }
    if let Some((_, v)) = get("metadata") {
        let Value::Map(items) = &v.value else {
            return Err(err(
                at(v),
                "metadata",
                format!(
                    "expected a mapping of names to text, found {}",
                    v.value.describe()
                ),
            ));
        };
        for (k, item) in items {
            let key = format!("metadata.{}", k.name);
            match (&item.value, k.name.as_str()) {
                (Value::Seq(_), "keywords" | "triggers" | "tags") => {
                    front.keywords.extend(words_or_phrases(item, &key, shift)?);
                }
                _ => {
                    let value = scalar(item).ok_or_else(|| {
                        err(
                            at(item),
                            &key,
                            format!("expected text, found {}", item.value.describe()),
                        )
                    })?;
                    if matches!(k.name.as_str(), "keywords" | "triggers" | "tags") {
                        front.keywords.extend(split_phrases(&value));
                    }
                    if k.name == "version" && front.version.is_none() {
                        front.version = Some(value.clone());
                    }
                    front.metadata.insert(k.name.clone(), value);
                }
            }
        }
    }
    let (code_blocks, headings) = scan_markdown(body, body_line);
    Ok(Parsed {
        name,
        description,
        front,
        body: body.to_string(),
        body_line,
        code_blocks,
        headings,
        warnings,
    })
}

/// A scalar as text: strings as written, numbers and booleans in their spelling.
fn scalar(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Typed { raw, .. } => Some(raw.clone()),
        _ => None,
    }
}

/// `a b c` or `[a, b, c]` → words.
fn words(node: &Node, key: &str, shift: usize) -> Result<Vec<String>, ParseError> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .map(|i| {
                scalar(i).ok_or_else(|| ParseError {
                    line: i.pos.line + shift,
                    key: Some(key.to_string()),
                    message: format!("expected text, found {}", i.value.describe()),
                })
            })
            .collect(),
        _ => match scalar(node) {
            Some(s) => Ok(s.split_whitespace().map(str::to_string).collect()),
            None => Err(ParseError {
                line: node.pos.line + shift,
                key: Some(key.to_string()),
                message: format!(
                    "expected a space-separated list or a list, found {}",
                    node.value.describe()
                ),
            }),
        },
    }
}

/// `a, b c` (comma-separated phrases) or a list of phrases.
fn words_or_phrases(node: &Node, key: &str, shift: usize) -> Result<Vec<String>, ParseError> {
    match &node.value {
        Value::Seq(_) => words(node, key, shift),
        Value::Typed {
            kind: TypedKind::Bool(_),
            ..
        }
        | Value::Map(_) => Err(ParseError {
            line: node.pos.line + shift,
            key: Some(key.to_string()),
            message: format!(
                "expected a list of phrases, found {}",
                node.value.describe()
            ),
        }),
        _ => Ok(scalar(node).map(|s| split_phrases(&s)).unwrap_or_default()),
    }
}

fn split_phrases(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// A fence opening: up to three spaces, then three or more backticks or tildes.
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let c = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = rest.chars().take_while(|x| *x == c).count();
    if n < 3 {
        return None;
    }
    let info = rest[n..].trim();
    if c == '`' && info.contains('`') {
        return None;
    }
    Some((c, n, info))
}

/// Fenced code blocks (CommonMark fences; an unclosed block runs to the end) and ATX headings
/// outside them.
fn scan_markdown(body: &str, first_line: usize) -> (Vec<CodeBlock>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut headings = Vec::new();
    let mut open: Option<(char, usize, CodeBlock)> = None;
    for (i, raw) in body.lines().enumerate() {
        let line_no = first_line + i;
        if let Some((c, n, block)) = &mut open {
            let closes =
                fence(raw).is_some_and(|(fc, fn_, info)| fc == *c && fn_ >= *n && info.is_empty());
            if closes {
                if let Some((_, _, done)) = open.take() {
                    blocks.push(done);
                }
            } else {
                block.code.push_str(raw);
                block.code.push('\n');
            }
            continue;
        }
        if let Some((c, n, info)) = fence(raw) {
            open = Some((
                c,
                n,
                CodeBlock {
                    language: info.split_whitespace().next().unwrap_or("").to_string(),
                    line: line_no,
                    code: String::new(),
                },
            ));
            continue;
        }
        let t = raw.trim_start();
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            let h = t[hashes..].trim().trim_end_matches('#').trim();
            if !h.is_empty() {
                headings.push(h.to_string());
            }
        }
    }
    if let Some((_, _, done)) = open {
        blocks.push(done);
    }
    (blocks, headings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Parsed, ParseError> {
        parse(text, Path::new("SKILL.md"))
    }

    #[test]
    fn minimal_skill() {
        let s =
            p("---\nname: pdf-tools\ndescription: Fill PDF forms.\n---\n# PDF\nUse it.\n").unwrap();
        assert_eq!(s.name, "pdf-tools");
        assert_eq!(s.description, "Fill PDF forms.");
        assert_eq!(s.body, "# PDF\nUse it.\n");
        assert_eq!(s.body_line, 5);
        assert_eq!(s.headings, ["PDF"]);
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn optional_keys_and_agent_extensions() {
        let s = p("---\nname: x\ndescription: >\n  Folded\n  text.\nlicense: MIT\nallowed-tools: Read Bash(git *)\nkeywords: [release, changelog]\ntriggers: cut a release, tag version\nmetadata:\n  version: 1.2\n  author: me\nargument-hint: '[tag]'\ndisable-model-invocation: true\n---\nbody\n")
            .unwrap();
        assert_eq!(s.description, "Folded text.");
        assert_eq!(s.front.license.as_deref(), Some("MIT"));
        assert_eq!(s.front.allowed_tools, ["Read", "Bash(git", "*)"]);
        assert_eq!(
            s.front.keywords,
            ["release", "changelog", "cut a release", "tag version"]
        );
        assert_eq!(s.front.version.as_deref(), Some("1.2"));
        assert_eq!(s.front.metadata["author"], "me");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn errors_name_the_file_line() {
        let e = p("---\nname: ok\n---\nbody\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (2, Some("description")));
        let e = p("---\nname: ok\ndescripton: typo\n---\n").unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        assert!(e.message.contains("descripton"), "{e:?}");
        let e = p("---\nname: Git Release\ndescription: d\n---\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (2, Some("name")));
        let e = p("---\nname: ok\ndescription: [a, b\n---\n").unwrap_err();
        assert!(e.line >= 3, "{e:?}");
        assert!(e.message.contains("not valid YAML"), "{e:?}");
        let e = p("# no front matter\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = p("---\nname: x\ndescription: y\n").unwrap_err();
        assert!(e.message.contains("never closed"));
        let e = p("---\nname: x\ndescription: y\nmetadata: [1]\n---\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (4, Some("metadata")));
    }

    #[test]
    fn unknown_keys_are_warnings_with_hints() {
        let s = p("---\nname: x\ndescription: y\nlicence: MIT\nfoo: 1\n---\n").unwrap();
        assert_eq!(s.warnings.len(), 2);
        assert_eq!(s.warnings[0].0, 4);
        assert!(s.warnings[0].1.contains("did you mean `license`"));
    }

    #[test]
    fn code_blocks_and_headings() {
        let text = "---\nname: x\ndescription: y\n---\n# Title\n```bash\necho hi\n# not a heading\n```\n## Next ##\n~~~~\nraw\n~~~\n~~~~\n````python extra\nopen\n";
        let s = p(text).unwrap();
        assert_eq!(s.headings, ["Title", "Next"]);
        assert_eq!(s.code_blocks.len(), 3);
        assert_eq!(s.code_blocks[0].language, "bash");
        assert_eq!(s.code_blocks[0].line, 6);
        assert_eq!(s.code_blocks[0].code, "echo hi\n# not a heading\n");
        assert_eq!(s.code_blocks[1].code, "raw\n~~~\n");
        assert_eq!(s.code_blocks[2].language, "python");
        assert_eq!(s.code_blocks[2].code, "open\n");
    }
}
