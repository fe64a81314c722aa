//! The gateway's long-running tasks and its stop: the event loop over backend events (starts and
//! `list_changed` become refreshes, notifications become [`ClientNotice`]s), the idle sweeper
//! (idle stops, health checks, profile saves, pin-file changes), the relay of per-session
//! instances' notifications, and [`Gateway::shutdown`] in the order of [`crate::shutdown`].
//! Every task runs under the gateway's [`crate::shutdown::Background`]; none outlives it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::{ClientNotice, Gateway};
use crate::backend::BackendEvent;
use crate::catalog::names;

/// A burst of `list_changed` from one backend is collapsed into one refresh.
const LIST_CHANGED_DEBOUNCE: Duration = Duration::from_millis(150);

/// Usage profiles are saved every this many idle-sweep ticks (500 ms each: every 10 s) when
/// calls were recorded, so `mcp-gateway stats` sees a running gateway's calls soon.
const PROFILE_SAVE_TICKS: u64 = 20;

/// How long shutdown waits for background tasks once backends are stopped.
const TASKS_GRACE: Duration = Duration::from_secs(5);

impl Gateway {
    pub(super) async fn handle_events(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<BackendEvent>,
    ) {
        let stop = self.background.token().clone();
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                event = rx.recv() => match event {
                    Some(e) => e,
                    None => return,
                },
            };
            match event {
                BackendEvent::Started { backend } => self.spawn_refresh(backend, Duration::ZERO),
                BackendEvent::ListChanged { backend } => {
                    self.spawn_refresh(backend, LIST_CHANGED_DEBOUNCE)
                }
                BackendEvent::Notification {
                    backend,
                    method,
                    params,
                } if method == "notifications/message" => {
                    let _ = self.notices.send(ClientNotice::Log {
                        backend,
                        params: params.unwrap_or(Value::Null),
                    });
                }
                BackendEvent::Notification {
                    backend,
                    method,
                    params,
                } => {
                    let mut params = params.unwrap_or_else(|| Value::Object(Default::default()));
                    if method == "notifications/resources/updated"
                        && let Some(uri) = params.get("uri").and_then(Value::as_str)
                    {
                        params["uri"] = Value::String(names::namespace_uri(&backend, uri));
                    }
                    let _ = self.notices.send(ClientNotice::Forward { method, params });
                }
            }
        }
    }

    pub(super) async fn sweep_idle(self: Arc<Self>) {
        let stop = self.background.token().clone();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        for n in 0u64.. {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            for b in self.backends() {
                b.stop_if_idle().await;
                if b.health_check_due() {
                    let b = Arc::clone(&b);
                    self.background.spawn(async move { b.health_check().await });
                }
            }
            if n % PROFILE_SAVE_TICKS == PROFILE_SAVE_TICKS - 1 {
                self.save_profiles();
            }
            self.reapply_pins_if_changed();
        }
    }

    /// Stops everything the gateway runs, in the order documented in [`crate::shutdown`]:
    /// signal the background tasks, save usage profiles, stop every backend (in parallel, each in
    /// order: stdin closed, SIGTERM, SIGKILL), then wait (bounded) for the tasks to end.
    pub async fn shutdown(&self) {
        self.background.cancel();
        self.save_profiles();
        let mut stops = tokio::task::JoinSet::new();
        for b in self.backends() {
            stops.spawn(async move { b.shutdown().await });
        }
        while stops.join_next().await.is_some() {}
        // Whatever left a backend's process group and re-parented here.
        crate::backend::process::kill_orphans(None, Duration::from_secs(1)).await;
        let left = self.background.wait(TASKS_GRACE).await;
        if left > 0 {
            tracing::warn!(tasks = left, "background tasks still running at shutdown");
        }
    }
}

/// Passes a per-session instance's notifications on to the gateway's event loop (starts and
/// list changes stay behind: the catalog is the shared instance's to learn).
pub(super) async fn relay_instance_events(
    mut rx: mpsc::UnboundedReceiver<BackendEvent>,
    to: mpsc::UnboundedSender<BackendEvent>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            e = rx.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        if matches!(event, BackendEvent::Notification { .. }) && to.send(event).is_err() {
            return;
        }
    }
}
