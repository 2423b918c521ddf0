//! Full render for 5,000 nodes and 200 PtpConfigs with ~2 KB profiles (goal: < 100 ms).
//! `cargo bench -p ptp-operator --bench render` prints the figures.

use std::time::{Duration, Instant};

use ptp_api::{MatchRule, PtpClockThreshold, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};
use ptp_operator::render::{NodeInfo, render};

const NODES: usize = 5_000;
const CONFIGS: usize = 200;

fn ptp4l_conf(i: usize) -> String {
    let mut conf = String::from("[global]\n");
    let mut n = 0;
    while conf.len() < 1900 {
        conf.push_str(&format!("option_{i}_{n} value-{n}\n"));
        n += 1;
    }
    conf
}

fn inputs() -> (Vec<PtpConfig>, Vec<NodeInfo>) {
    let configs = (0..CONFIGS)
        .map(|i| {
            let profile = PtpProfile {
                interface: Some(format!("ens{}f0", i % 8)),
                ptp4l_opts: Some("-2 -s".into()),
                phc2sys_opts: Some("-a -r -n 24".into()),
                ptp4l_conf: Some(ptp4l_conf(i)),
                ptp_clock_threshold: Some(PtpClockThreshold::default()),
                ..PtpProfile::named(format!("profile-{i}"))
            };
            let recommend = PtpRecommend {
                profile: profile.name.clone(),
                priority: (i % 5) as i64,
                r#match: Some(vec![MatchRule::node_label(format!("ptp/group={}", i % 100))]),
            };
            PtpConfig::new(
                &format!("config-{i:03}"),
                PtpConfigSpec { profile: vec![profile], recommend: vec![recommend] },
            )
        })
        .collect();
    let nodes = (0..NODES)
        .map(|i| {
            NodeInfo::new(format!("worker-{i:05}"))
                .with_label("ptp/group", (i % 100).to_string())
                .with_label("node-role.kubernetes.io/worker", "")
        })
        .collect();
    (configs, nodes)
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
