//! Config errors: every variant names the file and, where known, the line and key.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: unknown key `{key}`{}", path.display(), suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        path: PathBuf,
        line: usize,
        /// Dotted path of the offending key, e.g. `backends.files.comand`.
        key: String,
        suggestion: Option<String>,
    },
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}:{line}: `{key}`: environment variable `{var}` is not set (use `${{{var}:-default}}` for a fallback)", path.display())]
    MissingEnv {
        path: PathBuf,
        line: usize,
        key: String,
        var: String,
    },
}
