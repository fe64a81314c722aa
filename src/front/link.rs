//! A session reached by messages instead of a byte stream: the seam between fronts that are not
//! one long-lived line stream (HTTP requests, stateless-era calls) and [`crate::session`].
//!
//! Owns running one session in process, handing it the messages a front sends and giving back,
//! parsed, the messages it sends. What the session sends passes through the same bounded
//! [`outbox`] as on stdio (responses always kept, notifications coalesced and capped), so a
//! reader that stops reading costs bounded memory. Dropping the [`Link`] closes the session,
//! which cancels what is still in flight. It never interprets a message: routing what comes
//! back is the front's job.
//!
//! No pipes, no framing and no task per direction: a message costs one serialization and one
//! parse each way and one hand-over (session → outbox → reader).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::outbox::{self, Drain};
use crate::auth::Caller;
use crate::gateway::Gateway;
use crate::jsonrpc::Message;
use crate::session::{Session, Surface};

/// One session, open while this value lives.
pub struct Link {
    session: Arc<Session>,
}

/// What the session sends, in order; ends when the session is closed and everything it sent
/// was read.
pub struct LinkRx {
    drain: Drain,
}

impl Link {
    /// Starts a session on `gateway` for `caller`, reached over `front`, showing `surface` (the
    /// session shows and reaches only what the caller's scope permits); messages it sends
    /// arrive on the returned receiver.
    pub fn open(
        gateway: Arc<Gateway>,
        caller: Caller,
        front: &'static str,
        surface: Surface,
    ) -> (Link, LinkRx) {
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (outbox, drain) = outbox::channel();
        // The session's sink is drained at once into the bounded outbox (a loop without I/O).
        tokio::spawn(async move {
            while let Some(line) = out_rx.recv().await {
                let _ = outbox.push(line);
            }
        });
        let session = Session::open_on(gateway, out, caller, front, surface);
        (Link { session }, LinkRx { drain })
    }

    /// Sends one message to the session.
    pub fn send(&self, msg: &Message) {
        self.session.receive(&msg.to_json());
    }

    /// The client capabilities a backend asked for on this session without the session's
    /// client having declared them.
    pub fn refused_capabilities(&self) -> Vec<&'static str> {
        self.session.refused_capabilities()
    }

    /// Sends one message already serialized (one JSON-RPC message).
    pub fn send_raw(&self, line: String) {
        self.session.receive(&line);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.session.close();
    }
}

impl LinkRx {
    /// The next message the session sent; `None` once it is closed and nothing is left.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            let line = self.drain.next().await?;
            match Message::parse(&line) {
                Ok(msg) => return Some(msg),
                Err(e) => tracing::warn!("session wrote an unreadable message: {e}"),
            }
        }
    }
}
