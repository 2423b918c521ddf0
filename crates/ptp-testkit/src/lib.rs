//! Test support (see the crate docs once written).
