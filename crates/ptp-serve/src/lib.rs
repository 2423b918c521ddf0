//! The HTTP endpoints of `ptp-operator` and `ptp-agent`: `/metrics` over plain HTTP or TLS
//! (a certificate from files, re-read when they change, or self-signed at start), optionally
//! only for callers whose bearer token the API server authenticates (TokenReview) and
//! authorizes for `get` on the non-resource URL `/metrics` (SubjectAccessReview), as
//! kube-rbac-proxy does in front of the Go daemon; `/healthz` and `/readyz` stay plain HTTP for
//! the kubelet's probes. Every address can be bound to one interface (`127.0.0.1:9091`).
//!
//! * [`args`]: the shared flags (`--metrics-auth`, `--metrics-tls`, `--metrics-tls-cert`,
//!   `--metrics-tls-key`) and address parsing.
//! * [`auth`]: the decision (401 without or with an unknown token, 403 when RBAC does not allow,
//!   503 when the API server cannot answer) and its bounded cache ([`cache`]).
//! * [`kube_review`]: the two reviews against the API server.
//! * [`tls`], [`listener`], [`endpoint`]: TLS configurations, a TLS listener for
//!   `axum::serve`, binding and serving.

#![forbid(unsafe_code)]

pub mod args;
pub mod auth;
pub mod cache;
pub mod endpoint;
pub mod error;
pub mod kube_review;
pub mod listener;
pub mod probes;
pub mod signals;
pub mod tls;

pub use args::{MetricsArgs, MetricsAuth, MetricsTls, parse_addr};
pub use auth::{Access, Authorizer, Reviewer, UserInfo, Verdict};
pub use endpoint::{Bound, Endpoints, Security, bind, protect, start};
pub use error::Error;
pub use kube_review::KubeReviewer;
pub use probes::{Health, health_router, metrics_router};
pub use rustls::ServerConfig;
pub use signals::terminated;
pub use tls::TlsSource;
