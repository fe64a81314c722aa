//! String templates used in capability files: `{arg}` (a tool argument), `{env.VAR}`, and the
//! project's one `${VAR}` / `${VAR:-default}` / `$$` grammar (`crate::config::expand`), all read
//! from the environment at call time.
//!
//! Owns parsing a template once at load time and rendering it per call. It never reads files or
//! the network; how a rendered argument is encoded (URL path, query, header) is the caller's
//! choice through [`Encoding`].

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

pub use crate::config::expand::ProcessEnv;
use crate::config::expand::{self, Dollar, ExpandError, Vars};

/// Characters escaped in a URL path segment: everything except RFC 3986 unreserved characters
/// and `@` / `:` (allowed in segments; registries expect `@scope%2Fname`).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b':')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the environment comes from: the process ([`ProcessEnv`]), or a fixed map (tests, dry
/// runs). Any shareable [`Vars`] is one.
pub trait EnvSource: Vars + Send + Sync + std::fmt::Debug {}

impl<T: Vars + Send + Sync + std::fmt::Debug> EnvSource for T {}

/// A fixed set of variables, consulted before falling back to nothing.
#[derive(Debug, Default, Clone)]
pub struct MapEnv(pub std::collections::BTreeMap<String, String>);

impl Vars for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Arg(String),
    Env {
        var: String,
        default: Option<String>,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// How a rendered argument value is written into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is (headers, query values that are encoded later, text bodies).
    Raw,
    /// Percent-encoded as one URL path segment (`/` becomes `%2F`).
    PathSegment,
}

/// Why rendering failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("argument `{0}` is needed but was not given")]
    MissingArg(String),
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
}

/// A malformed `${…}` in a template; the text explains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// Is `name` a plausible argument name inside `{…}` (so JSON-ish braces stay literal)?
fn is_arg_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | '$'))
}

impl Template {
    /// Parses `text`. Braces that do not form a placeholder stay literal text; a malformed
    /// `${…}` is an error (write `$$` for a literal `$`).
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            if rest.starts_with('$') {
                let (construct, len) = expand::dollar(rest, text).map_err(|e| match e {
                    ExpandError::Syntax(m) | ExpandError::Missing(m) => TemplateError(m),
                })?;
                match construct {
                    Dollar::Plain => literal.push('$'),
                    Dollar::Escape => {
                        literal.push('$');
                        // `$${…}` is the text `${…}`: its brace does not open an `{arg}`, and
                        // what follows is read on as everywhere else (`$$` in it is still `$`).
                        if let Some(after) = rest[len..].strip_prefix('{') {
                            literal.push('{');
                            rest = after;
                            continue;
                        }
                    }
                    Dollar::Var { name, default } => {
                        // A default is itself a value of the grammar: check it now, not per call.
                        if let Some(d) = default {
                            Template::parse(d)?;
                        }
                        push_literal(&mut segments, &mut literal);
                        segments.push(Segment::Env {
                            var: name.to_string(),
                            default: default.map(str::to_string),
                        });
                    }
                }
                rest = &rest[len..];
                continue;
            }
            if let Some(after) = rest.strip_prefix('{')
                && let Some(end) = after.find('}')
            {
                let inner = &after[..end];
                if let Some(var) = inner.strip_prefix("env.")
                    && expand::is_var_name(var)
                {
                    push_literal(&mut segments, &mut literal);
                    segments.push(Segment::Env {
                        var: var.to_string(),
                        default: None,
                    });
                    rest = &after[end + 1..];
                    continue;
                }
                if is_arg_name(inner) {
                    push_literal(&mut segments, &mut literal);
                    segments.push(Segment::Arg(inner.to_string()));
                    rest = &after[end + 1..];
                    continue;
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                literal.push(c);
            }
            rest = chars.as_str();
        }
        push_literal(&mut segments, &mut literal);
        Ok(Template { segments })
    }

    /// Argument names this template reads.
    pub fn args(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Arg(a) => Some(a.as_str()),
            _ => None,
        })
    }

    /// Environment variables this template reads (with no default).
    pub fn required_env(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Env { var, default: None } => Some(var.as_str()),
            _ => None,
        })
    }

    /// Every environment variable this template reads directly (with or without a default).
    pub fn env_vars(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Env { var, .. } => Some(var.as_str()),
            _ => None,
        })
    }

    /// Arguments in the path of a URL template: those before any literal `?` or `#`.
    pub fn path_args(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for s in &self.segments {
            match s {
                Segment::Literal(l) if l.contains(['?', '#']) => break,
                Segment::Arg(a) => out.push(a.as_str()),
                _ => {}
            }
        }
        out
    }

    /// Can no argument change the host of this URL template? True when every `{arg}` comes
    /// after a `/` that ends the authority: written after `://`, or, when a variable supplies the
    /// start of the URL, written after the last variable before the first argument. A template
    /// without arguments is fixed.
    pub fn host_is_fixed(&self) -> bool {
        let mut tail = String::new();
        for s in &self.segments {
            match s {
                Segment::Literal(l) => tail.push_str(l),
                Segment::Env { .. } => tail.clear(),
                Segment::Arg(_) => return authority_closed(&tail),
            }
        }
        true
    }

    /// The rendered text before the first `{arg}`; `None` when the template reads no argument.
    pub fn render_prefix(&self, env: &dyn EnvSource) -> Option<Result<String, RenderError>> {
        let first_arg = self
            .segments
            .iter()
            .position(|s| matches!(s, Segment::Arg(_)))?;
        let head = Template {
            segments: self.segments[..first_arg].to_vec(),
        };
        Some(head.render(&serde_json::Map::new(), env, Encoding::Raw))
    }

    /// The argument name when the whole template is exactly one `{arg}` placeholder.
    pub fn sole_arg(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [Segment::Arg(a)] => Some(a),
            _ => None,
        }
    }

    /// Renders with `args` (a JSON object) and `env`.
    pub fn render(
        &self,
        args: &serde_json::Map<String, Value>,
        env: &dyn EnvSource,
        encoding: Encoding,
    ) -> Result<String, RenderError> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => out.push_str(l),
                Segment::Arg(a) => {
                    let value = args
                        .get(a)
                        .filter(|v| !v.is_null())
                        .ok_or_else(|| RenderError::MissingArg(a.clone()))?;
                    let text = scalar_text(value);
                    match encoding {
                        Encoding::Raw => out.push_str(&text),
                        Encoding::PathSegment => {
                            let _ = write!(out, "{}", utf8_percent_encode(&text, PATH_SEGMENT));
                        }
                    }
                }
                Segment::Env { var, default } => {
                    let value = expand::resolve(var, default.as_deref(), env).map_err(|e| {
                        RenderError::MissingEnv(match e {
                            ExpandError::Missing(name) => name,
                            // Defaults were checked by `parse`; name the variable regardless.
                            ExpandError::Syntax(_) => var.clone(),
                        })
                    })?;
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }
}

/// Does `text` (the start of a URL) contain the `/` that ends the authority? After `://` when
/// the text has one, anywhere otherwise.
pub fn authority_closed(text: &str) -> bool {
    match text.find("://") {
        Some(i) => text[i + 3..].contains('/'),
        None => text.contains('/'),
    }
}

fn push_literal(segments: &mut Vec<Segment>, literal: &mut String) {
    if !literal.is_empty() {
        segments.push(Segment::Literal(std::mem::take(literal)));
    }
}

/// A JSON value as text: strings bare, everything else as JSON.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parses_args_env_and_literals() {
        let t =
            Template::parse("${BASE:-https://x.test}/v1/{id}/{env.TOKEN}?{\"json\": 1}").unwrap();
        assert_eq!(t.args().collect::<Vec<_>>(), vec!["id"]);
        assert_eq!(t.required_env().collect::<Vec<_>>(), vec!["TOKEN"]);
        let env = MapEnv([("TOKEN".to_string(), "t0k".to_string())].into());
        let out = t
            .render(&obj(json!({"id": "a b/c"})), &env, Encoding::PathSegment)
            .unwrap();
        assert_eq!(out, "https://x.test/v1/a%20b%2Fc/t0k?{\"json\": 1}");
    }

    #[test]
    fn env_overrides_default_and_missing_env_is_named() {
        let t = Template::parse("${BASE:-http://default}/x").unwrap();
        let env = MapEnv([("BASE".to_string(), "http://127.0.0.1:9".to_string())].into());
        assert_eq!(
            t.render(&obj(json!({})), &env, Encoding::Raw).unwrap(),
            "http://127.0.0.1:9/x"
        );
        let t = Template::parse("Bearer ${API_TOKEN}").unwrap();
        assert_eq!(
            t.render(&obj(json!({})), &MapEnv::default(), Encoding::Raw),
            Err(RenderError::MissingEnv("API_TOKEN".to_string()))
        );
    }

    #[test]
    fn missing_arg_and_sole_arg() {
        let t = Template::parse("{count}").unwrap();
        assert_eq!(t.sole_arg(), Some("count"));
        assert_eq!(
            t.render(&obj(json!({})), &ProcessEnv, Encoding::Raw),
            Err(RenderError::MissingArg("count".to_string()))
        );
        assert_eq!(
            t.render(&obj(json!({"count": 3})), &ProcessEnv, Encoding::Raw)
                .unwrap(),
            "3"
        );
        assert_eq!(Template::parse("x{count}").unwrap().sole_arg(), None);
    }

    #[test]
    fn shares_the_config_grammar_for_empty_values_escapes_and_nesting() {
        let env = MapEnv(
            [
                ("EMPTY".to_string(), String::new()),
                ("TOKEN".to_string(), "t0k".to_string()),
            ]
            .into(),
        );
        let render = |text: &str| {
            Template::parse(text)
                .unwrap()
                .render(&obj(json!({})), &env, Encoding::Raw)
        };
        // Same answers as `config::expand` gives for the same text.
        for text in [
            "${EMPTY:-used when empty}",
            "${EMPTY}",
            "${NOPE:-${TOKEN}}",
            "${NOPE:-a:-b}",
            "$${TOKEN}",
            "cost: $5 and $$",
            "$TOKEN",
        ] {
            let config = expand::expand(text, &env).unwrap();
            assert_eq!(render(text).unwrap(), config, "{text}");
        }
        assert_eq!(render("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(render("${EMPTY}").unwrap(), "");
        assert_eq!(render("$${TOKEN}").unwrap(), "${TOKEN}");
        assert_eq!(
            render("${NOPE:-${ALSO_NOPE}}"),
            Err(RenderError::MissingEnv("ALSO_NOPE".to_string()))
        );
        for bad in ["${TOKEN", "${1X}", "${A B}", "${}", "${X:-${Y}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
