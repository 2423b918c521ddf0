//! The agent node selector (`AGENT_NODE_SELECTOR`, `k=v,...` as `kubectl` writes it): the one
//! label selector parser of the project, [`ptp_api::selector`].

pub use ptp_api::selector::{LabelSelector, Op, Requirement};
