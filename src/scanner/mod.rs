//! Tool-description poisoning scanner.
//!
//! Owns the rules that decide whether a tool definition (from any backend or capability) carries
//! instructions aimed at the model rather than a description of the tool: hidden-instruction
//! markers, instruction overrides, concealment from the user, steering of other tools,
//! references to secrets, exfiltration, invisible or bidirectional Unicode, whitespace runs that
//! push text out of view, oversized descriptions. The same text rules screen documents the model
//! reads as instructions (a skill's body and parts: [`scan_document`]). Severity `High` means the
//! gateway withholds the tool (or skill); `Medium` is served with a warning. It never edits a tool and never blocks on its own:
//! callers decide, and an [`AllowList`] silences known false positives per backend/tool/rule.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        })
    }
}

/// One thing found in a tool definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable rule id, e.g. `hidden-instruction-tag` (used by the allow-list).
    pub rule: &'static str,
    /// Where (`description`, `inputSchema.properties.x.description`) and what matched.
    pub detail: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}: {}", self.severity, self.rule, self.detail)
    }
}

/// Descriptions longer than this are worth a warning.
pub const LONG_DESCRIPTION: usize = 8 * 1024;
/// Descriptions longer than this are withheld.
pub const HUGE_DESCRIPTION: usize = 32 * 1024;
/// A whitespace run this long is suspicious; [`HUGE_WHITESPACE`] is withheld.
pub const LONG_WHITESPACE: usize = 80;
pub const HUGE_WHITESPACE: usize = 200;

fn re(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .unwrap_or_else(|e| panic!("scanner pattern {pattern:?} is invalid: {e}"))
}

struct Rule {
    id: &'static str,
    severity: Severity,
    what: &'static str,
    pattern: Regex,
}

/// Text rules, checked against every text field of a tool.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        Rule {
            id: "hidden-instruction-tag",
            severity: Severity::High,
            what: "a hidden-instruction tag",
            pattern: re(
                r"<\s*/?\s*(important|system|instructions?|hidden|secret|admin|critical|sys|assistant_only|ai_only)\s*>|\[/?(INST|SYSTEM)\]|<\|im_start\|>|<\|system\|>",
            ),
        },
        Rule {
            id: "instruction-override",
            severity: Severity::High,
            what: "an instruction override",
            pattern: re(
                r"\b(ignore|disregard|forget|override|bypass)\b\s+(all\s+|any\s+|the\s+|your\s+|of\s+)*(previous|prior|above|earlier|preceding|other|system|original|safety)\s+(instructions?|prompts?|directions?|rules|guidelines|messages?|context)|\byou are now\b|\bnew (system )?instructions?\s*:|\bfrom now on,? (you|the assistant|the ai)\b",
            ),
        },
        Rule {
            id: "conceal-from-user",
            severity: Severity::High,
            what: "an instruction to hide something from the user",
            pattern: re(
                r"\b(do not|don't|never|must not|should not)\s+(tell|mention|inform|reveal|notify|show|alert|disclose)\b[^.]{0,40}\b(the\s+)?user\b|\bwithout\s+(telling|informing|notifying|alerting|asking|showing)\s+(the\s+)?user\b|\b(the\s+)?user\s+(must|should|need)\s+(not|never)\s+(know|see|be told|notice|find out)|\b(hide|conceal)\s+(this|it|these|the\s+\w+)\s+from\s+(the\s+)?user|\bkeep\s+this\s+(secret|hidden|confidential)\b|\bthe user (will not|won't|cannot|can't) see\b|\bnot visible to the user\b",
            ),
        },
        Rule {
            id: "tool-shadowing",
            severity: Severity::High,
            what: "an instruction about how other tools must behave",
            pattern: re(
                r"\bwhen (this tool is|these tools are) (available|present|loaded|installed)\b|\b(all|any|every)\s+(other\s+)?(tools?|calls?|emails?|messages?|requests?)\s+(must|should|shall)\s+(also\s+)?(be\s+)?(sent|send|forward|redirect|cc|bcc|include|go|routed)|\b(change|replace|redirect|override)\s+(the\s+)?(recipient|destination|email address|to address|target address)\b|\bregardless of what the user (says|asks|requests|specifies)\b|\binstead of (the\s+)?(user's|requested|specified|intended)\s+(recipient|address|destination|account)",
            ),
        },
        Rule {
            id: "secret-path",
            severity: Severity::High,
            what: "a reference to a secret file",
            pattern: re(
                r"\.ssh/(id_|authorized_keys|config\b)|\bid_(rsa|dsa|ecdsa|ed25519)\b|\.aws/(credentials|config)\b|/etc/(passwd|shadow|sudoers)\b|~/\.netrc\b|~/\.(npmrc|pypirc|docker/config\.json|kube/config)\b|~/\.cursor/mcp\.json|claude_desktop_config\.json|\.git-credentials\b|~/\.config/gcloud\b|\b(read|cat|open|send|upload|include|pass|copy|list|attach|leak)\b[^.\n]{0,40}~/\.(ssh|aws|gnupg)\b",
            ),
        },
        Rule {
            id: "secret-dir-mention",
            severity: Severity::Medium,
            what: "a mention of a secrets directory",
            pattern: re(r"~/\.(ssh|aws|gnupg)\b"),
        },
        Rule {
            id: "exfiltration",
            severity: Severity::High,
            what: "an instruction to send data somewhere",
            pattern: re(
                r"\b(send|post|upload|forward|transmit|exfiltrate|leak|report|copy|cc|bcc|email|mail)\b[^.\n]{0,80}\b(to|at|into)\s+(https?://|ftp://|\S+@\S+\.\w{2,}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})|\b(curl|wget|fetch\()\s[^\n]{0,80}(https?://)[^\n]{0,80}(-d\b|--data|\$\(|`|-F\b|--upload)|\b(curl|wget)\s+[^\n]{0,60}\|\s*(sh|bash|zsh)\b",
            ),
        },
        Rule {
            id: "secret-smuggling",
            severity: Severity::High,
            what: "an instruction to pass secrets or private data through a parameter",
            pattern: re(
                r"\b(read|pass|put|include|add|place|copy|insert|embed|append|provide|send)\b[^.\n]{0,40}\b(the user'?s|user's|your|all|any|every|the full|the entire|(the )?contents? of)\s+([\w-]+\s+){0,2}(api[ _-]?keys?|private keys?|passwords?|credentials|secrets|ssh keys?|(access|auth|bearer|session) tokens?|\.env( file)?|env(ironment)? var(iable)?s?|conversation history|chat history|system prompt|previous messages)\b[^.\n]{0,60}\b(as|in|into|to)\s+(the\s+)?['\x22`]?\w+['\x22`]?\s+(parameter|argument|field|param)\b|\b(read|cat|open|load)\b[^.\n]{0,30}\b(contents?\s+of\s+)?[^.\n]{0,20}(\.env\b|mcp\.json)[^.\n]{0,60}\b(pass|send|include|put)\b",
            ),
        },
        Rule {
            id: "model-directive",
            severity: Severity::Medium,
            what: "text addressed to the model rather than describing the tool",
            pattern: re(
                r"\b(before|after)\s+(using|calling|invoking)\s+(this|any)\s+tool,?\s+(you\s+)?(must|should|always|first)\s+(read|call|send|pass|include|fetch|open)\b|\b(the\s+)?(ai|assistant|model|llm|agent)\s+(must|should|is required to)\s+(always\s+)?(read|send|pass|include|call|not tell|never)\b",
            ),
        },
        Rule {
            id: "dotenv-reference",
            severity: Severity::Low,
            what: "a mention of a .env file",
            pattern: re(r"(^|[\s'\x22`(])\.env\b"),
        },
    ]
});

fn excerpt(text: &str, start: usize, end: usize) -> String {
    let from = text[..start]
        .char_indices()
        .rev()
        .nth(30)
        .map_or(0, |(i, _)| i);
    let to = text[end..]
        .char_indices()
        .nth(30)
        .map_or(text.len(), |(i, _)| end + i);
    let snippet: String = text[from..to]
        .chars()
        .map(|c| {
            if c.is_control() || is_invisible(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!(
        "…{}…",
        snippet.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// Zero-width, bidirectional-override, tag and other invisible format characters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{180E}' | '\u{061C}'
        | '\u{E0000}'..='\u{E007F}' | '\u{FFF9}'..='\u{FFFB}')
}

fn scan_text(field: &str, text: &str, size_rule: bool, out: &mut Vec<Finding>) {
    for rule in RULES.iter() {
        if let Some(m) = rule.pattern.find(text) {
            out.push(Finding {
                severity: rule.severity,
                rule: rule.id,
                detail: format!(
                    "{field}: {} {}",
                    rule.what,
                    excerpt(text, m.start(), m.end())
                ),
            });
        }
    }
    let invisible: Vec<char> = text.chars().filter(|c| is_invisible(*c)).collect();
    if let Some(first) = invisible.first() {
        out.push(Finding {
            severity: Severity::High,
            rule: "invisible-unicode",
            detail: format!(
                "{field}: {} invisible or bidirectional character(s), first U+{:04X}",
                invisible.len(),
                *first as u32
            ),
        });
    }
    let controls = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .count();
    if controls > 0 {
        out.push(Finding {
            severity: Severity::High,
            rule: "control-characters",
            detail: format!("{field}: {controls} control character(s)"),
        });
    }
    let (mut run, mut longest, mut newlines, mut most_newlines) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        if c.is_whitespace() {
            run += 1;
            longest = longest.max(run);
            if c == '\n' {
                newlines += 1;
                most_newlines = most_newlines.max(newlines);
            }
        } else {
            run = 0;
            newlines = 0;
        }
    }
    if longest >= LONG_WHITESPACE || most_newlines >= 12 {
        let severity = if longest >= HUGE_WHITESPACE || most_newlines >= 25 {
            Severity::High
        } else {
            Severity::Medium
        };
        out.push(Finding {
            severity,
            rule: "whitespace-run",
            detail: format!("{field}: a run of {longest} whitespace characters ({most_newlines} line breaks) can push text out of view"),
        });
    }
    let len = text.chars().count();
    if size_rule && len > LONG_DESCRIPTION {
        out.push(Finding {
            severity: if len > HUGE_DESCRIPTION {
                Severity::High
            } else {
                Severity::Medium
            },
            rule: "oversized-description",
            detail: format!("{field}: {len} characters"),
        });
    }
}

/// Collects every text of the input schema a model reads (descriptions, titles, defaults,
/// examples, enum values) with its path.
fn schema_texts(schema: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match schema {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{path}.{k}");
                match (k.as_str(), v) {
                    (
                        "description" | "title" | "default" | "examples" | "example" | "pattern",
                        Value::String(s),
                    ) => {
                        out.push((p, s.clone()));
                    }
                    ("enum" | "examples", Value::Array(items)) => {
                        for (i, item) in items.iter().enumerate() {
                            if let Value::String(s) = item {
                                out.push((format!("{p}[{i}]"), s.clone()));
                            }
                        }
                    }
                    _ => schema_texts(v, &p, out),
                }
            }
            // Property names are read too (a name can carry invisible characters).
            if let Some(Value::Object(props)) = m.get("properties") {
                for name in props.keys() {
                    out.push((format!("{path}.properties (name)"), name.clone()));
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                schema_texts(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Scans one MCP `Tool` object. Findings are sorted, most severe first, one per rule and field.
pub fn scan_tool(tool: &Value) -> Vec<Finding> {
    let mut texts: Vec<(String, String)> = Vec::new();
    for key in ["name", "title", "description"] {
        if let Some(s) = tool.get(key).and_then(Value::as_str) {
            texts.push((key.to_string(), s.to_string()));
        }
    }
    if let Some(t) = tool.pointer("/annotations/title").and_then(Value::as_str) {
        texts.push(("annotations.title".into(), t.to_string()));
    }
    if let Some(schema) = tool.get("inputSchema") {
        schema_texts(schema, "inputSchema", &mut texts);
    }
    if let Some(schema) = tool.get("outputSchema") {
        schema_texts(schema, "outputSchema", &mut texts);
    }
    let mut out = Vec::new();
    for (field, text) in &texts {
        scan_text(field, text, true, &mut out);
    }
    // Whole-tool: the description plus every schema text must not be gigantic either.
    let total: usize = texts.iter().map(|(_, t)| t.chars().count()).sum();
    if total > HUGE_DESCRIPTION && !out.iter().any(|f| f.rule == "oversized-description") {
        out.push(Finding {
            severity: Severity::High,
            rule: "oversized-description",
            detail: format!("tool texts total {total} characters"),
        });
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(b.rule)));
    out
}

/// Scans a document the model reads as instructions (a skill's body or one of its parts),
/// under the name `field`, with every text rule; length alone is not a finding, since a document
/// is not a description. Sorted like [`scan_tool`].
pub fn scan_document(field: &str, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    scan_text(field, text, false, &mut out);
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(b.rule)));
    out
}

/// The highest severity among `findings`.
pub fn max_severity(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// One allow-list entry: findings of `rules` (all rules when empty) on tools matching
/// `backend`/`tool` (glob patterns, `*` for any) are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    #[serde(default = "any")]
    pub backend: String,
    #[serde(default = "any")]
    pub tool: String,
    #[serde(default)]
    pub rules: Vec<String>,
}

fn any() -> String {
    "*".to_string()
}

/// Operator-approved exceptions to the scanner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AllowList {
    pub entries: Vec<AllowEntry>,
}

fn glob_match(pattern: &str, text: &str) -> bool {
    globset::Glob::new(pattern)
        .map(|g| g.compile_matcher().is_match(text))
        .unwrap_or(pattern == text)
}

impl AllowList {
    /// Is `rule` allowed for `backend`/`tool`?
    pub fn allows(&self, backend: &str, tool: &str, rule: &str) -> bool {
        self.entries.iter().any(|e| {
            glob_match(&e.backend, backend)
                && glob_match(&e.tool, tool)
                && (e.rules.is_empty() || e.rules.iter().any(|r| r == rule))
        })
    }

    /// `findings` minus the allowed ones.
    pub fn filter(&self, backend: &str, tool: &str, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .filter(|f| !self.allows(backend, tool, f.rule))
            .collect()
    }
}

/// Scans `tool` served by `backend`, honouring `allow`.
pub fn scan_tool_for(backend: &str, tool: &Value, allow: &AllowList) -> Vec<Finding> {
    let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
    allow.filter(backend, name, scan_tool(tool))
}

/// The tools of `backend` that may be served: those with a high finding (not allowed by
/// `allow`) are withheld and logged with the reason; medium findings are logged as warnings.
pub fn screen(backend: &str, tools: Vec<Value>, allow: &AllowList) -> Vec<Value> {
    tools
        .into_iter()
        .filter(|tool| {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            let findings = scan_tool_for(backend, tool, allow);
            if let Some(high) = findings.iter().find(|f| f.severity == Severity::High) {
                tracing::error!(backend, tool = %name, finding = %high, "tool withheld by the description scanner");
                return false;
            }
            for f in findings.iter().filter(|f| f.severity == Severity::Medium) {
                tracing::warn!(backend, tool = %name, finding = %f, "tool description warning");
            }
            true
        })
        .collect()
}

#[cfg(test)]
mod tests;
