//! Every sample in `config/samples/` is accepted by the generated CRD schema (jsonschema), by its
//! CEL rules and by the pure validation function, with no warnings.

use std::path::{Path, PathBuf};

use kube_cel::Validator;
use ptp_api::{PtpConfig, crd};
use serde_json::{Value, json};

const EXPECTED: &[&str] = &[
    "boundary-clock.yaml",
    "dual-nic-ha.yaml",
    "grandmaster.yaml",
    "ordinary-clock.yaml",
    "software-lab.yaml",
    "t-bc.yaml",
    "timemaster.yaml",
];

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/samples")
}

fn schema() -> Value {
    let crds = crd::crds();
    crd::openapi_schema(crds.iter().find(|c| c.spec.names.kind == "PtpConfig").expect("PtpConfig CRD"))
}

fn schema_errors(validator: &jsonschema::Validator, object: &Value) -> Vec<String> {
    validator.iter_errors(object).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(samples_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_expected_samples_exist() {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("config/samples")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names, EXPECTED);
}

#[test]
fn samples_validate_against_schema_cel_and_validation_function() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for name in EXPECTED {
        let object = load(name);
        let errors = schema_errors(&validator, &object);
        assert!(errors.is_empty(), "{name}: schema errors {errors:?}");
        if let Err(errors) = Validator::new().validate(&schema, &object, None) {
            panic!("{name}: CEL errors {:?}", errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>());
        }
        let config: PtpConfig = serde_json::from_value(object.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = ptp_api::validate_spec(&config.spec);
        assert!(report.findings.is_empty(), "{name}: {:?}", report.findings);
        // The typed value serialises back to the same object: nothing in the sample is dropped.
        assert_eq!(serde_json::to_value(&config).unwrap(), object, "{name} does not round-trip");
    }
}

#[test]
fn the_schema_check_rejects_what_it_should() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut object = load("ordinary-clock.yaml");
    object["spec"]["recommend"][0]["priority"] = json!("high");
    object["spec"]["profile"][0]["ptpSchedulingPolicy"] = json!("SCHED_RR");
    object["spec"]["profile"][0]["ptpSchedulingPriority"] = json!(66);
    object["spec"]["profile"][0]["ptpClockThreshold"]["processDowntimeThresholds"] = json!({"ptp4l": 86401});
    let errors = schema_errors(&validator, &object);
    for path in [
        "/spec/recommend/0/priority",
        "/spec/profile/0/ptpSchedulingPolicy",
        "/spec/profile/0/ptpSchedulingPriority",
        "/spec/profile/0/ptpClockThreshold/processDowntimeThresholds/ptp4l",
    ] {
        assert!(errors.iter().any(|e| e.starts_with(path)), "no error at {path}: {errors:?}");
    }
    let mut missing = load("ordinary-clock.yaml");
    missing["spec"]["profile"][0].as_object_mut().unwrap().remove("name");
    assert!(!schema_errors(&validator, &missing).is_empty());
}
