//! The stdio front: one client on a newline-delimited JSON-RPC stream (stdin/stdout in
//! production, any reader and writer in tests).
//!
//! Both protocol eras per message: a request carrying the 2026-07-28 `_meta` is served by
//! [`super::modern::StreamEra`], everything else by the stream's legacy session.
//!
//! Owns the line framing in both directions (a line cap, non-UTF-8 and oversized lines answered
//! with an error) and the writer task that drains the session's sink through a bounded
//! [`outbox`] (a client that stops reading costs bounded memory; responses are never dropped). When the stream ends it
//! closes the session and lets messages already queued reach the client (bounded).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::modern::{RequestScope, StreamEra};
use super::outbox;
use crate::auth::Caller;
use crate::gateway::Gateway;
use crate::jsonrpc::{ErrorObject, Id, LineReader, Message, ReadLine};
use crate::session::{Session, Surface};

/// Longest line accepted from a client.
const MAX_CLIENT_LINE: usize = 64 * 1024 * 1024;
/// How long queued messages get to reach the client after its stream ended.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// Serves one local client over a line stream until it closes; then closes the session.
pub async fn serve<R, W>(gateway: Arc<Gateway>, reader: R, writer: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    serve_as(
        gateway,
        Caller::local(),
        "stdio",
        Surface::Gateway,
        reader,
        writer,
    )
    .await
}

/// Serves one client known as `caller` (reached over `front`, shown `surface`) over a line
/// stream.
pub async fn serve_as<R, W>(
    gateway: Arc<Gateway>,
    caller: Caller,
    front: &'static str,
    surface: Surface,
    reader: R,
    writer: W,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // The session's sink is drained at once into the bounded outbox (a loop without I/O), and
    // the writer takes from the outbox as fast as the client reads.
    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let (outbox, mut drain) = outbox::channel();
    let counters = outbox.counters();
    tokio::spawn(async move {
        while let Some(line) = out_rx.recv().await {
            // Once the client cannot be written to, lines are read and discarded.
            let _ = outbox.push(line);
        }
    });
    let writer_task = tokio::spawn(async move {
        let mut writer = writer;
        while let Some(mut line) = drain.next().await {
            line.push('\n');
            if writer.write_all(line.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
    });
    let era = StreamEra::new(
        Arc::clone(&gateway),
        RequestScope {
            surface: surface.clone(),
            caller: caller.clone(),
            front,
        },
        out.clone(),
    );
    let session = Session::open_on(gateway, out.clone(), caller, front, surface);
    let reject = |msg: Message| {
        let _ = out.send(msg.to_json());
    };

    let mut lines = LineReader::new(reader, MAX_CLIENT_LINE);
    let read = loop {
        match lines.next_line().await {
            Ok(ReadLine::Line(line)) => {
                if !era.take(&line) {
                    session.receive(&line)
                }
            }
            Ok(ReadLine::TooLong(n)) => {
                tracing::warn!("client sent a line of {n} bytes; skipped");
                reject(Message::error(
                    Id::Null,
                    ErrorObject::invalid_request(format!(
                        "message of {n} bytes is too long (at most {MAX_CLIENT_LINE})"
                    )),
                ));
            }
            Ok(ReadLine::NotUtf8) => reject(Message::error(
                Id::Null,
                ErrorObject::parse_error("message is not UTF-8"),
            )),
            Ok(ReadLine::Eof) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if read.is_ok() {
        tracing::info!("client closed the connection");
    }
    era.close();
    drop(era);
    session.close();
    drop(session);
    drop(out);
    let stats = counters.get();
    if stats.dropped > 0 {
        tracing::warn!(
            "dropped {} notifications for a client that read too slowly; at most {} were queued \
             at once ({} bytes); responses were all kept",
            stats.dropped,
            stats.peak_notifications,
            stats.peak_bytes
        );
    }
    // Let responses already queued reach the client.
    let _ = tokio::time::timeout(FLUSH_GRACE, writer_task).await;
    read
}
