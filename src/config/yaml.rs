//! YAML text → a location-annotated node tree.
//!
//! Owns reading the project's hand-written YAML files (`gateway.yaml` and capability files): the
//! one call into `serde-saphyr` (YAML 1.2 booleans only) and [`Node`]s that remember the line and
//! column of every key and value, so later stages can name the exact spot of a problem
//! ([`Node::locate`] finds a dotted key). It never interprets keys or values (that is the
//! schema's job) and never expands variables: the tree holds the file's text exactly as written,
//! so a variable's value can never become YAML syntax.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::ConfigError;

/// A 1-based position in the config file (0 when the parser could not tell).
/// Ordered by line, then column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(loc: &serde_saphyr::Location) -> Pos {
        Pos {
            line: usize::try_from(loc.line()).unwrap_or(usize::MAX),
            column: usize::try_from(loc.column()).unwrap_or(usize::MAX),
        }
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// A mapping key: always text (numbers and booleans keep their spelling).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `~`, `null` or an empty value.
    Null,
    /// A quoted or plain string.
    Str(String),
    /// A plain scalar YAML reads as a boolean or number; `raw` is its spelling in the file, so a
    /// string-typed key (`args: [0755, 1.10, on]`) gets exactly what was written.
    Typed {
        raw: String,
        kind: TypedKind,
    },
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TypedKind {
    Bool(bool),
    Int(i128),
    Float(f64),
}

impl Value {
    /// What this node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Str(_) => "a string",
            Value::Typed {
                kind: TypedKind::Bool(_),
                ..
            } => "a boolean",
            Value::Typed {
                kind: TypedKind::Int(_),
                ..
            } => "an integer",
            Value::Typed {
                kind: TypedKind::Float(_),
                ..
            } => "a number",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The position of the key at `dotted` (`providers.primary.config.method`), or of its
    /// nearest ancestor key that exists; `None` when not even the first key exists. List items
    /// are transparent (`list.b` finds `b` inside an item of `list`), and a key that itself
    /// contains dots is matched whole.
    pub(crate) fn locate(&self, dotted: &str) -> Option<Pos> {
        if dotted.is_empty() {
            return None;
        }
        match &self.value {
            Value::Map(entries) => {
                let mut ancestor = None;
                for (key, node) in entries {
                    let name = key.name.as_str();
                    if dotted == name {
                        return Some(key.pos);
                    }
                    let Some(rest) = dotted.strip_prefix(name).and_then(|r| r.strip_prefix('.'))
                    else {
                        continue;
                    };
                    match node.locate(rest) {
                        Some(pos) => return Some(pos),
                        None => {
                            ancestor.get_or_insert(key.pos);
                        }
                    }
                }
                ancestor
            }
            Value::Seq(items) => items.iter().find_map(|n| n.locate(dotted)),
            _ => None,
        }
    }

    /// The tree as JSON: keys as text, booleans and numbers as JSON booleans and numbers (a
    /// number JSON cannot hold keeps its spelling as a string).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Str(s) => J::String(s.clone()),
            Value::Typed { raw, kind } => match *kind {
                TypedKind::Bool(b) => J::Bool(b),
                TypedKind::Int(i) => i64::try_from(i)
                    .map(J::from)
                    .or_else(|_| u64::try_from(i).map(J::from))
                    .unwrap_or_else(|_| J::String(raw.clone())),
                TypedKind::Float(f) => serde_json::Number::from_f64(f)
                    .map(J::Number)
                    .unwrap_or_else(|| J::String(raw.clone())),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses `text` (read from `path`, used in messages) into a node tree. An empty file or a file
/// holding only comments is an empty mapping.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Node, ConfigError> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        // YAML 1.2 booleans only: `on`/`no`/`y` stay strings.
        strict_booleans: true,
    };
    let parsed: Result<Option<Spanned<RawValue>>, _> =
        serde_saphyr::from_str_with_options(text, options);
    match parsed {
        Ok(Some(root)) => Ok(finish(root, text)),
        Ok(None) => Ok(Node {
            value: Value::Map(Vec::new()),
            pos: Pos { line: 1, column: 1 },
        }),
        Err(err) => {
            let pos = err.location().map(|l| Pos::of(&l)).unwrap_or_default();
            Err(ConfigError::Syntax {
                path: path.to_path_buf(),
                line: pos.line,
                column: pos.column,
                message: syntax_message(&err),
            })
        }
    }
}

/// The parser's message without its own location suffix (ours goes in front).
fn syntax_message(err: &serde_saphyr::Error) -> String {
    let options = serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let text = err.without_snippet().render_with_options(options);
    let text = match text.rfind(" at line ") {
        Some(i) if text[i..].contains("column") => text[..i].to_string(),
        _ => text,
    };
    text.trim().to_string()
}

/// Intermediate tree straight out of serde: positions are attached by `Spanned`.
enum RawValue {
    Null,
    Str(String),
    Typed(TypedKind),
    Seq(Vec<Spanned<RawValue>>),
    Map(Vec<(Spanned<RawKey>, Spanned<RawValue>)>),
}

struct RawKey(String);

fn finish(raw: Spanned<RawValue>, text: &str) -> Node {
    let pos = Pos::of(&raw.referenced);
    let value = match raw.value {
        RawValue::Null => Value::Null,
        RawValue::Str(s) => Value::Str(s),
        RawValue::Typed(kind) => Value::Typed {
            raw: source_text(&raw.referenced, text).unwrap_or_else(|| typed_fallback(kind)),
            kind,
        },
        RawValue::Seq(items) => Value::Seq(items.into_iter().map(|n| finish(n, text)).collect()),
        RawValue::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key {
                        name: k.value.0,
                        pos: Pos::of(&k.referenced),
                    };
                    (key, finish(v, text))
                })
                .collect(),
        ),
    };
    Node { value, pos }
}

/// The exact spelling of a plain scalar, from its byte span.
fn source_text(loc: &serde_saphyr::Location, text: &str) -> Option<String> {
    let span = loc.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let s = text.get(start..start.checked_add(len)?)?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn typed_fallback(kind: TypedKind) -> String {
    match kind {
        TypedKind::Bool(b) => b.to_string(),
        TypedKind::Int(i) => i.to_string(),
        TypedKind::Float(f) => f.to_string(),
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Typed(TypedKind::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Typed(TypedKind::Int(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        Ok(RawValue::Typed(TypedKind::Int(v.into())))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawValue, E> {
        Ok(RawValue::Typed(TypedKind::Int(v)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawValue, E> {
        i128::try_from(v)
            .map(|i| RawValue::Typed(TypedKind::Int(i)))
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Typed(TypedKind::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawValue, E> {
        String::from_utf8(v.to_vec())
            .map(RawValue::Str)
            .map_err(|_| E::custom("binary value is not UTF-8 text"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawValue>>()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<RawKey>>()? {
            let value = map.next_value::<Spanned<RawValue>>()?;
            entries.push((key, value));
        }
        Ok(RawValue::Map(entries))
    }
}

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = RawKey;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a plain key (text, number or boolean)")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawKey, E> {
        Ok(RawKey(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawKey, E> {
        Ok(RawKey(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawKey, E> {
        Ok(RawKey(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawKey, E> {
        Ok(RawKey(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawKey, E> {
        Ok(RawKey(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawKey, E> {
        Ok(RawKey(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawKey, E> {
        Err(E::custom("a key cannot be empty or null"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Node {
        parse(text, Path::new("t.yaml")).unwrap()
    }

    fn entries(n: &Node) -> &[(Key, Node)] {
        match &n.value {
            Value::Map(e) => e,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn keys_and_values_carry_lines_and_columns() {
        let root = p(
            "# comment\nserver:\n  port: 39400\n  host: \"h\"\nbackends:\n  a:\n    args: [x, 0755, 1.10, on, true]\n",
        );
        let e = entries(&root);
        assert_eq!(e[0].0.name, "server");
        assert_eq!(e[0].0.pos, Pos { line: 2, column: 1 });
        let server = entries(&e[0].1);
        assert_eq!(server[0].0.pos, Pos { line: 3, column: 3 });
        assert_eq!(server[0].1.pos, Pos { line: 3, column: 9 });
        assert!(matches!(
            &server[0].1.value,
            Value::Typed { raw, kind: TypedKind::Int(39400) } if raw == "39400"
        ));
        assert_eq!(server[1].1.value, Value::Str("h".into()));
        let a = entries(&entries(&e[1].1)[0].1);
        let Value::Seq(args) = &a[0].1.value else {
            panic!("args not a seq")
        };
        let spelled: Vec<String> = args
            .iter()
            .map(|n| match &n.value {
                Value::Str(s) => s.clone(),
                Value::Typed { raw, .. } => raw.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(spelled, ["x", "0755", "1.10", "on", "true"]);
        assert_eq!(args[1].pos.line, 7);
    }

    #[test]
    fn empty_file_is_an_empty_map() {
        assert_eq!(p("").value, Value::Map(Vec::new()));
        assert_eq!(p("# only a comment\n").value, Value::Map(Vec::new()));
    }

    #[test]
    fn empty_value_is_null() {
        let root = p("backends:\n");
        assert_eq!(entries(&root)[0].1.value, Value::Null);
    }

    #[test]
    fn bad_yaml_is_a_syntax_error_with_position() {
        let err = parse("server:\n  port: [1, 2\nlog: {}\n", Path::new("/x/g.yaml")).unwrap_err();
        let ConfigError::Syntax {
            path,
            line,
            message,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(path, Path::new("/x/g.yaml"));
        assert!(*line >= 2, "{err}");
        assert!(!message.is_empty());
        assert!(err.to_string().starts_with("/x/g.yaml:"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_a_syntax_error() {
        let err = parse("server: {}\nserver: {}\n", Path::new("g.yaml")).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("g.yaml:2:1: duplicate mapping key `server`"),
            "{msg}"
        );
    }

    #[test]
    fn locates_nested_keys_lists_and_nearest_ancestors() {
        // The cases of the capability loader's former line index.
        let text = "name: x\ndescription: |\n  not: a key\nproviders:\n  primary:\n    config:\n      method: GET\n      headers:\n        \"X-Key\": v\nlist:\n  - a: 1\n    b: 2\n";
        let root = p(text);
        let line = |k: &str| root.locate(k).map(|p| p.line);
        assert_eq!(line("name"), Some(1));
        assert_eq!(line("description.not"), Some(2));
        assert_eq!(line("providers.primary.config.method"), Some(7));
        assert_eq!(line("providers.primary.config.headers.X-Key"), Some(9));
        assert_eq!(line("providers.primary.config.nope"), Some(6));
        assert_eq!(line("list.b"), Some(12));
        assert_eq!(line("missing"), None);
        assert_eq!(line(""), None);
        let dotted = p("headers:\n  x.key: 1\n");
        assert_eq!(dotted.locate("headers.x.key").map(|p| p.line), Some(2));
    }

    #[test]
    fn to_json_keeps_types_and_yaml_1_2_booleans() {
        let root = p("a: [1, -2, 1.5, true, null, \"s\"]\nb: {on: off, n: y}\n");
        assert_eq!(
            root.to_json(),
            serde_json::json!({
                "a": [1, -2, 1.5, true, null, "s"],
                "b": {"on": "off", "n": "y"}
            })
        );
    }
}
