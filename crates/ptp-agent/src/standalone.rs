//! `ptp-agent run`: the runtime fed with the node's profiles, from a file (`--profile FILE`) or
//! from the API (the `ptp-configmap` key equal to the node name). The text is what that ConfigMap
//! key holds (a JSON array of profiles, or the legacy single object). One code path after the
//! source: decode, plan, apply. A file is re-read when inotify reports a change in its directory
//! (kubelet's atomic `..data` symlink swap of a mounted ConfigMap included) and waited for while it
//! does not exist. Metrics and health are served in both modes (`crate::serve`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use ptp_api::decode_node_profiles;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::Error;
use crate::metrics::AgentMetrics;
use crate::runtime::{Runtime, Settings as RuntimeSettings, TICK};
use crate::serve::{self, Endpoints, Health};
use crate::supervise::State;

/// Settings of `run`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The profile file; `None` when the API feeds the profiles.
    pub profile: Option<PathBuf>,
    pub runtime: RuntimeSettings,
    /// `/metrics`, `/healthz` and `/readyz`.
    pub endpoints: Endpoints,
}

/// Restarts after which a process in backoff counts as crash-looping.
const CRASH_LOOP_RESTARTS: u64 = 3;

/// Something told each second what runs (the NodePtpDevice status writer in a cluster).
pub trait Observer: Send {
    fn observe(&mut self, runtime: &Runtime);
}

/// Runs with the profile file of `settings` until `shutdown` resolves, then stops every child.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let (texts_tx, texts) = mpsc::channel(4);
    let poller = settings.profile.clone().map(|path| tokio::spawn(poll_file(path, texts_tx)));
    let result = run_fed(settings, texts, None, shutdown).await;
    if let Some(p) = poller {
        p.abort();
    }
    result
}

/// Runs with profile texts arriving on `texts` (each the full value for this node).
pub async fn run_fed(
    settings: Settings,
    mut texts: mpsc::Receiver<String>,
    mut observer: Option<Box<dyn Observer>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, &settings.runtime.node);
    let registry = Arc::new(registry);
    let health = Arc::new(Health::default());
    serve::start(&settings.endpoints, registry.clone(), health.clone()).await?;
    let (mut runtime, lines) = Runtime::new(settings.runtime.clone(), metrics);
    let consumer = runtime.consume_logs(lines);
    let mut applied_once = false;
    let mut ticker = tokio::time::interval(TICK);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(text) = texts.recv() => {
                match decode_node_profiles(&text) {
                    Ok(profiles) => {
                        runtime.apply(&profiles).await;
                        applied_once = true;
                    }
                    Err(e) => warn!(error = %e, "profiles not applied; what runs keeps running"),
                }
            }
            _ = &mut shutdown => break,
        }
        runtime.tick();
        if let Some(o) = observer.as_mut() {
            o.observe(&runtime);
        }
        let crash_looping = runtime
            .supervisor()
            .snapshot()
            .values()
            .any(|s| matches!(s.state, State::Backoff { .. }) && s.restarts >= CRASH_LOOP_RESTARTS);
        health.set_ready(applied_once && !crash_looping);
    }
    info!("stopping every process");
    runtime.shutdown().await;
    consumer.abort();
    Ok(())
}

/// Sends the file's text each time it changes; waits while it does not exist. Changes in the
/// file's directory arrive through inotify (kubelet replaces a mounted ConfigMap by swapping the
/// `..data` symlink there); a slow poll backs it up, and is the only source when inotify cannot
/// watch the directory.
pub(crate) async fn poll_file(path: PathBuf, texts: mpsc::Sender<String>) {
    let (changed_tx, mut changed) = mpsc::channel::<()>(1);
    let watcher = path.parent().and_then(|dir| {
        let mut watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
            let _ = changed_tx.try_send(());
        })
        .ok()?;
        notify::Watcher::watch(&mut watcher, dir, notify::RecursiveMode::NonRecursive).ok()?;
        Some(watcher)
    });
    let fallback = if watcher.is_some() { Duration::from_secs(10) } else { TICK };
    if watcher.is_none() {
        info!(file = %path.display(), "cannot watch the profile file's directory; polling it every second");
    }
    let mut last: Option<String> = None;
    let mut waiting_logged = false;
    loop {
        match std::fs::read_to_string(&path) {
            Ok(text) if last.as_deref() != Some(text.as_str()) => {
                last = Some(text.clone());
                if texts.send(text).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) if last.is_some() => {
                warn!(file = %path.display(), error = %e, "cannot read the profile file; what runs keeps running")
            }
            Err(e) => {
                // In a cluster the ConfigMap key appears once the operator has rendered this node.
                if !waiting_logged {
                    info!(file = %path.display(), error = %e, "waiting for the profile file");
                    waiting_logged = true;
                }
            }
        }
        // A missing directory cannot be watched: poll until it appears.
        let wait = if last.is_none() { TICK.min(fallback) } else { fallback };
        tokio::select! {
            _ = changed.recv() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
