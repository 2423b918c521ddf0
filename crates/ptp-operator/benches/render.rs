//! Full render for 5,000 nodes and 200 PtpConfigs with ~2 KB profiles (goal: < 100 ms).
//! `cargo bench -p ptp-operator --bench render` prints the figures.

use std::time::{Duration, Instant};

#[path = "support/fleet.rs"]
mod fleet;

use ptp_api::PtpConfig;
use ptp_operator::render::{NodeInfo, render};

const NODES: usize = 5_000;
const CONFIGS: usize = 200;

fn inputs() -> (Vec<PtpConfig>, Vec<NodeInfo>) {
    fleet::inputs(CONFIGS, NODES)
}

fn main() {
    let (configs, nodes) = inputs();
    let profile_bytes: usize =
        configs.iter().map(|c| serde_json::to_string(&c.spec.profile[0]).map(|s| s.len()).unwrap_or(0)).sum::<usize>()
            / CONFIGS;
    let mut times: Vec<Duration> = Vec::new();
    let mut bytes = 0;
    for _ in 0..7 {
        let start = Instant::now();
        let out = render(&configs, &nodes);
        times.push(start.elapsed());
        bytes = out.data_bytes();
        std::hint::black_box(out);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "render: {NODES} nodes, {CONFIGS} PtpConfigs, ~{profile_bytes} B per profile, ConfigMap data {bytes} B: median {:.1} ms (min {:.1} ms, max {:.1} ms) over {} runs; goal < 100 ms: {}",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len(),
        if median < Duration::from_millis(100) { "met" } else { "NOT met" }
    );
}
