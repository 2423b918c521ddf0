//! Empty: it makes cargo build the `[build-dependencies]` (host features) this crate unifies.
fn main() {}
