//! The realistic fleet of the render benches: `configs` PtpConfigs of one ~2 KB profile each,
//! rule `ptp/group=<i % 100>` at priority `i % 5`, and `nodes` workers spread over the 100 groups.

use ptp_api::{MatchRule, PtpClockThreshold, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};
use ptp_operator::render::NodeInfo;

/// Number of `ptp/group` label values.
pub const GROUPS: usize = 100;

pub fn ptp4l_conf(i: usize) -> String {
    let mut conf = String::from("[global]\n");
    let mut n = 0;
    while conf.len() < 1900 {
        conf.push_str(&format!("option_{i}_{n} value-{n}\n"));
        n += 1;
    }
    conf
}

pub fn config(i: usize) -> PtpConfig {
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
        r#match: Some(vec![MatchRule::node_label(format!("ptp/group={}", i % GROUPS))]),
    };
    PtpConfig::new(&format!("config-{i:03}"), PtpConfigSpec { profile: vec![profile], recommend: vec![recommend] })
}

pub fn node(i: usize, group: usize) -> NodeInfo {
    NodeInfo::new(format!("worker-{i:05}"))
        .with_label("ptp/group", group.to_string())
        .with_label("node-role.kubernetes.io/worker", "")
}

pub fn inputs(configs: usize, nodes: usize) -> (Vec<PtpConfig>, Vec<NodeInfo>) {
    ((0..configs).map(config).collect(), (0..nodes).map(|i| node(i, i % GROUPS)).collect())
}
