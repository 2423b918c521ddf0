//! The `ptp-configmap` value is byte-identical to the Go operator's `json.Marshal` output, and the
//! decoder reads what Go operators and daemons wrote, including the legacy forms.

use std::collections::BTreeMap;

use ptp_api::{PtpClockThreshold, PtpProfile, SchedulingPolicy, decode_node_profiles, encode_node_profiles};
use serde_json::json;

fn profile(v: serde_json::Value) -> PtpProfile {
    serde_json::from_value(v).expect("test profile")
}

#[test]
fn empty_list_is_brackets() {
    assert_eq!(encode_node_profiles(&[]), "[]");
}

#[test]
fn issue_example_escapes_html_characters() {
    let p = PtpProfile { synce4l_conf: Some("[<synce1>]\n".into()), ..PtpProfile::named("gm_tgm") };
    assert_eq!(encode_node_profiles(&[p]), r#"[{"name":"gm_tgm","synce4lConf":"[\u003csynce1\u003e]\n"}]"#);
}

#[test]
fn ordinary_clock_example_is_byte_identical() {
    let p = profile(
        json!({"name": "ordinary-clock-ptpconfig_profile1", "interface": "enp134s0f0", "ptp4lOpts": "-s -2", "phc2sysOpts": "-a -r"}),
    );
    assert_eq!(
        encode_node_profiles(&[p]),
        r#"[{"name":"ordinary-clock-ptpconfig_profile1","interface":"enp134s0f0","ptp4lOpts":"-s -2","phc2sysOpts":"-a -r"}]"#
    );
}

#[test]
fn tbc_example_is_byte_identical() {
    let tr =
        profile(json!({"name": "tbc-config_01-tbc-tr", "ptp4lOpts": "-2 -s", "ptpSettings": {"clockType": "T-BC"}}));
    let tt = profile(
        json!({"name": "tbc-config_01-tbc-tt", "ptp4lOpts": "-2", "ptpSettings": {"controllingProfile": "tbc-config_01-tbc-tr"}}),
    );
    assert_eq!(
        encode_node_profiles(&[tr, tt]),
        r#"[{"name":"tbc-config_01-tbc-tr","ptp4lOpts":"-2 -s","ptpSettings":{"clockType":"T-BC"}},{"name":"tbc-config_01-tbc-tt","ptp4lOpts":"-2","ptpSettings":{"controllingProfile":"tbc-config_01-tbc-tr"}}]"#
    );
}

#[test]
fn every_field_in_go_struct_order() {
    // Built from JSON with keys in reverse order: the encoder's order must not depend on input order.
    let p = profile(json!({
        "plugins": {"e810": {"z": 1, "a": "<&>"}},
        "ptpSettings": {"logReduce": "true", "clockType": "T-GM"},
        "ptpClockThreshold": {"processDowntimeThresholds": {"gpspipe": 1, "ptp4l": 0}, "minOffsetThreshold": -50, "maxOffsetThreshold": 50, "holdOverTimeout": 10},
        "ptpSchedulingPriority": 10,
        "ptpSchedulingPolicy": "SCHED_FIFO",
        "chronydConf": "k", "synce4lConf": "j", "ts2phcConf": "i", "phc2sysConf": "h", "ptp4lConf": "[global]\n",
        "chronydOpts": "f", "synce4lOpts": "e", "ts2phcOpts": "d", "phc2sysOpts": "c", "ptp4lOpts": "",
        "interface": "ens1f0", "name": "all"
    }));
    assert_eq!(
        encode_node_profiles(&[p]),
        concat!(
            r#"[{"name":"all","interface":"ens1f0","ptp4lOpts":"","phc2sysOpts":"c","ts2phcOpts":"d","synce4lOpts":"e","#,
            r#""chronydOpts":"f","ptp4lConf":"[global]\n","phc2sysConf":"h","ts2phcConf":"i","synce4lConf":"j","chronydConf":"k","#,
            r#""ptpSchedulingPolicy":"SCHED_FIFO","ptpSchedulingPriority":10,"#,
            r#""ptpClockThreshold":{"holdOverTimeout":10,"maxOffsetThreshold":50,"minOffsetThreshold":-50,"processDowntimeThresholds":{"ptp4l":0,"gpspipe":1}},"#,
            r#""ptpSettings":{"clockType":"T-GM","logReduce":"true"},"plugins":{"e810":{"a":"\u003c\u0026\u003e","z":1}}}]"#
        )
    );
}

#[test]
fn schema_defaults_fill_an_empty_clock_threshold() {
    let mut p = PtpProfile { ptp_clock_threshold: Some(PtpClockThreshold::default()), ..PtpProfile::named("p") };
    assert_eq!(encode_node_profiles(std::slice::from_ref(&p)), r#"[{"name":"p","ptpClockThreshold":{}}]"#);
    p.apply_defaults();
    assert_eq!(
        encode_node_profiles(&[p]),
        r#"[{"name":"p","ptpClockThreshold":{"holdOverTimeout":5,"maxOffsetThreshold":100,"minOffsetThreshold":-100}}]"#
    );
    let mut with_downtime =
        profile(json!({"name": "p", "ptpClockThreshold": {"processDowntimeThresholds": {"ptp4l": 2}}}));
    with_downtime.apply_defaults();
    assert_eq!(
        encode_node_profiles(&[with_downtime]),
        r#"[{"name":"p","ptpClockThreshold":{"holdOverTimeout":5,"maxOffsetThreshold":100,"minOffsetThreshold":-100,"processDowntimeThresholds":{"ptp4l":2,"phc2sys":5,"ts2phc":5,"synce4l":5,"chronyd":5,"gpsd":1,"gpspipe":1}}}]"#
    );
}

#[test]
fn go_omitempty_drops_zero_thresholds_and_empty_maps_but_keeps_empty_strings() {
    let p = profile(json!({
        "name": "p", "interface": "", "phc2sysOpts": "",
        "ptpClockThreshold": {"holdOverTimeout": 0, "maxOffsetThreshold": 0, "minOffsetThreshold": 0},
        "ptpSettings": {}, "plugins": {}
    }));
    assert_eq!(encode_node_profiles(&[p]), r#"[{"name":"p","interface":"","phc2sysOpts":"","ptpClockThreshold":{}}]"#);
}

#[test]
fn sched_policy_and_priority_are_written_as_given() {
    let p = PtpProfile {
        ptp_scheduling_policy: Some(SchedulingPolicy::SchedOther),
        ptp_scheduling_priority: Some(1),
        ptp_settings: Some(BTreeMap::new()),
        ..PtpProfile::named("p")
    };
    assert_eq!(
        encode_node_profiles(&[p]),
        r#"[{"name":"p","ptpSchedulingPolicy":"SCHED_OTHER","ptpSchedulingPriority":1}]"#
    );
}

#[test]
fn decoder_reads_go_values_and_legacy_forms() {
    let array = decode_node_profiles(r#"[{"name":"a","ptp4lOpts":""},{"name":"b"}]"#).unwrap();
    assert_eq!(array.profiles.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(array.profiles[0].ptp4l_opts.as_deref(), Some(""));

    let legacy =
        decode_node_profiles(r#"{"name":"legacy","interface":"ens786f1","ptp4lOpts":"-s -2","phc2sysOpts":"-a -r"}"#)
            .unwrap();
    assert_eq!(legacy.profiles.len(), 1);
    assert_eq!(legacy.profiles[0].interface.as_deref(), Some("ens786f1"));

    assert!(decode_node_profiles("[]").unwrap().profiles.is_empty());
    assert!(decode_node_profiles(" \n[ ]\n").unwrap().profiles.is_empty());
}

/// Every way an item can lack a usable name makes the whole value an error naming the item, so
/// nothing of it is applied (dropping a nameless item would stop the profile it stands for).
#[test]
fn an_item_without_a_usable_name_makes_the_whole_value_invalid() {
    let cases = [
        (r#"[{"nmae":"typo"}]"#, "item 0: no `name`"),
        (r#"[{"name":null}]"#, "item 0: `name` is null"),
        (r#"[{"name":""}]"#, "item 0: `name` is empty"),
        (r#"[{"name":7}]"#, "item 0: `name` is a number, expected a string"),
        (r#"[{"name":true}]"#, "item 0: `name` is a boolean, expected a string"),
        (r#"[{"name":["a"]}]"#, "item 0: `name` is an array, expected a string"),
        (r#"[{"name":{"a":1}}]"#, "item 0: `name` is an object, expected a string"),
        (r#"[{"name":"good"},7]"#, "item 1: expected a profile object, found a number"),
        (r#"[{"name":"good"},null]"#, "item 1: expected a profile object, found null"),
        (r#"[{"name":"good"},"text"]"#, "item 1: expected a profile object, found a string"),
        (r#"[{"name":"good"},[]]"#, "item 1: expected a profile object, found an array"),
        (r#"[{"name":"good"},{}]"#, "item 1: no `name`"),
        ("{}", "the profile object: no `name`"),
        (r#"{"name":null,"interface":null}"#, "the profile object: `name` is null"),
        (r#"{"name":""}"#, "the profile object: `name` is empty"),
    ];
    for (value, problem) in cases {
        let err = decode_node_profiles(value).map(|p| p.profiles).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("ptp-configmap value: {problem}; every profile needs a non-empty string `name`"),
            "{value}"
        );
    }
    let many = decode_node_profiles(r#"[{},{"name":"a"},{"name":null},5,{"name":""},{"x":1}]"#).unwrap_err();
    assert_eq!(
        many.to_string(),
        "ptp-configmap value: item 0: no `name`; item 2: `name` is null; item 3: expected a profile object, \
         found a number; and 2 more; every profile needs a non-empty string `name`"
    );
    // A named item that is not a valid profile stays an item-level rejection.
    let named = decode_node_profiles(r#"[{"name":"a","ptpSchedulingPriority":"x"},{"name":" "}]"#).unwrap();
    assert_eq!((named.rejected.len(), named.profiles.len()), (1, 1));
    assert_eq!(named.rejected[0].name, "a");
}

#[test]
fn a_bad_item_is_rejected_alone_with_its_name_and_reason() {
    let decoded = decode_node_profiles(r#"[{"name":"good"},{"name":"bad","ptpSchedulingPriority":"high"}]"#).unwrap();
    assert_eq!(decoded.profiles.len(), 1);
    assert_eq!(decoded.rejected.len(), 1);
    assert_eq!(decoded.rejected[0].index, 1);
    assert_eq!(decoded.rejected[0].name, "bad");
    assert!(
        decoded.rejected[0].to_string().starts_with("profile \"bad\" (item 1): invalid type"),
        "{}",
        decoded.rejected[0]
    );
}

#[test]
fn malformed_values_are_clear_errors() {
    let err = decode_node_profiles(r#"[{"name":"a""#).unwrap_err().to_string();
    assert!(err.starts_with("ptp-configmap value: not valid JSON: EOF while parsing"), "{err}");
    assert!(decode_node_profiles("not json").unwrap_err().to_string().contains("not valid JSON"));
    assert_eq!(
        decode_node_profiles("\"text\"").unwrap_err().to_string(),
        "ptp-configmap value: expected a JSON array of profiles, found a string"
    );
    for other in ["7", "null", "true"] {
        assert!(decode_node_profiles(other).unwrap_err().to_string().contains("expected a JSON array"), "{other}");
    }
    assert!(decode_node_profiles("").unwrap_err().to_string().contains("empty"));
    assert!(decode_node_profiles(" \n").unwrap_err().to_string().contains("empty"));
}

#[test]
fn joining_encoded_profiles_equals_encoding_the_list() {
    let a = PtpProfile { ptp4l_opts: Some("-2".into()), ..PtpProfile::named("a") };
    let b = PtpProfile::named("b<");
    let joined =
        ptp_api::join_encoded_profiles([ptp_api::encode_profile(&a).as_str(), ptp_api::encode_profile(&b).as_str()]);
    assert_eq!(joined, encode_node_profiles(&[a, b]));
    assert_eq!(ptp_api::join_encoded_profiles([]), "[]");
}

/// timemasterOpts/timemasterConf (this operator's extension) reach the agent through the
/// ConfigMap, each after its chronyd counterpart, `""` kept; absent, nothing is written.
#[test]
fn timemaster_fields_are_carried_after_chronyds() {
    let p = profile(json!({
        "name": "tm", "timemasterConf": "[ptp_domain 0]\n", "chronydConf": "k", "timemasterOpts": "", "chronydOpts": "f"
    }));
    let text = encode_node_profiles(std::slice::from_ref(&p));
    assert_eq!(
        text,
        r#"[{"name":"tm","chronydOpts":"f","timemasterOpts":"","chronydConf":"k","timemasterConf":"[ptp_domain 0]\n"}]"#
    );
    assert_eq!(decode_node_profiles(&text).unwrap().profiles, vec![p]);
}
