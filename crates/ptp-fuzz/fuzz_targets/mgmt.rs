//! ptp4l's management replies (what arrives on the agent's management socket): decoding any
//! bytes, with either PORT_STATS_NP byte order, returns a message or an error, never panics; a
//! decoded message prints as pmc would without panicking either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ptp_agent::mgmt::{StatsOrder, decode};

fuzz_target!(|data: &[u8]| {
    for order in [StatsOrder::V3, StatsOrder::V4, StatsOrder::Auto] {
        if let Ok(message) = decode(data, order) {
            let _ = format!("{message:?}");
        }
    }
});
