//! A session reached by messages instead of a byte stream: the seam between fronts that are not
//! one long-lived line stream (HTTP requests, stateless-era calls) and [`crate::session`].
//!
//! Owns running one session over in-memory pipes, writing messages into it and reading the
//! messages it sends back. Dropping the [`Link`] closes the session's input, which makes the
//! session cancel what is still in flight. It never interprets a message: routing what comes
//! back is the front's job.

use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::gateway::Gateway;
use crate::jsonrpc::{LineReader, Message, ReadLine};
use crate::session::Surface;

/// Size of each in-memory pipe between a front and its session.
const PIPE_BYTES: usize = 64 * 1024;
/// Longest line read back from the session (its own cap on client lines is the same order).
const MAX_LINE: usize = 64 * 1024 * 1024;

/// One session, open while this value lives.
pub struct Link {
    input: mpsc::UnboundedSender<String>,
}

impl Link {
    /// Starts a session on `gateway` for `caller`, reached over `front`, showing `surface` (the
    /// session shows and reaches only what the caller's scope permits); messages it sends
    /// arrive on the returned receiver, which closes when the session ends.
    pub fn open(
        gateway: Arc<Gateway>,
        caller: Caller,
        front: &'static str,
        surface: Surface,
    ) -> (Link, mpsc::UnboundedReceiver<Message>) {
        let (client_in, session_in) = tokio::io::duplex(PIPE_BYTES);
        let (session_out, client_out) = tokio::io::duplex(PIPE_BYTES);
        let (input, mut input_rx) = mpsc::unbounded_channel::<String>();
        let (output, output_rx) = mpsc::unbounded_channel::<Message>();

        tokio::spawn(async move {
            let mut w = client_in;
            while let Some(mut line) = input_rx.recv().await {
                line.push('\n');
                if w.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
            // Dropping the writer is the session's end of input.
        });
        tokio::spawn(async move {
            let served = crate::front::stdio::serve_as(
                gateway,
                caller,
                front,
                surface,
                BufReader::new(session_in),
                session_out,
            )
            .await;
            if let Err(e) = served {
                tracing::debug!("linked session ended: {e}");
            }
        });
        tokio::spawn(async move {
            let mut lines = LineReader::new(BufReader::new(client_out), MAX_LINE);
            loop {
                match lines.next_line().await {
                    Ok(ReadLine::Line(line)) => match Message::parse(&line) {
                        Ok(msg) => {
                            if output.send(msg).is_err() {
                                break;
                            }
                        }
                        Err(e) => tracing::warn!("session wrote an unreadable message: {e}"),
                    },
                    Ok(ReadLine::TooLong(n)) => {
                        tracing::warn!("session wrote a message of {n} bytes; dropped")
                    }
                    Ok(ReadLine::NotUtf8) => tracing::warn!("session wrote a non-UTF-8 line"),
                    Ok(ReadLine::Eof) | Err(_) => break,
                }
            }
        });
        (Link { input }, output_rx)
    }

    /// Sends one message to the session.
    pub fn send(&self, msg: &Message) {
        let _ = self.input.send(msg.to_json());
    }

    /// Sends one message already serialized (one line of JSON, no newline).
    pub fn send_raw(&self, line: String) {
        let _ = self.input.send(line);
    }
}
