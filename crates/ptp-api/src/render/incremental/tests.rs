//! The incremental engine against the full render: focused cases, then a property test over
//! random event sequences asserting, after every event, the same output as `render` and
//! changes that are exactly the differences from the previous output.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::render::render;
use crate::{MatchRule, PtpConfigSpec, PtpProfile, PtpRecommend};

fn config(ns: &str, name: &str, profiles: Vec<PtpProfile>, recommend: Vec<PtpRecommend>) -> PtpConfig {
    let mut c = PtpConfig::new(name, PtpConfigSpec { profile: profiles, recommend });
    c.metadata.namespace = Some(ns.into());
    c.metadata.generation = Some(1);
    c
}

fn rule(profile: &str, priority: i64, matches: Vec<MatchRule>) -> PtpRecommend {
    PtpRecommend { profile: profile.into(), priority, r#match: Some(matches) }
}

fn opts(name: &str, ptp4l: &str) -> PtpProfile {
    PtpProfile { ptp4l_opts: Some(ptp4l.into()), ..PtpProfile::named(name) }
}

fn with_setting(p: PtpProfile, key: &str, value: &str) -> PtpProfile {
    PtpProfile { ptp_settings: Some([(key.to_string(), value.to_string())].into()), ..p }
}

fn key(ns: &str, name: &str) -> ConfigKey {
    ConfigKey { name: name.into(), namespace: ns.into() }
}

/// What `render` says the changes between two outputs are.
fn diff(before: &RenderOutput, after: &RenderOutput) -> Changes {
    let mut changes = Changes::default();
    for (node, value) in &after.data {
        match before.data.get(node) {
            None => {
                changes.nodes.insert(node.clone(), NodeChange::Added);
            }
            Some(old) if old != value => {
                changes.nodes.insert(node.clone(), NodeChange::Changed);
            }
            Some(_) => {}
        }
    }
    for node in before.data.keys().filter(|n| !after.data.contains_key(*n)) {
        changes.nodes.insert(node.clone(), NodeChange::Removed);
    }
    let keys: BTreeSet<&ConfigKey> = before.configs.keys().chain(after.configs.keys()).collect();
    changes.configs = keys.into_iter().filter(|k| before.configs.get(*k) != after.configs.get(*k)).cloned().collect();
    changes
}

/// The engine and a plain model of its inputs, checked against `render` after every event.
#[derive(Default)]
struct Harness {
    engine: IncrementalRender,
    configs: BTreeMap<ConfigKey, PtpConfig>,
    nodes: BTreeMap<String, NodeInfo>,
    last: RenderOutput,
}

impl Harness {
    fn apply(&mut self, event: Event) -> Changes {
        let changes = match event {
            Event::UpsertNode(node) => {
                self.nodes.insert(node.name.clone(), node.clone());
                self.engine.upsert_node(node)
            }
            Event::RemoveNode(name) => {
                self.nodes.remove(&name);
                self.engine.remove_node(&name)
            }
            Event::UpsertConfig(config) => {
                self.configs.insert(ConfigKey::of(&config), (*config).clone());
                self.engine.upsert_config(*config)
            }
            Event::RemoveConfig(key) => {
                self.configs.remove(&key);
                self.engine.remove_config(&key)
            }
        };
        let nodes: Vec<NodeInfo> = self.nodes.values().cloned().collect();
        let expected = render(self.configs.values(), &nodes);
        assert_eq!(self.engine.output(), expected, "output differs from the full render");
        assert_eq!(changes, diff(&self.last, &expected), "reported changes differ from the output's");
        assert_eq!(self.engine.data_bytes(), expected.data_bytes());
        self.assert_results_shared();
        self.last = expected;
        changes
    }
}

impl Harness {
    /// Every node's result is the shared copy, and the shared set holds exactly the results in use.
    fn assert_results_shared(&self) {
        let mut in_use = std::collections::HashSet::new();
        for (name, node) in &self.engine.nodes {
            let shared = self.engine.results.get(&node.result).expect("node result is in the shared set");
            assert!(std::sync::Arc::ptr_eq(shared, &node.result), "node {name} holds its own copy");
            in_use.insert(std::sync::Arc::as_ptr(&node.result));
        }
        assert_eq!(self.engine.results.len(), in_use.len(), "results kept that no node uses");
    }
}

fn upsert(config: PtpConfig) -> Event {
    Event::UpsertConfig(Box::new(config))
}

/// `ns/c`: profile `gm` for the Nodes labelled `role=gm`, `bc` for those labelled `role=bc`.
fn gm_and_bc() -> Event {
    upsert(config(
        "ns",
        "c",
        vec![opts("gm", "-2"), opts("bc", "-s")],
        vec![
            rule("gm", 1, vec![MatchRule::node_label("role=gm")]),
            rule("bc", 1, vec![MatchRule::node_label("role=bc")]),
        ],
    ))
}

#[derive(Clone, Debug)]
enum Event {
    UpsertNode(NodeInfo),
    RemoveNode(String),
    UpsertConfig(Box<PtpConfig>),
    RemoveConfig(ConfigKey),
}

#[test]
fn a_label_change_moves_one_node_between_profiles() {
    let mut h = Harness::default();
    h.apply(gm_and_bc());
    h.apply(Event::UpsertNode(NodeInfo::new("a").with_label("role", "gm")));
    h.apply(Event::UpsertNode(NodeInfo::new("b").with_label("role", "gm")));
    let changes = h.apply(Event::UpsertNode(NodeInfo::new("a").with_label("role", "bc")));
    assert_eq!(changes.nodes, [("a".to_string(), NodeChange::Changed)].into());
    assert_eq!(changes.configs, [key("ns", "c")].into(), "the match list changed");
    assert_eq!(h.engine.selection("a"), Some(&["c_bc".to_string()][..]));
    // Same labels again: nothing to do.
    assert!(h.apply(Event::UpsertNode(NodeInfo::new("a").with_label("role", "bc"))).is_empty());
}

#[test]
fn a_config_edit_reaches_only_the_nodes_it_matches_or_matched() {
    let mut h = Harness::default();
    let c = |label: &str, opts_: &str| {
        config("ns", "c", vec![opts("p", opts_)], vec![rule("p", 1, vec![MatchRule::node_label(label)])])
    };
    for (n, g) in [("a", "1"), ("b", "2"), ("z", "3")] {
        h.apply(Event::UpsertNode(NodeInfo::new(n).with_label("g", g)));
    }
    h.apply(upsert(c("g=1", "-2")));
    let changes = h.apply(upsert(c("g=2", "-2")));
    assert_eq!(changes.nodes, [("a".into(), NodeChange::Changed), ("b".into(), NodeChange::Changed)].into());
    let changes = h.apply(upsert(c("g=2", "-s")));
    assert_eq!(changes.nodes, [("b".into(), NodeChange::Changed)].into());
    assert!(changes.configs.is_empty(), "same match list, findings and generation");
}

#[test]
fn status_only_updates_render_nothing() {
    let mut h = Harness::default();
    let mut c = config("ns", "c", vec![opts("p", "-2")], vec![rule("p", 1, vec![MatchRule::node_name("n")])]);
    h.apply(Event::UpsertNode(NodeInfo::new("n")));
    h.apply(upsert(c.clone()));
    c.status = Some(crate::PtpConfigStatus { node_count: Some(1), ..Default::default() });
    assert!(h.apply(upsert(c.clone())).is_empty());
    assert_eq!(h.engine.config(&key("ns", "c")).and_then(|c| c.status.as_ref()).and_then(|s| s.node_count), Some(1));
    // A new generation with the same spec changes the outcome (observedGeneration) only.
    c.metadata.generation = Some(2);
    let changes = h.apply(upsert(c));
    assert!(changes.nodes.is_empty());
    assert_eq!(changes.configs, [key("ns", "c")].into());
}

#[test]
fn a_new_profile_elsewhere_rewrites_references_on_nodes_of_other_configs() {
    let mut h = Harness::default();
    h.apply(Event::UpsertNode(NodeInfo::new("n")));
    h.apply(Event::UpsertNode(NodeInfo::new("m")));
    h.apply(upsert(config(
        "ns",
        "ha",
        vec![with_setting(opts("phc", ""), "haProfiles", "nic1")],
        vec![rule("phc", 1, vec![MatchRule::node_name("n")])],
    )));
    assert!(h.engine.value("n").is_some_and(|v| v.contains(r#""haProfiles":"nic1""#)));
    // A PtpConfig that applies to another node only, but now names "nic1".
    let changes = h.apply(upsert(config(
        "ns",
        "nics",
        vec![opts("nic1", "-2")],
        vec![rule("nic1", 1, vec![MatchRule::node_name("m")])],
    )));
    assert_eq!(changes.nodes, [("m".into(), NodeChange::Changed), ("n".into(), NodeChange::Changed)].into());
    assert!(changes.configs.contains(&key("ns", "ha")), "its reference resolves now");
    assert!(h.engine.value("n").is_some_and(|v| v.contains(r#""haProfiles":"nics_nic1""#)));
    let changes = h.apply(Event::RemoveConfig(key("ns", "nics")));
    assert_eq!(changes.nodes, [("m".into(), NodeChange::Changed), ("n".into(), NodeChange::Changed)].into());
}

#[test]
fn same_name_in_two_namespaces_conflicts_until_one_goes() {
    let mut h = Harness::default();
    h.apply(Event::UpsertNode(NodeInfo::new("n")));
    let dup =
        |ns: &str, o: &str| config(ns, "dup", vec![opts("p", o)], vec![rule("p", 1, vec![MatchRule::node_name("n")])]);
    h.apply(upsert(dup("b", "-s")));
    let changes = h.apply(upsert(dup("a", "-2")));
    assert_eq!(changes.configs, [key("a", "dup"), key("b", "dup")].into());
    assert_eq!(h.engine.outcome(&key("b", "dup")).map(|o| o.conflicts), Some(vec!["dup_p".to_string()]));
    assert_eq!(h.engine.value("n"), Some(r#"[{"name":"dup_p","ptp4lOpts":"-2"}]"#));
    let changes = h.apply(Event::RemoveConfig(key("a", "dup")));
    assert_eq!(changes.configs, [key("a", "dup"), key("b", "dup")].into());
    assert_eq!(h.engine.value("n"), Some(r#"[{"name":"dup_p","ptp4lOpts":"-s"}]"#));
}

#[test]
fn removing_everything_leaves_empty_indexes() {
    let mut h = Harness::default();
    h.apply(Event::UpsertNode(NodeInfo::new("n").with_label("k", "v")));
    h.apply(upsert(config(
        "ns",
        "c",
        vec![opts("p", "-2")],
        vec![rule("p", 1, vec![MatchRule::node_label("k"), MatchRule::node_label("k=v"), MatchRule::node_name("n")])],
    )));
    let changes = h.apply(Event::RemoveNode("n".into()));
    assert_eq!(changes.nodes, [("n".into(), NodeChange::Removed)].into());
    h.apply(Event::RemoveConfig(key("ns", "c")));
    assert!(h.engine.rules.is_empty());
    assert!(h.engine.profiles.counts.is_empty());
    assert_eq!(h.engine.data_bytes(), 0);
}

#[test]
fn nodes_with_the_same_selection_share_one_value() {
    let mut h = Harness::default();
    h.apply(gm_and_bc());
    for n in ["a", "b", "c"] {
        h.apply(Event::UpsertNode(NodeInfo::new(n).with_label("role", "gm")));
    }
    h.apply(Event::UpsertNode(NodeInfo::new("d").with_label("role", "bc")));
    assert_eq!(h.engine.distinct_values(), 2);
    assert!(std::ptr::eq(h.engine.value("a").unwrap(), h.engine.value("c").unwrap()), "one copy of the value");
    h.apply(Event::UpsertNode(NodeInfo::new("d").with_label("role", "gm")));
    assert_eq!(h.engine.distinct_values(), 1, "the bc value went with its last node");
    for n in ["a", "b", "c", "d"] {
        h.apply(Event::RemoveNode(n.into()));
    }
    assert_eq!(h.engine.distinct_values(), 0);
    assert_eq!(h.engine.data_bytes(), 0);
}

#[test]
fn build_equals_render() {
    let configs = vec![config(
        "ns",
        "c",
        vec![opts("p", "-2")],
        vec![rule("p", 1, vec![MatchRule::node_label("node-role.kubernetes.io/worker")])],
    )];
    let nodes = vec![NodeInfo::new("w").with_label("node-role.kubernetes.io/worker", ""), NodeInfo::new("m")];
    let engine = IncrementalRender::build(configs.clone(), nodes.clone());
    assert_eq!(engine.output(), render(&configs, &nodes));
}

// --- property test ---------------------------------------------------------------------------

const NODES: &[&str] = &["n0", "n1", "n2", "n3", "n4"];
const KEYS: &[&str] = &["k0", "k1", "k2"];
const VALUES: &[&str] = &["", "x"];
const NAMES: &[&str] = &["c0", "c1", "c2"];
const NAMESPACES: &[&str] = &["a", "b"];
const PROFILES: &[&str] = &["p0", "p1", "p2"];
/// Reference values: plain names, qualified names (valid or not), a missing profile.
const REFERENCES: &[&str] = &["p0", "p1", "p2", "c0_p0", "c1_p1", "c2_p9", "ghost", "p0, p1", "c1_p0,ghost"];

fn node_strategy() -> impl Strategy<Value = NodeInfo> {
    (0..NODES.len(), proptest::collection::btree_map(0..KEYS.len(), 0..VALUES.len(), 0..3)).prop_map(|(n, labels)| {
        NodeInfo {
            name: NODES[n].into(),
            labels: labels.into_iter().map(|(k, v)| (KEYS[k].to_string(), VALUES[v].to_string())).collect(),
        }
    })
}

fn entry_strategy() -> impl Strategy<Value = MatchRule> {
    prop_oneof![
        (0..NODES.len() + 1).prop_map(|n| MatchRule::node_name(NODES.get(n).copied().unwrap_or("absent"))),
        (0..KEYS.len()).prop_map(|k| MatchRule::node_label(KEYS[k])),
        (0..KEYS.len(), 0..VALUES.len()).prop_map(|(k, v)| MatchRule::node_label(format!("{}={}", KEYS[k], VALUES[v]))),
        Just(MatchRule::default()),
    ]
}

fn profile_strategy() -> impl Strategy<Value = PtpProfile> {
    (0..PROFILES.len(), 0..3usize, proptest::option::of((0..2usize, 0..REFERENCES.len()))).prop_map(
        |(p, o, reference)| {
            let profile = opts(PROFILES[p], ["-2", "-s", "-4"][o]);
            match reference {
                Some((k, r)) => with_setting(profile, REFERENCE_KEYS[k], REFERENCES[r]),
                None => profile,
            }
        },
    )
}

fn config_strategy() -> impl Strategy<Value = PtpConfig> {
    let rule = (0..PROFILES.len() + 1, 0..3i64, proptest::collection::vec(entry_strategy(), 0..3)).prop_map(
        |(p, priority, entries)| PtpRecommend {
            profile: PROFILES.get(p).copied().unwrap_or("missing").into(),
            priority,
            r#match: if entries.is_empty() { None } else { Some(entries) },
        },
    );
    (
        0..NAMES.len(),
        0..NAMESPACES.len(),
        proptest::collection::vec(profile_strategy(), 0..4),
        proptest::collection::vec(rule, 0..4),
        1..3i64,
    )
        .prop_map(|(n, ns, profiles, rules, generation)| {
            let mut c = config(NAMESPACES[ns], NAMES[n], profiles, rules);
            c.metadata.generation = Some(generation);
            c
        })
}

fn event_strategy() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => node_strategy().prop_map(Event::UpsertNode),
        1 => (0..NODES.len()).prop_map(|n| Event::RemoveNode(NODES[n].into())),
        4 => config_strategy().prop_map(upsert),
        1 => (0..NAMES.len(), 0..NAMESPACES.len()).prop_map(|(n, ns)| Event::RemoveConfig(key(NAMESPACES[ns], NAMES[n]))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full_render_after_every_event(events in proptest::collection::vec(event_strategy(), 1..40)) {
        let mut h = Harness::default();
        for event in events {
            h.apply(event);
        }
    }
}
