//! The controller against the API-server double, for what the real server cannot do on demand
//! (the rest is in `controller.rs`, against the real kube-apiserver): failures injected into the
//! ConfigMap writes, and PtpConfigs the real CRD refuses — its CEL rules or its enums — which a
//! cluster still holds when they were admitted before the rules existed or by a newer operator's
//! CRD (the CRD is cluster-scoped, so a test sharing a control plane cannot swap it; the double
//! does not validate custom resources at all).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use ptp_api::{MatchRule, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};
use ptp_operator::controller::leader::LeaseTiming;
use ptp_operator::controller::metrics::encode;
use ptp_operator::controller::run::{Controller, Settings};
use ptp_operator::controller::selector::LabelSelector;
use ptp_testkit::{ApiServer, Verb};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const NS: &str = "openshift-ptp";
const CM: &str = "ptp-configmap";
const WAIT: Duration = Duration::from_secs(10);

fn settings() -> Settings {
    Settings {
        namespace: NS.into(),
        watch_namespaces: vec![],
        configmap_name: CM.into(),
        agent_selector: LabelSelector::parse("kubernetes.io/os=linux").unwrap(),
        leader_election: false,
        lease_name: "ptp-operator-leader".into(),
        identity: "op-a".into(),
        lease_timing: LeaseTiming {
            duration: Duration::from_secs(3),
            retry: Duration::from_millis(200),
            renew_deadline: Duration::from_secs(2),
        },
        debounce: Duration::from_millis(100),
        resync: Duration::from_millis(500),
        metrics_addr: None,
        health_addr: None,
        metrics_security: Default::default(),
    }
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    registry: std::sync::Arc<prometheus_client::registry::Registry>,
}

impl Running {
    fn start(client: Client, settings: Settings) -> Self {
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("ptp_operator=debug").try_init();
        let controller = Controller::new(client, settings);
        let registry = controller.registry();
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(async move {
            controller.run(shutdown).await.expect("controller runs");
        });
        Running { stop, task, registry }
    }

    fn metric(&self, name: &str) -> f64 {
        encode(&self.registry)
            .lines()
            .find_map(|l| {
                l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("stops in time").expect("no panic");
    }
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
    let mut c = PtpConfig::new(
        "ordinary-clock-ptpconfig",
        PtpConfigSpec {
            profile: vec![PtpProfile {
                interface: Some("enp134s0f0".into()),
                ptp4l_opts: Some("-s -2".into()),
                phc2sys_opts: Some("-a -r".into()),
                ..PtpProfile::named("profile1")
            }],
            recommend: vec![PtpRecommend {
                profile: "profile1".into(),
                priority: 4,
                r#match: Some(vec![MatchRule::node_label("node-role.kubernetes.io/worker")]),
            }],
        },
    );
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
async fn raw_config(
    api: &Api<DynamicObject>,
    name: &str,
    predicate: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(object) = api.get(name).await {
            let value = serde_json::to_value(&object).unwrap();
            if predicate(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for PtpConfig {name}: {value:#}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for PtpConfig {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition<'a>(object: &'a serde_json::Value, type_: &str) -> Option<&'a serde_json::Value> {
    object.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_)
}

#[tokio::test]
async fn undecodable_ptpconfig_is_isolated_while_others_keep_rendering() {
    // Double: it admits a value outside the CRD's enum, as a newer operator's CRD would.
    let server = ApiServer::start().await.unwrap();
    let client = cluster(&server).await;
    let api = Api::<PtpConfig>::namespaced(client.clone(), NS);
    let raw: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &ApiResource::erase::<PtpConfig>(&()));
    api.create(&PostParams::default(), &ordinary_clock()).await.unwrap();
    // Decodes at first; turns SCHED_RR while the operator runs.
    let mut rr = ordinary_clock();
    rr.metadata.name = Some("rr".into());
    rr.spec.profile[0].name = "q".into();
    rr.spec.recommend[0].profile = "q".into();
    api.create(&PostParams::default(), &rr).await.unwrap();
    // Never decodable during the operator's life.
    let mut from_start = serde_json::to_value(ordinary_clock()).unwrap();
    from_start["metadata"]["name"] = "rr-from-start".into();
    from_start["spec"]["profile"][0]["name"] = "s".into();
    from_start["spec"]["profile"][0]["ptpSchedulingPolicy"] = "SCHED_RR".into();
    from_start["spec"]["recommend"][0]["profile"] = "s".into();
    raw.create(&PostParams::default(), &serde_json::from_value(from_start).unwrap()).await.unwrap();

    let op = Running::start(client.clone(), settings());
    let value = configmap_value(&server, "worker-0", |v| v.contains("rr_q")).await;
    assert!(value.contains("ordinary-clock-ptpconfig_profile1"), "{value}");
    assert!(!value.contains("rr-from-start_"), "never decoded, so left out: {value}");
    let from_start = raw_config(&raw, "rr-from-start", |o| condition(o, "Valid").is_some()).await;
    let valid = condition(&from_start, "Valid").unwrap();
    assert_eq!((valid["status"].as_str(), valid["reason"].as_str()), (Some("False"), Some("DecodeError")));
    let message = valid["message"].as_str().unwrap();
    assert!(message.contains("spec.profile[0].ptpSchedulingPolicy: unknown variant `SCHED_RR`"), "{message}");
    assert!(message.contains("left out of the ConfigMap"), "{message}");
    assert_eq!(condition(&from_start, "Applied").unwrap()["reason"], "DecodeError");

    // rr turns undecodable: its nodes keep its last decoded profile.
    let patch = serde_json::json!({"spec": {"profile": [{"name": "q", "interface": "enp134s0f0", "ptp4lOpts": "-s -2",
        "phc2sysOpts": "-a -r", "ptpSchedulingPolicy": "SCHED_RR"}]}});
    raw.patch("rr", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let rr_now = raw_config(&raw, "rr", |o| condition(o, "Valid").is_some_and(|c| c["status"] == "False")).await;
    let valid = condition(&rr_now, "Valid").unwrap();
    assert_eq!(valid["reason"], "DecodeError");
    let message = valid["message"].as_str().unwrap();
    assert!(message.contains("spec.profile[0].ptpSchedulingPolicy: unknown variant `SCHED_RR`"), "{message}");
    assert!(message.contains("keep the profiles of generation 1"), "{message}");
    assert_eq!(rr_now["status"]["observedGeneration"], 2);
    for name in ["rr", "rr-from-start"] {
        eventually("DecodeError warning event", || {
            server.list::<K8sEvent>(Some(NS)).iter().any(|e| {
                e.type_.as_deref() == Some("Warning")
                    && e.reason.as_deref() == Some("DecodeError")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.note.as_deref().is_some_and(|n| n.contains("spec.profile[0].ptpSchedulingPolicy"))
            })
        })
        .await;
    }
    eventually("undecodable metric", || op.metric("ptp_operator_undecodable_ptpconfigs") == 2.0).await;

    // Edits of the other PtpConfigs still render.
    let patch = serde_json::json!({"spec": {"profile": [{"name": "profile1", "interface": "enp134s0f0",
        "ptp4lOpts": "-s -2", "phc2sysOpts": "-a -r -n 24"}]}});
    api.patch("ordinary-clock-ptpconfig", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let value = configmap_value(&server, "worker-0", |v| v.contains("-a -r -n 24")).await;
    assert!(value.contains("rr_q"), "the undecodable PtpConfig's last good profile stays: {value}");
    assert!(!value.contains("SCHED_RR"), "{value}");
    assert_eq!(op.metric("ptp_operator_reconcile_errors_total"), 0.0);

    // Fixed: valid again, and its new spec renders.
    let patch = serde_json::json!({"spec": {"profile": [{"name": "q", "interface": "enp134s0f0", "ptp4lOpts": "-s -2",
        "phc2sysOpts": "-a -r -m"}]}});
    raw.patch("rr", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    configmap_value(&server, "worker-0", |v| v.contains("-a -r -m")).await;
    raw_config(&raw, "rr", |o| condition(o, "Valid").is_some_and(|c| c["status"] == "True")).await;
    eventually("undecodable metric back to 1", || op.metric("ptp_operator_undecodable_ptpconfigs") == 1.0).await;
    op.shutdown().await;
}

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
