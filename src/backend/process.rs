//! Child processes in their own process group, and the reaper that outlives the gateway.
//!
//! Every backend child is the leader of a fresh process group (so `npx`, `uvx` and `sh -c`
//! grandchildren go with it) and gets the parent-death signal on Linux. Each group is also
//! registered with a reaper: a tiny copy of this binary (`mcp-gateway __reaper`) that reads group
//! ids on its stdin and kills every registered group when that pipe closes, which happens however
//! the gateway dies, SIGKILL included (invariant 4). Nothing here decides *when* to stop a backend.
//!
//! A descendant that calls `setsid` leaves its backend's group. Two things catch it: every
//! backend child carries [`ORIGIN_VAR`] = `<gateway pid>.<n>` in its environment, which its
//! descendants inherit, and on Linux the gateway is the *child subreaper* of its descendants
//! ([`become_subreaper`]), so such a process re-parents to the gateway when its parent dies.
//! When a backend stops, [`kill_orphans`] kills (and reaps) the gateway's children it never
//! started that carry that backend's tag; at shutdown, every one carrying a tag of this gateway;
//! the reaper, after a SIGKILL of the gateway, kills every process carrying one. A descendant
//! that both leaves the group and clears its environment is not caught.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Set on every backend child: `<gateway pid>.<n>`, inherited by its descendants.
pub const ORIGIN_VAR: &str = "MCP_GATEWAY_ORIGIN";

static NEXT_ORIGIN: AtomicU64 = AtomicU64::new(1);
/// Children this process started on purpose (backend leaders, the reaper): never orphans.
static OWN_CHILDREN: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// A new origin tag for one backend process.
pub fn origin_tag() -> String {
    format!(
        "{}.{}",
        std::process::id(),
        NEXT_ORIGIN.fetch_add(1, Ordering::Relaxed)
    )
}

/// Makes this process the child subreaper of its descendants (Linux; elsewhere a no-op):
/// an orphaned descendant re-parents here instead of to init, so [`kill_orphans`] finds it.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) only sets a flag of this process.
    unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) == 0 {
            SUBREAPER.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `spawn` (which starts one child and returns its pid) so that no concurrent
/// [`kill_orphans`] can mistake the new child for an orphan.
pub fn spawn_own<T, E>(spawn: impl FnOnce() -> Result<(T, Option<u32>), E>) -> Result<T, E> {
    let mut own = OWN_CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    let (child, pid) = spawn()?;
    own.extend(pid);
    Ok(child)
}

/// `pid`, a child started with [`spawn_own`], has been reaped.
pub fn forget_own(pid: u32) {
    OWN_CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&pid);
}

/// The value of [`ORIGIN_VAR`] in the environment of `pid`, if readable.
fn origin_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{ORIGIN_VAR}=");
    environ.split(|&b| b == 0).find_map(|kv| {
        kv.strip_prefix(prefix.as_bytes())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    })
}

/// `(pid, parent pid)` of every process in /proc.
fn processes() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect()
}

/// Does `origin` match `wanted`: that exact tag, or (`None`) any tag of gateway `gateway`?
fn origin_matches(origin: &str, wanted: Option<&str>, gateway: u32) -> bool {
    match wanted {
        Some(tag) => origin == tag,
        None => origin
            .split_once('.')
            .is_some_and(|(pid, _)| pid == gateway.to_string()),
    }
}

/// SIGTERM, then after `grace` SIGKILL, to each pid and the group it leads (if it leads one).
fn signal_each(pids: &[u32], signal: i32) {
    for &pid in pids {
        let Ok(p) = i32::try_from(pid) else { continue };
        // SAFETY: getpgid and kill have no memory-safety preconditions.
        unsafe {
            if libc::getpgid(p) == p {
                libc::kill(-p, signal);
            }
            libc::kill(p, signal);
        }
    }
}

/// Kills the children of this process that it never started (descendants of backends that left
/// their process group and re-parented here, see [`become_subreaper`]) and carry `origin` (any
/// tag of this gateway when `None`), with the groups they lead: SIGTERM, `grace`, SIGKILL; then
/// reaps them. Their own orphans re-parent here in turn and are taken in the next round.
pub async fn kill_orphans(origin: Option<&str>, grace: Duration) {
    if !SUBREAPER.load(Ordering::Relaxed) {
        return;
    }
    let me = std::process::id();
    for _ in 0..4 {
        let orphans: Vec<u32> = {
            let own = OWN_CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
            processes()
                .into_iter()
                .filter(|&(pid, ppid)| ppid == me && !own.contains(&pid))
                .filter(|&(pid, _)| origin_of(pid).is_some_and(|o| origin_matches(&o, origin, me)))
                .map(|(pid, _)| pid)
                .collect()
        };
        if orphans.is_empty() {
            return;
        }
        tracing::info!(
            ?orphans,
            "stopping processes that left their backend's process group"
        );
        signal_each(&orphans, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        let mut left = orphans.clone();
        while !left.is_empty() {
            left.retain(|&pid| !reaped(pid));
            if Instant::now() >= deadline {
                signal_each(&left, libc::SIGKILL);
                let hard = Instant::now() + Duration::from_secs(1);
                while !left.is_empty() && Instant::now() < hard {
                    left.retain(|&pid| !reaped(pid));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Reaps `pid` if it has exited (or is not a child any more).
fn reaped(pid: u32) -> bool {
    let Ok(p) = i32::try_from(pid) else {
        return true;
    };
    let mut status = 0;
    // SAFETY: waitpid on one specific pid with WNOHANG; `status` is a valid out pointer.
    let r = unsafe { libc::waitpid(p, &mut status, libc::WNOHANG) };
    r == p || r == -1
}

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
        cmd.arg(REAPER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // Its own group: a Ctrl-C aimed at the gateway's group must not kill it before it reaps.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match spawn_own(|| {
            cmd.spawn().map(|c| {
                let pid = c.id();
                (c, Some(pid))
            })
        }) {
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

/// The argument that makes the binary a reaper (handled before the command-line parser).
pub const REAPER_ARG: &str = "__reaper";

/// Body of `mcp-gateway __reaper`: track groups until stdin closes, then kill them all.
pub fn run_reaper() {
    // Ignore the signals a terminal sends to a foreground job; EOF on stdin is our only cue.
    // SAFETY: installing SIG_IGN has no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    // SAFETY: getppid has no preconditions.
    let gateway = u32::try_from(unsafe { libc::getppid() }).unwrap_or(0);
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
    // Descendants that left their backend's group but still carry this gateway's tag.
    let escaped: Vec<u32> = processes()
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|&pid| origin_of(pid).is_some_and(|o| origin_matches(&o, None, gateway)))
        .collect();
    signal_each(&escaped, libc::SIGKILL);
}
