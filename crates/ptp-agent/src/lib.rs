//! The per-node PTP agent. Where each job lives:
//!
//! * `nic`: PTP-capable NICs over ethtool netlink; `report`: them into the node's NodePtpDevice
//!   status (`devices`).
//! * `source`: the node's profile values: a file, the agent's own render of the PtpConfigs, or
//!   the operator's `ptp-configmap`.
//! * `render`: a profile → configuration files and argv (pure); `update`: which profiles start,
//!   restart, stop or stay (pure).
//! * `supervise`: the linuxptp processes (groups, restarts, output lines, orphans).
//! * `logparse`, `clockstate`: what their lines say (pure).
//! * `mgmt`: the PTP management protocol to ptp4l's socket (pure codec, a socket session, the
//!   `ptp-agent pmc` command).
//! * `runtime`: applies values, observes lines (`runtime::observe`, pure), publishes a typed
//!   state snapshot (`runtime::state`).
//! * `run`: the `ptp-agent run` loop and its modes (`run::file`, `run::cluster`).
//! * consumers of the state: `serve` (`/metrics`, `/healthz`, `/readyz`), `status` (the runtime's
//!   NodePtpDevice status fields); `metrics` (the `openshift_ptp_*` series).

pub mod clockstate;
pub mod error;
pub mod linuxptp;
pub mod logparse;
pub mod metrics;
pub mod mgmt;
pub mod nic;
pub mod parse_command;
pub mod render;
pub mod report;
pub mod run;
pub mod runtime;
pub mod serve;
pub mod source;
pub mod status;
pub mod supervise;
pub mod tbc;
pub mod update;

pub use error::Error;
