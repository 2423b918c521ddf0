//! Where the node's profiles come from: each source sends the node's full value (what its
//! `ptp-configmap` key holds: a JSON array of profiles, or the legacy single object) each time it
//! changes, as [`SourceValue`]s on a channel to the runtime loop ([`crate::run`]).
//!
//! * [`file`]: a file (`--profile FILE`, a mounted ConfigMap key or a hand-written file);
//! * [`own_node`]: the agent renders its own node from the PtpConfigs and its Node
//!   (`--profile-source api`, the default in a cluster);
//! * [`configmap`]: the node's key of the operator's `ptp-configmap` (`--profile-source configmap`).

pub mod configmap;
pub mod file;
pub mod own_node;

/// What a profile source delivers: the node's value, or why the source exists but cannot be read
/// (an unreadable file, not UTF-8, ...).
pub type SourceValue = Result<String, String>;
