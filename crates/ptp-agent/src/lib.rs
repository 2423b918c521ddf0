//! The per-node PTP agent: NIC discovery over ethtool netlink (`nic`) and reporting the node's
//! devices into its NodePtpDevice status (`report`).

pub mod clockstate;
pub mod logparse;
pub mod error;
pub mod nic;
pub mod report;

pub use error::Error;
