//! Time from a node label change to the ConfigMap update, against the API-server double over
//! HTTP (goal: < 1 s). `cargo bench -p ptp-operator --bench label_latency` prints the figures.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use ptp_api::{PtpConfig, PtpProfile};
use ptp_operator::controller::leader::LeaseTiming;
use ptp_operator::controller::run::{Controller, ControllerSettings};
use ptp_operator::controller::selector::LabelSelector;
use ptp_testkit::ApiServer;
use tokio::sync::watch;

const NS: &str = "openshift-ptp";
const NODES: usize = 200;
const CHANGES: usize = 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = ApiServer::start().await.expect("double starts");
    let mut ns = Namespace::default();
    ns.metadata.name = Some(NS.into());
    server.seed(&ns).expect("namespace");
    for i in 0..NODES {
        let mut n = Node::default();
        n.metadata.name = Some(format!("node-{i:03}"));
        n.metadata.labels = Some([("kubernetes.io/os".to_string(), "linux".to_string())].into());
        server.seed(&n).expect("node");
    }
    let client = server.client().expect("client");
    let mut config = ptp_testkit::fixtures::ptp_config("bench")
        .profile(PtpProfile { ptp4l_opts: Some("-2".into()), ..PtpProfile::named("p") })
        .recommend("p", 1, "ptp")
        .build();
    config.metadata.namespace = Some(NS.into());
    Api::<PtpConfig>::namespaced(client.clone(), NS).create(&PostParams::default(), &config).await.expect("ptpconfig");

    let settings = ControllerSettings {
        namespace: NS.into(),
        watch_namespaces: vec![],
        configmap_name: "ptp-configmap".into(),
        write_configmap: true,
        agent_selector: LabelSelector::parse("kubernetes.io/os=linux").expect("selector"),
        leader_election: false,
        lease_name: "ptp-operator-leader".into(),
        identity: "bench".into(),
        lease_timing: LeaseTiming::default(),
        debounce: Duration::from_millis(100),
        resync: Duration::from_secs(300),
        metrics_addr: None,
        health_addr: None,
        metrics_security: Default::default(),
    };
    let (stop, shutdown) = watch::channel(false);
    let controller = tokio::spawn(Controller::new(client.clone(), settings).run(shutdown));
    server.wait_configmap_key(NS, "ptp-configmap", "node-000", Duration::from_secs(30)).await.expect("first render");

    let nodes: Api<Node> = Api::all(client.clone());
    let mut times = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let name = format!("node-{i:03}");
        let started = Instant::now();
        let patch = serde_json::json!({"metadata": {"labels": {"ptp": "yes"}}});
        nodes.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("label");
        server
            .wait_until(NS, "ptp-configmap", Duration::from_secs(10), |cm: &ConfigMap| {
                cm.data.as_ref().and_then(|d| d.get(&name)).is_some_and(|v| v.contains("bench_p"))
            })
            .await
            .expect("ConfigMap updated");
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[CHANGES / 2];
    println!(
        "node label change -> ConfigMap update ({NODES} nodes, debounce 100 ms, HTTP double): median {} ms, min {} ms, max {} ms over {CHANGES} changes; goal < 1 s: {}",
        median.as_millis(),
        times[0].as_millis(),
        times[CHANGES - 1].as_millis(),
        if median < Duration::from_secs(1) { "met" } else { "NOT met" }
    );
    let _ = stop.send(true);
    let _ = controller.await;
}
