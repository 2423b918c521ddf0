//! The decoders on thousands of random and mutated buffers: they return values or errors, never
//! panic. (The cargo-fuzz target in `fuzz/` does the same with coverage guidance.)

use proptest::prelude::*;
use ptp_agent::nic::link::decode_link;
use ptp_agent::nic::netlink::{AttrWriter, attrs, error_of, genl_message, genl_payload, messages};
use ptp_agent::nic::tsinfo::{
    HEADER_DEV_INDEX, HEADER_DEV_NAME, HEADER_FLAGS, TSINFO_HEADER, TSINFO_PHC_INDEX, TSINFO_RX_FILTERS,
    TSINFO_TIMESTAMPING, TSINFO_TX_TYPES, decode_tsinfo,
};

/// A valid TSINFO reply: compact or verbose bitsets, optional PHC, optional unknown attributes.
fn reply(ifindex: u32, ts: u32, tx: u32, rx: u32, phc: Option<u32>, verbose: bool, extra: bool) -> Vec<u8> {
    let mut w = AttrWriter::default();
    w.nest(TSINFO_HEADER, |h| {
        h.u32(HEADER_DEV_INDEX, ifindex).string(HEADER_DEV_NAME, "eth0").u32(HEADER_FLAGS, u32::from(!verbose));
    });
    for (kind, value) in [(TSINFO_TIMESTAMPING, ts), (TSINFO_TX_TYPES, tx), (TSINFO_RX_FILTERS, rx)] {
        w.nest(kind, |b| {
            b.raw(1, &[]).u32(2, 32);
            if verbose {
                b.nest(3, |list| {
                    for bit in (0..32).filter(|i| value & (1 << i) != 0) {
                        list.nest(1, |entry| {
                            entry.u32(1, bit).string(2, &format!("name{bit}"));
                        });
                    }
                });
            } else {
                b.u32(4, value);
            }
        });
    }
    if let Some(phc) = phc {
        w.u32(TSINFO_PHC_INDEX, phc);
    }
    if extra {
        w.u32(6, 1).nest(7, |n| {
            n.u32(1, 2);
        });
    }
    w.buf
}

fn exercise(buf: &[u8]) {
    let _ = decode_tsinfo(buf);
    let _ = decode_link(buf);
    for a in attrs(buf).flatten() {
        let _ = a.nested().count();
        let _ = (a.u32("x"), a.u16("x"), a.u8("x"), a.string("x"));
    }
    for m in messages(buf).flatten() {
        let _ = error_of(&m);
        if let Ok((_, payload)) = genl_payload(&m) {
            let _ = decode_tsinfo(payload);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&buf);
    }

    #[test]
    fn valid_replies_decode_exactly(
        ifindex in 1u32..10_000, ts in any::<u32>(), tx in any::<u32>(), rx in any::<u32>(),
        phc in proptest::option::of(0u32..64), verbose in any::<bool>(), extra in any::<bool>(),
    ) {
        let info = decode_tsinfo(&reply(ifindex, ts, tx, rx, phc, verbose, extra)).unwrap();
        prop_assert_eq!(info.ifindex, ifindex);
        prop_assert_eq!(info.phc_index, phc);
        let bits = |v: u32| (0..32).filter(|i| v & (1 << i) != 0).collect::<Vec<u32>>();
        prop_assert_eq!(&info.timestamping.bits, &bits(ts));
        prop_assert_eq!(&info.tx_types.bits, &bits(tx));
        prop_assert_eq!(&info.rx_filters.bits, &bits(rx));
        prop_assert_eq!(info.timestamping_names().len(), bits(ts).len());
    }

    #[test]
    fn mutated_replies_never_panic(
        ts in any::<u32>(), verbose in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = reply(3, ts, 3, 0x1003, Some(1), verbose, true);
        for (at, value) in flips {
            let i = at.index(buf.len());
            buf[i] = value;
        }
        exercise(&buf);
        exercise(&buf[..cut.index(buf.len() + 1)]);
        // The same payload inside a netlink message, cut anywhere.
        let message = genl_message(20, 0, 1, 26, 1, &buf);
        exercise(&message[..cut.index(message.len() + 1)]);
    }
}
