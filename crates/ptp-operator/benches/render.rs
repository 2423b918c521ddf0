//! Full render for 5,000 nodes and 200 PtpConfigs with ~2 KB profiles (goal: < 100 ms). That
//! ConfigMap (~22 MB) is far over the 1 MiB object limit: the operator refuses to write it. The
//! bench also renders the largest fleet of the same shape whose ConfigMap can be stored.
//! `cargo bench -p ptp-operator --bench render` prints the figures.

use std::time::{Duration, Instant};

#[path = "support/fleet.rs"]
mod fleet;

use ptp_operator::controller::size::CONFIGMAP_LIMIT_BYTES;
use ptp_operator::render::render;

const NODES: usize = 5_000;
const CONFIGS: usize = 200;
const RUNS: usize = 7;

/// Median, min and max render time and the ConfigMap data size for `nodes` nodes.
fn measure(nodes: usize) -> (Duration, Duration, Duration, usize) {
    let (configs, nodes) = fleet::inputs(CONFIGS, nodes);
    let mut times: Vec<Duration> = Vec::new();
    let mut bytes = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = render(&configs, &nodes);
        times.push(start.elapsed());
        bytes = out.data_bytes();
        std::hint::black_box(out);
    }
    times.sort();
    (times[times.len() / 2], times[0], times[times.len() - 1], bytes)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let (configs, _) = fleet::inputs(CONFIGS, 1);
    let profile_bytes: usize =
        configs.iter().map(|c| serde_json::to_string(&c.spec.profile[0]).map(|s| s.len()).unwrap_or(0)).sum::<usize>()
            / CONFIGS;
    let (median, min, max, bytes) = measure(NODES);
    let storable = bytes <= CONFIGMAP_LIMIT_BYTES;
    println!(
        "render: {NODES} nodes, {CONFIGS} PtpConfigs, ~{profile_bytes} B per profile, ConfigMap data {bytes} B ({}): median {:.1} ms (min {:.1} ms, max {:.1} ms) over {RUNS} runs; goal < 100 ms: {}",
        if storable { "storable" } else { "over the 1 MiB limit: the operator refuses to write it" },
        ms(median),
        ms(min),
        ms(max),
        if median < Duration::from_millis(100) { "met" } else { "NOT met" }
    );
    // The same shape scaled down to fit the limit (95% of it, for the keys' growth and metadata).
    let mut fit = (NODES as f64 * 0.95 * CONFIGMAP_LIMIT_BYTES as f64 / bytes as f64) as usize;
    let (median, min, max, bytes) = loop {
        let measured = measure(fit);
        if measured.3 <= CONFIGMAP_LIMIT_BYTES || fit <= 1 {
            break measured;
        }
        fit = fit * 9 / 10;
    };
    println!(
        "render, storable: {fit} nodes, {CONFIGS} PtpConfigs, ConfigMap data {bytes} B (limit {CONFIGMAP_LIMIT_BYTES} B): median {:.2} ms (min {:.2} ms, max {:.2} ms) over {RUNS} runs",
        ms(median),
        ms(min),
        ms(max)
    );
}
