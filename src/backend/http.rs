//! Remote backends over HTTP: Streamable HTTP and legacy HTTP+SSE (being written).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::HttpSpec;
use crate::router::{Peer, Unrouted};

pub struct HttpConnection {
    pub peer: Arc<Peer>,
}

impl HttpConnection {
    pub async fn connect(
        backend: &str,
        spec: &HttpSpec,
        _timeout: Duration,
    ) -> Result<(Arc<HttpConnection>, mpsc::UnboundedReceiver<Unrouted>), String> {
        let _ = backend;
        Err(format!(
            "remote backends ({}) are not supported yet",
            spec.url
        ))
    }

    pub fn exit_detail(&self) -> Option<String> {
        None
    }

    pub fn set_protocol_version(&self, _version: &str) {}

    pub async fn shutdown(&self, _grace: Duration) {}
}
