//! `/metrics` and `/healthz` + `/readyz`, each on its own address; `/metrics` over plain HTTP or
//! TLS, guarded by a bearer-token check when configured (`ptp_serve`), the probes plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::OperatorError;

pub use ptp_serve::{Health, metrics_router};

/// Readiness of the operator: `/readyz` says why it is not ready.
pub fn health_router(health: Arc<Health>) -> Router {
    ptp_serve::health_router(health, "caches not synced")
}

/// Binds the metrics and the probes addresses (either may be absent), then serves them in the
/// background until `shutdown` turns true. Both are bound before anything is served, so a taken or
/// bad address fails the start with an error naming it (as in the agent).
pub async fn start(
    metrics: Option<(SocketAddr, &ptp_serve::Security, Arc<Registry>)>,
    health: Option<(SocketAddr, Arc<Health>)>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), OperatorError> {
    let metrics = match metrics {
        Some((addr, security, registry)) => {
            let bound = ptp_serve::bind(addr, security.tls.clone()).await.map_err(|e| listen_error(addr, e))?;
            Some((bound, security.guard(metrics_router(registry)), security.describe()))
        }
        None => None,
    };
    let health = match health {
        Some((addr, health)) => {
            Some((ptp_serve::bind(addr, None).await.map_err(|e| listen_error(addr, e))?, health_router(health)))
        }
        None => None,
    };
    if let Some((bound, router, serving)) = metrics {
        tracing::info!(addr = %bound.local_addr(), serving, "serving /metrics");
        bound.spawn("metrics", router, stopped(shutdown.clone()));
    }
    if let Some((bound, router)) = health {
        bound.spawn("health", router, stopped(shutdown.clone()));
    }
    Ok(())
}

async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn listen_error(addr: SocketAddr, e: ptp_serve::Error) -> OperatorError {
    match e {
        ptp_serve::Error::Listen { addr, message } => OperatorError::Listen { addr, message },
        other => OperatorError::Listen { addr: addr.to_string(), message: other.to_string() },
    }
}
