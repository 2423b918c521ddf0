//! The routers both binaries serve: `/metrics` (the OpenMetrics text of a registry) and the probes
//! `/healthz` (always `ok`) and `/readyz` (200 while ready, else 503 with the binary's reason).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::registry::Registry;

/// The content type of `/metrics`.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Readiness, set by the binary (caches synced; profiles applied and nothing crash-looping).
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

/// `/metrics`: the registry's metrics in the OpenMetrics text format.
pub fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(r): State<Arc<Registry>>| async move { ([("content-type", OPENMETRICS)], encode(&r)) }),
        )
        .with_state(registry)
}

/// The registry in the OpenMetrics text format; empty if a metric fails to encode (a truncated
/// exposition would be invalid).
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, registry).is_err() {
        out.clear();
    }
    out
}

/// `/healthz` and `/readyz`; `not_ready` is the body of a 503 from `/readyz`.
pub fn health_router(health: Arc<Health>, not_ready: &'static str) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move |State(h): State<Arc<Health>>| async move {
                if h.is_ready() { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, not_ready) }
            }),
        )
        .with_state(health)
}
