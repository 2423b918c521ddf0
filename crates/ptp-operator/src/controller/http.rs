//! `/metrics` and `/healthz` + `/readyz`, each on its own address; `/metrics` over plain HTTP or
//! TLS, guarded by a bearer-token check when configured (`ptp_serve`), the probes plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::sync::watch;

pub use ptp_serve::{Health, metrics_router};

/// Readiness of the operator: `/readyz` says why it is not ready.
pub fn health_router(health: Arc<Health>) -> Router {
    ptp_serve::health_router(health, "caches not synced")
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
