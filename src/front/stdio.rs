//! The stdio front: one client on a newline-delimited JSON-RPC stream (stdin/stdout in
//! production, any reader and writer in tests).
//!
//! Owns the line framing in both directions (a line cap, non-UTF-8 and oversized lines answered
//! with an error) and the writer task that drains the session's sink. When the stream ends it
//! closes the session and lets messages already queued reach the client (bounded).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::gateway::Gateway;
use crate::jsonrpc::{ErrorObject, Id, LineReader, Message, ReadLine};
use crate::session::Session;

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
    serve_as(gateway, Caller::local(), "stdio", reader, writer).await
}

/// Serves one client known as `caller` (reached over `front`) over a line stream.
pub async fn serve_as<R, W>(
    gateway: Arc<Gateway>,
    caller: Caller,
    front: &'static str,
    reader: R,
    writer: W,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer_task = tokio::spawn(async move {
        let mut writer = writer;
        while let Some(mut line) = out_rx.recv().await {
            line.push('\n');
            if writer.write_all(line.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
    });
    let session = Session::open_as(gateway, out.clone(), caller, front);
    let reject = |msg: Message| {
        let _ = out.send(msg.to_json());
    };

    let mut lines = LineReader::new(reader, MAX_CLIENT_LINE);
    let read = loop {
        match lines.next_line().await {
            Ok(ReadLine::Line(line)) => session.receive(&line),
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
    session.close();
    drop(session);
    drop(out);
    // Let responses already queued reach the client.
    let _ = tokio::time::timeout(FLUSH_GRACE, writer_task).await;
    read
}
