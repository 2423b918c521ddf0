//! The controller shell: reflectors over PtpConfigs, Nodes, the ConfigMap and NodePtpDevices feed
//! one debounced, full render (`plan`), whose writes `apply` performs. Only the leader writes.

pub mod apply;
pub mod conditions;
pub mod decode;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod plan;
pub mod run;
pub mod selector;
pub mod size;
