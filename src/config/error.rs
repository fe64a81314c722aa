//! Config errors: every variant names the file and, where known, the line, column and key.
//!
//! Owns only the error type and its wording; it never decides what is an error.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", at(path, *line, *column))]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: unknown key `{key}`{}", at(path, *line, *column), crate::suggest::phrase(suggestion.as_deref()))]
    UnknownKey {
        path: PathBuf,
        line: usize,
        /// 1-based; 0 when unknown.
        column: usize,
        /// Dotted path of the offending key, e.g. `backends.files.comand`.
        key: String,
        suggestion: Option<String>,
    },
    #[error("{}: `{key}`: {message}", at(path, *line, *column))]
    Invalid {
        path: PathBuf,
        line: usize,
        /// 1-based; 0 when unknown.
        column: usize,
        key: String,
        message: String,
    },
    #[error("{}: `{key}`: environment variable `{var}` is not set (use `${{{var}:-default}}` for a fallback)", at(path, *line, *column))]
    MissingEnv {
        path: PathBuf,
        line: usize,
        /// 1-based; 0 when unknown.
        column: usize,
        key: String,
        var: String,
    },
}

/// `file:line:column`, leaving out what is unknown (0).
fn at(path: &Path, line: usize, column: usize) -> String {
    match (line, column) {
        (0, _) => path.display().to_string(),
        (l, 0) => format!("{}:{l}", path.display()),
        (l, c) => format!("{}:{l}:{c}", path.display()),
    }
}

/// A file (a capability, a skill, …) that was not loaded as written, and why: where (file, line,
/// dotted key) and what kind of problem, `K` being the owner's own classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem<K> {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Dotted key; `None` for the whole file.
    pub key: Option<String>,
    pub message: String,
    pub kind: K,
}

impl<K> std::fmt::Display for FileProblem<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}
