//! The agent's HTTP endpoints, each on its own address: `/metrics` (plain HTTP, or TLS and a
//! bearer token checked with TokenReview + SubjectAccessReview: see `ptp_serve`) and
//! `/healthz` + `/readyz` (always plain HTTP, for the kubelet's probes). Both addresses are bound
//! before anything runs, so a busy or bad address fails the start with its name.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use prometheus_client::registry::Registry;
use ptp_serve::Security;
use tracing::info;

use crate::Error;

pub use ptp_serve::{Health, metrics_router};

/// Where and how the endpoints are served.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    /// `/metrics`; `None`: not served.
    pub metrics: Option<SocketAddr>,
    /// `/healthz` and `/readyz`; `None`: not served.
    pub health: Option<SocketAddr>,
    /// TLS and authorization of `/metrics` (none by default).
    pub metrics_security: Security,
}

/// Binds both addresses, then serves them in the background for the life of the process.
pub async fn start(endpoints: &Endpoints, registry: Arc<Registry>, health: Arc<Health>) -> Result<(), Error> {
    let security = &endpoints.metrics_security;
    let metrics = match endpoints.metrics {
        Some(addr) => Some(ptp_serve::bind(addr, security.tls.clone()).await.map_err(|e| listen_error(addr, e))?),
        None => None,
    };
    let probes = match endpoints.health {
        Some(addr) => Some(ptp_serve::bind(addr, None).await.map_err(|e| listen_error(addr, e))?),
        None => None,
    };
    if let Some(bound) = metrics {
        info!(addr = %bound.local_addr(), serving = security.describe(), "serving /metrics");
        bound.spawn("metrics", security.guard(metrics_router(registry)), std::future::pending());
    }
    if let Some(bound) = probes {
        bound.spawn("health", health_router(health), std::future::pending());
    }
    Ok(())
}

fn listen_error(addr: SocketAddr, e: ptp_serve::Error) -> Error {
    match e {
        ptp_serve::Error::Listen { addr, message } => Error::Listen { addr, message },
        other => Error::Listen { addr: addr.to_string(), message: other.to_string() },
    }
}

/// Readiness of the agent: `/readyz` says why it is not ready.
pub fn health_router(health: Arc<Health>) -> Router {
    ptp_serve::health_router(health, "profiles not applied or a process is crash-looping")
}
