//! No code: see Cargo.toml. Every member of the workspace depends on this crate so that every
//! cargo invocation resolves the same features for the dependencies (one set of artefacts).

#![forbid(unsafe_code)]
