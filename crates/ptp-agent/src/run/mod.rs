//! `ptp-agent run`: the runtime loop both modes share ([`run_loop`]), fed with the node's profile
//! values by a [`crate::source`]: in [`file`] mode from a file (`--profile FILE`), in [`cluster`]
//! mode from the API (its own render of the PtpConfigs, or the `ptp-configmap` key) with the
//! NodePtpDevice status written beside it. One code path after the source: decode, plan, apply
//! ([`Runtime::take`]). A value that cannot be read or decoded changes nothing that runs: it is
//! logged, counted and reported. Metrics and health are served in both modes ([`crate::serve`]).
//!
//! The loop runs when something happens: a profile value, a clock changing state (the log
//! consumer reports it, for lines and for time), a process changing state; then the runtime
//! publishes its state ([`Runtime::tick`]), which `/readyz` and the status reporter consume.
//! It does not run for lines that only move an offset: an idle agent wakes once per ptp4l line,
//! for the log consumer only.

pub mod cluster;
pub mod file;

use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, info, info_span};

use crate::Error;
use crate::metrics::AgentMetrics;
use crate::runtime::state::AgentState;
use crate::runtime::{IDLE_TICK, Runtime, RuntimeSettings};
use crate::serve::{self, Endpoints, Health};
use crate::source::SourceValue;

/// Settings of `run`.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// The profile file; `None` when the API feeds the profiles.
    pub profile: Option<PathBuf>,
    pub runtime: RuntimeSettings,
    /// `/metrics`, `/healthz` and `/readyz`.
    pub endpoints: Endpoints,
}

/// Runs the runtime with profile values arriving on `texts` (each the full value for this node;
/// `source` names where they come from, in errors) until `shutdown` resolves, then stops every
/// child. `on_state` gets the runtime's state channel before the first value is taken (the
/// status reporter subscribes there).
pub async fn run_loop(
    settings: RunSettings,
    source: String,
    mut texts: mpsc::Receiver<SourceValue>,
    on_state: impl FnOnce(watch::Receiver<Arc<AgentState>>),
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, &settings.runtime.node);
    let health = Arc::new(Health::default());
    serve::start(&settings.endpoints, Arc::new(registry), health.clone()).await?;
    let (mut runtime, lines) = Runtime::new(settings.runtime.clone(), metrics);
    let consumer = runtime.consume_logs(lines);
    let readiness = tokio::spawn(serve_readiness(runtime.subscribe(), health).instrument(info_span!("readiness")));
    on_state(runtime.subscribe());
    let mut processes = runtime.supervisor().subscribe();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            // Publishes the offsets of the moment now and then (lines move them without a tick).
            () = tokio::time::sleep(IDLE_TICK) => {}
            () = runtime.clocks_changed() => {}
            Ok(()) = processes.changed() => {}
            Some(value) = texts.recv() => runtime.take(value, &source).await,
            () = &mut shutdown => break,
        }
        runtime.tick();
    }
    info!("stopping every process");
    runtime.shutdown().await;
    consumer.abort();
    readiness.abort();
    Ok(())
}

/// `/readyz` follows the published state ([`AgentState::ready`]).
async fn serve_readiness(mut state: watch::Receiver<Arc<AgentState>>, health: Arc<Health>) {
    loop {
        let ready = state.borrow_and_update().ready();
        health.set_ready(ready);
        if state.changed().await.is_err() {
            return;
        }
    }
}
