//! Child processes in their own process group, and the reaper that outlives the gateway.
//!
//! Every backend child is the leader of a fresh process group (so `npx`, `uvx` and `sh -c`
//! grandchildren go with it) and gets the parent-death signal on Linux. Each group is also
//! registered with a reaper: a tiny copy of this binary (`mcp-gateway __reaper`) that reads group
//! ids on its stdin and kills every registered group when that pipe closes, which happens however
//! the gateway dies, SIGKILL included (invariant 4). Nothing here decides *when* to stop a backend.

use std::io::{BufRead, Write};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sends `signal` to every process of group `pgid`. `false` when the group no longer exists.
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// Whether any process of group `pgid` is still alive.
pub fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, 0)
}

/// TERM the group, give it `grace`, then KILL whatever is left.
pub async fn terminate_group(pgid: u32, grace: Duration) {
    if !signal_group(pgid, libc::SIGTERM) {
        return;
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if !group_alive(pgid) {
            return;
        }
    }
    signal_group(pgid, libc::SIGKILL);
}

/// Configures `cmd` to start as a new process group leader that dies with the gateway.
pub fn isolate(cmd: &mut tokio::process::Command) {
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and only calls the async-signal-safe prctl.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
            Ok(())
        });
    }
}

/// The gateway's link to its reaper process.
pub struct Reaper {
    stdin: Mutex<Option<std::process::ChildStdin>>,
}

impl Reaper {
    /// Starts `current_exe __reaper`. `None` (with a warning) when that is impossible, e.g. when
    /// the library runs inside another program.
    pub fn start() -> Option<Reaper> {
        if std::env::var_os("MCP_GATEWAY_NO_REAPER").is_some() {
            return None;
        }
        let exe = std::env::current_exe().ok()?;
        let is_gateway = exe
            .file_stem()
            .is_some_and(|s| s.to_string_lossy().starts_with("mcp-gateway"));
        if !is_gateway {
            return None;
        }
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("__reaper")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // Its own group: a Ctrl-C aimed at the gateway's group must not kill it before it reaps.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match cmd.spawn() {
            Ok(mut child) => Some(Reaper {
                stdin: Mutex::new(child.stdin.take()),
            }),
            Err(e) => {
                tracing::warn!(
                    "cannot start the reaper process ({e}); backends may outlive a killed gateway"
                );
                None
            }
        }
    }

    fn send(&self, line: &str) {
        let mut guard = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stdin) = guard.as_mut()
            && writeln!(stdin, "{line}")
                .and_then(|_| stdin.flush())
                .is_err()
        {
            *guard = None;
        }
    }

    pub fn register(&self, pgid: u32) {
        self.send(&format!("+{pgid}"));
    }

    pub fn unregister(&self, pgid: u32) {
        self.send(&format!("-{pgid}"));
    }
}

/// Body of `mcp-gateway __reaper`: track groups until stdin closes, then kill them all.
pub fn run_reaper() {
    // Ignore the signals a terminal sends to a foreground job; EOF on stdin is our only cue.
    // SAFETY: installing SIG_IGN has no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let mut groups = std::collections::BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (op, id) = line.split_at(line.len().min(1));
        if let Ok(pgid) = id.parse::<u32>() {
            match op {
                "+" => {
                    groups.insert(pgid);
                }
                "-" => {
                    groups.remove(&pgid);
                }
                _ => {}
            }
        }
    }
    for &g in &groups {
        signal_group(g, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && groups.iter().any(|&g| group_alive(g)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &g in &groups {
        signal_group(g, libc::SIGKILL);
    }
}
