//! NIC discovery over ethtool netlink: which interfaces can timestamp, how, and with which PTP
//! hardware clock, plus their PCI/driver facts.
//!
//! Pure parts: `netlink` (framing), `tsinfo` (TSINFO decoder), `link` (rtnetlink links), `names`,
//! `model` (grouping, merging, classification, selection, mapping to the API). I/O edges:
//! `socket` (netlink sockets), `sysfs`, `drvinfo` (ioctl), `netns` (setns thread), `watch`
//! (link notifications); `discover` ties them together.

pub mod discover;
pub mod drvinfo;
pub mod link;
pub mod model;
pub mod names;
pub mod netlink;
pub mod netns;
pub mod output;
pub mod socket;
pub mod sysfs;
pub mod tsinfo;
pub mod watch;

/// Discovery errors are the crate's error type.
pub use crate::error::Error as NicError;
pub use discover::Discovery;
pub use model::{Nic, Selection, devices, select};
pub use watch::LinkWatcher;
