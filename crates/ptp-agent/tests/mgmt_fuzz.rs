//! The management decoder never panics: arbitrary bytes, truncations and byte flips of valid
//! replies (every supported dataset) give a message or a clear error.

use proptest::prelude::*;
use ptp_agent::mgmt::{StatsOrder, decode};

#[path = "../src/mgmt/tests_vectors.rs"]
mod vectors;

fn orders() -> impl Strategy<Value = StatsOrder> {
    prop_oneof![Just(StatsOrder::V3), Just(StatsOrder::V4), Just(StatsOrder::Auto)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..600), order in orders()) {
        let _ = decode(&buf, order);
    }

    #[test]
    fn truncated_replies_are_errors(which in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let all = vectors::valid_replies();
        let reply = which.get(&all);
        let n = cut.index(reply.len());
        let err = decode(&reply[..n], StatsOrder::Auto).unwrap_err().to_string();
        prop_assert!(err.contains("too short") || err.contains("malformed"), "{}", err);
    }

    #[test]
    fn flipped_replies_never_panic(
        which in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        order in orders(),
    ) {
        let all = vectors::valid_replies();
        let mut reply = which.get(&all).clone();
        for (at, byte) in flips {
            let i = at.index(reply.len());
            reply[i] = byte;
        }
        let _ = decode(&reply, order);
    }
}

#[test]
fn every_vector_decodes() {
    for reply in vectors::valid_replies() {
        decode(&reply, StatsOrder::Auto).unwrap();
    }
}
