//! The agent's HTTP endpoints, each on its own address: `/metrics` (plain HTTP, or TLS and a
//! bearer token checked with TokenReview + SubjectAccessReview: see `ptp_serve`) and
//! `/healthz` + `/readyz` (always plain HTTP, for the kubelet's probes). Both addresses are bound
//! before anything runs, so a busy or bad address fails the start with its name.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use ptp_serve::Security;

use crate::Error;

pub use ptp_serve::Health;

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

/// What `/readyz` answers while the agent is not ready.
pub const NOT_READY: &str = "profiles not applied or a process is crash-looping";

/// Binds both addresses, then serves them in the background for the life of the process
/// ([`ptp_serve::start`], as the operator serves them).
pub async fn start(endpoints: &Endpoints, registry: Arc<Registry>, health: Arc<Health>) -> Result<(), Error> {
    let served = ptp_serve::Endpoints {
        metrics: endpoints.metrics.map(|addr| (addr, &endpoints.metrics_security, registry)),
        probes: endpoints.health.map(|addr| (addr, health, NOT_READY)),
    };
    ptp_serve::start(served, std::future::pending).await.map_err(|e| match e {
        ptp_serve::Error::Listen { addr, message } => Error::Listen { addr, message },
        other => Error::Listen { addr: String::new(), message: other.to_string() },
    })
}
