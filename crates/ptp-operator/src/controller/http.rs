//! `/metrics` and `/healthz` + `/readyz`, each on its own address; `/metrics` over plain HTTP or
//! TLS, guarded by a bearer-token check when configured (`ptp_serve`), the probes plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use super::metrics::encode;

/// Readiness, flipped by the controller once its caches are synced.
#[derive(Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

pub fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(r): State<Arc<Registry>>| async move {
                ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], encode(&r))
            }),
        )
        .with_state(registry)
}

pub fn health_router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(h): State<Arc<Health>>| async move {
                if h.is_ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
                }
            }),
        )
        .with_state(health)
}

/// Binds `addr` and serves `router` (over TLS with `tls`) until `shutdown` turns true.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    tls: Option<Arc<ptp_serve::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let bound = ptp_serve::bind(addr, tls).await.map_err(|e| e.to_string())?;
    bound
        .serve(router, async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .map_err(|e| e.to_string())
}
