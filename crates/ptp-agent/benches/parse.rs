//! Log parser throughput on one core (goal: >= 1 M lines/s).
//! `cargo bench -p ptp-agent --bench parse`

use std::time::Instant;

use ptp_agent::logparse::{Kind, PortTracker, parse};

const LINES: &[&str] = &[
    "ptp4l[365195.391]: [ptp4l.0.config] master offset         -1 s2 freq   -3972 path delay        89",
    "phc2sys[3560354.300]: [ptp4l.0.config] CLOCK_REALTIME phc offset       -15 s2 freq  -38402 delay    480",
    "ptp4l[74737.942]: [ptp4l.0.config] rms  53 max   74 freq -16642 +/-  40 delay  1089 +/-  20",
    "ts2phc[82674.465]: [ts2phc.0.cfg] ens2f1 master offset          0 s2 freq      -0",
    "ptp4l[4268779.809]: [ptp4l.0.config] port 2 (ens1f1): LISTENING to PASSIVE on RS_PASSIVE",
    "ptp4l[1903447.096]: [ptp4l.1.config:6] selected /dev/ptp3 as PTP clock",
    "phc2sys[3560354.300]: [ptp4l.0.config:{level}] CLOCK_REALTIME rms    4 max    4 freq -76829 +/-   0 delay  1085 +/-   0",
    "ptp4l[365196.391]: [ptp4l.0.config] master offset          3 s2 freq   -3968 path delay        90",
];

fn main() {
    let rounds = 400_000;
    let mut tracker = PortTracker::default();
    let mut offsets = 0u64;
    let start = Instant::now();
    for _ in 0..rounds {
        for text in LINES {
            let line = parse(std::hint::black_box(text));
            if line.kind == Some(Kind::Port) {
                tracker.observe(&line);
            }
            offsets += line.offset_ns.map_or(0, |o| o.unsigned_abs());
        }
    }
    let elapsed = start.elapsed();
    let total = rounds * LINES.len();
    let rate = total as f64 / elapsed.as_secs_f64();
    std::hint::black_box(offsets);
    println!(
        "log parser: {total} lines in {:.0} ms on one core = {:.2} M lines/s ({:.0} ns/line); goal >= 1 M lines/s: {}",
        elapsed.as_secs_f64() * 1e3,
        rate / 1e6,
        1e9 / rate,
        if rate >= 1e6 { "met" } else { "NOT met" }
    );
}
