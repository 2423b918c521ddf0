//! The one error type of the crate and its rendering as a Kubernetes `Status` body.

use serde_json::{Value, json};

/// One field-level problem, rendered as a `details.causes[]` entry of a `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, ...
    pub reason: String,
    /// Human-readable, e.g. `Invalid value: -1: spec.x in body should be greater than or equal to 0`.
    pub message: String,
    /// The field path, e.g. `spec.recommend[0].priority`.
    pub field: String,
}

impl Cause {
    pub fn new(reason: impl Into<String>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause { reason: reason.into(), field: field.into(), message: message.into() }
    }
}

/// Errors of the API server double. Errors an API client could see map to a `Status` body and an
/// HTTP code through [`Error::code`] and [`Error::status`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    #[error("{message}")]
    Conflict { resource: String, name: String, message: String },
    #[error("{} \"{name}\" is invalid: {}", qualified(kind, group), render_causes(causes))]
    Invalid { kind: String, group: String, name: String, causes: Vec<Cause> },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Expired(String),
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("the server could not find the requested resource")]
    UnknownResource,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A fault injected by a test (see [`crate::Faults`]).
    #[error("injected fault: {message}")]
    Injected { code: u16, reason: String, message: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("kube client: {0}")]
    Client(String),
    #[error("serialization: {0}")]
    Serde(#[from] serde_json::Error),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(std::time::Duration, String),
    #[error("server is not running")]
    NotRunning,
}

fn qualified(kind: &str, group: &str) -> String {
    if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") }
}

fn render_causes(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|c| if c.field.is_empty() { c.message.clone() } else { format!("{}: {}", c.field, c.message) })
        .collect();
    if parts.len() == 1 { parts.concat() } else { format!("[{}]", parts.join(", ")) }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(resource: &str, name: &str) -> Self {
        Error::NotFound { resource: resource.to_string(), name: name.to_string() }
    }

    pub fn conflict_modified(resource: &str, name: &str) -> Self {
        Error::Conflict {
            resource: resource.to_string(),
            name: name.to_string(),
            message: format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        }
    }

    /// The HTTP status code the real API server answers with.
    pub fn code(&self) -> u16 {
        match self {
            Error::NotFound { .. } | Error::UnknownResource => 404,
            Error::AlreadyExists { .. } | Error::Conflict { .. } => 409,
            Error::Invalid { .. } => 422,
            Error::BadRequest(_) | Error::Serde(_) => 400,
            Error::Expired(_) => 410,
            Error::MethodNotAllowed => 405,
            Error::UnsupportedMediaType(_) => 415,
            Error::Injected { code, .. } => *code,
            Error::Timeout(..) => 504,
            Error::Io(_) | Error::Client(_) | Error::NotRunning => 500,
        }
    }

    /// The `reason` field of the Status body.
    pub fn reason(&self) -> &str {
        match self {
            Error::NotFound { .. } | Error::UnknownResource => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } => "Conflict",
            Error::Invalid { .. } => "Invalid",
            Error::BadRequest(_) | Error::Serde(_) => "BadRequest",
            Error::Expired(_) => "Expired",
            Error::MethodNotAllowed => "MethodNotAllowed",
            Error::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Error::Injected { reason, .. } => reason,
            Error::Timeout(..) => "Timeout",
            Error::Io(_) | Error::Client(_) | Error::NotRunning => "InternalError",
        }
    }

    /// The `Status` object the real API server sends for this error.
    pub fn status(&self) -> Value {
        let details = match self {
            Error::NotFound { resource, name }
            | Error::AlreadyExists { resource, name }
            | Error::Conflict { resource, name, .. } => Some(json!({"name": name, "kind": resource})),
            Error::Invalid { kind, group, name, causes } => Some(json!({
                "name": name,
                "group": group,
                "kind": kind,
                "causes": causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect::<Vec<_>>(),
            })),
            _ => None,
        };
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_renders_causes_with_field_paths() {
        let e = Error::Invalid {
            kind: "PtpConfig".into(),
            group: "ptp.openshift.io".into(),
            name: "c".into(),
            causes: vec![Cause::new("FieldValueInvalid", "spec.x", "Invalid value: -1: too small")],
        };
        let s = e.status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.x");
        assert_eq!(s["message"], "PtpConfig.ptp.openshift.io \"c\" is invalid: spec.x: Invalid value: -1: too small");
        let parsed: kube::core::Status = serde_json::from_value(s).unwrap();
        assert_eq!(parsed.code, 422);
    }

    #[test]
    fn conflict_is_409_with_the_real_message() {
        let e = Error::conflict_modified("configmaps", "x");
        assert_eq!(e.code(), 409);
        assert!(e.to_string().contains("the object has been modified"));
    }
}
