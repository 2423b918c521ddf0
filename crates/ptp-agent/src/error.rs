//! The crate's one error type.

/// Everything that can go wrong in the agent: netlink decoding and I/O, the kernel's answers,
/// and the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink message or attribute that does not decode (truncated, bad length, ...).
    #[error("malformed netlink data: {0}")]
    Decode(String),
    /// Opening, binding or using a socket failed.
    #[error("netlink socket: {0}")]
    Socket(String),
    /// The kernel answered with an error, with its extended-ack text when it sent one.
    #[error("kernel error {errno} ({}){}", std::io::Error::from_raw_os_error(*errno), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kernel { errno: i32, message: Option<String> },
    /// An HTTP endpoint (/metrics, /healthz) could not listen on its address.
    #[error("listening on {addr}: {message}")]
    Listen { addr: String, message: String },
    /// Entering a network namespace failed.
    #[error("network namespace {path}: {message}")]
    Netns { path: String, message: String },
    /// A Kubernetes API request failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Serializing a status patch failed.
    #[error("serializing: {0}")]
    Json(#[from] serde_json::Error),
    /// Starting or supervising a child process (ptp4l, phc2sys, ts2phc) failed.
    #[error("process {process}: {message}")]
    Process { process: String, message: String },
    /// A profile that cannot be applied (bad options, an invalid configuration, ...).
    #[error("profile {profile}: {message}")]
    Profile { profile: String, message: String },
    /// Another agent holds the run directory's lock.
    #[error("run directory {dir} is in use by another ptp-agent{}: two agents on one run directory would overwrite each other's configuration files and take each other's sockets (the other holds the lock on {lock_file})", holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    RunDirInUse { dir: String, lock_file: String, holder: Option<u32> },
    /// Talking management to ptp4l (a malformed reply, no reply, an error status, the socket).
    #[error("ptp management: {0}")]
    Management(#[from] crate::mgmt::MgmtError),
    /// Reading or writing a stream (`ptp-agent parse`: stdin, stdout) failed.
    #[error("{what}: {message}")]
    Stream { what: &'static str, message: String },
    /// The run directory cannot be created or locked.
    #[error("run directory {dir}: {message}")]
    RunDir { dir: String, message: String },
}

impl Error {
    /// Prefixes a decode error with what was being decoded (`timestamping: ...`).
    pub fn context(self, what: &str) -> Self {
        match self {
            Error::Decode(message) => Error::Decode(format!("{what}: {message}")),
            other => other,
        }
    }

    /// Whether this is the API server's `404 Not Found`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Kube(kube::Error::Api(status)) if status.code == 404)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_errors_show_errno_and_extended_ack() {
        let e = Error::Kernel { errno: 19, message: Some("no device matches name".into()) };
        let text = e.to_string();
        assert!(text.contains("kernel error 19") && text.ends_with(": no device matches name"), "{text}");
        assert!(!Error::Kernel { errno: 95, message: None }.to_string().ends_with(": "));
    }

    #[test]
    fn context_prefixes_only_decode_errors() {
        assert_eq!(
            Error::Decode("x".into()).context("rx filters").to_string(),
            "malformed netlink data: rx filters: x"
        );
        assert_eq!(Error::Socket("y".into()).context("z").to_string(), "netlink socket: y");
    }
}
