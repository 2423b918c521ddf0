//! The `ptp.openshift.io/v1` API, compatible with the Go ptp-operator: CRD types, the CEL rules
//! in the CRDs, the pure validation function, a ptp4l.conf model, the linuxptp command lines (and
//! what the agent owns in them), the `ptp-configmap` value encoding and the render engine
//! (PtpConfigs and Nodes to each node's value: the operator renders every node with it, the agent
//! its own). Pure: no I/O anywhere in this crate.

#![forbid(unsafe_code)]

pub mod cel_rules;
pub mod configmap;
pub mod crd;
pub mod decode;
pub mod go_json;
pub mod node_ptp_device;
pub mod options;
pub mod ptp4l_conf;
pub mod ptp_config;
pub mod render;
pub mod selector;
pub mod settings;
pub mod timemaster_conf;
pub mod util;
pub mod validation;

pub use configmap::{
    NodeProfiles, RejectedProfile, decode_node_profiles, encode_node_profiles, encode_profile, join_encoded_profiles,
};
pub use decode::{Decoded, DecodedSpec, RawPtpConfig, decode_spec};
pub use node_ptp_device::{
    ClockState, HardwareInfo, NodePtpDevice, NodePtpDeviceSpec, NodePtpDeviceStatus, PortStatus, ProcessState,
    ProcessStatus, PtpDevice,
};
pub use options::Program;
pub use ptp_config::{
    MatchRule, NodeMatchList, ProcessDowntimeThresholds, PtpClockThreshold, PtpConfig, PtpConfigSpec, PtpConfigStatus,
    PtpProfile, PtpRecommend, SchedulingPolicy,
};
pub use ptp4l_conf::{Line, Ptp4lConf, Section};
pub use validation::{Code, Finding, Report, Severity, validate_profile, validate_spec};

/// API group and version of every resource here.
pub const GROUP: &str = "ptp.openshift.io";
pub const VERSION: &str = "v1";
/// Name of the aggregated ConfigMap the operator writes and agents read.
pub const CONFIGMAP_NAME: &str = "ptp-configmap";

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("ptp4l.conf line {line}: {message}")]
    ConfParse { line: usize, message: String },
    #[error("ptp-configmap value: {0}")]
    ConfigMapValue(String),
    /// A PtpConfig spec the types cannot decode: the field's path and the decoder's message.
    #[error("{path}: {message}")]
    Decode { path: String, message: String },
    #[error("serializing {what}: {message}")]
    Serialize { what: String, message: String },
}
