//! `scripts/fuzz.sh 60 tsinfo`: the netlink framing and the TSINFO
//! and link decoders on arbitrary bytes must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptp_agent::nic::link::decode_link;
use ptp_agent::nic::netlink::{attrs, error_of, genl_payload, messages};
use ptp_agent::nic::tsinfo::decode_tsinfo;

fuzz_target!(|data: &[u8]| {
    let _ = decode_tsinfo(data);
    let _ = decode_link(data);
    for attr in attrs(data).flatten() {
        let _ = attr.nested().count();
        let _ = (attr.u32("a"), attr.string("a"));
    }
    for message in messages(data).flatten() {
        let _ = error_of(&message);
        if let Ok((_, payload)) = genl_payload(&message) {
            let _ = decode_tsinfo(payload);
        }
    }
});
