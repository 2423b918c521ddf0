//! Evaluates the admission checks of the generated PtpConfig CRD on accepted and rejected
//! objects: its CEL rules (kube-cel, the engine kube's own `cel` feature uses) and the schema's
//! `pattern` of `nodeLabel` (jsonschema), and checks that the pure Rust validation agrees on every
//! case. The same corpus runs against a real kube-apiserver in the control-plane tests.

use kube_cel::Validator;
use kube_cel::compile_schema;
use ptp_api::{PtpConfig, crd};
use serde_json::{Value, json};

fn ptp_config_schema() -> Value {
    let crds = crd::crds();
    let crd = crds.iter().find(|c| c.spec.names.kind == "PtpConfig").expect("PtpConfig CRD");
    crd::openapi_schema(crd)
}

fn object(spec: Value) -> Value {
    json!({"apiVersion": "ptp.openshift.io/v1", "kind": "PtpConfig", "metadata": {"name": "c", "namespace": "ptp"}, "spec": spec})
}

/// CEL and schema-pattern error messages for `spec` (`field.path: message`); empty when it is admitted.
fn cel_errors(spec: Value) -> Vec<String> {
    let schema = ptp_config_schema();
    let object = object(spec);
    let mut errors: Vec<String> = match Validator::new().validate(&schema, &object, None) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| format!("{}: {}", e.field_path, e.message)).collect(),
    };
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    errors.extend(validator.iter_errors(&object).map(|e| {
        let path = e.instance_path().to_string();
        let field =
            path.trim_start_matches('/').split('/').fold(String::new(), |acc, part| match part.parse::<usize>() {
                Ok(i) => format!("{acc}[{i}]"),
                Err(_) if acc.is_empty() => part.to_string(),
                Err(_) => format!("{acc}.{part}"),
            });
        format!("{field}: {e}")
    }));
    errors
}

fn rust_valid(spec: &Value) -> bool {
    let parsed: PtpConfig = serde_json::from_value(object(spec.clone())).expect("test object deserialises");
    ptp_api::validate_spec(&parsed.spec).is_valid()
}

fn profile(name: &str) -> Value {
    json!({"name": name, "interface": "eth0", "ptp4lOpts": "-2"})
}

fn recommend(profile: &str, matches: Value) -> Value {
    json!({"profile": profile, "priority": 4, "match": matches})
}

/// (case, spec, the message a rejection must contain; None = accepted)
fn corpus() -> Vec<(&'static str, Value, Option<&'static str>)> {
    vec![
        ("minimal", json!({"profile": [profile("a")], "recommend": []}), None),
        (
            "no recommend match entries",
            json!({"profile": [profile("a")], "recommend": [{"profile": "a", "priority": 0}]}),
            None,
        ),
        (
            "two profiles two rules",
            json!({"profile": [profile("a"), profile("b")], "recommend": [
                recommend("a", json!([{"nodeLabel": "node-role.kubernetes.io/worker"}])),
                recommend("b", json!([{"nodeName": "worker-1"}, {"nodeLabel": "ptp/tbc=true"}]))]}),
            None,
        ),
        (
            "duplicate profile names",
            json!({"profile": [profile("a"), profile("a")], "recommend": []}),
            Some("profile names must be unique"),
        ),
        (
            "duplicate among three",
            json!({"profile": [profile("a"), profile("b"), profile("b")], "recommend": []}),
            Some("profile names must be unique"),
        ),
        (
            "recommend names a missing profile",
            json!({"profile": [profile("a")], "recommend": [recommend("typo", json!([{"nodeName": "w"}]))]}),
            Some("must name a profile of the same PtpConfig"),
        ),
        (
            "fifo with priority",
            json!({"profile": [{"name": "a", "ptpSchedulingPolicy": "SCHED_FIFO", "ptpSchedulingPriority": 10}], "recommend": []}),
            None,
        ),
        (
            "other without priority",
            json!({"profile": [{"name": "a", "ptpSchedulingPolicy": "SCHED_OTHER"}], "recommend": []}),
            None,
        ),
        (
            "fifo without priority",
            json!({"profile": [{"name": "a", "ptpSchedulingPolicy": "SCHED_FIFO"}], "recommend": []}),
            Some("ptpSchedulingPriority must be set"),
        ),
        (
            "empty match entry",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{}]))]}),
            Some("must set nodeLabel or nodeName"),
        ),
        (
            "match entry with empty strings",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "", "nodeName": ""}]))]}),
            Some("must set nodeLabel or nodeName"),
        ),
        (
            "label key=value with prefix",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "feature.node.kubernetes.io/ptp=true"}]))]}),
            None,
        ),
        (
            "label with empty value",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "zone="}]))]}),
            None,
        ),
        (
            "label with two equals",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "a=b=c"}]))]}),
            Some("does not match"),
        ),
        (
            "label with space",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "has space"}]))]}),
            Some("does not match"),
        ),
        (
            "label with uppercase prefix",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "Bad.Prefix/x"}]))]}),
            Some("does not match"),
        ),
    ]
}

#[test]
fn the_crd_rules_compile() {
    let compiled = compile_schema(&ptp_config_schema());
    assert!(!compiled.has_errors(), "{:?}", compiled.compilation_errors());
    let text = serde_json::to_string(&ptp_config_schema()).unwrap();
    assert_eq!(text.matches("x-kubernetes-validations").count(), 3, "one rule list per validated level");
}

#[test]
fn every_cel_rule_accepts_and_rejects() {
    for (case, spec, expected) in corpus() {
        let errors = cel_errors(spec);
        match expected {
            None => assert!(errors.is_empty(), "{case}: unexpected CEL errors {errors:?}"),
            Some(needle) => assert!(
                errors.iter().any(|e| e.contains(needle)),
                "{case}: expected a CEL error containing {needle:?}, got {errors:?}"
            ),
        }
    }
}

#[test]
fn rust_validation_agrees_with_cel() {
    for (case, spec, expected) in corpus() {
        assert_eq!(rust_valid(&spec), expected.is_none(), "{case}");
    }
}

#[test]
fn rejection_names_the_field_path() {
    let errors =
        cel_errors(json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "a=b=c"}]))]}));
    assert!(errors.iter().any(|e| e.starts_with("spec.recommend[0].match[0].nodeLabel")), "{errors:?}");
}
