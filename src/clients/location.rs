//! One place in one file where a client keeps servers ([`Location`], with its [`Scope`]): its
//! entries read from the file's text, and that text rewritten with servers removed and added,
//! through `crate::docedit` (comments, unknown keys and order kept, every edit verified).
//! It never touches the filesystem (callers hand it the text; `crate::configedit` writes) and
//! never rewrites a file that does not parse.

use std::path::PathBuf;

use serde_json::Value;

use super::{Client, ClientError, Placeholders, Server, decode_entry};
use crate::docedit as doc;

/// One entry of a client location: its name and the server, or why it cannot be moved.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub server: Result<Server, String>,
}

/// Whether a location belongs to the user or to one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    User,
    Project,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }
}

/// One place in one file where a client keeps servers.
#[derive(Clone)]
pub struct Location {
    pub client: &'static dyn Client,
    pub scope: Scope,
    pub path: PathBuf,
    /// Key path from the document root to the server collection, e.g. `["mcpServers"]` or
    /// `["projects", "/abs/dir", "mcpServers"]`.
    pub section: Vec<String>,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("client", &self.client.id())
            .field("scope", &self.scope)
            .field("path", &self.path)
            .field("section", &self.section)
            .finish()
    }
}

impl Location {
    pub(crate) fn new(
        client: &'static dyn Client,
        scope: Scope,
        path: PathBuf,
        section: &[&str],
    ) -> Location {
        Location {
            client,
            scope,
            path,
            section: section.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `path` plus the section when it is not the client's usual top-level key (Claude Code's
    /// per-project entries), for messages.
    pub fn describe(&self) -> String {
        if self.section.len() > 1 {
            format!("{} ({})", self.path.display(), self.section.join(" › "))
        } else {
            self.path.display().to_string()
        }
    }

    /// Reads the entries of this location from `text`: each one decoded, or why it cannot be
    /// moved (a malformed entry, a placeholder the gateway cannot fill in). Only a file that does
    /// not parse is an error.
    pub fn entries(
        &self,
        text: &str,
        places: &Placeholders<'_>,
    ) -> Result<Vec<Entry>, ClientError> {
        let entries = doc::read_entries(
            text,
            self.client.format(),
            &self.section,
            self.client.shape(),
        )
        .map_err(|e| self.err(e))?;
        Ok(entries
            .into_iter()
            .map(|(name, value)| Entry {
                server: decode_entry(&name, &value, self.client, places),
                name,
            })
            .collect())
    }

    /// Returns `text` with the servers named in `remove` deleted and `add` appended (skipping
    /// names already present). Everything else in the file is kept as written.
    pub fn rewrite(
        &self,
        text: &str,
        remove: &[String],
        add: &[Server],
    ) -> Result<String, ClientError> {
        let add: Vec<(String, Value)> = add
            .iter()
            .map(|s| (s.name.clone(), self.client.encode(s)))
            .collect();
        doc::edit_entries(
            text,
            self.client.format(),
            &self.section,
            self.client.shape(),
            remove,
            &add,
        )
        .map_err(|e| self.err(e))
    }

    fn err(&self, source: doc::DocError) -> ClientError {
        ClientError::Doc {
            path: self.path.clone(),
            source,
        }
    }
}
