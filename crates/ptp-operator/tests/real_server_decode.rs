//! A PtpConfig this operator cannot decode, stored by a real kube-apiserver whose CRD is a newer
//! operator's (its `ptpSchedulingPolicy` enum also allows `SCHED_RR`), is isolated: `Valid=False`
//! with reason `DecodeError` naming the field, a Warning Event, `ptp_operator_undecodable_ptpconfigs`;
//! the other PtpConfigs keep rendering, and a PtpConfig that turns undecodable keeps its nodes on
//! its last decoded profiles. The operator runs with its ServiceAccount token and the chart's RBAC.
//!
//! Changing the CRD changes it for every test of a control plane, so this test has one of its own
//! (`ControlPlane::private_for_test`).

use std::time::Duration;

use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use ptp_api::PtpConfig;
use ptp_operator::controller::run::ControllerSettings;
use ptp_testkit::cluster::{ControlPlane, TestEnv, apply, documents, eventually, repo_root, wait_until};
use ptp_testkit::fixtures::ordinary_clock;
use serde_json::{Value, json};

#[path = "support/controller.rs"]
mod harness;
use harness::Running;

const WAIT: Duration = Duration::from_secs(30);
const TEST_LABEL: &str = "ptp-test.example/env";

/// The checked-in PtpConfig CRD with `SCHED_RR` added to every `ptpSchedulingPolicy` enum.
fn crd_allowing_sched_rr() -> Value {
    let path = repo_root().join("config/crd/ptp.openshift.io_ptpconfigs.yaml");
    let mut crd = documents(&std::fs::read_to_string(path).unwrap()).unwrap().remove(0);
    fn widen(value: &mut Value) -> usize {
        match value {
            Value::Object(fields) => {
                let mut n = 0;
                if let Some(policy) = fields.get_mut("ptpSchedulingPolicy")
                    && let Some(values) = policy.get_mut("enum").and_then(Value::as_array_mut)
                {
                    values.push("SCHED_RR".into());
                    n += 1;
                }
                n + fields.values_mut().map(widen).sum::<usize>()
            }
            Value::Array(items) => items.iter_mut().map(widen).sum(),
            _ => 0,
        }
    }
    assert!(widen(&mut crd) > 0, "the CRD has a ptpSchedulingPolicy enum to widen");
    crd
}

fn settings(env: &TestEnv) -> ControllerSettings {
    ControllerSettings {
        resync: Duration::from_secs(30),
        ..harness::settings(&env.ns, &format!("{TEST_LABEL}={}", env.ns), "decode")
    }
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_)
}

async fn key(admin: &Client, ns: &str, node: &str, predicate: impl Fn(&str) -> bool) -> String {
    harness::configmap_key(admin, ns, node, predicate).await
}

#[tokio::test]
async fn undecodable_ptpconfig_is_isolated_while_others_keep_rendering() {
    let Some(cp) = ControlPlane::private_for_test("undecodable_ptpconfig_is_isolated") else { return };
    let env = cp.env("decode").await.unwrap();
    apply(&env.admin, crd_allowing_sched_rr()).await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let operator = env.service_account("ptp-operator").await.unwrap();
    let worker_label = format!("{}.example/worker", env.ns);
    let worker = env.node("worker-0", json!({(TEST_LABEL): env.ns, (worker_label.clone()): ""})).await.unwrap();

    let admin = env.admin.clone();
    let api: Api<PtpConfig> = Api::namespaced(admin.clone(), &env.ns);
    let raw: Api<DynamicObject> = Api::namespaced_with(admin.clone(), &env.ns, &ApiResource::erase::<PtpConfig>(&()));
    api.create(&PostParams::default(), &ordinary_clock("ordinary-clock-ptpconfig", "profile1", &worker_label))
        .await
        .unwrap();
    // Decodes at first; turns SCHED_RR while the operator runs.
    api.create(&PostParams::default(), &ordinary_clock("rr", "q", &worker_label)).await.unwrap();
    // Never decodable during the operator's life: the real server stores it (the widened CRD).
    let mut from_start = serde_json::to_value(ordinary_clock("rr-from-start", "s", &worker_label)).unwrap();
    from_start["spec"]["profile"][0]["ptpSchedulingPolicy"] = "SCHED_RR".into();
    raw.create(&PostParams::default(), &serde_json::from_value(from_start).unwrap()).await.unwrap();

    let op = Running::start(operator.client.clone(), settings(&env));

    let value = key(&admin, &env.ns, &worker, |v| v.contains("rr_q")).await;
    assert!(value.contains("ordinary-clock-ptpconfig_profile1"), "{value}");
    assert!(!value.contains("rr-from-start_"), "never decoded, so left out: {value}");
    let from_start = wait_until(&raw, "rr-from-start", WAIT, |o| condition(&o.data, "Valid").is_some()).await.unwrap();
    let valid = condition(&from_start.data, "Valid").unwrap();
    assert_eq!((valid["status"].as_str(), valid["reason"].as_str()), (Some("False"), Some("DecodeError")));
    let message = valid["message"].as_str().unwrap();
    assert!(message.contains("spec.profile[0].ptpSchedulingPolicy: unknown variant `SCHED_RR`"), "{message}");
    assert!(message.contains("left out of the ConfigMap"), "{message}");

    // rr turns undecodable: its nodes keep its last decoded profile.
    let patch = json!({"spec": {"profile": [{"name": "q", "interface": "enp134s0f0", "ptp4lOpts": "-s -2",
        "phc2sysOpts": "-a -r", "ptpSchedulingPolicy": "SCHED_RR"}]}});
    raw.patch("rr", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let rr = wait_until(&raw, "rr", WAIT, |o| condition(&o.data, "Valid").is_some_and(|c| c["status"] == "False"))
        .await
        .unwrap();
    let message = condition(&rr.data, "Valid").unwrap()["message"].as_str().unwrap().to_string();
    assert!(message.contains("keep the profiles of generation 1"), "{message}");
    let events: Api<K8sEvent> = Api::namespaced(admin.clone(), &env.ns);
    for name in ["rr", "rr-from-start"] {
        eventually(&format!("DecodeError warning event of {name}"), WAIT, || async {
            events.list(&ListParams::default()).await.is_ok_and(|l| {
                l.items.iter().any(|e| {
                    e.type_.as_deref() == Some("Warning")
                        && e.reason.as_deref() == Some("DecodeError")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                })
            })
        })
        .await
        .unwrap();
    }
    let undecodable = || op.metric("ptp_operator_undecodable_ptpconfigs");
    eventually("two undecodable PtpConfigs counted", WAIT, || async { undecodable() == 2.0 }).await.unwrap();

    // Edits of the other PtpConfig still render; the undecodable one's last good profile stays.
    let patch = json!({"spec": {"profile": [{"name": "profile1", "interface": "enp134s0f0",
        "ptp4lOpts": "-s -2", "phc2sysOpts": "-a -r -n 24"}]}});
    api.patch("ordinary-clock-ptpconfig", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let value = key(&admin, &env.ns, &worker, |v| v.contains("-a -r -n 24")).await;
    assert!(value.contains("rr_q") && !value.contains("SCHED_RR"), "{value}");
    assert_eq!(op.metric("ptp_operator_reconcile_errors_total"), 0.0);

    // Fixed: valid again, and its new spec renders.
    let patch = json!({"spec": {"profile": [{"name": "q", "interface": "enp134s0f0", "ptp4lOpts": "-s -2",
        "phc2sysOpts": "-a -r -m"}]}});
    raw.patch("rr", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    key(&admin, &env.ns, &worker, |v| v.contains("-a -r -m")).await;
    wait_until(&raw, "rr", WAIT, |o| condition(&o.data, "Valid").is_some_and(|c| c["status"] == "True")).await.unwrap();
    eventually("one undecodable PtpConfig left", WAIT, || async { undecodable() == 1.0 }).await.unwrap();

    op.shutdown().await;
}
