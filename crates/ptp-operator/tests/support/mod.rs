//! Helpers shared by the integration tests and benches of this crate.

pub mod nodes;
