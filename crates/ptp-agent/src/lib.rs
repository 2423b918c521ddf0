//! The per-node PTP agent: NIC discovery over ethtool netlink (`nic`) and reporting the node's
//! devices into its NodePtpDevice status (`report`); the node's profiles from a file
//! (`profile_file`), its own render of the PtpConfigs (`own_node`) or the ConfigMap (`cluster`);
//! profile → files and argv (`render`), the supervisor (`supervise`), the log parser
//! (`logparse`, `clockstate`), the runtime that ties them (`runtime`, `update`, `standalone`),
//! metrics and probes (`metrics`, `serve`).

pub mod clockstate;
pub mod error;
pub mod logparse;
pub mod nic;
pub mod render;
pub mod report;
pub mod supervise;

pub use error::Error;
pub mod cluster;
pub mod metrics;
pub mod own_node;
pub mod parse_command;
pub mod profile_file;
pub mod runtime;
pub mod serve;
pub mod standalone;
pub mod update;
