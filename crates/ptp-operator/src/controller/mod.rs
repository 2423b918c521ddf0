//! The controller shell: reflectors over PtpConfigs, Nodes, the ConfigMap and NodePtpDevices feed
//! the incremental render engine (`feed`) and wake one debounced reconcile (`plan`), which looks
//! only at what changed and whose writes `apply` performs. Only the leader writes; the events of
//! its own writes wake nothing (`own_writes`).

pub mod apply;
pub mod conditions;
pub mod decode;
pub mod feed;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod own_writes;
pub mod plan;
pub mod run;
pub mod selector;
pub mod size;
pub mod watches;
