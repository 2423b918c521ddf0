//! Absent and empty are different and survive every round trip: JSON, YAML, and the ConfigMap
//! encoding read back by the agent.

use std::collections::BTreeMap;

use proptest::prelude::*;
use ptp_api::{PtpClockThreshold, PtpConfig, PtpProfile, SchedulingPolicy, decode_node_profiles, encode_node_profiles};
use serde_json::{Value, json};

/// Every optional string field of a profile, by its JSON name.
const STRING_FIELDS: &[&str] = &[
    "interface",
    "ptp4lOpts",
    "phc2sysOpts",
    "ts2phcOpts",
    "synce4lOpts",
    "chronydOpts",
    "ptp4lConf",
    "phc2sysConf",
    "ts2phcConf",
    "synce4lConf",
    "chronydConf",
];

fn via_json(v: &Value) -> Value {
    let p: PtpProfile = serde_json::from_value(v.clone()).expect("deserialises");
    serde_json::to_value(&p).expect("serialises")
}

fn via_yaml(v: &Value) -> Value {
    let p: PtpProfile = serde_json::from_value(v.clone()).expect("deserialises");
    let yaml = serde_saphyr::to_string(&p).expect("yaml");
    let back: PtpProfile = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    serde_json::to_value(&back).expect("serialises")
}

fn via_configmap(v: &Value) -> Value {
    let p: PtpProfile = serde_json::from_value(v.clone()).expect("deserialises");
    let decoded = decode_node_profiles(&encode_node_profiles(&[p])).expect("decodes");
    assert!(decoded.rejected.is_empty());
    serde_json::to_value(&decoded.profiles[0]).expect("serialises")
}

#[test]
fn every_string_field_keeps_absent_empty_and_value_apart() {
    for field in STRING_FIELDS {
        for value in [None, Some(""), Some(" "), Some("-2 -s")] {
            let mut object = json!({"name": "p"});
            if let Some(v) = value {
                object[field] = json!(v);
            }
            for (how, back) in
                [("json", via_json(&object)), ("yaml", via_yaml(&object)), ("configmap", via_configmap(&object))]
            {
                assert_eq!(back, object, "{field}={value:?} via {how}");
            }
        }
    }
}

#[test]
fn the_typed_fields_map_to_the_right_json_names() {
    let p = PtpProfile {
        interface: Some("i".into()),
        ptp4l_opts: Some("a".into()),
        phc2sys_opts: Some("b".into()),
        ts2phc_opts: Some("c".into()),
        synce4l_opts: Some("d".into()),
        chronyd_opts: Some("e".into()),
        ptp4l_conf: Some("f".into()),
        phc2sys_conf: Some("g".into()),
        ts2phc_conf: Some("h".into()),
        synce4l_conf: Some("j".into()),
        chronyd_conf: Some("k".into()),
        ..PtpProfile::named("p")
    };
    let v = serde_json::to_value(&p).unwrap();
    let names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).filter(|k| *k != "name").collect();
    let mut expected = STRING_FIELDS.to_vec();
    expected.sort();
    let mut names_sorted = names.clone();
    names_sorted.sort();
    assert_eq!(names_sorted, expected);
}

#[test]
fn structured_fields_keep_absent_and_empty_apart() {
    for object in [
        json!({"name": "p", "ptpClockThreshold": {}}),
        json!({"name": "p", "ptpClockThreshold": {"holdOverTimeout": 0}}),
        json!({"name": "p", "ptpClockThreshold": {"processDowntimeThresholds": {}}}),
        json!({"name": "p", "ptpClockThreshold": {"processDowntimeThresholds": {"ptp4l": 0, "gpspipe": 86400}}}),
        json!({"name": "p", "ptpSettings": {}}),
        json!({"name": "p", "ptpSettings": {"clockType": "", "logReduce": "true"}}),
        json!({"name": "p", "plugins": {}}),
        json!({"name": "p", "plugins": {"e810": {"a": [1, 2.5, null, {"b": "x"}]}}}),
        json!({"name": "p", "ptpSchedulingPolicy": "SCHED_FIFO", "ptpSchedulingPriority": 65}),
        json!({"name": "p", "ptpSchedulingPolicy": "SCHED_OTHER"}),
        json!({"name": "p", "timemasterOpts": "", "timemasterConf": "[ptp_domain 0]\n"}),
    ] {
        assert_eq!(via_json(&object), object);
        assert_eq!(via_yaml(&object), object);
    }
}

#[test]
fn whole_ptpconfig_round_trips_through_yaml() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/samples/t-bc.yaml")).unwrap();
    let config: PtpConfig = serde_saphyr::from_str(&text).unwrap();
    let again: PtpConfig = serde_saphyr::from_str(&serde_saphyr::to_string(&config).unwrap()).unwrap();
    assert_eq!(config, again);
    assert_eq!(config.spec.profile[1].phc2sys_opts.as_deref(), Some(""));
    assert_eq!(config.spec.profile[0].ptp4l_opts.as_deref(), Some("-2 --summary_interval -4"));
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), Just(Some(String::new())), "[ -~<>&\u{2028}\n\t]{0,12}".prop_map(Some)]
}

fn profile_strategy() -> impl Strategy<Value = PtpProfile> {
    let strings = proptest::collection::vec(opt_string(), 13);
    let settings = proptest::option::of(proptest::collection::btree_map("[a-zA-Z<]{1,6}", "[ -~]{0,6}", 1..4));
    let threshold = proptest::option::of((
        proptest::option::of(1i64..1000),
        proptest::option::of(-1000i64..-1),
        proptest::option::of(proptest::option::of(0i64..86400)),
    ));
    let sched = proptest::option::of((any::<bool>(), proptest::option::of(1i64..=65)));
    ("[a-z0-9_-]{1,10}", strings, settings, threshold, sched).prop_map(|(name, s, settings, threshold, sched)| {
        let mut it = s.into_iter();
        let mut next = || it.next().flatten();
        PtpProfile {
            name,
            interface: next(),
            ptp4l_opts: next(),
            phc2sys_opts: next(),
            ts2phc_opts: next(),
            synce4l_opts: next(),
            chronyd_opts: next(),
            timemaster_opts: next(),
            ptp4l_conf: next(),
            phc2sys_conf: next(),
            ts2phc_conf: next(),
            synce4l_conf: next(),
            chronyd_conf: next(),
            timemaster_conf: next(),
            ptp_scheduling_policy: sched
                .map(|(fifo, _)| if fifo { SchedulingPolicy::SchedFifo } else { SchedulingPolicy::SchedOther }),
            ptp_scheduling_priority: sched.and_then(|(_, p)| p),
            ptp_clock_threshold: threshold.map(|(max, min, downtime)| PtpClockThreshold {
                hold_over_timeout: Some(5),
                max_offset_threshold: max,
                min_offset_threshold: min,
                sys_offset_in_sync_threshold: max.map(i64::abs),
                sys_offset_out_of_sync_threshold: min.map(i64::abs),
                sys_offset_samples: max.and(Some(10)),
                process_downtime_thresholds: downtime
                    .map(|p| ptp_api::ProcessDowntimeThresholds { ptp4l: p, ..Default::default() }),
            }),
            ptp_settings: settings,
            plugins: None,
        }
    })
}

proptest! {
    #[test]
    fn configmap_decode_inverts_encode(profiles in proptest::collection::vec(profile_strategy(), 0..4)) {
        let text = encode_node_profiles(&profiles);
        let decoded = decode_node_profiles(&text).unwrap();
        prop_assert_eq!(decoded.profiles, profiles.clone());
        // Go's json.Unmarshal then json.Marshal of our bytes would give the same bytes: re-encoding is stable.
        prop_assert_eq!(encode_node_profiles(&decode_node_profiles(&text).unwrap().profiles), text.clone());
        // And it is plain JSON that any parser reads to the same data.
        let parsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(parsed.as_array().map(Vec::len), Some(profiles.len()));
    }
}

#[test]
fn settings_map_key_order_is_bytewise() {
    let p = PtpProfile {
        ptp_settings: Some(BTreeMap::from([
            ("b".into(), "1".into()),
            ("B".into(), "2".into()),
            ("a".into(), "3".into()),
        ])),
        ..PtpProfile::named("p")
    };
    assert_eq!(encode_node_profiles(&[p]), r#"[{"name":"p","ptpSettings":{"B":"2","a":"3","b":"1"}}]"#);
}
