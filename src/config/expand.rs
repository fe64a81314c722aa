//! `${VAR}` / `${VAR:-default}` expansion and `~` expansion of single config values.
//!
//! Owns the one `${…}` grammar of the project, used by `gateway.yaml` values and by capability
//! templates alike: `${NAME}` is the variable's value (an error when unset; empty when set to
//! the empty string), `${NAME:-text}` falls back to `text` (which may itself contain `${…}`) when
//! the variable is unset or empty, `$$` is a literal `$`, and any other `$` is kept as written. It
//! works on one already-parsed value at a time and never on YAML text, so a variable's value can
//! never inject keys. It reads the environment only through the [`Vars`] it is given.

use std::path::{Path, PathBuf};

/// How expansion sees the outside world. Tests pass a map or a closure; real loads pass the
/// process env.
pub trait Vars {
    /// The variable's value, `None` when unset (or not valid UTF-8).
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// `${NAME}` with `NAME` unset and no default.
    Missing(String),
    /// Malformed `${…}`; the text explains.
    Syntax(String),
}

/// What a `$` at the start of a text begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dollar<'a> {
    /// `$$`: a literal `$`.
    Escape,
    /// `${NAME}` or `${NAME:-default}` (the default not yet expanded).
    Var {
        name: &'a str,
        default: Option<&'a str>,
    },
    /// Any other `$`: kept as written.
    Plain,
}

/// Reads the construct that starts `s` (which starts with `$`) and the number of bytes it spans.
/// `text` is the whole value, for messages.
pub fn dollar<'a>(s: &'a str, text: &str) -> Result<(Dollar<'a>, usize), ExpandError> {
    let after = s.strip_prefix('$').unwrap_or(s);
    if after.starts_with('$') {
        return Ok((Dollar::Escape, 2));
    }
    let Some(body_and_tail) = after.strip_prefix('{') else {
        return Ok((Dollar::Plain, 1));
    };
    let end = matching_brace(body_and_tail).ok_or_else(|| {
        ExpandError::Syntax(format!(
            "`${{` without a closing `}}` in `{text}` (write `$$` for a literal `$`)"
        ))
    })?;
    let body = &body_and_tail[..end];
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    if !is_var_name(name) {
        return Err(ExpandError::Syntax(format!(
            "`${{{body}}}`: `{name}` is not a variable name (letters, digits and `_`, not starting with a digit; `${{NAME:-default}}` for a fallback)"
        )));
    }
    Ok((Dollar::Var { name, default }, end + 3))
}

/// Expands every `${…}` and `$$` in `text`.
pub fn expand(text: &str, vars: &dyn Vars) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let (construct, len) = dollar(&rest[i..], text)?;
        match construct {
            Dollar::Escape | Dollar::Plain => out.push('$'),
            Dollar::Var { name, default } => out.push_str(&resolve(name, default, vars)?),
        }
        rest = &rest[i + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `${name}` / `${name:-default}`: the variable when set (and, with a default,
/// not empty), else the default, itself expanded.
pub fn resolve(name: &str, default: Option<&str>, vars: &dyn Vars) -> Result<String, ExpandError> {
    match (vars.var(name), default) {
        (Some(v), Some(_)) if !v.is_empty() => Ok(v),
        (Some(v), None) => Ok(v),
        (_, Some(default)) => expand(default, vars),
        (None, None) => Err(ExpandError::Missing(name.to_string())),
    }
}

/// Index of the `}` closing a `${` whose body starts at `s[0]`, counting nested `${…}`.
fn matching_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Is `name` a variable name (letters, digits and `_`, not starting with a digit)?
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Expands a leading `~` (alone or followed by `/`) to `home`. `None` home with a `~` path:
/// `Err` with a message.
pub(super) fn tilde(text: &str, home: Option<&Path>) -> Result<String, String> {
    let rest = match text.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Ok(text.to_string()),
    };
    let home = home.ok_or_else(|| format!("cannot expand `~` in `{text}`: HOME is not set"))?;
    let mut s = home.to_string_lossy().into_owned();
    s.push_str(rest);
    Ok(s)
}

/// `text` as a path: `~` expanded, relative paths joined to `base` (the config file's directory).
pub(super) fn path(text: &str, home: Option<&Path>, base: &Path) -> Result<PathBuf, String> {
    let p = PathBuf::from(tilde(text, home)?);
    Ok(if p.is_absolute() { p } else { base.join(p) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME_DIR" => Some("/home/me".into()),
            "EMPTY" => Some(String::new()),
            "TOKEN" => Some("s3cr3t".into()),
            "YAMLISH" => Some("x\nkey: {evil: 1}".into()),
            _ => None,
        }
    }

    fn ex(s: &str) -> Result<String, ExpandError> {
        expand(s, &env)
    }

    #[test]
    fn variables_defaults_and_escapes() {
        assert_eq!(ex("Bearer ${TOKEN}").unwrap(), "Bearer s3cr3t");
        assert_eq!(ex("${HOME_DIR}/x:${TOKEN}").unwrap(), "/home/me/x:s3cr3t");
        assert_eq!(ex("${NOPE:-fallback}").unwrap(), "fallback");
        assert_eq!(ex("${NOPE:-}").unwrap(), "");
        assert_eq!(ex("${EMPTY:-used when empty}").unwrap(), "used when empty");
        assert_eq!(ex("${EMPTY}").unwrap(), "");
        assert_eq!(ex("${NOPE:-${TOKEN}}").unwrap(), "s3cr3t");
        assert_eq!(ex("${NOPE:-a:-b}").unwrap(), "a:-b");
        assert_eq!(ex("$${TOKEN}").unwrap(), "${TOKEN}");
        assert_eq!(ex("cost: $5 and $$").unwrap(), "cost: $5 and $");
        assert_eq!(ex("$TOKEN").unwrap(), "$TOKEN");
        assert_eq!(ex("no vars").unwrap(), "no vars");
        assert_eq!(ex("${YAMLISH}").unwrap(), "x\nkey: {evil: 1}");
    }

    #[test]
    fn missing_and_malformed() {
        assert_eq!(ex("a ${NOPE} b"), Err(ExpandError::Missing("NOPE".into())));
        assert_eq!(
            ex("${NOPE:-${ALSO_NOPE}}"),
            Err(ExpandError::Missing("ALSO_NOPE".into()))
        );
        assert!(matches!(ex("${TOKEN"), Err(ExpandError::Syntax(m)) if m.contains("closing")));
        assert!(matches!(ex("${}"), Err(ExpandError::Syntax(_))));
        assert!(matches!(ex("${1X}"), Err(ExpandError::Syntax(_))));
        assert!(matches!(ex("${A B}"), Err(ExpandError::Syntax(_))));
    }

    #[test]
    fn tilde_and_relative_paths() {
        let home = Some(Path::new("/home/me"));
        assert_eq!(tilde("~", home).unwrap(), "/home/me");
        assert_eq!(tilde("~/x", home).unwrap(), "/home/me/x");
        assert_eq!(tilde("~other/x", home).unwrap(), "~other/x");
        assert_eq!(tilde("a/~", home).unwrap(), "a/~");
        assert!(tilde("~/x", None).unwrap_err().contains("HOME"));
        let base = Path::new("/proj");
        assert_eq!(
            path("caps", home, base).unwrap(),
            PathBuf::from("/proj/caps")
        );
        assert_eq!(
            path("./caps", home, base).unwrap(),
            PathBuf::from("/proj/./caps")
        );
        assert_eq!(path("/abs", home, base).unwrap(), PathBuf::from("/abs"));
        assert_eq!(
            path("~/c", home, base).unwrap(),
            PathBuf::from("/home/me/c")
        );
    }
}
