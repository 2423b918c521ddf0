//! The log parser never panics, whatever the line, and what it recognises is consistent.

use proptest::prelude::*;
use ptp_agent::logparse::{Kind, LineJson, PortTracker, parse};

const WORDS: &[&str] = &[
    "ptp4l[1.0]:",
    "phc2sys[2.5]:",
    "ts2phc[3]:",
    "[ptp4l.0.config]",
    "[ts2phc.0.cfg:{level}]",
    "[x:6]",
    "master",
    "offset",
    "s0",
    "s1",
    "s2",
    "s3",
    "s9",
    "freq",
    "path",
    "delay",
    "-12",
    "+345",
    "99999999999999999999",
    "rms",
    "max",
    "+/-",
    "port",
    "1:",
    "2",
    "(eth0):",
    "to",
    "on",
    "SLAVE",
    "FAULTY",
    "LISTENING",
    "CLOCK_REALTIME",
    "phc",
    "/dev/ptp0",
    "holdover",
    "[",
    "]",
    ":",
    "",
    "ü",
    "\t",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn arbitrary_text_never_panics(line in ".{0,120}") {
        let parsed = parse(&line);
        let _ = serde_json::to_string(&LineJson::new(&parsed, None)).unwrap();
    }

    #[test]
    fn shuffled_tokens_never_panic_and_offsets_come_with_a_servo(words in proptest::collection::vec(proptest::sample::select(WORDS), 0..16)) {
        let line = words.join(" ");
        let parsed = parse(&line);
        let mut tracker = PortTracker::default();
        tracker.observe(&parsed);
        if parsed.kind == Some(Kind::Offset) {
            prop_assert!(parsed.servo.is_some() && parsed.offset_ns.is_some() && parsed.freq_adj_ppb.is_some());
        }
        if parsed.kind == Some(Kind::Summary) {
            prop_assert!(parsed.offset_ns.is_some() && parsed.max_offset_ns.is_some());
        }
        if parsed.kind == Some(Kind::Port) {
            prop_assert!(parsed.port.is_some() && parsed.to_state.is_some());
        }
    }
}
