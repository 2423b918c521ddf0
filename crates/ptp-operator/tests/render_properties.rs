//! The render output is a function of the set of inputs: any permutation gives identical bytes,
//! and rendering twice gives the same result.

use proptest::prelude::*;
use ptp_api::{MatchRule, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};
use ptp_operator::render::{NodeInfo, render, render_node};

const LABELS: &[&str] = &["a", "b", "c=1", "c=2", "node-role.kubernetes.io/worker"];
const PROFILE_NAMES: &[&str] = &["p", "q", "r"];

fn match_rule() -> impl Strategy<Value = MatchRule> {
    prop_oneof![
        (0..6usize).prop_map(|n| MatchRule::node_name(format!("n{n}"))),
        proptest::sample::select(LABELS).prop_map(MatchRule::node_label),
    ]
}

fn config(index: usize) -> impl Strategy<Value = PtpConfig> {
    let profiles = proptest::sample::subsequence(PROFILE_NAMES, 1..=3);
    let rules = proptest::collection::vec(
        (
            proptest::sample::select(&["p", "q", "r", "missing"][..]),
            0i64..4,
            proptest::collection::vec(match_rule(), 0..3),
        ),
        0..4,
    );
    let refs = proptest::sample::select(&["p", "q", "c0_p", "c1_q", "ghost", "p, q"][..]);
    (profiles, rules, refs).prop_map(move |(profiles, rules, reference)| {
        let profile = profiles
            .iter()
            .map(|n| {
                let mut p = PtpProfile { ptp4l_opts: Some(format!("-2 {n}")), ..PtpProfile::named(*n) };
                if *n == "r" {
                    p.ptp_settings = Some([("haProfiles".to_string(), reference.to_string())].into());
                }
                p
            })
            .collect();
        let recommend = rules
            .into_iter()
            .map(|(p, priority, m)| PtpRecommend { profile: p.to_string(), priority, r#match: Some(m) })
            .collect();
        let mut c = PtpConfig::new(&format!("c{index}"), PtpConfigSpec { profile, recommend });
        c.metadata.namespace = Some("ptp".into());
        c
    })
}

fn nodes() -> impl Strategy<Value = Vec<NodeInfo>> {
    proptest::collection::vec(proptest::sample::subsequence(LABELS, 0..3), 6).prop_map(|label_sets| {
        label_sets
            .into_iter()
            .enumerate()
            .map(|(i, labels)| {
                labels.into_iter().fold(NodeInfo::new(format!("n{i}")), |node, l| match l.split_once('=') {
                    Some((k, v)) => node.with_label(k, v),
                    None => node.with_label(l, ""),
                })
            })
            .collect()
    })
}

fn configs() -> impl Strategy<Value = Vec<PtpConfig>> {
    (config(0), config(1), config(2)).prop_map(|(a, b, c)| vec![a, b, c])
}

/// Configs that clash: two namespaces, names that repeat across them (the same qualified profile
/// names: conflicts), profiles whose names repeat within a config (the first wins).
fn clashing_configs() -> impl Strategy<Value = Vec<PtpConfig>> {
    let one = |i: usize| {
        (config(i), proptest::sample::select(&["ptp", "other"][..]), any::<bool>()).prop_map(
            move |(mut c, namespace, duplicate)| {
                c.metadata.name = Some(format!("c{}", i % 2));
                c.metadata.namespace = Some(namespace.to_string());
                if duplicate && let Some(first) = c.spec.profile.first().cloned() {
                    c.spec.profile.push(PtpProfile { ptp4l_opts: Some("-2 duplicate".into()), ..first });
                }
                c
            },
        )
    };
    (one(0), one(1), one(2), one(3)).prop_map(|(a, b, c, d)| vec![a, b, c, d])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_permutation_gives_identical_output(
        configs in configs(),
        nodes in nodes(),
        config_order in Just(vec![0usize, 1, 2]).prop_shuffle(),
        node_order in Just((0..6).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        let expected = render(&configs, &nodes);
        let shuffled_configs: Vec<PtpConfig> = config_order.iter().map(|i| configs[*i].clone()).collect();
        let shuffled_nodes: Vec<NodeInfo> = node_order.iter().map(|i| nodes[*i].clone()).collect();
        let got = render(&shuffled_configs, &shuffled_nodes);
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(render(&configs, &nodes), expected.clone(), "idempotent");
        // Every node has a key; every value is a JSON array whose names are sorted.
        prop_assert_eq!(expected.data.len(), 6);
        for value in expected.data.values() {
            let items: Vec<serde_json::Value> = serde_json::from_str(value).unwrap();
            let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
            let mut sorted = names.clone();
            sorted.sort();
            prop_assert_eq!(names, sorted);
        }
    }

    /// What an agent renders for its own node is what the operator renders for it, byte for
    /// byte, whatever the other nodes are.
    #[test]
    fn one_node_alone_renders_as_in_the_fleet(configs in clashing_configs(), nodes in nodes()) {
        let fleet = render(&configs, &nodes);
        for node in &nodes {
            prop_assert_eq!(&render_node(&configs, node), &fleet.data[&node.name], "node {}", node.name);
        }
    }
}
