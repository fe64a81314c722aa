//! A live connection to a backend, whatever its transport. The [`Peer`] is the same for
//! all of them; only how bytes move and how the connection ends differ.

use std::sync::Arc;
use std::time::Duration;

use super::http::HttpConnection;
use super::stdio::StdioConnection;
use crate::peer::Peer;
use crate::peer::local::LocalConnection;

#[derive(Clone)]
pub enum Connection {
    Stdio(Arc<StdioConnection>),
    Http(Arc<HttpConnection>),
    /// An in-process server (the capabilities, the skills).
    Local(Arc<LocalConnection>),
}

impl Connection {
    pub fn peer(&self) -> &Arc<Peer> {
        match self {
            Connection::Stdio(c) => &c.peer,
            Connection::Http(c) => &c.peer,
            Connection::Local(c) => &c.peer,
        }
    }

    /// `None` while usable, else why it ended.
    pub fn exit_detail(&self) -> Option<String> {
        match self {
            Connection::Stdio(c) => c.exit_detail(),
            Connection::Http(c) => c.exit_detail(),
            Connection::Local(c) => c.exit_detail(),
        }
    }

    /// How the connection ended, as a watch that does not keep the connection alive: `Some`
    /// once a process exited or a server became unreachable. `None` for an in-process
    /// server, which does not end on its own.
    pub fn exit_watch(&self) -> Option<tokio::sync::watch::Receiver<Option<String>>> {
        match self {
            Connection::Stdio(c) => Some(c.exit_watch()),
            Connection::Http(c) => Some(c.exit_watch()),
            Connection::Local(_) => None,
        }
    }

    /// Tells the transport which protocol version was negotiated (HTTP sends it as a header).
    pub fn set_protocol_version(&self, version: &str) {
        if let Connection::Http(c) = self {
            c.set_protocol_version(version);
        }
    }

    /// Ends the connection in order (for stdio: stdin closed, SIGTERM, SIGKILL of the group).
    pub async fn shutdown(&self, grace: Duration) {
        match self {
            Connection::Stdio(c) => c.shutdown(grace).await,
            Connection::Http(c) => c.shutdown(grace).await,
            Connection::Local(c) => c.shutdown(grace).await,
        }
    }
}
