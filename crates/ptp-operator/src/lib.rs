//! The PTP operator: a pure render engine (`render`), the `render` CLI (`cli`, `input`), and the
//! controller shell that runs it against the Kubernetes API.

#![forbid(unsafe_code)]

pub mod cli;
pub mod controller;
pub mod input;
/// The render engine lives in `ptp-api` (the agent renders its own node with it); re-exported here.
pub use ptp_api::render;

/// Errors of the operator crate.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// A file that could not be read or parsed, with the position when known.
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    /// `/metrics` or `/healthz` cannot listen on its address (taken, or not this host's).
    #[error("listening on {addr}: {message}")]
    Listen { addr: String, message: String },
}
