//! `${VAR}` / `${VAR:-default}` expansion and `~` expansion of single config values.
//!
//! Owns the expansion grammar: `${NAME}` is the variable's value (an error when unset),
//! `${NAME:-text}` falls back to `text` (which may itself contain `${…}`) when the variable is
//! unset or empty, `$$` is a literal `$`, and any other `$` is kept as written. It works on one
//! already-parsed value at a time and never on YAML text, so a variable's value can never inject
//! keys. It reads the environment only through the lookup it is given.

use std::path::{Path, PathBuf};

/// How expansion sees the outside world. Tests pass a map; real loads pass the process env.
pub(crate) trait Vars {
    /// The variable's value, `None` when unset (or not valid UTF-8).
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub(crate) struct ProcessEnv;

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
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ExpandError {
    /// `${NAME}` with `NAME` unset and no default.
    Missing(String),
    /// Malformed `${…}`; the text explains.
    Syntax(String),
}

/// Expands every `${…}` and `$$` in `text`.
pub(super) fn expand(text: &str, vars: &dyn Vars) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = matching_brace(body_and_tail).ok_or_else(|| {
                ExpandError::Syntax(format!(
                    "`${{` without a closing `}}` in `{text}` (write `$$` for a literal `$`)"
                ))
            })?;
            out.push_str(&substitute(&body_and_tail[..end], vars)?);
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
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

fn substitute(body: &str, vars: &dyn Vars) -> Result<String, ExpandError> {
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    if !is_var_name(name) {
        return Err(ExpandError::Syntax(format!(
            "`${{{body}}}`: `{name}` is not a variable name (letters, digits and `_`, not starting with a digit; `${{NAME:-default}}` for a fallback)"
        )));
    }
    match (vars.var(name), default) {
        (Some(v), Some(_)) if !v.is_empty() => Ok(v),
        (Some(v), None) => Ok(v),
        (_, Some(default)) => expand(default, vars),
        (None, None) => Err(ExpandError::Missing(name.to_string())),
    }
}

fn is_var_name(name: &str) -> bool {
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
