//! The controller against the real kube-apiserver, authenticated as the chart's operator
//! ServiceAccount (a TokenRequest token, the chart's RBAC): PtpConfigs and Nodes in, the
//! ConfigMap, statuses, NodePtpDevices (owned by their Node) and Events out; re-render on label
//! changes; a deleted Node's NodePtpDevice removed by the real garbage collector; no writes on an
//! unchanged resync and drift repaired; leader election between two instances.
//!
//! Tests share one control plane: each works in its own namespace (ConfigMap, Lease, Events,
//! PtpConfigs) and gives its Nodes names of its own, a label only its operator selects and a
//! worker label of its own that its PtpConfig matches.
//! What still runs against the API double, and why, is in `controller_faults.rs`.
//!
//! Where the real server disagreed with the double:
//! * the garbage collector is asynchronous (kube-controller-manager): a deleted Node's
//!   NodePtpDevice goes some time after the Node, so the test waits for it;
//! * a ServiceAccount token only gets what the chart's RBAC grants: the operator must watch
//!   PtpConfigs only in its namespaces here (a shared cluster holds other tests' PtpConfigs);
//! * a shared cluster holds other tests' Nodes: a PtpConfig's `status.matchList` lists every
//!   Node its rules match (not only those the agent selector picks), so each test's PtpConfig
//!   matches a worker label only its own Nodes carry.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use ptp_api::{NodePtpDevice, PtpConfig};
use ptp_operator::controller::run::ControllerSettings;
use ptp_testkit::Verb;
use ptp_testkit::cluster::{ControlPlane, Identity, TestEnv, eventually, wait_until};
use ptp_testkit::fixtures::ordinary_clock;
use serde_json::json;

#[path = "support/controller.rs"]
mod harness;
use harness::{CM, Running, configmap_key};

/// The PtpConfig of every test: the ordinary-clock sample.
const CONFIG: &str = "ordinary-clock-ptpconfig";
const WAIT: Duration = Duration::from_secs(30);
/// The label that puts a Node in front of this test's operator only.
const TEST_LABEL: &str = "ptp-test.example/env";

/// The ConfigMap has a key for every Node of the cluster, and the tests of this file share one:
/// a test creating or deleting Nodes changes every running operator's ConfigMap. Each test holds
/// this for reading while it has Nodes; the one that asserts "no write without a change" holds it
/// for writing (found by running the suite five times in a row: another test's Nodes went away
/// while it counted writes).
static NODE_CHURN: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn settings(env: &TestEnv, identity: &str, leader_election: bool) -> ControllerSettings {
    ControllerSettings { leader_election, ..harness::settings(&env.ns, &format!("{TEST_LABEL}={}", env.ns), identity) }
}

/// This test's world: its namespace, the chart's RBAC, the operator's identity, a worker and a
/// master Node (deleted with the env) and the sample PtpConfig matching this test's worker label.
struct World {
    env: TestEnv,
    operator: Identity,
    worker_label: String,
    worker: String,
    master: String,
}

impl World {
    async fn new(prefix: &str) -> Option<World> {
        let cp = ControlPlane::for_test(prefix)?;
        let env = cp.env(prefix).await.unwrap();
        env.install_chart_rbac().await.unwrap();
        let operator = env.service_account("ptp-operator").await.unwrap();
        let worker_label = format!("{}.example/worker", env.ns);
        let worker = env.node("worker-0", json!({(TEST_LABEL): env.ns, (worker_label.clone()): ""})).await.unwrap();
        let master =
            env.node("master-0", json!({(TEST_LABEL): env.ns, "node-role.kubernetes.io/master": ""})).await.unwrap();
        let world = World { env, operator, worker_label, worker, master };
        world
            .configs()
            .create(&PostParams::default(), &ordinary_clock(CONFIG, "profile1", &world.worker_label))
            .await
            .unwrap();
        Some(world)
    }

    fn admin(&self) -> Client {
        self.env.admin.clone()
    }

    fn configs(&self) -> Api<PtpConfig> {
        Api::namespaced(self.admin(), &self.env.ns)
    }

    fn devices(&self) -> Api<NodePtpDevice> {
        Api::namespaced(self.admin(), &self.env.ns)
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.admin())
    }

    fn start(&self, identity: &str, leader_election: bool) -> Running {
        Running::start(self.operator.client.clone(), settings(&self.env, identity, leader_election))
    }

    /// The node's key once `predicate` holds for it.
    async fn key(&self, node: &str, predicate: impl Fn(&str) -> bool) -> String {
        configmap_key(&self.env.admin, &self.env.ns, node, predicate).await
    }

    async fn events(&self) -> Vec<K8sEvent> {
        Api::<K8sEvent>::namespaced(self.admin(), &self.env.ns).list(&ListParams::default()).await.unwrap().items
    }
}

const WORKER_VALUE: &str = r#"[{"name":"ordinary-clock-ptpconfig_profile1","interface":"enp134s0f0","ptp4lOpts":"-s -2","phc2sysOpts":"-a -r"}]"#;

#[tokio::test]
async fn renders_configmap_statuses_devices_and_events() {
    let _nodes = NODE_CHURN.read().await;
    let Some(w) = World::new("ctl-render").await else { return };
    let op = w.start("op-a", false);

    assert_eq!(w.key(&w.worker, |v| v != "[]").await, WORKER_VALUE);
    assert_eq!(w.key(&w.master, |_| true).await, "[]");

    let config = wait_until(&w.configs(), "ordinary-clock-ptpconfig", WAIT, |c| {
        c.status.as_ref().is_some_and(|s| s.node_count == Some(1))
    })
    .await
    .unwrap();
    let status = config.status.unwrap();
    assert_eq!(status.match_list.len(), 1);
    assert_eq!(
        (status.match_list[0].node_name.as_str(), status.match_list[0].profile.as_str()),
        (w.worker.as_str(), "profile1")
    );
    assert_eq!(status.observed_generation, config.metadata.generation);
    let types: Vec<(&str, &str)> = status.conditions.iter().map(|c| (c.type_.as_str(), c.status.as_str())).collect();
    assert_eq!(types, [("Valid", "True"), ("ProfileReferenceValid", "True"), ("Applied", "True")]);

    for name in [&w.worker, &w.master] {
        let device = wait_until(&w.devices(), name, WAIT, |_| true).await.unwrap();
        let owner = &device.metadata.owner_references.unwrap()[0];
        let node = w.nodes().get(name).await.unwrap();
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", name.as_str()));
        assert_eq!(Some(owner.uid.clone()), node.metadata.uid);
    }
    eventually("NodesChanged event", WAIT, || async {
        w.events().await.iter().any(|e| e.reason.as_deref() == Some("NodesChanged"))
    })
    .await
    .unwrap();
    op.shutdown().await;
}

#[tokio::test]
async fn label_change_rerenders_and_node_delete_cleans_up() {
    let _nodes = NODE_CHURN.read().await;
    let Some(w) = World::new("ctl-label").await else { return };
    let op = w.start("op-a", false);
    w.key(&w.worker, |v| v != "[]").await;
    wait_until(&w.devices(), &w.master, WAIT, |_| true).await.unwrap();

    let started = Instant::now();
    let patch = json!({"metadata": {"labels": {(w.worker_label.clone()): ""}}});
    w.nodes().patch(&w.master, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let value = w.key(&w.master, |v| v != "[]").await;
    eprintln!("node label change -> ConfigMap updated in {} ms", started.elapsed().as_millis());
    assert!(value.contains("ordinary-clock-ptpconfig_profile1"));

    // The operator drops the key at once; the garbage collector removes the NodePtpDevice later.
    w.nodes().delete(&w.worker, &Default::default()).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(w.admin(), &w.env.ns);
    wait_until(&cms, CM, WAIT, |cm| !cm.data.as_ref().is_some_and(|d| d.contains_key(&w.worker))).await.unwrap();
    eventually("NodePtpDevice of the deleted Node collected", Duration::from_secs(60), || async {
        w.devices().get_opt(&w.worker).await.is_ok_and(|d| d.is_none())
    })
    .await
    .unwrap();
    let config = wait_until(&w.configs(), "ordinary-clock-ptpconfig", WAIT, |c| {
        c.status.as_ref().is_some_and(|s| s.match_list.iter().map(|m| m.node_name.as_str()).eq([w.master.as_str()]))
    })
    .await
    .unwrap();
    assert_eq!(config.status.unwrap().node_count, Some(1));
    op.shutdown().await;
}

#[tokio::test]
async fn resync_without_change_writes_nothing_and_drift_is_repaired() {
    let _nodes = NODE_CHURN.write().await;
    let Some(w) = World::new("ctl-resync").await else { return };
    let op = w.start("op-a", false);
    w.key(&w.worker, |v| v == WORKER_VALUE).await;
    wait_until(&w.configs(), "ordinary-clock-ptpconfig", WAIT, |c| {
        c.status.as_ref().is_some_and(|s| s.node_count == Some(1))
    })
    .await
    .unwrap();
    wait_until(&w.devices(), &w.master, WAIT, |_| true).await.unwrap();
    // Reconciles run one at a time and write before they count: two more than now means one
    // began after the writes seen above, so the first reconciles' writes are all done. Then
    // count the operator's writes over several resyncs (its client counts what it sends; other
    // tests share the server).
    let reconciles = || op.metric("ptp_operator_reconciles_total");
    let seen = reconciles();
    eventually("a reconcile after the first writes", WAIT, || async { reconciles() >= seen + 2.0 }).await.unwrap();
    let requests = &w.operator.requests;
    requests.reset();
    let reconciles_before = reconciles();
    // A Node update that is not a label change (as a kubelet's) reaches the loop and changes nothing.
    let patch = json!({"metadata": {"annotations": {"example/heartbeat": "1"}}});
    w.nodes().patch(&w.worker, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually("resyncs ran", WAIT, || async { reconciles() >= reconciles_before + 3.0 }).await.unwrap();
    assert_eq!(requests.total_writes(), 0, "writes on an unchanged resync or Node update: {:?}", requests.snapshot());

    // Someone edits the ConfigMap and deletes a NodePtpDevice: both are repaired.
    let cms: Api<ConfigMap> = Api::namespaced(w.admin(), &w.env.ns);
    let patch = json!({"data": {(w.worker.clone()): "[]", "stray": "x"}});
    cms.patch(CM, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let uid = w.devices().get(&w.master).await.unwrap().metadata.uid;
    w.devices().delete(&w.master, &Default::default()).await.unwrap();
    wait_until(&cms, CM, WAIT, |cm| {
        cm.data
            .as_ref()
            .is_some_and(|d| d.get(&w.worker).map(String::as_str) == Some(WORKER_VALUE) && !d.contains_key("stray"))
    })
    .await
    .unwrap();
    wait_until(&w.devices(), &w.master, WAIT, |d| d.metadata.uid != uid).await.unwrap();
    op.shutdown().await;
}

#[tokio::test]
async fn only_the_leader_writes_and_the_standby_takes_over() {
    let _nodes = NODE_CHURN.read().await;
    let Some(w) = World::new("ctl-leader").await else { return };
    let a = w.start("op-a", true);
    let mut a_leader = a.leader.clone();
    tokio::time::timeout(WAIT, a_leader.wait_for(|l| *l)).await.expect("a leads").unwrap();
    // The standby has a client of its own, to count its requests.
    let b_identity = w.env.service_account("ptp-operator").await.unwrap();
    let b = Running::start(b_identity.client.clone(), settings(&w.env, "op-b", true));
    w.key(&w.worker, |v| v == WORKER_VALUE).await;
    // The standby has found the lease held (its second look follows the first's answer) and its
    // loop has run (the node count is set on standbys too).
    eventually("the standby looked at the lease twice", WAIT, || async {
        b_identity.requests.count(Verb::Get, "leases") >= 2
    })
    .await
    .unwrap();
    eventually("the standby's loop ran", WAIT, || async { b.metric("ptp_operator_nodes") >= 2.0 }).await.unwrap();
    assert!(!*b.leader.borrow(), "the standby does not lead");
    let leases: Api<Lease> = Api::namespaced(w.admin(), &w.env.ns);
    let lease = leases.get("ptp-operator-leader").await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("op-a"));
    assert!(a.metric("ptp_operator_reconciles_total") >= 1.0);
    assert_eq!(b.metric("ptp_operator_reconciles_total"), 0.0, "the standby never reconciles");

    let stopped = Instant::now();
    a.shutdown().await;
    let mut b_leader = b.leader.clone();
    tokio::time::timeout(WAIT, b_leader.wait_for(|l| *l)).await.expect("b takes over").unwrap();
    eprintln!("standby took over {} ms after the leader stopped", stopped.elapsed().as_millis());
    let lease = leases.get("ptp-operator-leader").await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("op-b"));

    let patch = json!({"metadata": {"labels": {(w.worker_label.clone()): ""}}});
    w.nodes().patch(&w.master, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    w.key(&w.master, |v| v != "[]").await;
    eventually("the new leader counts its reconciles", WAIT, || async {
        b.metric("ptp_operator_reconciles_total") >= 1.0
    })
    .await
    .unwrap();
    b.shutdown().await;
}

/// Regression (against the real server, which refuses an object over 1 MiB): the operator used to
/// send the oversized ConfigMap on every reconcile, each refused (a reconcile error and a retry,
/// for ever). Now it writes nothing while the render is over the limit: the stored version stays,
/// the PtpConfigs say `ConfigMapWithinLimit=False` (`OverSizeLimit`) with the real size, the gauge
/// says 0, and once the render fits again the ConfigMap is written.
#[tokio::test]
async fn a_configmap_over_the_limit_is_not_sent_and_the_stored_one_stays() {
    let _nodes = NODE_CHURN.read().await;
    let Some(w) = World::new("ctl-oversize").await else { return };
    let op = w.start("op-a", false);
    assert_eq!(w.key(&w.worker, |v| v != "[]").await, WORKER_VALUE);

    // 12 nodes × a 100 KB profile: about 1.2 MB of ConfigMap.
    let mut workers = vec![w.worker.clone()];
    for i in 1..12 {
        let labels = json!({(TEST_LABEL): w.env.ns, (w.worker_label.clone()): ""});
        workers.push(w.env.node(&format!("worker-{i}"), labels).await.unwrap());
    }
    // Settled below the limit: every worker has its key.
    w.key(&workers[11], |v| v == WORKER_VALUE).await;
    let mut big = ordinary_clock(CONFIG, "profile1", &w.worker_label);
    big.metadata.name = Some("big".into());
    big.spec.profile[0].name = "big".into();
    big.spec.profile[0].ptp4l_conf = Some(format!("[global]\n# {}\n", "x".repeat(100_000)));
    big.spec.recommend[0].profile = "big".into();
    big.spec.recommend[0].priority = 1;
    let writes_before = w.operator.requests.writes("configmaps");
    w.configs().create(&PostParams::default(), &big).await.unwrap();

    let config = wait_until(&w.configs(), "big", WAIT, |c| {
        c.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| c.type_ == "ConfigMapWithinLimit" && c.reason == "OverSizeLimit")
        })
    })
    .await
    .unwrap();
    let status = config.status.unwrap();
    let condition = status.conditions.iter().find(|c| c.type_ == "ConfigMapWithinLimit").unwrap();
    assert!(condition.message.contains("over the 1 MiB (1,048,576 bytes) object limit"), "{}", condition.message);
    eventually("ptp_operator_configmap_within_limit 0", WAIT, || async {
        op.metric("ptp_operator_configmap_within_limit") == 0.0
    })
    .await
    .unwrap();
    // A change while over the limit is not sent either.
    let patch = json!({"spec": {"profile": [{"name": "profile1", "interface": "enp134s0f0",
        "ptp4lOpts": "-s -2", "phc2sysOpts": "-a -r -n 24"}]}});
    w.configs().patch("ordinary-clock-ptpconfig", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    // Several reconciles later (the resync is 500 ms): still nothing sent, no error.
    let reconciles = op.metric("ptp_operator_reconciles_total");
    eventually("three more reconciles", WAIT, || async {
        op.metric("ptp_operator_reconciles_total") >= reconciles + 3.0
    })
    .await
    .unwrap();
    assert_eq!(w.operator.requests.writes("configmaps"), writes_before, "no ConfigMap write over the limit");
    assert_eq!(op.metric("ptp_operator_reconcile_errors_total"), 0.0);
    let cms: Api<ConfigMap> = Api::namespaced(w.admin(), &w.env.ns);
    let stored = cms.get(CM).await.unwrap().data.unwrap();
    for worker in &workers {
        assert_eq!(stored[worker], WORKER_VALUE, "the stored version stays");
    }

    // Fits again: written (with the change made meanwhile), and the condition goes.
    w.configs().delete("big", &Default::default()).await.unwrap();
    w.key(&workers[11], |v| v.contains("-a -r -n 24")).await;
    eventually("ptp_operator_configmap_within_limit 1", WAIT, || async {
        op.metric("ptp_operator_configmap_within_limit") == 1.0
    })
    .await
    .unwrap();
    wait_until(&w.configs(), "ordinary-clock-ptpconfig", WAIT, |c| {
        c.status.as_ref().is_some_and(|s| !s.conditions.iter().any(|c| c.type_ == "ConfigMapWithinLimit"))
    })
    .await
    .unwrap();
    op.shutdown().await;
}
