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

use serde_json::{Map, Value};

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

// ---------------------------------------------------------------- JSON / JSONC

fn json_edit(
    text: &str,
    section: &[String],
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    use jsonc_parser::cst::CstRootNode;
    let source = if text.trim().is_empty() { "{}\n" } else { text };
    let root = CstRootNode::parse(source, &jsonc_parser::ParseOptions::default()).map_err(|e| {
        DocError::Parse {
            line: e.line_display(),
            column: e.column_display(),
            message: e.kind().to_string(),
        }
    })?;
    let mut obj = root.object_value_or_set();
    for (i, key) in section.iter().enumerate() {
        if let Some(prop) = obj.get(key)
            && prop.object_value().is_none()
            && !matches!(
                prop.value(),
                Some(jsonc_parser::cst::CstNode::Leaf(
                    jsonc_parser::cst::CstLeafNode::NullKeyword(_)
                ))
            )
        {
            return Err(DocError::NotContainer {
                key: section[..=i].join("."),
                expected: "an object",
            });
        }
        obj = obj.object_value_or_set(key);
    }
    for name in remove {
        if let Some(prop) = obj.get(name) {
            let comments = leading_comment_nodes(&prop);
            prop.remove();
            for node in comments {
                node.remove();
            }
        }
    }
    for (name, value) in add {
        obj.append(name, to_cst(value));
    }
    let mut out = root.to_string();
    if text.trim().is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The comment lines directly above `prop` (each on its own line, no blank line in between),
/// with their line breaks: they describe the entry and go with it. Trailing comments of the
/// previous line stay.
fn leading_comment_nodes(
    prop: &jsonc_parser::cst::CstObjectProp,
) -> Vec<jsonc_parser::cst::CstNode> {
    let sibs: Vec<jsonc_parser::cst::CstNode> = prop.previous_siblings().collect();
    let skip_ws = |mut i: usize| {
        while i < sibs.len() && sibs[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let mut doomed = Vec::new();
    let mut i = skip_ws(0);
    while i < sibs.len() && sibs[i].is_newline() {
        let comment = skip_ws(i + 1);
        if comment >= sibs.len() || !sibs[comment].is_comment() {
            break;
        }
        let before = skip_ws(comment + 1);
        if before >= sibs.len() || !sibs[before].is_newline() {
            break;
        }
        doomed.extend(sibs[i..before].iter().cloned());
        i = before;
    }
    doomed
}

fn to_cst(v: &Value) -> jsonc_parser::cst::CstInputValue {
    use jsonc_parser::cst::CstInputValue as I;
    match v {
        Value::Null => I::Null,
        Value::Bool(b) => I::Bool(*b),
        Value::Number(n) => I::Number(n.to_string()),
        Value::String(s) => I::String(s.clone()),
        Value::Array(a) => I::Array(a.iter().map(to_cst).collect()),
        Value::Object(o) => I::Object(o.iter().map(|(k, v)| (k.clone(), to_cst(v))).collect()),
    }
}

// ---------------------------------------------------------------- TOML

fn toml_table_to_json(t: &toml_edit::Table) -> Value {
    Value::Object(
        t.iter()
            .map(|(k, item)| (k.to_string(), toml_item_to_json(item)))
            .collect(),
    )
}

fn toml_item_to_json(item: &toml_edit::Item) -> Value {
    use toml_edit::Item;
    match item {
        Item::None => Value::Null,
        Item::Value(v) => toml_value_to_json(v),
        Item::Table(t) => toml_table_to_json(t),
        Item::ArrayOfTables(a) => Value::Array(a.iter().map(toml_table_to_json).collect()),
    }
}

fn toml_value_to_json(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match v {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(a) => Value::Array(a.iter().map(toml_value_to_json).collect()),
        T::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), toml_value_to_json(v)))
                .collect(),
        ),
    }
}

fn json_to_toml_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::Null => toml_edit::Value::from(""),
        Value::Bool(b) => toml_edit::Value::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml_edit::Value::from(i),
            None => toml_edit::Value::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => toml_edit::Value::from(s.as_str()),
        Value::Array(a) => toml_edit::Value::Array(a.iter().map(json_to_toml_value).collect()),
        Value::Object(o) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in o {
                t.insert(k, json_to_toml_value(v));
            }
            toml_edit::Value::InlineTable(t)
        }
    }
}

fn toml_edit_entries(
    text: &str,
    section: &[String],
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| DocError::Parse {
                line: 0,
                column: 0,
                message: e.message().to_string(),
            })?;
    let mut table = doc.as_table_mut();
    for (i, key) in section.iter().enumerate() {
        if !table.contains_key(key) {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            table.insert(key, toml_edit::Item::Table(t));
        }
        table = table
            .get_mut(key)
            .and_then(toml_edit::Item::as_table_mut)
            .ok_or_else(|| DocError::NotContainer {
                key: section[..=i].join("."),
                expected: "a table",
            })?;
    }
    let mut detached = Vec::new();
    for name in remove {
        if let Some(removed) = table.remove(name) {
            detached.extend(toml_detached_comments(&removed));
        }
    }
    for (name, value) in add {
        let obj = value.as_object().ok_or_else(|| DocError::NotContainer {
            key: format!("{}.{name}", section.join(".")),
            expected: "a table",
        })?;
        let mut t = toml_edit::Table::new();
        for (k, v) in obj {
            t.insert(k, toml_edit::Item::Value(json_to_toml_value(v)));
        }
        table.insert(name, toml_edit::Item::Table(t));
    }
    for (position, text) in detached {
        toml_keep_comments(&mut doc, position, &text);
    }
    let mut out = doc.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The comment block above a removed table that a blank line separates from it: it is about
/// what comes before or after, not about this table, so it stays. Returns `(the table's
/// position, the block)`; the comment lines directly above the table go with it.
fn toml_detached_comments(removed: &toml_edit::Item) -> Option<(isize, String)> {
    let table = removed.as_table()?;
    let prefix = table.decor().prefix()?.as_str()?;
    let cut = prefix
        .rfind("\n\n")
        .or_else(|| prefix.rfind("\r\n\r\n").map(|i| i + 2))?;
    let head = &prefix[..cut + 1];
    head.lines()
        .any(|l| l.trim_start().starts_with('#'))
        .then(|| (table.position().unwrap_or(isize::MAX), head.to_string()))
}

/// Puts a detached comment block before the first table after `position` (in document order),
/// or at the end of the document.
fn toml_keep_comments(doc: &mut toml_edit::DocumentMut, position: isize, text: &str) {
    fn next_after<'t>(
        table: &'t mut toml_edit::Table,
        position: isize,
        best: &mut Option<(isize, &'t mut toml_edit::Table)>,
    ) {
        for (_, item) in table.iter_mut() {
            if let Some(t) = item.as_table_mut() {
                let p = t.position().filter(|p| *p > position && !t.is_implicit());
                let better = p.is_some_and(|p| best.as_ref().is_none_or(|(b, _)| p < *b));
                // Children come after their parent: look inside only when the parent is not
                // itself the answer.
                if better {
                    *best = Some((p.unwrap_or_default(), t));
                } else {
                    next_after(t, position, best);
                }
            }
        }
    }
    let mut best = None;
    next_after(doc.as_table_mut(), position, &mut best);
    match best {
        Some((_, t)) => {
            let old = t
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or_default()
                .to_string();
            let blank = if old.starts_with(['\n', '\r']) {
                ""
            } else {
                "\n"
            };
            t.decor_mut().set_prefix(format!("{text}{blank}{old}"));
        }
        None => {
            let trailing = doc.trailing().as_str().unwrap_or_default().to_string();
            doc.set_trailing(format!("{text}{trailing}"));
        }
    }
}

// ---------------------------------------------------------------- YAML

/// Renders a YAML scalar or flow collection. JSON is valid YAML 1.2 flow syntax, so values are
/// written as JSON: strings always double-quoted, so nothing is reinterpreted (`yes`, `1.0`, `~`).
fn yaml_flow(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(yaml_flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", yaml_flow(&Value::String(k.clone())), yaml_flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        scalar => serde_json::to_string(scalar).unwrap_or_else(|_| "null".into()),
    }
}

fn yaml_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.starts_with('-')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        k.to_string()
    } else {
        yaml_flow(&Value::String(k.to_string()))
    }
}

/// Lines of one map/list entry in block style at `indent`.
pub(crate) fn yaml_render_entry(
    name: &str,
    value: &Value,
    shape: Shape,
    indent: usize,
    nl: &str,
) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match (shape, value) {
        (Shape::Map, Value::Object(fields)) => {
            out.push_str(&format!("{pad}{}:{nl}", yaml_key(name)));
            for (k, v) in fields {
                out.push_str(&format!("{pad}  {}: {}{nl}", yaml_key(k), yaml_flow(v)));
            }
        }
        (Shape::NamedList, Value::Object(fields)) => {
            let mut first = true;
            for (k, v) in fields {
                let lead = if first {
                    format!("{pad}- ")
                } else {
                    format!("{pad}  ")
                };
                out.push_str(&format!("{lead}{}: {}{nl}", yaml_key(k), yaml_flow(v)));
                first = false;
            }
        }
        (Shape::Map, v) => out.push_str(&format!("{pad}{}: {}{nl}", yaml_key(name), yaml_flow(v))),
        (Shape::NamedList, v) => out.push_str(&format!("{pad}- {}{nl}", yaml_flow(v))),
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

fn yaml_edit(
    text: &str,
    section: &[String],
    shape: Shape,
    remove: &[String],
    add: &[(String, Value)],
) -> Result<String, DocError> {
    let key = match section {
        [k] => k.as_str(),
        _ => {
            return Err(DocError::Unsupported {
                key: section.join("."),
                reason: "only top-level YAML keys are edited".into(),
            });
        }
    };
    let unsupported = |reason: &str| DocError::Unsupported {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    if text.contains('\t') && text.lines().any(|l| l.starts_with('\t')) {
        return Err(unsupported("the file indents with tabs"));
    }
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push_str(nl);
    }
    let header_re = |l: &str| -> Option<String> {
        let rest = l.strip_prefix(key)?;
        let rest = rest.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with([' ', '\r', '\n', '\t'])) {
            return None;
        }
        Some(rest.to_string())
    };
    let header = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| header_re(l).map(|rest| (i, rest)));
    let Some((h, rest)) = header else {
        if add.is_empty() {
            return Ok(text.to_string());
        }
        let mut out: String = lines.concat();
        out.push_str(&format!("{}:{nl}", yaml_key(key)));
        for (name, value) in add {
            out.push_str(&yaml_render_entry(name, value, shape, 2, nl));
        }
        return Ok(out);
    };
    // What follows `key:` on its own line: nothing, a comment, or an empty flow collection.
    let (value_part, comment) = match rest.find(" #") {
        Some(p) => (rest[..p].trim().to_string(), rest[p..].trim().to_string()),
        None => (rest.trim().to_string(), String::new()),
    };
    let empty_flow = matches!(value_part.as_str(), "{}" | "[]" | "~" | "null");
    if !value_part.is_empty() && !empty_flow {
        return Err(unsupported("it is written in flow style on one line"));
    }
    if value_part.starts_with('&') || value_part.starts_with('*') {
        return Err(unsupported("it uses an anchor or alias"));
    }
    // The block: following lines until the next top-level content line.
    let mut end = h + 1;
    let mut last_content = h;
    while end < lines.len() {
        let l = &lines[end];
        if is_content(l) {
            let top = indent_of(l) == 0;
            let list_item = l.starts_with("- ") || l.trim_end() == "-";
            if top && !(shape == Shape::NamedList && list_item) {
                break;
            }
            if l.starts_with("---") || l.starts_with("...") {
                break;
            }
            last_content = end;
        }
        end += 1;
    }
    let body_end = last_content + 1; // exclusive; trailing comments/blank lines stay put
    let child_indent = lines[h + 1..body_end]
        .iter()
        .find(|l| is_content(l))
        .map(|l| indent_of(l));
    let mut starts = Vec::new();
    if let Some(ci) = child_indent {
        for (i, l) in lines.iter().enumerate().take(body_end).skip(h + 1) {
            if !is_content(l) {
                continue;
            }
            let ind = indent_of(l);
            if ind < ci {
                return Err(unsupported("its entries are not indented consistently"));
            }
            if ind == ci {
                let item = l[ci..].starts_with("- ") || l[ci..].trim_end() == "-";
                match shape {
                    Shape::Map if item => return Err(unsupported("expected a map, found a list")),
                    Shape::NamedList if !item => {
                        return Err(unsupported("expected a list, found a map"));
                    }
                    _ => starts.push(i),
                }
            }
        }
    }
    if !empty_flow && child_indent.is_none() && !value_part.is_empty() {
        return Err(unsupported("unexpected layout"));
    }
    let parsed = entries_at(&parse(text, FileFormat::Yaml)?, section, shape)?;
    if parsed.len() != starts.len() {
        return Err(unsupported(
            "its entries could not be matched line by line (anchors, merge keys or multi-line keys?)",
        ));
    }
    // Entry spans: start ..= last content line before the next start.
    let mut spans = Vec::new();
    for (n, &s) in starts.iter().enumerate() {
        let next = starts.get(n + 1).copied().unwrap_or(body_end);
        let mut e = s;
        for (i, l) in lines.iter().enumerate().take(next).skip(s) {
            if is_content(l) {
                e = i;
            }
        }
        spans.push((s, e));
    }
    // Comment lines directly above an entry (no blank line between) describe it: they go with it.
    let spans: Vec<(usize, usize)> = spans
        .into_iter()
        .zip(&parsed)
        .map(|((start, end), (name, _))| {
            let mut s = start;
            if remove.contains(name) {
                while s > h + 1 && lines[s - 1].trim_start().starts_with('#') {
                    s -= 1;
                }
            }
            (s, end)
        })
        .collect();
    let indent = child_indent.unwrap_or(2);
    let insert_at = spans.last().map(|&(_, e)| e + 1).unwrap_or(h + 1);
    let mut rendered = String::new();
    for (name, value) in add {
        rendered.push_str(&yaml_render_entry(name, value, shape, indent, nl));
    }
    let mut out = String::with_capacity(text.len() + rendered.len());
    for (i, line) in lines.iter().enumerate() {
        if i == h && empty_flow {
            let comment = if comment.is_empty() {
                String::new()
            } else {
                format!(" {comment}")
            };
            out.push_str(&format!("{}:{comment}{nl}", &line[..key.len()]));
        } else if !spans
            .iter()
            .zip(&parsed)
            .any(|(&(s, e), (name, _))| i >= s && i <= e && remove.contains(name))
        {
            out.push_str(line);
        }
        if i + 1 == insert_at {
            out.push_str(&rendered);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sec(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn jsonc_edit_keeps_comments_and_order() {
        let text = "{\n  // my settings\n  \"theme\": \"dark\", /* keep */\n  \"context_servers\": {\n    \"a\": {\"command\": \"x\"},\n    \"b\": {\"command\": \"y\"}, // trailing\n  },\n  \"z\": 1,\n}\n";
        let out = edit_entries(
            text,
            FileFormat::Json,
            &sec(&["context_servers"]),
            Shape::Map,
            &["a".into()],
            &[(
                "gateway".into(),
                json!({"command": "mcp-gateway", "args": []}),
            )],
        )
        .unwrap();
        assert!(
            out.contains("// my settings")
                && out.contains("/* keep */")
                && out.contains("// trailing"),
            "{out}"
        );
        assert!(!out.contains("\"a\""));
        let v = parse(&out, FileFormat::Json).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["theme", "context_servers", "z"]);
        assert_eq!(v["context_servers"]["gateway"]["command"], "mcp-gateway");
        // Idempotent: same request again changes nothing.
        let again = edit_entries(
            &out,
            FileFormat::Json,
            &sec(&["context_servers"]),
            Shape::Map,
            &["a".into()],
            &[(
                "gateway".into(),
                json!({"command": "mcp-gateway", "args": []}),
            )],
        )
        .unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn removing_an_entry_takes_its_comment_lines() {
        let text = "{\n  \"s\": {\n    \"keep\": 1, // about keep\n    // about gone\n    /* more */\n    \"gone\": 2,\n\n    // about last\n    \"last\": 3\n  }\n}\n";
        let out = edit_entries(
            text,
            FileFormat::Json,
            &sec(&["s"]),
            Shape::Map,
            &["gone".into()],
            &[],
        )
        .unwrap();
        assert!(
            !out.contains("about gone") && !out.contains("more"),
            "{out}"
        );
        assert!(
            out.contains("\"keep\": 1, // about keep\n")
                && out.contains("    // about last\n    \"last\": 3"),
            "{out}"
        );
        let yaml =
            "m:\n  a:\n    x: 1\n  # about b\n  b:\n    x: 2\n\n  # about c\n  c:\n    x: 3\n";
        let out = edit_entries(
            yaml,
            FileFormat::Yaml,
            &sec(&["m"]),
            Shape::Map,
            &["b".into()],
            &[],
        )
        .unwrap();
        assert_eq!(out, "m:\n  a:\n    x: 1\n\n  # about c\n  c:\n    x: 3\n");
    }

    #[test]
    fn json_creates_nested_sections_and_empty_files() {
        let out = edit_entries(
            "",
            FileFormat::Json,
            &sec(&["mcpServers"]),
            Shape::Map,
            &[],
            &[("g".into(), json!({"command": "c"}))],
        )
        .unwrap();
        assert_eq!(
            parse(&out, FileFormat::Json).unwrap(),
            json!({"mcpServers": {"g": {"command": "c"}}})
        );
        let text = "{\"projects\": {\"/p\": {\"allowedTools\": []}}}";
        let out = edit_entries(
            text,
            FileFormat::Json,
            &sec(&["projects", "/p", "mcpServers"]),
            Shape::Map,
            &[],
            &[("g".into(), json!({"command": "c"}))],
        )
        .unwrap();
        assert_eq!(
            parse(&out, FileFormat::Json).unwrap()["projects"]["/p"]["mcpServers"]["g"]["command"],
            "c"
        );
        let bad = edit_entries(
            "{\"mcpServers\": 3}",
            FileFormat::Json,
            &sec(&["mcpServers"]),
            Shape::Map,
            &[],
            &[("g".into(), json!({}))],
        );
        assert!(matches!(bad, Err(DocError::NotContainer { .. })), "{bad:?}");
        let broken = read_entries(
            "{\"mcpServers\": {",
            FileFormat::Json,
            &sec(&["mcpServers"]),
            Shape::Map,
        );
        assert!(
            matches!(broken, Err(DocError::Parse { line: 1, .. })),
            "{broken:?}"
        );
    }

    #[test]
    fn toml_edit_keeps_comments() {
        let text = "# codex\nmodel = \"o3\"\n\n[mcp_servers.fs]\n# the files\ncommand = \"npx\"\nargs = [\"-y\", \"fs\"]\n\n[mcp_servers.docs]\nurl = \"https://x/mcp\"\n\n[profiles.a]\nmodel = \"b\"\n";
        let before =
            read_entries(text, FileFormat::Toml, &sec(&["mcp_servers"]), Shape::Map).unwrap();
        assert_eq!(before.len(), 2);
        let out = edit_entries(
            text,
            FileFormat::Toml,
            &sec(&["mcp_servers"]),
            Shape::Map,
            &["fs".into()],
            &[(
                "gateway".into(),
                json!({"command": "mcp-gateway", "args": ["--config", "/p"]}),
            )],
        )
        .unwrap();
        assert!(out.starts_with("# codex\nmodel = \"o3\"\n"), "{out}");
        assert!(
            out.contains("[profiles.a]")
                && !out.contains("[mcp_servers.fs]")
                && out.contains("[mcp_servers.gateway]"),
            "{out}"
        );
        let after =
            read_entries(&out, FileFormat::Toml, &sec(&["mcp_servers"]), Shape::Map).unwrap();
        assert_eq!(
            after[1].1,
            json!({"command": "mcp-gateway", "args": ["--config", "/p"]})
        );
        let created = edit_entries(
            "",
            FileFormat::Toml,
            &sec(&["mcp_servers"]),
            Shape::Map,
            &[],
            &[("g".into(), json!({"command": "c", "args": []}))],
        )
        .unwrap();
        assert!(created.contains("[mcp_servers.g]"), "{created}");
    }

    #[test]
    fn yaml_map_edit() {
        let text = "# goose\nGOOSE_PROVIDER: openai\nextensions:\n  # builtin one\n  developer:\n    enabled: true\n    type: builtin\n    name: developer\n  github:\n    cmd: npx\n    args: [-y, \"@modelcontextprotocol/server-github\"]\n    envs: { GITHUB_TOKEN: \"ghp_x\" }\n    type: stdio\n\n# later\nGOOSE_MODEL: gpt\n";
        let out = edit_entries(text, FileFormat::Yaml, &sec(&["extensions"]), Shape::Map, &["github".into()], &[("gateway".into(), json!({"name": "gateway", "type": "stdio", "cmd": "mcp-gateway", "args": [], "enabled": true}))]).unwrap();
        assert!(
            out.contains("# builtin one") && out.contains("# later\nGOOSE_MODEL: gpt\n"),
            "{out}"
        );
        assert!(!out.contains("ghp_x"));
        assert!(out.contains("  gateway:\n    name: \"gateway\"\n"), "{out}");
        let v = parse(&out, FileFormat::Yaml).unwrap();
        assert_eq!(v["extensions"]["gateway"]["cmd"], "mcp-gateway");
        assert_eq!(v["GOOSE_MODEL"], "gpt");
    }

    #[test]
    fn yaml_list_edit_and_layouts() {
        let text = "name: cfg\nmcpServers:\n- name: SQLite\n  command: npx\n  args:\n    - \"-y\"\n    - mcp-sqlite\n- name: Docs # remote\n  type: sse\n  url: https://x/sse\nmodels: []\n";
        let out = edit_entries(
            text,
            FileFormat::Yaml,
            &sec(&["mcpServers"]),
            Shape::NamedList,
            &["SQLite".into()],
            &[(
                "gateway".into(),
                json!({"name": "gateway", "command": "mcp-gateway", "args": []}),
            )],
        )
        .unwrap();
        assert_eq!(
            out,
            "name: cfg\nmcpServers:\n- name: Docs # remote\n  type: sse\n  url: https://x/sse\n- name: \"gateway\"\n  command: \"mcp-gateway\"\n  args: []\nmodels: []\n"
        );
        let empty = edit_entries(
            "mcpServers: [] # none yet\n",
            FileFormat::Yaml,
            &sec(&["mcpServers"]),
            Shape::NamedList,
            &[],
            &[("g".into(), json!({"name": "g", "command": "c"}))],
        )
        .unwrap();
        assert_eq!(
            empty,
            "mcpServers: # none yet\n  - name: \"g\"\n    command: \"c\"\n"
        );
        let absent = edit_entries(
            "models: []",
            FileFormat::Yaml,
            &sec(&["mcpServers"]),
            Shape::NamedList,
            &[],
            &[("g".into(), json!({"name": "g", "command": "c"}))],
        )
        .unwrap();
        assert_eq!(
            absent,
            "models: []\nmcpServers:\n  - name: \"g\"\n    command: \"c\"\n"
        );
        let flow = edit_entries(
            "mcpServers: [{name: a, command: b}]\n",
            FileFormat::Yaml,
            &sec(&["mcpServers"]),
            Shape::NamedList,
            &["a".into()],
            &[],
        );
        assert!(
            matches!(flow, Err(DocError::Unsupported { .. })),
            "{flow:?}"
        );
        let crlf = edit_entries(
            "backends:\r\n  a:\r\n    command: x\r\n",
            FileFormat::Yaml,
            &sec(&["backends"]),
            Shape::Map,
            &[],
            &[("b".into(), json!({"command": "y"}))],
        )
        .unwrap();
        assert_eq!(
            crlf,
            "backends:\r\n  a:\r\n    command: x\r\n  b:\r\n    command: \"y\"\r\n"
        );
    }

    #[test]
    fn a_detached_toml_comment_block_stays_when_the_table_after_it_goes() {
        let t = "model = \"o3\"\n\n# ---- notes about everything below ----\n# keep this\n\n# the fetch server\n[mcp_servers.fetch]\ncommand = \"uvx\"\n\n[mcp_servers.time]\ncommand = \"uvx\"\n";
        let out = edit_entries(
            t,
            FileFormat::Toml,
            &sec(&["mcp_servers"]),
            Shape::Map,
            &["fetch".into()],
            &[],
        )
        .unwrap();
        assert_eq!(
            out,
            "model = \"o3\"\n\n# ---- notes about everything below ----\n# keep this\n\n[mcp_servers.time]\ncommand = \"uvx\"\n"
        );
        let last = "a = 1\n\n# trailing notes\n\n[mcp_servers.fetch]\ncommand = \"uvx\"\n";
        let out = edit_entries(
            last,
            FileFormat::Toml,
            &sec(&["mcp_servers"]),
            Shape::Map,
            &["fetch".into()],
            &[],
        )
        .unwrap();
        assert_eq!(out, "a = 1\n\n# trailing notes\n");
    }

    #[test]
    fn bom_crlf_and_lone_surrogates_are_kept() {
        let add = [("g".to_string(), json!({"command": "mcp-gateway"}))];
        let crlf = "# codex\r\n[mcp_servers.a]\r\ncommand = \"x\"\r\n";
        let out = edit_entries(
            crlf,
            FileFormat::Toml,
            &sec(&["mcp_servers"]),
            Shape::Map,
            &["a".into()],
            &add,
        )
        .unwrap();
        assert!(out.contains("[mcp_servers.g]\r\n"), "{out:?}");
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
        let bom = "\u{feff}{\"mcpServers\": {\"a\": {\"command\": \"x\"}}}";
        assert_eq!(
            read_entries(bom, FileFormat::Json, &sec(&["mcpServers"]), Shape::Map)
                .unwrap()
                .len(),
            1
        );
        let out = edit_entries(
            bom,
            FileFormat::Json,
            &sec(&["mcpServers"]),
            Shape::Map,
            &["a".into()],
            &add,
        )
        .unwrap();
        assert!(
            out.starts_with('\u{feff}') && out.contains("mcp-gateway"),
            "{out}"
        );
        // Half an emoji in a history entry, and a valid pair next to it.
        let lone = r#"{"history": ["cut \ud83d here", "\uD83D", "ok \ud83d\ude00"], "mcpServers": {"a": {"command": "x", "args": ["\udc00"]}}}"#;
        let read = read_entries(lone, FileFormat::Json, &sec(&["mcpServers"]), Shape::Map).unwrap();
        assert_eq!(read[0].1["args"][0], "\u{fffd}");
        let out = edit_entries(
            lone,
            FileFormat::Json,
            &sec(&["mcpServers"]),
            Shape::Map,
            &["a".into()],
            &add,
        )
        .unwrap();
        assert!(
            out.contains(r#"["cut \ud83d here", "\uD83D", "ok \ud83d\ude00"]"#),
            "{out}"
        );
        assert!(
            !out.contains(r#"\udc00"#) && out.contains("mcp-gateway"),
            "{out}"
        );
    }
}
