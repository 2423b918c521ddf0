//! The crate's one error type.

/// What can go wrong when setting up or serving an endpoint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address could not be bound.
    #[error("listening on {addr}: {message}")]
    Listen { addr: String, message: String },
    /// A certificate or key file that cannot be used (unreadable, no PEM block, key not matching).
    #[error("TLS {what} {path}: {message}")]
    TlsFile { what: &'static str, path: String, message: String },
    /// Building the TLS configuration or the self-signed certificate failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// Flags that do not fit together (`--metrics-tls files` without a key, ...).
    #[error("{0}")]
    Flags(String),
    /// The API server could not answer a TokenReview or SubjectAccessReview.
    #[error("{review}: {message}")]
    Review { review: &'static str, message: String },
}
