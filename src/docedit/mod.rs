//! The format-preserving document editor: parse JSON/JSONC, TOML and YAML text, read the
//! collection of named entries at a key path, and edit it (remove entries by name, append
//! entries) while keeping everything else byte for byte. The client adapters (`crate::clients`)
//! and the gateway.yaml editor (`crate::configedit`) both edit through it.
//!
//! - JSON / JSONC: `jsonc-parser`'s concrete syntax tree, so comments, trailing commas,
//!   whitespace, unknown keys and key order survive; only the touched properties change.
//! - TOML: `toml_edit`, which keeps comments and layout of untouched tables.
//! - YAML: no maintained comment-preserving YAML editor exists, so edits are targeted line
//!   operations inside the block of one top-level key; unsupported layouts (flow style with
//!   content, anchors the line model cannot follow) are refused rather than guessed at.
//!
//! Every edit is verified: the result is parsed again and its collection must equal the old one
//! minus the removed names plus the added entries, else the edit is refused. This module never
//! touches the filesystem and knows nothing of MCP clients or the gateway's schema.

mod json;
mod toml;
mod yaml;

use serde_json::{Map, Value};

use json::json_edit;
use toml::{toml_edit_entries, toml_table_to_json};
use yaml::yaml_edit;

#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("line {line}, column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{key}` is not {expected}")]
    NotContainer { key: String, expected: &'static str },
    #[error("cannot edit `{key}` safely: {reason}; edit it by hand or convert it to block style")]
    Unsupported { key: String, reason: String },
    #[error(
        "internal check failed after editing `{key}`: the result would not hold exactly the intended entries; the file was left untouched"
    )]
    Verify { key: String },
}

/// Syntax of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// JSON; comments and trailing commas are tolerated on read and kept on write.
    Json,
    Toml,
    Yaml,
}

/// How a collection of named entries is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An object/table keyed by server name.
    Map,
    /// A list of objects each carrying a `name` field (Continue's `mcpServers`).
    NamedList,
}

/// Entries `(name, value)` of the collection at `section`, in file order. A missing file section
/// (or an empty document) is an empty list.
pub fn read_entries(
    text: &str,
    format: FileFormat,
    section: &[String],
    shape: Shape,
) -> Result<Vec<(String, Value)>, DocError> {
    let text = strip_bom(text);
    if format == FileFormat::Json {
        let marked = Surrogates::mark(text);
        let root = parse(&marked.text, format)?;
        let mut entries = entries_at(&root, section, shape)?;
        for (_, v) in &mut entries {
            marked.replace_in(v);
        }
        return Ok(entries);
    }
    let root = parse(text, format)?;
    entries_at(&root, section, shape)
}

/// Lone UTF-16 surrogate escapes (`"\ud83d"` without its pair) in JSON text. The clients'
/// JSON readers accept them (JavaScript strings are UTF-16) and an emoji cut in half is common
/// in a chat history; the JSON parser refuses them. Each distinct one is swapped for an escape
/// of a private-use character the text does not hold, so the text parses and edits; edited text
/// gets the original escapes back, and values read get U+FFFD (what the client passes on when
/// it encodes the string as UTF-8).
struct Surrogates {
    text: String,
    /// `(private-use char, the original escape as written)`.
    marks: Vec<(char, String)>,
}

impl Surrogates {
    fn mark(text: &str) -> Surrogates {
        let mut marks: Vec<(char, String)> = Vec::new();
        if !text.contains("\\u") {
            return Surrogates {
                text: text.to_string(),
                marks,
            };
        }
        let hex = |s: &str| -> Option<u32> {
            (s.len() >= 4 && s.is_char_boundary(4))
                .then(|| u32::from_str_radix(&s[..4], 16).ok())
                .flatten()
        };
        let lower = text.to_ascii_lowercase();
        let mut unused = (0xE000u32..=0xF8FF)
            .filter_map(char::from_u32)
            .filter(|c| !text.contains(*c) && !lower.contains(&format!("\\u{:04x}", *c as u32)));
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('\\') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let Some(code) = after.strip_prefix('u').and_then(hex) else {
                // `\\`, `\"`, …: the escaped character is kept with its backslash.
                let n = after.chars().next().map_or(0, char::len_utf8);
                out.push_str(&rest[i..i + 1 + n]);
                rest = &after[n..];
                continue;
            };
            let escape = &rest[i..i + 6];
            let paired_low = |s: &str| {
                s.strip_prefix("\\u")
                    .and_then(hex)
                    .is_some_and(|c| (0xDC00..=0xDFFF).contains(&c))
            };
            if (0xD800..=0xDBFF).contains(&code) && paired_low(&rest[i + 6..]) {
                out.push_str(&rest[i..i + 12]);
                rest = &rest[i + 12..];
                continue;
            }
            if (0xD800..=0xDFFF).contains(&code) {
                let mark = match marks.iter().find(|(_, e)| e == escape) {
                    Some((c, _)) => Some(*c),
                    None => unused
                        .next()
                        .inspect(|c| marks.push((*c, escape.to_string()))),
                };
                if let Some(c) = mark {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                    rest = &rest[i + 6..];
                    continue;
                }
            }
            out.push_str(escape);
            rest = &rest[i + 6..];
        }
        out.push_str(rest);
        Surrogates { text: out, marks }
    }

    /// `edited` (made from the marked text) with the original escapes back.
    fn unmark(&self, edited: &str) -> String {
        let mut out = edited.to_string();
        for (c, escape) in &self.marks {
            out = out.replace(&format!("\\u{:04x}", *c as u32), escape);
        }
        out
    }

    /// Values read: the marks become U+FFFD.
    fn replace_in(&self, v: &mut Value) {
        if self.marks.is_empty() {
            return;
        }
        match v {
            Value::String(s) if s.chars().any(|c| self.marks.iter().any(|(m, _)| *m == c)) => {
                *s = s
                    .chars()
                    .map(|c| {
                        if self.marks.iter().any(|(m, _)| *m == c) {
                            '\u{fffd}'
                        } else {
                            c
                        }
                    })
                    .collect();
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.replace_in(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.replace_in(i)),
            _ => {}
        }
    }
}

/// `text` without a leading UTF-8 byte order mark (which the clients accept and keep).
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// `text` with the entries named in `remove` deleted and `add` appended (an `add` entry whose
/// name is already present and not being removed is skipped). Unchanged input → same string.
pub fn edit_entries(
    text: &str,
    format: FileFormat,
    section: &[String],
    shape: Shape,
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    // A byte order mark and CRLF line ends are the file's own: edit without them, put them back.
    let bom = text.starts_with('\u{feff}');
    let crlf = text.contains("\r\n");
    let body = strip_bom(text);
    let edited = if format == FileFormat::Json {
        let marked = Surrogates::mark(body);
        marked.unmark(&edit_body(
            &marked.text,
            format,
            section,
            shape,
            remove,
            add,
        )?)
    } else {
        edit_body(body, format, section, shape, remove, add)?
    };
    if edited == body {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(edited.len() + 8);
    if bom {
        out.push('\u{feff}');
    }
    if crlf {
        out.push_str(&edited.replace("\r\n", "\n").replace('\n', "\r\n"));
    } else {
        out.push_str(&edited);
    }
    Ok(out)
}

fn edit_body(
    text: &str,
    format: FileFormat,
    section: &[String],
    shape: Shape,
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    let before = read_entries(text, format, section, shape)?;
    let remove: Vec<&String> = remove
        .iter()
        .filter(|r| before.iter().any(|(n, _)| n == *r))
        .collect();
    let add: Vec<&(String, Value)> = add
        .iter()
        .filter(|(n, _)| remove.contains(&n) || !before.iter().any(|(b, _)| b == n))
        .collect();
    if remove.is_empty() && add.is_empty() {
        return Ok(text.to_string());
    }
    let mut expected: Vec<(String, Value)> = before
        .into_iter()
        .filter(|(n, _)| !remove.contains(&n))
        .collect();
    expected.extend(add.iter().map(|e| (*e).clone()));
    let remove: Vec<String> = remove.into_iter().cloned().collect();
    let add: Vec<(String, Value)> = add.into_iter().cloned().collect();
    let edited = match format {
        FileFormat::Json => json_edit(text, section, &remove, &add)?,
        FileFormat::Toml => toml_edit_entries(text, section, &remove, &add)?,
        FileFormat::Yaml => yaml_edit(text, section, shape, &remove, &add)?,
    };
    let after = read_entries(&edited, format, section, shape)?;
    if after != expected {
        return Err(DocError::Verify {
            key: section.join("."),
        });
    }
    Ok(edited)
}

/// Parses a whole document into a JSON value (empty or comment-only documents → `{}`).
pub fn parse(text: &str, format: FileFormat) -> Result<Value, DocError> {
    let v = match format {
        FileFormat::Json => {
            let opts = jsonc_parser::ParseOptions::default();
            jsonc_parser::parse_to_serde_value::<Option<Value>>(text, &opts)
                .map_err(|e| DocError::Parse {
                    line: e.line_display(),
                    column: e.column_display(),
                    message: e.kind().to_string(),
                })?
                .unwrap_or(Value::Null)
        }
        FileFormat::Toml => {
            let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
                let (line, column) = line_col(text, e.span().map(|s| s.start).unwrap_or(0));
                DocError::Parse {
                    line,
                    column,
                    message: e.message().to_string(),
                }
            })?;
            toml_table_to_json(doc.as_table())
        }
        FileFormat::Yaml => {
            if text.lines().all(|l| {
                let t = l.trim();
                t.is_empty() || t.starts_with('#') || t == "---"
            }) {
                Value::Null
            } else {
                serde_saphyr::from_str::<Value>(text).map_err(|e| {
                    let msg = e.to_string();
                    let (line, column) = saphyr_location(&e);
                    DocError::Parse {
                        line,
                        column,
                        message: msg.lines().next().unwrap_or_default().to_string(),
                    }
                })?
            }
        }
    };
    match v {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(_) => Ok(v),
        _ => Err(DocError::NotContainer {
            key: "(document root)".into(),
            expected: "an object",
        }),
    }
}

fn saphyr_location(e: &serde_saphyr::Error) -> (usize, usize) {
    e.location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((0, 0))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

fn entries_at(
    root: &Value,
    section: &[String],
    shape: Shape,
) -> Result<Vec<(String, Value)>, DocError> {
    let mut cur = root;
    for (i, key) in section.iter().enumerate() {
        match cur.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(v) => {
                let is_last = i + 1 == section.len();
                if !is_last && !v.is_object() {
                    return Err(DocError::NotContainer {
                        key: section[..=i].join("."),
                        expected: "an object",
                    });
                }
                cur = v;
            }
        }
    }
    let key = section.join(".");
    match shape {
        Shape::Map => match cur {
            Value::Object(m) => Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            _ => Err(DocError::NotContainer {
                key,
                expected: "an object keyed by server name",
            }),
        },
        Shape::NamedList => match cur {
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    let name = item.get("name").and_then(Value::as_str).ok_or_else(|| {
                        DocError::NotContainer {
                            key: format!("{key}[]"),
                            expected: "an entry with a `name`",
                        }
                    })?;
                    Ok((name.to_string(), item.clone()))
                })
                .collect(),
            _ => Err(DocError::NotContainer {
                key,
                expected: "a list",
            }),
        },
    }
}

#[cfg(test)]
mod tests;
