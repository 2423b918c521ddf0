use crate::{MatchRule, PtpClockThreshold, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};

use super::*;

fn config(name: &str, profiles: Vec<PtpProfile>, recommend: Vec<PtpRecommend>) -> PtpConfig {
    let mut c = PtpConfig::new(name, PtpConfigSpec { profile: profiles, recommend });
    c.metadata.namespace = Some("openshift-ptp".into());
    c.metadata.generation = Some(3);
    c
}

fn rule(profile: &str, priority: i64, matches: Vec<MatchRule>) -> PtpRecommend {
    PtpRecommend { profile: profile.into(), priority, r#match: Some(matches) }
}

fn opts(name: &str, ptp4l: &str) -> PtpProfile {
    PtpProfile { ptp4l_opts: Some(ptp4l.into()), ..PtpProfile::named(name) }
}

fn settings(p: PtpProfile, kv: &[(&str, &str)]) -> PtpProfile {
    PtpProfile { ptp_settings: Some(kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()), ..p }
}

fn cond(out: &RenderOutput, config: &str, type_: &str) -> DesiredCondition {
    let (_, outcome) = out.configs.iter().find(|(k, _)| k.name == config).expect("config outcome");
    outcome.conditions().into_iter().find(|c| c.type_ == type_).expect("condition")
}

#[test]
fn ordinary_clock_example_byte_for_byte() {
    let c = config(
        "ordinary-clock-ptpconfig",
        vec![PtpProfile {
            interface: Some("enp134s0f0".into()),
            ptp4l_opts: Some("-s -2".into()),
            phc2sys_opts: Some("-a -r".into()),
            ..PtpProfile::named("profile1")
        }],
        vec![rule("profile1", 4, vec![MatchRule::node_label("node-role.kubernetes.io/worker")])],
    );
    let nodes = [NodeInfo::new("worker-0").with_label("node-role.kubernetes.io/worker", ""), NodeInfo::new("master-0")];
    let out = render(&[c], &nodes);
    assert_eq!(out.data["master-0"], "[]");
    assert_eq!(
        out.data["worker-0"],
        r#"[{"name":"ordinary-clock-ptpconfig_profile1","interface":"enp134s0f0","ptp4lOpts":"-s -2","phc2sysOpts":"-a -r"}]"#
    );
    let outcome = out.configs.values().next().unwrap();
    assert_eq!(outcome.match_list, vec![NodeMatchList { node_name: "worker-0".into(), profile: "profile1".into() }]);
    assert_eq!(outcome.node_count, 1);
    assert_eq!(outcome.observed_generation, Some(3));
    let applied = cond(&out, "ordinary-clock-ptpconfig", CONDITION_APPLIED);
    assert!(applied.status);
    assert_eq!(applied.message, "applied to 1 node");
    assert!(cond(&out, "ordinary-clock-ptpconfig", CONDITION_VALID).status);
}

#[test]
fn tbc_example_byte_for_byte() {
    let c = config(
        "tbc-config",
        vec![
            settings(opts("01-tbc-tt", "-2"), &[("controllingProfile", "01-tbc-tr")]),
            settings(opts("01-tbc-tr", "-2 -s"), &[("clockType", "T-BC")]),
        ],
        vec![
            rule("01-tbc-tt", 5, vec![MatchRule::node_label("ptp/tbc")]),
            rule("01-tbc-tr", 5, vec![MatchRule::node_label("ptp/tbc")]),
        ],
    );
    let out = render(&[c], &[NodeInfo::new("worker-1").with_label("ptp/tbc", "")]);
    assert_eq!(
        out.data["worker-1"],
        r#"[{"name":"tbc-config_01-tbc-tr","ptp4lOpts":"-2 -s","ptpSettings":{"clockType":"T-BC"}},{"name":"tbc-config_01-tbc-tt","ptp4lOpts":"-2","ptpSettings":{"controllingProfile":"tbc-config_01-tbc-tr"}}]"#
    );
    assert_eq!(out.selection["worker-1"], vec!["tbc-config_01-tbc-tr", "tbc-config_01-tbc-tt"]);
    assert!(cond(&out, "tbc-config", CONDITION_PROFILE_REFERENCE_VALID).status);
}

#[test]
fn label_values_must_match_exactly() {
    let c = config("c", vec![opts("p", "-2")], vec![rule("p", 1, vec![MatchRule::node_label("ptp/role=gm")])]);
    let nodes = [
        NodeInfo::new("a").with_label("ptp/role", "gm"),
        NodeInfo::new("b").with_label("ptp/role", "bc"),
        NodeInfo::new("c"),
    ];
    let out = render(&[c], &nodes);
    assert_eq!(out.selection["a"], vec!["c_p"]);
    assert!(out.selection["b"].is_empty());
    assert!(out.selection["c"].is_empty());
}

#[test]
fn a_rule_without_match_entries_matches_no_node() {
    let c = config("c", vec![opts("p", "-2")], vec![PtpRecommend { profile: "p".into(), priority: 0, r#match: None }]);
    let out = render(&[c], &[NodeInfo::new("a")]);
    assert_eq!(out.data["a"], "[]");
    let applied = cond(&out, "c", CONDITION_APPLIED);
    assert!(!applied.status);
    assert_eq!(applied.reason, "NoMatchingNodes");
}

#[test]
fn lowest_priority_wins_across_configs_and_ties_all_apply() {
    let a = config("a", vec![opts("p", "-2")], vec![rule("p", 10, vec![MatchRule::node_name("n")])]);
    let b = config(
        "b",
        vec![opts("x", "-2"), opts("y", "-2")],
        vec![rule("x", 4, vec![MatchRule::node_name("n")]), rule("y", 4, vec![MatchRule::node_label("l")])],
    );
    let out = render(&[a, b], &[NodeInfo::new("n").with_label("l", "1"), NodeInfo::new("m")]);
    assert_eq!(out.selection["n"], vec!["b_x", "b_y"]);
    assert!(out.configs.values().next().unwrap().match_list.is_empty(), "a lost on priority");
    assert_eq!(out.selection["m"], Vec::<String>::new());
}

#[test]
fn unknown_profile_is_isolated_to_its_config() {
    let broken = config(
        "broken",
        vec![opts("p", "-2")],
        vec![rule("typo", 0, vec![MatchRule::node_name("n")]), rule("p", 5, vec![MatchRule::node_name("n")])],
    );
    let fine = config("fine", vec![opts("q", "-2")], vec![rule("q", 5, vec![MatchRule::node_name("n")])]);
    let out = render(&[broken, fine], &[NodeInfo::new("n")]);
    // The bad rule is ignored (it would have won at priority 0); the other rules still apply.
    assert_eq!(out.selection["n"], vec!["broken_p", "fine_q"]);
    let valid = cond(&out, "broken", CONDITION_VALID);
    assert!(!valid.status);
    assert_eq!(valid.reason, "UnknownProfile");
    assert!(valid.message.contains("recommend[0].profile") && valid.message.contains("typo"), "{}", valid.message);
    assert!(cond(&out, "fine", CONDITION_VALID).status);
}

#[test]
fn invalid_profile_is_still_rendered_and_flagged() {
    let p = PtpProfile { ptp4l_conf: Some("[global]\nslaveOnly\n".into()), ..opts("p", "-2") };
    let c = config("c", vec![p], vec![rule("p", 1, vec![MatchRule::node_name("n")])]);
    let out = render(&[c], &[NodeInfo::new("n")]);
    assert_eq!(out.selection["n"], vec!["c_p"]);
    assert!(out.data["n"].contains(r#""ptp4lConf":"[global]\nslaveOnly\n""#));
    let valid = cond(&out, "c", CONDITION_VALID);
    assert!(!valid.status);
    assert_eq!(valid.reason, "InvalidPtp4lConf");
    assert!(valid.message.contains("line 2"), "{}", valid.message);
}

#[test]
fn ha_profiles_resolve_across_configs() {
    let nics = config(
        "nics",
        vec![opts("nic1", "-2"), opts("nic2", "-2")],
        vec![rule("nic1", 4, vec![MatchRule::node_name("n")]), rule("nic2", 4, vec![MatchRule::node_name("n")])],
    );
    let ha = config(
        "ha",
        vec![settings(opts("phc", ""), &[("haProfiles", " nic1 ,  nic2")])],
        vec![rule("phc", 4, vec![MatchRule::node_name("n")])],
    );
    let out = render(&[ha, nics], &[NodeInfo::new("n")]);
    assert!(out.data["n"].contains(r#""ptpSettings":{"haProfiles":"nics_nic1,nics_nic2"}"#), "{}", out.data["n"]);
    assert!(cond(&out, "ha", CONDITION_PROFILE_REFERENCE_VALID).status);
}

#[test]
fn unresolved_reference_is_kept_and_reported() {
    let c = config(
        "c",
        vec![settings(opts("tt", "-2"), &[("controllingProfile", "ghost")])],
        vec![rule("tt", 1, vec![MatchRule::node_name("n")])],
    );
    let out = render(&[c], &[NodeInfo::new("n")]);
    assert!(out.data["n"].contains(r#""controllingProfile":"ghost""#));
    let refs = cond(&out, "c", CONDITION_PROFILE_REFERENCE_VALID);
    assert!(!refs.status);
    assert_eq!(refs.reason, "UnresolvedProfileReference");
    assert!(refs.message.contains("\"ghost\""), "{}", refs.message);
}

#[test]
fn schema_defaults_are_applied_before_encoding() {
    let p = PtpProfile { ptp_clock_threshold: Some(PtpClockThreshold::default()), ..PtpProfile::named("p") };
    let c = config("c", vec![p], vec![rule("p", 1, vec![MatchRule::node_name("n")])]);
    let out = render(&[c], &[NodeInfo::new("n")]);
    assert_eq!(
        out.data["n"],
        r#"[{"name":"c_p","ptpClockThreshold":{"holdOverTimeout":5,"maxOffsetThreshold":100,"minOffsetThreshold":-100}}]"#
    );
}

#[test]
fn match_list_is_sorted_by_node_then_profile() {
    let c = config(
        "c",
        vec![opts("b", "-2"), opts("a", "-2")],
        vec![rule("b", 1, vec![MatchRule::node_label("x")]), rule("a", 1, vec![MatchRule::node_label("x")])],
    );
    let nodes = [NodeInfo::new("z").with_label("x", ""), NodeInfo::new("m").with_label("x", "")];
    let out = render(&[c], &nodes);
    let list: Vec<(String, String)> = out
        .configs
        .values()
        .next()
        .unwrap()
        .match_list
        .iter()
        .map(|m| (m.node_name.clone(), m.profile.clone()))
        .collect();
    let expect = |n: &str, p: &str| (n.to_string(), p.to_string());
    assert_eq!(list, vec![expect("m", "a"), expect("m", "b"), expect("z", "a"), expect("z", "b")]);
    assert_eq!(cond(&out, "c", CONDITION_APPLIED).message, "applied to 2 nodes");
}

#[test]
fn same_name_in_two_namespaces_is_rendered_once_and_flagged() {
    let mut first = config("dup", vec![opts("p", "-2")], vec![rule("p", 1, vec![MatchRule::node_name("n")])]);
    first.metadata.namespace = Some("a".into());
    let mut second = config("dup", vec![opts("p", "-s")], vec![rule("p", 1, vec![MatchRule::node_name("n")])]);
    second.metadata.namespace = Some("b".into());
    let out = render(&[second, first], &[NodeInfo::new("n")]);
    assert_eq!(out.data["n"], r#"[{"name":"dup_p","ptp4lOpts":"-2"}]"#);
    let b = &out.configs[&ConfigKey { name: "dup".into(), namespace: "b".into() }];
    assert_eq!(b.conflicts, vec!["dup_p"]);
    assert_eq!(b.conditions()[0].reason, "ConflictingProfileName");
}

#[test]
fn warnings_keep_the_config_valid() {
    let c = config("c", vec![settings(opts("p", "-2"), &[("futureKnob", "1")])], vec![]);
    let out = render(&[c], &[]);
    let valid = cond(&out, "c", CONDITION_VALID);
    assert!(valid.status);
    assert!(valid.message.contains("futureKnob"));
    assert!(out.data.is_empty());
}

#[test]
fn every_node_gets_a_key() {
    let nodes: Vec<NodeInfo> = (0..5).map(|i| NodeInfo::new(format!("n{i}"))).collect();
    let out = render(std::iter::empty(), &nodes);
    assert_eq!(out.data.len(), 5);
    assert!(out.data.values().all(|v| v == "[]"));
    assert_eq!(out.data_bytes(), 5 * ("n0".len() + 2));
}

#[test]
fn duplicate_profile_names_render_the_first() {
    let c = config("c", vec![opts("p", "-2"), opts("p", "-s")], vec![rule("p", 1, vec![MatchRule::node_name("n")])]);
    let out = render(&[c], &[NodeInfo::new("n")]);
    assert_eq!(out.data["n"], r#"[{"name":"c_p","ptp4lOpts":"-2"}]"#);
    assert_eq!(cond(&out, "c", CONDITION_VALID).reason, "DuplicateProfile");
}
