//! The PTP management protocol as linuxptp's ptp4l speaks it over its UNIX socket, without pmc.
//!
//! * [`message`]: encoding requests ([`Request::get`], [`Request::subscribe`]) with the header
//!   fields pmc sends ([`RequestHeader`]: domain, wildcard target, boundary hops 0, version 0x02,
//!   source identity from the pid) and decoding replies and notifications ([`decode`]) into
//!   [`Message`] = header + [`Body`] (a typed [`Tlv`] or a MANAGEMENT_ERROR_STATUS).
//! * [`dataset`]: the typed datasets (DEFAULT, CURRENT, PARENT, TIME_PROPERTIES, PORT data sets;
//!   TIME_STATUS_NP, PORT_PROPERTIES_NP, PORT_STATS_NP, GRANDMASTER_SETTINGS_NP,
//!   SUBSCRIBE_EVENTS_NP). PORT_STATS_NP counters differ in byte order between linuxptp 3.x and
//!   4.x, not in length: see [`StatsOrder`].
//! * [`text`]: a message as pmc prints it.
//! * [`view`]: what the agent reports of one ptp4l ([`view::PtpView`]: grandmaster, clock
//!   class, distance, time properties, port states), built from datasets (pure).
//!
//! All of that is pure and never panics on any input (fuzzed in tests/mgmt_fuzz.rs): a short or
//! malformed datagram is a [`MgmtError`] naming the dataset and field. I/O lives at the edges:
//! [`socket`] (a tokio UNIX datagram session), [`follow`] (one session per running ptp4l that
//! keeps its [`view::PtpView`] current for the runtime) and [`cli`] (`ptp-agent pmc`).

pub mod cli;
pub mod dataset;
pub mod follow;
pub mod id;
pub mod message;
pub mod socket;
pub mod text;
pub mod view;
mod wire;

pub use dataset::*;
pub use id::ManagementId;
pub use message::{Action, Body, ErrorStatus, Header, Message, Request, RequestHeader, Tlv, decode, source_identity};
pub use wire::{ClockIdentity, ClockQuality, PortIdentity};

use std::path::PathBuf;
use std::time::Duration;

/// What goes wrong talking management to ptp4l.
#[derive(Debug, thiserror::Error)]
pub enum MgmtError {
    /// The datagram ends before a field.
    #[error("{what}: too short for {field}: needs {need} bytes, has {got}")]
    Short { what: &'static str, field: &'static str, need: usize, got: usize },
    /// A field holds a value that cannot be right.
    #[error("{what}: malformed: {message}")]
    Malformed { what: &'static str, message: String },
    /// Binding, sending or receiving on the UNIX socket failed.
    #[error("management socket {path}: {message}")]
    Socket { path: PathBuf, message: String },
    /// No reply in time (a wrong domain number is dropped silently by ptp4l, so it looks like this).
    #[error(
        "no reply from {path} to {request} within {timeout:?} (is ptp4l running there, and is the domain number {domain} its own?)"
    )]
    Timeout { path: PathBuf, request: String, timeout: Duration, domain: u8 },
    /// ptp4l answered with MANAGEMENT_ERROR_STATUS.
    #[error("{id}: ptp4l answered {name} ({code:#06x})")]
    Status { id: ManagementId, name: &'static str, code: u16 },
    /// A command line `pmc` does not understand.
    #[error("{0}")]
    Command(String),
}

impl From<&ErrorStatus> for MgmtError {
    fn from(e: &ErrorStatus) -> Self {
        MgmtError::Status { id: e.id, name: e.error_name(), code: e.error }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_vectors;
