//! `scripts/fuzz.sh 60 link_dump`: receive buffers of an rtnetlink
//! link dump (RTM_NEWLINK replies up to NLMSG_DONE or an error), framed and decoded the way
//! `dump_links` does, must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptp_agent::nic::link::{RTM_NEWLINK, decode_link};
use ptp_agent::nic::netlink::collect_replies;

fuzz_target!(|data: &[u8]| {
    // The first 4 bytes choose the sequence number the exchange waits for; the rest is one
    // receive buffer.
    let (seq, buf) = match data.split_first_chunk::<4>() {
        Some((seq, rest)) => (u32::from_ne_bytes(*seq), rest),
        None => return,
    };
    let mut replies = Vec::new();
    let _ = collect_replies(buf, seq, RTM_NEWLINK, &mut replies);
    for payload in &replies {
        if let Ok(link) = decode_link(payload) {
            let _ = (link.is_loopback(), link.operstate_name());
        }
    }
});
