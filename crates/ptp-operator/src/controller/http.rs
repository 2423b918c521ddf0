//! `/metrics` and `/healthz` + `/readyz`, each on its own address ([`ptp_serve::start`], as the
//! agent serves them); `/readyz` says the caches are not synced yet.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::OperatorError;

pub use ptp_serve::Health;

/// What `/readyz` answers while the operator is not ready.
pub const NOT_READY: &str = "caches not synced";

/// Binds the metrics and the probes addresses (either may be absent), then serves them in the
/// background until `shutdown` turns true; a taken or bad address is an error naming it.
pub async fn start(
    metrics: Option<(SocketAddr, &ptp_serve::Security, Arc<Registry>)>,
    health: Option<(SocketAddr, Arc<Health>)>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), OperatorError> {
    let endpoints = ptp_serve::Endpoints { metrics, probes: health.map(|(addr, h)| (addr, h, NOT_READY)) };
    let stopped = || {
        let mut shutdown = shutdown.clone();
        async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        }
    };
    ptp_serve::start(endpoints, stopped).await.map_err(|e| match e {
        ptp_serve::Error::Listen { addr, message } => OperatorError::Listen { addr, message },
        other => OperatorError::Listen { addr: String::new(), message: other.to_string() },
    })
}
