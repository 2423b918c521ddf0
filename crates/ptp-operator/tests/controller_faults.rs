//! The controller against the API-server double, for what the real server cannot do on demand
//! (the rest is in `controller.rs`, against the real kube-apiserver): failures injected into the
//! ConfigMap writes, and PtpConfigs the real CRD's CEL rules refuse, which a cluster still holds
//! when they were admitted before the rules existed (the double does not validate custom
//! resources at all). A PtpConfig of a newer operator's CRD runs on a real server of its own in
//! `real_server_decode.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::PostParams;
use kube::{Api, Client};
use ptp_api::PtpConfig;
use ptp_operator::controller::run::ControllerSettings;
use ptp_testkit::fixtures;
use ptp_testkit::{ApiServer, Verb};

#[path = "support/controller.rs"]
mod harness;
use harness::{CM, Running};

const NS: &str = "openshift-ptp";
const WAIT: Duration = Duration::from_secs(10);

/// Every PtpConfig watched, every Linux Node an agent's.
fn settings() -> ControllerSettings {
    ControllerSettings { watch_namespaces: vec![], ..harness::settings(NS, "kubernetes.io/os=linux", "op-a") }
}

/// Polls `condition` (which may read the server) until it holds, failing after [`WAIT`].
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    let mut n = Node::default();
    n.metadata.name = Some(name.into());
    let mut l: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    l.insert("kubernetes.io/os".into(), "linux".into());
    n.metadata.labels = Some(l);
    n
}

fn ordinary_clock() -> PtpConfig {
    let mut c = fixtures::ordinary_clock("ordinary-clock-ptpconfig", "profile1", "node-role.kubernetes.io/worker");
    c.metadata.namespace = Some(NS.into());
    c
}

async fn cluster(server: &ApiServer) -> Client {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(NS.into());
    server.seed(&ns).unwrap();
    server.seed(&node("worker-0", &[("node-role.kubernetes.io/worker", "")])).unwrap();
    server.seed(&node("master-0", &[("node-role.kubernetes.io/master", "")])).unwrap();
    server.client().unwrap()
}

async fn configmap_value(server: &ApiServer, node: &str, predicate: impl Fn(&str) -> bool) -> String {
    let cm: ConfigMap = server
        .wait_until(NS, CM, WAIT, |cm: &ConfigMap| {
            cm.data.as_ref().and_then(|d| d.get(node)).is_some_and(|v| predicate(v))
        })
        .await
        .unwrap_or_else(|e| panic!("ConfigMap key {node}: {e}"));
    cm.data.unwrap()[node].clone()
}

const WORKER_VALUE: &str = r#"[{"name":"ordinary-clock-ptpconfig_profile1","interface":"enp134s0f0","ptp4lOpts":"-s -2","phc2sysOpts":"-a -r"}]"#;

#[tokio::test]
async fn invalid_ptpconfig_is_flagged_while_others_keep_rendering() {
    // Double: the double admits what the CRD's CEL rules refuse, as objects admitted before the rules existed.
    let server = ApiServer::start().await.unwrap();
    let client = cluster(&server).await;
    let api = Api::<PtpConfig>::namespaced(client.clone(), NS);
    api.create(&PostParams::default(), &ordinary_clock()).await.unwrap();

    let mut typo = ordinary_clock();
    typo.metadata.name = Some("typo".into());
    typo.spec.profile[0].name = "p".into();
    typo.spec.recommend[0].profile = "missing".into();
    typo.spec.recommend[0].priority = 0;
    api.create(&PostParams::default(), &typo).await.unwrap();

    let mut bad_conf = ordinary_clock();
    bad_conf.metadata.name = Some("bad-conf".into());
    bad_conf.spec.profile[0].name = "q".into();
    bad_conf.spec.profile[0].ptp4l_conf = Some("[global]\nslaveOnly\n".into());
    bad_conf.spec.recommend[0].profile = "q".into();
    api.create(&PostParams::default(), &bad_conf).await.unwrap();

    let op = Running::start(client.clone(), settings());
    let value = configmap_value(&server, "worker-0", |v| v.contains("bad-conf_q")).await;
    assert!(value.contains("ordinary-clock-ptpconfig_profile1"), "the valid PtpConfig still renders: {value}");
    assert!(!value.contains("typo_"), "the rule naming a missing profile is ignored");

    for (name, reason) in [("typo", "UnknownProfile"), ("bad-conf", "InvalidPtp4lConf")] {
        let config: PtpConfig = server
            .wait_until(NS, name, WAIT, |c: &PtpConfig| {
                c.status
                    .as_ref()
                    .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Valid" && c.status == "False"))
            })
            .await
            .unwrap();
        let valid = config.status.unwrap().conditions.into_iter().find(|c| c.type_ == "Valid").unwrap();
        assert_eq!(valid.reason, reason);
        eventually("warning event", || {
            server.list::<K8sEvent>(Some(NS)).iter().any(|e| {
                e.type_.as_deref() == Some("Warning")
                    && e.reason.as_deref() == Some(reason)
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
            })
        })
        .await;
    }
    let good: PtpConfig = server.get(NS, "ordinary-clock-ptpconfig").unwrap();
    assert!(good.status.unwrap().conditions.iter().any(|c| c.type_ == "Valid" && c.status == "True"));
    op.shutdown().await;
}

/// The stored object as JSON (readable whatever its spec holds).
#[tokio::test]
async fn api_errors_are_retried_until_the_configmap_is_written() {
    // Double: failure statuses injected on demand.
    let server = ApiServer::start().await.unwrap();
    let client = cluster(&server).await;
    Api::<PtpConfig>::namespaced(client.clone(), NS).create(&PostParams::default(), &ordinary_clock()).await.unwrap();
    server.faults().fail_next_verb(2, Verb::Create, "configmaps", 500);
    let op = Running::start(client.clone(), settings());
    assert_eq!(configmap_value(&server, "worker-0", |v| v != "[]").await, WORKER_VALUE);
    assert_eq!(server.faults().pending(), 0, "both injected failures were hit");
    eventually("errors counted", || op.metric("ptp_operator_reconcile_errors_total") >= 2.0).await;
    op.shutdown().await;
}
