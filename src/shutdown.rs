//! Owned background work and the shutdown order.
//!
//! Every task the gateway starts on its own (indexing, backend event handling, discovery and
//! refreshes, the idle sweeper; later the HTTP listener and the config watcher) is spawned through
//! one [`Background`]: it carries one cancellation token that every long-running loop selects on,
//! and one [`TaskTracker`] that shutdown waits on. Nothing the gateway starts is left for the
//! runtime's teardown to kill. (The model is mini-redis's `shutdown.rs`: a signal every task
//! watches, and one place that waits until they are all gone.)
//!
//! # Shutdown order
//!
//! [`crate::gateway::Gateway::shutdown`] runs, once, after the front stopped reading (stdin
//! closed, or SIGTERM/SIGINT):
//!
//! 1. **Signal.** The token is cancelled: loops (event handling, sweeper) return at their next
//!    await; a backend start in progress is abandoned; no new background task is accepted.
//! 2. **Save.** Usage counts are written to the state dir.
//! 3. **Stop backends**, in parallel, each in order: stdin closed, wait, SIGTERM to its process
//!    group, wait, SIGKILL. Their pending requests fail, so refreshes waiting on them end.
//! 4. **Wait** (bounded) for every tracked task to finish; one that does not is reported.
//!
//! A session's own request tasks are cancelled by its front when the client goes away
//! ([`crate::session::Session::close`]), before step 1.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The gateway's background tasks and the token that stops them.
#[derive(Debug, Clone, Default)]
pub struct Background {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Background {
    pub fn new() -> Background {
        Background::default()
    }

    /// The token every background loop selects on; cancelled at shutdown.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Runs `task` in the background, owned by the gateway. After shutdown began it is dropped
    /// without running.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.token.is_cancelled() {
            return;
        }
        self.tracker.spawn(task);
    }

    /// Runs blocking `work` on the blocking pool, owned by the gateway.
    pub fn spawn_blocking<F>(&self, work: F)
    where
        F: FnOnce() + Send + 'static,
    {
        if self.token.is_cancelled() {
            return;
        }
        self.tracker.spawn_blocking(work);
    }

    /// Step 1 of the shutdown order: signal every task.
    pub fn cancel(&self) {
        self.token.cancel();
        self.tracker.close();
    }

    /// Step 4: waits at most `max` for every task to finish; returns how many are still running.
    pub async fn wait(&self, max: Duration) -> usize {
        self.tracker.close();
        let _ = tokio::time::timeout(max, self.tracker.wait()).await;
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_stops_loops_and_wait_sees_them_end() {
        let bg = Background::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let token = bg.token().clone();
        bg.spawn(async move {
            token.cancelled().await;
            let _ = tx.send(());
        });
        bg.cancel();
        assert_eq!(bg.wait(Duration::from_secs(5)).await, 0);
        assert!(rx.recv().await.is_some(), "the loop saw the signal");
        // Nothing new starts after shutdown began.
        let (tx2, mut rx2) = tokio::sync::mpsc::unbounded_channel::<()>();
        bg.spawn(async move {
            let _ = tx2.send(());
        });
        assert!(rx2.recv().await.is_none());
        assert!(bg.is_shutting_down());
    }
}
