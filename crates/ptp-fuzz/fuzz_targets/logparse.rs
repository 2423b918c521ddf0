//! `scripts/fuzz.sh 60 logparse`: the log parser, the port tracker and
//! the JSON view on arbitrary lines must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptp_agent::logparse::{LineJson, PortTracker, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut tracker = PortTracker::default();
    for line in text.lines() {
        let parsed = parse(line);
        tracker.observe(&parsed);
        let slave = parsed.config.and_then(|c| tracker.slave_port(c));
        let _ = serde_json::to_string(&LineJson::new(&parsed, slave));
    }
});
