//! A stdio backend connection: one child process speaking newline-delimited JSON-RPC.
//!
//! Owns the child's pipes: a writer task feeding stdin, a reader task that frames stdout (skipping
//! and logging overlong or non-JSON lines, never answering them, but failing at once the request
//! an overlong reply answers) and hands messages to the [`Peer`], and a task draining stderr into
//! the log under the backend's name (lossy UTF-8, lines capped, until the pipe closes). It knows
//! how to shut its process group down; it never decides when.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::oversize;
use super::process::{self, Reaper};
use crate::config::StdioSpec;
use crate::jsonrpc::{ErrorObject, LineReader, Message, ReadLine, code};
use crate::peer::{Peer, Unrouted};

/// Longest stdout line accepted from a backend; longer lines are skipped and logged, and the
/// request such a reply answers fails at once ("too large").
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// Longest stderr line logged; longer ones are skipped (never buffered) and reading goes on.
pub const MAX_STDERR_LINE_BYTES: usize = 64 * 1024;

/// A running child process.
pub struct StdioConnection {
    pub peer: Arc<Peer>,
    pgid: u32,
    /// This process's [`process::ORIGIN_VAR`] tag, inherited by its descendants.
    origin: String,
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
        let origin = process::origin_tag();
        cmd.env(process::ORIGIN_VAR, &origin);
        let spawned = process::spawn_own(|| {
            cmd.spawn().map(|c| {
                let pid = c.id();
                (c, pid)
            })
        });
        let mut child = spawned.map_err(|e| {
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

        // stderr drain: lossy (one bad byte must not end it: the child would die of SIGPIPE)
        // and capped (a line without end must not grow memory); it reads until the pipe closes.
        let name = backend.to_string();
        tokio::spawn(async move {
            let mut lines = LineReader::lossy(BufReader::new(stderr), MAX_STDERR_LINE_BYTES);
            loop {
                match lines.next_line().await {
                    Ok(ReadLine::Line(line)) => {
                        tracing::info!(target: "mcp_gateway::backend_stderr", backend = %name, "{line}")
                    }
                    Ok(ReadLine::TooLong(n)) => tracing::info!(
                        target: "mcp_gateway::backend_stderr",
                        backend = %name,
                        "(skipped a stderr line of {n} bytes; limit {MAX_STDERR_LINE_BYTES})"
                    ),
                    // Lossy reading never reports NotUtf8.
                    Ok(ReadLine::NotUtf8) => {}
                    Ok(ReadLine::Eof) | Err(_) => break,
                }
            }
        });

        // stdout reader; also reaps the child when stdout closes
        let name = backend.to_string();
        let reader_peer = Arc::clone(&peer);
        let reader_reaper = reaper.clone();
        let reader_origin = origin.clone();
        tokio::spawn(async move {
            let (edges, last_line) = oversize::Edges::new(stdout);
            let mut reader = LineReader::new(edges, MAX_LINE_BYTES);
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
                    Ok(ReadLine::TooLong(n)) => {
                        let edges = last_line.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        too_long(&name, &reader_peer, &edges, n);
                    }
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
            process::forget_own(pgid);
            tracing::info!(backend = %name, "process {status}");
            // Marked ended before the calls in flight fail: a caller (or a retry) that saw its
            // call fail starts a new process instead of meeting this one.
            let _ = exited_tx.send(Some(status.clone()));
            reader_peer.close(&status);
            // Grandchildren may outlive the leader; the group dies with it, and so do those
            // that left the group.
            process::terminate_group(pgid, Duration::from_secs(1)).await;
            process::kill_orphans(Some(&reader_origin), Duration::from_secs(1)).await;
            if let Some(r) = &reader_reaper {
                r.unregister(pgid);
            }
        });

        Ok((
            Arc::new(StdioConnection {
                peer,
                pgid,
                origin,
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

    /// `Some(detail)` once the child has exited.
    pub fn exit_watch(&self) -> watch::Receiver<Option<String>> {
        self.exited.clone()
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
        // The leader is gone; what is left of its group gets TERM, then KILL after `grace`.
        process::terminate_group(self.pgid, grace).await;
        process::kill_orphans(Some(&self.origin), grace).await;
        if let Some(r) = &self.reaper {
            r.unregister(self.pgid);
        }
    }
}

/// An overlong stdout line was skipped: the request it answers (if its id can be read from the
/// line's ends) fails at once instead of waiting out its timeout.
fn too_long(name: &str, peer: &Peer, edges: &oversize::LineEdges, n: usize) {
    let mib = MAX_LINE_BYTES / (1024 * 1024);
    match oversize::reply_id(edges) {
        Some(id) => {
            tracing::warn!(backend = %name, %id, "skipping a reply of {n} bytes (limit {mib} MiB)");
            let error = ErrorObject::new(
                code::INTERNAL_ERROR,
                format!(
                    "the reply was too large: {n} bytes, more than the {mib} MiB a backend reply may have"
                ),
            );
            peer.dispatch(Message::error(id, error));
        }
        None => tracing::warn!(
            backend = %name,
            "skipping stdout line of {n} bytes (limit {mib} MiB)"
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CallError;
    use crate::peer::CallContext;

    /// A call that failed because the process died is seen after the connection is marked
    /// ended, so the caller's retry starts a new process (see `Backend::ensure_live`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_failed_by_an_exit_finds_the_exit_already_known() {
        let spec = StdioSpec {
            program: "sh".into(),
            args: vec!["-c".into(), "read -r line; exit 3".into()],
            env: Default::default(),
            cwd: None,
        };
        let (conn, _unrouted) = StdioConnection::spawn("dies", &spec, None).expect("spawn sh");
        let reply = conn
            .peer
            .request(
                "ping",
                None,
                &CallContext::default(),
                Duration::from_secs(30),
            )
            .await;
        assert!(
            matches!(&reply, Err(CallError::Disconnected { detail, .. }) if detail == "exited with status 3"),
            "{reply:?}"
        );
        assert_eq!(conn.exit_detail().as_deref(), Some("exited with status 3"));
    }
}
