//! `ptp-agent run`: the runtime fed with the node's profiles, from a file (`--profile FILE`) or
//! from the API (the `ptp-configmap` key equal to the node name). The text is what that ConfigMap
//! key holds (a JSON array of profiles, or the legacy single object). One code path after the
//! source: decode, plan, apply. A value that cannot be read or decoded changes nothing that runs:
//! it is logged, counted and reported (`ProfilesValid=False` in a cluster). The file source is
//! [`crate::profile_file`]. Metrics and health are served in both modes (`crate::serve`).

use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use ptp_api::decode_node_profiles;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::Error;
use crate::metrics::AgentMetrics;
use crate::runtime::{IDLE_TICK, Runtime, Settings as RuntimeSettings};
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

/// Something told what runs after every change (the NodePtpDevice status writer in a cluster).
pub trait Observer: Send {
    fn observe(&mut self, runtime: &Runtime);

    /// When the observer wants to be called again even if nothing changes (e.g. a write it
    /// held back); `None`: only on changes.
    fn next_deadline(&self) -> Option<tokio::time::Instant> {
        None
    }
}

/// What a profile source delivers: the node's value (what its ConfigMap key holds), or why the
/// source exists but cannot be read (an unreadable file, not UTF-8, ...).
pub type SourceValue = Result<String, String>;

/// Runs with the profile file of `settings` until `shutdown` resolves, then stops every child.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let (texts_tx, texts) = mpsc::channel(4);
    let poller = settings.profile.clone().map(|path| tokio::spawn(crate::profile_file::watch(path, texts_tx)));
    let result = run_fed(settings, texts, None, shutdown).await;
    if let Some(p) = poller {
        p.abort();
    }
    result
}

/// Runs with profile values arriving on `texts` (each the full value for this node).
pub async fn run_fed(
    settings: Settings,
    mut texts: mpsc::Receiver<SourceValue>,
    mut observer: Option<Box<dyn Observer>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, &settings.runtime.node);
    let registry = Arc::new(registry);
    let health = Arc::new(Health::default());
    serve::start(&settings.endpoints, registry.clone(), health.clone()).await?;
    let source = match &settings.profile {
        Some(path) => format!("profile file {}", path.display()),
        None => format!("ptp-configmap key {}", settings.runtime.node),
    };
    let (mut runtime, lines) = Runtime::new(settings.runtime.clone(), metrics);
    let consumer = runtime.consume_logs(lines);
    let mut applied_once = false;
    let mut processes = runtime.supervisor().subscribe();
    let mut shutdown = std::pin::pin!(shutdown);
    // The loop runs when something happens (a profile value, a clock changing state, which the
    // log consumer reports for lines and for time, a process changing state) or the observer's
    // deadline passes, not every second: an idle agent wakes once per ptp4l line, for the log
    // consumer only.
    loop {
        let idle = tokio::time::Instant::now() + IDLE_TICK;
        let deadline = observer.as_ref().and_then(|o| o.next_deadline()).map_or(idle, |d| d.min(idle));
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            () = runtime.clocks_changed() => {}
            Ok(()) = processes.changed() => {}
            Some(value) = texts.recv() => {
                match value.and_then(|text| decode_node_profiles(&text).map(|p| (p, text)).map_err(|e| e.to_string())) {
                    Ok((profiles, text)) => {
                        runtime.value_taken(&text);
                        runtime.apply(&profiles).await;
                        applied_once = true;
                    }
                    Err(e) => {
                        let reason = format!("{source}: {e}");
                        warn!(error = %reason, "profiles not applied; what runs keeps running");
                        runtime.source_invalid(reason);
                    }
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
