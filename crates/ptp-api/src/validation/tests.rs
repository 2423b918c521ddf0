use std::collections::BTreeMap;

use super::*;
use crate::ptp_config::{MatchRule, PtpRecommend};

fn profile_with_conf(iface: Option<&str>, conf: &str) -> PtpProfile {
    PtpProfile { interface: iface.map(str::to_string), ptp4l_conf: Some(conf.to_string()), ..PtpProfile::named("p1") }
}

fn with_setting(key: &str, value: &str) -> PtpProfile {
    PtpProfile { ptp_settings: Some(BTreeMap::from([(key.to_string(), value.to_string())])), ..PtpProfile::named("p1") }
}

fn codes(report: &Report) -> Vec<(Severity, Code)> {
    report.findings.iter().map(|f| (f.severity, f.code)).collect()
}

fn spec(profiles: &[&str], recommends: &[(&str, Vec<MatchRule>)]) -> PtpConfigSpec {
    PtpConfigSpec {
        profile: profiles.iter().map(|n| PtpProfile::named(*n)).collect(),
        recommend: recommends
            .iter()
            .map(|(p, m)| PtpRecommend { profile: p.to_string(), priority: 0, r#match: Some(m.clone()) })
            .collect(),
    }
}

#[test]
fn odd_but_well_formed_profiles_are_valid() {
    let cases = [
        PtpProfile::named("no-interface"),
        PtpProfile { ptp4l_opts: Some(" ".into()), ..PtpProfile::named("space-opts") },
        PtpProfile {
            ptp4l_opts: Some(String::new()),
            phc2sys_opts: Some("-a -r".into()),
            ..PtpProfile::named("only-phc2sys")
        },
        profile_with_conf(None, ""),
        profile_with_conf(Some(""), "[global]\n[eth9]\n"),
    ];
    for p in cases {
        let report = validate_profile(&p);
        assert!(report.findings.is_empty(), "{}: {:?}", p.name, report.findings);
    }
}

#[test]
fn ptp4l_conf_that_does_not_parse_is_an_error_naming_profile_field_and_line() {
    let report = validate_profile(&profile_with_conf(None, "[global]\ndomainNumber\n"));
    assert_eq!(codes(&report), vec![(Severity::Error, Code::InvalidPtp4lConf)]);
    let text = report.findings[0].to_string();
    assert_eq!(text, "profile \"p1\": ptp4lConf: line 2: option `domainNumber` has no value");
}

#[test]
fn with_interface_only_its_own_section_is_allowed() {
    let ok = profile_with_conf(
        Some("ens1f0"),
        "[global]\nslaveOnly 1\n[ens1f0]\nmasterOnly 0\n[unicast_master_table]\ntable_id 1\n",
    );
    assert!(validate_profile(&ok).is_valid());
    let bad = profile_with_conf(Some("ens1f0"), "[global]\n[ens1f1]\nmasterOnly 1\n");
    let report = validate_profile(&bad);
    assert_eq!(codes(&report), vec![(Severity::Error, Code::InterfaceSectionNotAllowed)]);
    assert!(report.findings[0].message.contains("[ens1f1]"), "{}", report.findings[0]);
    // Without `interface` any number of port sections is fine (boundary clocks).
    assert!(validate_profile(&profile_with_conf(None, "[global]\n[ens1f0]\n[ens1f1]\n")).is_valid());
}

#[test]
fn spp_is_minus_one_in_global_and_0_to_255_elsewhere() {
    for (conf, valid) in [
        ("[global]\nspp -1\n", true),
        ("[global]\nspp 0\n", false),
        ("[global]\nspp x\n", false),
        ("[global]\nspp -1\n[eth0]\nspp 0\n", true),
        ("[eth0]\nspp 255\n", true),
        ("[eth0]\nspp 256\n", false),
        ("[eth0]\nspp -1\n", false),
        ("[eth0]\nspp one\n", false),
    ] {
        let report = validate_profile(&profile_with_conf(None, conf));
        assert_eq!(report.is_valid(), valid, "{conf:?}: {:?}", report.findings);
        if !valid {
            assert_eq!(report.findings[0].code, Code::InvalidSpp);
        }
    }
}

#[test]
fn sched_fifo_requires_a_priority() {
    let mut p = PtpProfile { ptp_scheduling_policy: Some(SchedulingPolicy::SchedFifo), ..PtpProfile::named("p") };
    assert_eq!(codes(&validate_profile(&p)), vec![(Severity::Error, Code::MissingSchedulingPriority)]);
    p.ptp_scheduling_priority = Some(10);
    assert!(validate_profile(&p).is_valid());
    p.ptp_scheduling_policy = Some(SchedulingPolicy::SchedOther);
    p.ptp_scheduling_priority = None;
    assert!(validate_profile(&p).is_valid());
}

#[test]
fn settings_accept_and_reject() {
    let cases: &[(&str, &str, bool)] = &[
        ("clockType", "T-GM", true),
        ("clockType", "T-BC", true),
        ("clockType", "OC", false),
        ("clockType", "t-gm", false),
        ("logReduce", "true", true),
        ("logReduce", "False", true),
        ("logReduce", "basic", true),
        ("logReduce", "", true),
        ("logReduce", "enhanced", true),
        ("logReduce", "enhanced 30s", true),
        ("logReduce", "enhanced 1m30s 5", true),
        ("logReduce", "enhanced 30 5", false),
        ("logReduce", "enhanced 30s -1", false),
        ("logReduce", "enhanced 30s x", false),
        ("logReduce", "maybe", false),
        ("haProfiles", "p1", true),
        ("haProfiles", "p1,p2", true),
        ("haProfiles", "p1, p2,  p-3_x", true),
        ("haProfiles", "p1,", false),
        ("haProfiles", "p1 p2", false),
        ("haProfiles", "", false),
        ("haProfiles", "p.1", false),
        ("inSyncConditionTimes", "3", true),
        ("inSyncConditionTimes", "4294967295", true),
        ("inSyncConditionTimes", "4294967296", false),
        ("inSyncConditionTimes", "-1", false),
        ("inSyncConditionTimes", "+1", false),
        ("inSyncConditionThreshold", "100", true),
        ("inSyncConditionThreshold", "1e3", false),
        ("clockId", "5254defffe123456", true),
        ("clockId[ens1f0]", "ABCDEF0123456789", true),
        ("upstreamClockId", "123", true),
        ("clockId", "0x5254", false),
        ("clockId", "xyz", false),
        ("clockId", "", false),
        ("stdoutFilter", "^.*delay.*$", true),
        ("stdoutFilter", "(unclosed", false),
        ("controllingProfile", "anything at all", true),
        ("upstreamPort", "ens1f0", true),
        ("leadingInterface", "", true),
    ];
    for (key, value, valid) in cases {
        let report = validate_profile(&with_setting(key, value));
        assert_eq!(report.is_valid(), *valid, "{key}={value:?}: {:?}", report.findings);
        if !valid {
            let f = &report.findings[0];
            assert_eq!(f.code, Code::InvalidSetting);
            assert_eq!(f.field, format!("ptpSettings.{key}"));
            assert_eq!(f.profile.as_deref(), Some("p1"));
        }
    }
}

#[test]
fn unknown_settings_are_accepted_with_a_warning() {
    let report = validate_profile(&with_setting("futureKnob", "on"));
    assert!(report.is_valid());
    assert_eq!(codes(&report), vec![(Severity::Warning, Code::UnknownSetting)]);
    assert_eq!(report.warnings().count(), 1);
    assert!(report.findings[0].to_string().contains("ptpSettings.futureKnob"));
}

#[test]
fn spec_rules_mirror_the_cel_rules() {
    let good = spec(
        &["a", "b"],
        &[
            ("a", vec![MatchRule::node_label("node-role.kubernetes.io/worker")]),
            ("b", vec![MatchRule::node_name("w1")]),
        ],
    );
    assert!(validate_spec(&good).findings.is_empty());

    let dup = spec(&["a", "a"], &[]);
    assert_eq!(codes(&validate_spec(&dup)), vec![(Severity::Error, Code::DuplicateProfile)]);

    let unknown = spec(&["a"], &[("typo", vec![MatchRule::node_name("w1")])]);
    let report = validate_spec(&unknown);
    assert_eq!(codes(&report), vec![(Severity::Error, Code::UnknownProfile)]);
    assert_eq!(report.findings[0].field, "recommend[0].profile");
    assert!(report.findings[0].message.contains("typo"));

    let empty_match = spec(&["a"], &[("a", vec![MatchRule::default()])]);
    assert_eq!(codes(&validate_spec(&empty_match)), vec![(Severity::Error, Code::InvalidMatch)]);

    let empty_strings =
        spec(&["a"], &[("a", vec![MatchRule { node_label: Some(String::new()), node_name: Some(String::new()) }])]);
    assert_eq!(codes(&validate_spec(&empty_strings)), vec![(Severity::Error, Code::InvalidMatch)]);
}

#[test]
fn node_label_is_key_or_key_value() {
    for (label, valid) in [
        ("ptp/tbc", true),
        ("node-role.kubernetes.io/worker", true),
        ("feature.node.kubernetes.io/network-sriov.capable=true", true),
        ("zone=", true),
        ("simple", true),
        ("a=b=c", false),
        ("-bad", false),
        ("has space", false),
        ("Upper.Case/x", false),
        ("key=bad value", false),
        ("/x", false),
    ] {
        let s = spec(&["a"], &[("a", vec![MatchRule::node_label(label)])]);
        assert_eq!(validate_spec(&s).is_valid(), valid, "{label:?}");
    }
}

#[test]
fn spec_validation_includes_profile_findings() {
    let mut s = spec(&["a"], &[]);
    s.profile[0].ptp4l_conf = Some("[global\n".into());
    let report = validate_spec(&s);
    assert!(!report.is_valid());
    assert!(report.error_summary().contains("profile \"a\": ptp4lConf: line 1"), "{}", report.error_summary());
}

#[test]
fn options_and_keys_the_agent_owns_are_errors_naming_profile_field_and_option() {
    let report = validate_profile(&PtpProfile {
        ptp4l_opts: Some("-2 --uds_address=/tmp/x".into()),
        phc2sys_opts: Some("-a -r -t '[x]'".into()),
        ptp4l_conf: Some("[global]\nuds_address /x\n[eth0]\nmessage_tag y\n".into()),
        ts2phc_opts: Some("-s generic".into()),
        ts2phc_conf: Some("[global]\nmessage_tag z\n[eth1]\nverbose 1\n".into()),
        ..PtpProfile::named("p1")
    });
    let fields: Vec<_> = report.findings.iter().map(|f| (f.code, f.field.as_str())).collect();
    assert_eq!(
        fields,
        vec![
            (Code::AgentOwnedOption, "ts2phcConf"),
            (Code::AgentOwnedOption, "ptp4lOpts"),
            (Code::AgentOwnedOption, "ptp4lConf"),
            (Code::AgentOwnedOption, "phc2sysOpts"),
        ]
    );
    assert_eq!(
        report.findings[1].to_string(),
        "profile \"p1\": ptp4lOpts: `--uds_address=/tmp/x` sets uds_address, which the agent owns: ptp4l replaces \
         that path with its management socket and deletes it when it stops; the agent uses \
         <run-dir>/ptp4l.<id>.socket, where phc2sys and pmc find it"
    );
    assert_eq!(Code::AgentOwnedOption.as_str(), "AgentOwnedOption");
}

#[test]
fn only_programs_that_run_are_checked() {
    let report = validate_profile(&PtpProfile {
        ptp4l_opts: Some(String::new()),
        ptp4l_conf: Some("[global]\nuds_ro_address /x\n".into()),
        phc2sys_opts: Some(String::new()),
        phc2sys_conf: Some("[eth0]\nmessage_tag x\n".into()),
        ts2phc_conf: Some("[eth0]\nmessage_tag x\n".into()),
        ..PtpProfile::named("p1")
    });
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn options_that_do_not_split_are_errors() {
    let report = validate_profile(&PtpProfile { phc2sys_opts: Some("-a 'x".into()), ..PtpProfile::named("p1") });
    assert_eq!(codes(&report), vec![(Severity::Error, Code::InvalidOptions)]);
    assert_eq!(
        report.findings[0].to_string(),
        "profile \"p1\": phc2sysOpts: unterminated single quote (') at character 4"
    );
}

#[test]
fn chronyd_and_timemaster_fields_are_validated_when_they_run() {
    let tm = |conf: &str| PtpProfile {
        interface: Some("eth0".into()),
        ptp4l_opts: Some(String::new()),
        timemaster_opts: Some(" ".into()),
        timemaster_conf: Some(conf.into()),
        ..PtpProfile::named("p1")
    };
    let fields = |p: &PtpProfile| -> Vec<(Code, String)> {
        validate_profile(p).findings.iter().map(|f| (f.code, f.field.clone())).collect()
    };
    assert_eq!(fields(&tm("[ptp_domain 0]\n[chronyd]\noptions -x\n")), vec![]);
    // chronyd's configuration is chrony's syntax, never read as linuxptp's.
    let chronyd = PtpProfile {
        ptp4l_opts: Some(String::new()),
        chronyd_opts: Some("-x".into()),
        chronyd_conf: Some("server 10.0.0.1 iburst\nmessage_tag x\n".into()),
        ..PtpProfile::named("p1")
    };
    assert_eq!(fields(&chronyd), vec![]);
    let chronyd_f = PtpProfile { chronyd_opts: Some("-f /etc/chrony.conf".into()), ..chronyd.clone() };
    assert_eq!(fields(&chronyd_f), vec![(Code::AgentOwnedOption, "chronydOpts".into())]);
    assert_eq!(fields(&tm("[ptp_domain x]\n")), vec![(Code::InvalidTimemasterConf, "timemasterConf".into())]);
    assert_eq!(
        validate_profile(&tm("[ptp_domain 0]\n[ptp4l]\noptions --uds_address /x\n")).findings[0].to_string(),
        "profile \"p1\": timemasterConf: `--uds_address` in [ptp4l] options sets uds_address, which the agent owns: \
         timemaster gives each of its ptp4l its own uds_address in its rundir"
    );
    let no_iface = PtpProfile { interface: None, ..tm("[ptp_domain 3]\n") };
    let report = validate_profile(&no_iface);
    assert_eq!(
        report.findings[0].to_string(),
        "profile \"p1\": timemasterConf: [ptp_domain 3] has no interfaces and the profile has no interface to put there"
    );
    let own_ptp4l = PtpProfile { ptp4l_opts: None, ..tm("[ptp_domain 0]\n") };
    assert_eq!(fields(&own_ptp4l), vec![(Code::ConflictingProcesses, "timemasterOpts".into())]);
    let own_chronyd = PtpProfile { chronyd_opts: Some("-x".into()), ..tm("") };
    assert_eq!(fields(&own_chronyd), vec![(Code::ConflictingProcesses, "timemasterOpts".into())]);
    // Not run: not checked.
    let off = PtpProfile { timemaster_opts: Some(String::new()), ..tm("[nonsense]\n") };
    assert_eq!(fields(&off), vec![]);
    assert_eq!(Code::ConflictingProcesses.as_str(), "ConflictingProcesses");
}
