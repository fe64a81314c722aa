//! A stdio backend connection: one child process speaking newline-delimited JSON-RPC.
//!
//! Owns the child's pipes: a writer task feeding stdin, a reader task that frames stdout (skipping
//! and logging overlong or non-JSON lines, never answering them) and hands messages to the
//! [`Peer`], and a task draining stderr into the log under the backend's name. It knows
//! how to shut its process group down; it never decides when.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::process::{self, Reaper};
use crate::config::StdioSpec;
use crate::jsonrpc::{LineReader, Message, ReadLine};
use crate::peer::{Peer, Unrouted};

/// Longest stdout line accepted from a backend; longer lines are skipped and logged.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// A running child process.
pub struct StdioConnection {
    pub peer: Arc<Peer>,
    pgid: u32,
    close_stdin: CancellationToken,
    /// `Some(detail)` once the child has exited, e.g. "exited with status 1".
    exited: watch::Receiver<Option<String>>,
    reaper: Option<Arc<Reaper>>,
}

impl StdioConnection {
    /// Starts the child. Messages the [`Peer`] does not consume arrive on the returned receiver.
    pub fn spawn(
        backend: &str,
        spec: &StdioSpec,
        reaper: Option<Arc<Reaper>>,
    ) -> Result<(Arc<StdioConnection>, mpsc::UnboundedReceiver<Unrouted>), String> {
        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(&spec.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(false);
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        process::isolate(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| {
            let mut msg = format!("cannot start `{}`: {e}", spec.program);
            if let Some(cwd) = spec.cwd.as_ref().filter(|c| !c.is_dir()) {
                msg.push_str(&format!(" (cwd {} does not exist)", cwd.display()));
            }
            msg
        })?;
        let pgid = child.id().unwrap_or(0);
        if let Some(r) = &reaper {
            r.register(pgid);
        }
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("child process has no pipes".to_string());
        };

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let peer = Arc::new(Peer::new(backend, out_tx));
        let close_stdin = CancellationToken::new();
        let (exited_tx, exited) = watch::channel(None);
        let (unrouted_tx, unrouted_rx) = mpsc::unbounded_channel();

        // stdin writer
        let closing = close_stdin.clone();
        let name = backend.to_string();
        tokio::spawn(async move {
            let mut stdin = stdin;
            loop {
                let line = tokio::select! {
                    line = out_rx.recv() => line,
                    _ = closing.cancelled() => None,
                };
                let Some(mut line) = line else { break };
                line.push('\n');
                if let Err(e) = stdin.write_all(line.as_bytes()).await {
                    tracing::debug!(backend = %name, "stdin closed: {e}");
                    break;
                }
                let _ = stdin.flush().await;
            }
        });

        // stderr drain
        let name = backend.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(target: "mcp_gateway::backend_stderr", backend = %name, "{line}");
            }
        });

        // stdout reader; also reaps the child when stdout closes
        let name = backend.to_string();
        let reader_peer = Arc::clone(&peer);
        let reader_reaper = reaper.clone();
        tokio::spawn(async move {
            let mut reader = LineReader::new(BufReader::new(stdout), MAX_LINE_BYTES);
            loop {
                match reader.next_line().await {
                    Ok(ReadLine::Line(line)) => match Message::parse(&line) {
                        Ok(msg) => {
                            if let Some(u) = reader_peer.dispatch(msg) {
                                let _ = unrouted_tx.send(u);
                            }
                        }
                        Err(e) => tracing::warn!(
                            backend = %name,
                            "skipping stdout line that is not JSON-RPC ({e}): {}",
                            preview(&line)
                        ),
                    },
                    Ok(ReadLine::TooLong(n)) => tracing::warn!(
                        backend = %name,
                        "skipping stdout line of {n} bytes (limit {MAX_LINE_BYTES})"
                    ),
                    Ok(ReadLine::NotUtf8) => {
                        tracing::warn!(backend = %name, "skipping stdout line that is not UTF-8")
                    }
                    Ok(ReadLine::Eof) | Err(_) => break,
                }
            }
            let status = match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
                Ok(Ok(s)) => describe_exit(s),
                Ok(Err(e)) => format!("exited ({e})"),
                Err(_) => {
                    // stdout closed but the process lives on: it cannot serve us any more.
                    process::terminate_group(pgid, Duration::from_secs(1)).await;
                    let _ = child.wait().await;
                    "closed its stdout".to_string()
                }
            };
            tracing::info!(backend = %name, "process {status}");
            reader_peer.close(&status);
            // Grandchildren may outlive the leader; the group dies with it.
            process::terminate_group(pgid, Duration::from_secs(1)).await;
            if let Some(r) = &reader_reaper {
                r.unregister(pgid);
            }
            let _ = exited_tx.send(Some(status));
        });

        Ok((
            Arc::new(StdioConnection {
                peer,
                pgid,
                close_stdin,
                exited,
                reaper,
            }),
            unrouted_rx,
        ))
    }

    /// `None` while running, else how it ended.
    pub fn exit_detail(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// Graceful stop: close stdin, wait `grace`, then TERM and KILL the whole group.
    pub async fn shutdown(&self, grace: Duration) {
        self.close_stdin.cancel();
        let mut exited = self.exited.clone();
        let ended = tokio::time::timeout(grace, exited.wait_for(Option::is_some))
            .await
            .is_ok();
        if !ended {
            process::terminate_group(self.pgid, grace).await;
            let _ = tokio::time::timeout(grace, exited.wait_for(Option::is_some)).await;
        }
        self.peer.close("was stopped");
        if process::group_alive(self.pgid) {
            process::signal_group(self.pgid, libc::SIGKILL);
        }
        if let Some(r) = &self.reaper {
            r.unregister(self.pgid);
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "exited".to_string(),
    }
}

/// The first characters of a line, for logs.
pub fn preview(line: &str) -> String {
    const MAX: usize = 160;
    if line.len() <= MAX {
        return line.to_string();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &line[..end], line.len())
}
