//! String templates used in capability files: `{arg}` (a tool argument), `{env.VAR}`,
//! `${VAR}` and `${VAR:-default}` (the environment, read at call time).
//!
//! Owns parsing a template once at load time and rendering it per call. It never reads files or
//! the network; how a rendered argument is encoded (URL path, query, header) is the caller's
//! choice through [`Encoding`].

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Characters escaped in a URL path segment: everything except RFC 3986 unreserved characters
/// and `@` / `:` (allowed in segments; registries expect `@scope%2Fname`).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b':')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where does the environment come from: the process, or a fixed map (tests, dry runs).
pub trait EnvSource: Send + Sync + std::fmt::Debug {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed set of variables, consulted before falling back to nothing.
#[derive(Debug, Default, Clone)]
pub struct MapEnv(pub std::collections::BTreeMap<String, String>);

impl EnvSource for MapEnv {
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

/// Is `name` a valid environment variable name?
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Is `name` a plausible argument name inside `{…}` (so JSON-ish braces stay literal)?
fn is_arg_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | '$'))
}

impl Template {
    /// Parses `text`. Braces that do not form a placeholder stay literal text.
    pub fn parse(text: &str) -> Template {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("${")
                && let Some(end) = after.find('}')
            {
                let inner = &after[..end];
                let (var, default) = match inner.split_once(":-") {
                    Some((v, d)) => (v, Some(d.to_string())),
                    None => (inner, None),
                };
                if is_env_name(var) {
                    push_literal(&mut segments, &mut literal);
                    segments.push(Segment::Env {
                        var: var.to_string(),
                        default,
                    });
                    rest = &after[end + 1..];
                    continue;
                }
            }
            if let Some(after) = rest.strip_prefix('{')
                && let Some(end) = after.find('}')
            {
                let inner = &after[..end];
                if let Some(var) = inner.strip_prefix("env.")
                    && is_env_name(var)
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
        Template { segments }
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
                Segment::Env { var, default } => match (env.var(var), default) {
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => return Err(RenderError::MissingEnv(var.clone())),
                },
            }
        }
        Ok(out)
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
        let t = Template::parse("${BASE:-https://x.test}/v1/{id}/{env.TOKEN}?{\"json\": 1}");
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
        let t = Template::parse("${BASE:-http://default}/x");
        let env = MapEnv([("BASE".to_string(), "http://127.0.0.1:9".to_string())].into());
        assert_eq!(
            t.render(&obj(json!({})), &env, Encoding::Raw).unwrap(),
            "http://127.0.0.1:9/x"
        );
        let t = Template::parse("Bearer ${API_TOKEN}");
        assert_eq!(
            t.render(&obj(json!({})), &MapEnv::default(), Encoding::Raw),
            Err(RenderError::MissingEnv("API_TOKEN".to_string()))
        );
    }

    #[test]
    fn missing_arg_and_sole_arg() {
        let t = Template::parse("{count}");
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
        assert_eq!(Template::parse("x{count}").sole_arg(), None);
    }
}
