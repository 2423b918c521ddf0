//! `ptp-agent run --profile FILE`: the runtime fed from a file. The file holds what the ConfigMap
//! key of this node holds (a JSON array of profiles, or the legacy single object); it is re-read
//! when it changes (also through kubelet's atomic `..data` symlink swap of a mounted ConfigMap, as
//! the path is read anew every second), and waited for while it does not exist. Metrics and health
//! are served as in a cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::registry::Registry;
use ptp_api::decode_node_profiles;
use tracing::{info, warn};

use crate::Error;
use crate::metrics::AgentMetrics;
use crate::runtime::{Runtime, Settings as RuntimeSettings, TICK};
use crate::supervise::State;

/// Settings of the standalone mode.
#[derive(Clone, Debug)]
pub struct Settings {
    pub profile: PathBuf,
    pub runtime: RuntimeSettings,
    pub metrics_addr: Option<SocketAddr>,
    pub health_addr: Option<SocketAddr>,
}

/// Readiness: profiles applied and no process crash-looping.
#[derive(Default)]
struct Health {
    ready: AtomicBool,
}

/// Restarts after which a process in backoff counts as crash-looping.
const CRASH_LOOP_RESTARTS: u64 = 3;

/// Runs until `shutdown` resolves, then stops every child.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, &settings.runtime.node);
    let registry = Arc::new(registry);
    let health = Arc::new(Health::default());
    if let Some(addr) = settings.metrics_addr {
        serve(addr, metrics_router(registry.clone())).await?;
    }
    if let Some(addr) = settings.health_addr {
        serve(addr, health_router(health.clone())).await?;
    }
    let (mut runtime, lines) = Runtime::new(settings.runtime.clone(), metrics);
    let consumer = runtime.consume_logs(lines);
    let mut last: Option<String> = None;
    let mut waiting_logged = false;
    let mut ticker = tokio::time::interval(TICK);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut shutdown => break,
        }
        match std::fs::read_to_string(&settings.profile) {
            Ok(text) if last.as_deref() != Some(text.as_str()) => {
                match decode_node_profiles(&text) {
                    Ok(profiles) => {
                        runtime.apply(&profiles).await;
                    }
                    Err(e) => {
                        warn!(file = %settings.profile.display(), error = %e, "profile file not applied; what runs keeps running")
                    }
                }
                last = Some(text);
            }
            Ok(_) => {}
            Err(e) if last.is_some() => {
                warn!(file = %settings.profile.display(), error = %e, "cannot read the profile file; what runs keeps running")
            }
            Err(e) => {
                // In a cluster the ConfigMap key appears once the operator has rendered this node.
                if !waiting_logged {
                    info!(file = %settings.profile.display(), error = %e, "waiting for the profile file");
                    waiting_logged = true;
                }
            }
        }
        runtime.tick();
        let crash_looping = runtime
            .supervisor()
            .snapshot()
            .values()
            .any(|s| matches!(s.state, State::Backoff { .. }) && s.restarts >= CRASH_LOOP_RESTARTS);
        health.ready.store(last.is_some() && !crash_looping, Ordering::Relaxed);
    }
    info!("stopping every process");
    runtime.shutdown().await;
    consumer.abort();
    Ok(())
}

async fn serve(addr: SocketAddr, router: Router) -> Result<(), Error> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Socket(format!("binding {addr}: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            warn!(error = %e, "HTTP server stopped");
        }
    });
    Ok(())
}

fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|AxumState(r): AxumState<Arc<Registry>>| async move {
                let mut out = String::new();
                let _ = prometheus_client::encoding::text::encode(&mut out, &r);
                ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], out)
            }),
        )
        .with_state(registry)
}

fn health_router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|AxumState(h): AxumState<Arc<Health>>| async move {
                if h.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "profiles not applied or a process is crash-looping")
                }
            }),
        )
        .with_state(health)
}
