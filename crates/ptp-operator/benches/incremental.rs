//! The incremental render engine against the full render, at 5,000 and 50,000 nodes with 200
//! PtpConfigs (the fleet of `benches/render.rs`). Goal: a Node label change costs < 5 ms at
//! 50,000 nodes and is at least 100 times cheaper than a full render.
//! `cargo bench -p ptp-operator --bench incremental` prints the figures (`SIZES=5000,50000`).
//!
//! Per size: the full render (median of a few runs), building the engine, a Node label change
//! (the node moves to another `ptp/group`, so its profiles change; median and p99), a PtpConfig
//! edit (its ptp4l.conf changes, so every node it applies to is re-encoded), and a PtpConfig
//! whose rule moves to another group. At 5,000 nodes the engine's output is checked against the
//! full render after the changes.

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/stats.rs"]
mod stats;

use std::time::{Duration, Instant};

use ptp_api::PtpConfig;
use ptp_operator::render::{IncrementalRender, render};
use stats::{ms, stats};

const CONFIGS: usize = 200;
const LABEL_CHANGES: usize = 5_000;
const CONFIG_EDITS: usize = 200;

/// A small deterministic generator (xorshift64*), enough to pick nodes and groups.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn edited(config: &PtpConfig, round: usize) -> PtpConfig {
    let mut c = config.clone();
    if let Some(conf) = c.spec.profile[0].ptp4l_conf.as_mut() {
        conf.push_str(&format!("edit_{round} 1\n"));
    }
    c.metadata.generation = Some(round as i64 + 2);
    c
}

fn regrouped(config: &PtpConfig, group: usize) -> PtpConfig {
    let mut c = config.clone();
    c.spec.recommend[0].r#match = Some(vec![ptp_api::MatchRule::node_label(format!("ptp/group={group}"))]);
    c
}

fn run(nodes_count: usize) {
    let (configs, mut nodes) = fleet::inputs(CONFIGS, nodes_count);
    let runs = if nodes_count > 10_000 { 3 } else { 7 };
    let mut full = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let out = render(&configs, &nodes);
        full.push(start.elapsed());
        bytes = out.data_bytes();
        std::hint::black_box(out);
    }
    let full = stats(full).median;

    let start = Instant::now();
    let mut engine = IncrementalRender::build(configs.clone(), nodes.clone());
    let build = start.elapsed();
    assert_eq!(engine.data_bytes(), bytes, "same ConfigMap size as the full render");

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ nodes_count as u64);
    let mut label = Vec::with_capacity(LABEL_CHANGES);
    let mut changed_values = 0;
    for _ in 0..LABEL_CHANGES {
        let i = rng.below(nodes.len());
        let node = fleet::node(i, rng.below(fleet::GROUPS));
        nodes[i] = node.clone();
        let start = Instant::now();
        let changes = engine.upsert_node(node);
        label.push(start.elapsed());
        changed_values += changes.nodes.len();
        let _ = std::hint::black_box(engine.data_bytes() > 1024 * 1024);
    }
    let label = stats(label);

    let mut configs = configs;
    // CONFIG_EDITS upserts of a random PtpConfig changed by `change(config, round)`: their times
    // and the nodes they changed.
    let mut upserts = |change: &dyn Fn(&PtpConfig, usize, &mut Rng) -> PtpConfig| {
        let mut times = Vec::with_capacity(CONFIG_EDITS);
        let mut changed_nodes = 0;
        for round in 0..CONFIG_EDITS {
            let i = rng.below(configs.len());
            configs[i] = change(&configs[i], round, &mut rng);
            let c = configs[i].clone();
            let start = Instant::now();
            let changes = engine.upsert_config(c);
            times.push(start.elapsed());
            changed_nodes += changes.nodes.len();
        }
        (stats(times), changed_nodes)
    };
    let (edit, edit_nodes) = upserts(&|config, round, _| edited(config, round));
    let (moves, move_nodes) = upserts(&|config, _, rng| regrouped(config, rng.below(fleet::GROUPS)));

    let checked = if nodes_count <= 10_000 {
        assert_eq!(engine.output(), render(&configs, &nodes), "incremental output equals the full render");
        "output checked equal to the full render"
    } else {
        "output not compared at this size"
    };

    println!("incremental: {nodes_count} nodes, {CONFIGS} PtpConfigs, ConfigMap data {bytes} B ({checked})");
    println!("  full render:          median {:>9.3} ms over {runs} runs", ms(full));
    println!("  build the engine:            {:>9.3} ms (once, at start)", ms(build));
    println!(
        "  Node label change:    median {:>9.3} ms, p99 {:.3} ms, max {:.3} ms over {LABEL_CHANGES} changes ({:.2} values changed each); full/incremental {:.0}x (median), {:.0}x (p99); goal < 5 ms and >= 100x: {}",
        ms(label.median),
        ms(label.p99),
        ms(label.max),
        changed_values as f64 / LABEL_CHANGES as f64,
        full.as_secs_f64() / label.median.as_secs_f64(),
        full.as_secs_f64() / label.p99.as_secs_f64(),
        if label.p99 < Duration::from_millis(5) && full >= label.p99 * 100 { "met" } else { "NOT met" }
    );
    println!(
        "  PtpConfig text edit:  median {:>9.3} ms, p99 {:.3} ms over {CONFIG_EDITS} edits ({:.0} node values changed each); full/incremental {:.0}x",
        ms(edit.median),
        ms(edit.p99),
        edit_nodes as f64 / CONFIG_EDITS as f64,
        full.as_secs_f64() / edit.median.as_secs_f64()
    );
    println!(
        "  PtpConfig rule moved: median {:>9.3} ms, p99 {:.3} ms over {CONFIG_EDITS} edits ({:.0} node values changed each); full/incremental {:.0}x",
        ms(moves.median),
        ms(moves.p99),
        move_nodes as f64 / CONFIG_EDITS as f64,
        full.as_secs_f64() / moves.median.as_secs_f64()
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![5_000, 50_000]);
    for size in sizes {
        run(size);
    }
}
