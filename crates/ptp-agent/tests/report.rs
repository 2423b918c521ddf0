//! The reporting loop against the real kube-apiserver, authenticated as the chart's agent
//! ServiceAccount (the chart's RBAC: it may read its NodePtpDevice and patch its status, never
//! create it), with a scripted probe (no root needed) and, as root, with real discovery in a
//! network namespace. Each test has its own namespace on the shared control plane; the agent's
//! client counts the requests it sends. Failures injected into the API (on demand) still need the
//! API double: `survives_api_errors_and_discovery_failures`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use ptp_agent::Error;
use ptp_agent::nic::{Discovery, LinkWatcher, Nic, Selection};
use ptp_agent::report::{Probe, ReportSettings, forward_link_changes, run_with};
use ptp_api::{ClockState, NodePtpDevice, NodePtpDeviceSpec};
use ptp_testkit::cluster::{ControlPlane, Identity, TestEnv, eventually, wait_until};
use ptp_testkit::{ApiServer, Verb};
use serde_json::json;
use tokio::sync::{mpsc, watch};

const NODE: &str = "worker-0";
const STATUS: &str = "nodeptpdevices/status";
const WAIT: Duration = Duration::from_secs(10);

/// A probe that returns what the test scripts, and counts calls.
#[derive(Default)]
struct Scripted {
    nics: Mutex<Vec<Nic>>,
    fail: Mutex<u32>,
    calls: AtomicUsize,
}

impl Probe for Scripted {
    fn discover(&self) -> Result<Vec<Nic>, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut fail = self.fail.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return Err(Error::Socket("scripted failure".into()));
        }
        Ok(self.nics.lock().unwrap().clone())
    }
}

fn soft(name: &str, ifindex: u32) -> Nic {
    Nic {
        name: name.into(),
        ifindex,
        timestamping: ["software-transmit", "software-receive", "software-system-clock"].map(String::from).to_vec(),
        ..Default::default()
    }
}

fn ptp_nic(name: &str, ifindex: u32) -> Nic {
    Nic {
        name: name.into(),
        ifindex,
        timestamping: ["hardware-transmit", "hardware-receive", "hardware-raw-clock"].map(String::from).to_vec(),
        phc_index: Some(0),
        ptp_capable: true,
        pci_address: Some("0000:3b:00.0".into()),
        driver: Some("ice".into()),
        ..Default::default()
    }
}

/// A test namespace with the chart's RBAC (and the node's NodePtpDevice, as the operator
/// creates it, `with_object`), and the agent's identity. `None` without a control plane.
async fn cluster(test: &str, with_object: bool) -> Option<(TestEnv, Identity)> {
    let cp = ControlPlane::for_test(test)?;
    let env = cp.env(test).await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let agent = env.service_account("ptp-operator-agent").await.unwrap();
    if with_object {
        create_object(&env).await;
    }
    Some((env, agent))
}

async fn create_object(env: &TestEnv) {
    devices(env).create(&PostParams::default(), &NodePtpDevice::new(NODE, NodePtpDeviceSpec {})).await.unwrap();
}

fn devices(env: &TestEnv) -> Api<NodePtpDevice> {
    Api::namespaced(env.admin.clone(), &env.ns)
}

fn settings(ns: &str) -> ReportSettings {
    let mut s = ReportSettings::new(NODE, ns);
    s.resync = Duration::from_millis(100);
    s.debounce = Duration::from_millis(20);
    s.retry_initial = Duration::from_millis(20);
    s.retry_max = Duration::from_millis(100);
    s.selection = Selection { include_software: true, ..Default::default() };
    s
}

struct Running {
    stop: watch::Sender<bool>,
    links: mpsc::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl Running {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task).await.expect("loop stops").unwrap().unwrap();
    }
}

fn start(client: Client, settings: ReportSettings, probe: Arc<Scripted>) -> Running {
    let (stop, stop_rx) = watch::channel(false);
    let (links, links_rx) = mpsc::channel(1);
    let task = tokio::spawn(async move { run_with(client, &settings, probe, links_rx, stop_rx).await });
    Running { stop, links, task }
}

fn names(npd: &NodePtpDevice) -> Vec<String> {
    npd.status.as_ref().map(|s| s.devices.iter().map(|d| d.name.clone()).collect()).unwrap_or_default()
}

async fn wait_names(api: &Api<NodePtpDevice>, want: &[&str]) -> NodePtpDevice {
    let want: Vec<String> = want.iter().map(std::string::ToString::to_string).collect();
    wait_until(api, NODE, Duration::from_secs(10), |o| names(o) == want)
        .await
        .unwrap_or_else(|e| panic!("status devices never became {want:?}: {e}"))
}

#[tokio::test]
async fn status_is_written_once_and_not_rewritten_when_unchanged() {
    let Some((env, agent)) = cluster("report-written-once", true).await else { return };
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5), ptp_nic("ens1f0", 3), Nic { loopback: true, ..soft("lo", 1) }];
    let running = start(agent.client.clone(), settings(&env.ns), probe.clone());
    let npd = wait_names(&devices(&env), &["ens1f0", "veth1"]).await;
    let status = npd.status.unwrap();
    assert_eq!(status.device_count, Some(2));
    assert_eq!(status.devices[0].phc_index, Some(0));
    assert_eq!(status.devices[0].hardware_info.as_ref().unwrap().driver, "ice");
    // Link notifications and several resyncs later: rediscovered, never rewritten. The loop
    // discovers, writes if needed, then waits: a discovery that began after another means that
    // one's write (or none) is done.
    let calls = || probe.calls.load(Ordering::SeqCst);
    for _ in 0..3 {
        let before = calls();
        running.links.send(()).await.unwrap();
        eventually("a discovery after the link notification", WAIT, || async { calls() > before + 1 }).await.unwrap();
    }
    assert!(probe.calls.load(Ordering::SeqCst) >= 4, "discovery ran {} times", probe.calls.load(Ordering::SeqCst));
    assert_eq!(agent.requests.count(Verb::Patch, STATUS), 1);
    assert_eq!(agent.requests.writes("nodeptpdevices"), 1);
    running.stop().await;
}

#[tokio::test]
async fn status_follows_devices_that_appear_and_disappear() {
    let Some((env, agent)) = cluster("report-follows", true).await else { return };
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    let mut s = settings(&env.ns);
    s.resync = Duration::from_secs(3600); // only link notifications trigger discovery
    let running = start(agent.client.clone(), s, probe.clone());
    let api = devices(&env);
    wait_names(&api, &["veth1"]).await;
    probe.nics.lock().unwrap().push(soft("veth0", 6));
    running.links.send(()).await.unwrap();
    wait_names(&api, &["veth0", "veth1"]).await;
    probe.nics.lock().unwrap().retain(|n| n.name != "veth1");
    running.links.send(()).await.unwrap();
    let npd = wait_names(&api, &["veth0"]).await;
    assert_eq!(npd.status.unwrap().device_count, Some(1));
    assert_eq!(agent.requests.count(Verb::Patch, STATUS), 3);
    running.stop().await;
}

#[tokio::test]
async fn waits_for_the_operator_to_create_the_object_and_never_creates_it() {
    let Some((env, agent)) = cluster("report-waits", false).await else { return };
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    let started = std::time::Instant::now();
    let running = start(agent.client.clone(), settings(&env.ns), probe.clone());
    // Three looks at the missing object, the last one after the retry delays of 20 and 40 ms.
    let gets = || agent.requests.count(Verb::Get, "nodeptpdevices");
    eventually("three looks at the object", WAIT, || async { gets() >= 3 }).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60), "backoff spaces the retries: {:?}", started.elapsed());
    assert!(devices(&env).get_opt(NODE).await.unwrap().is_none());
    assert_eq!(agent.requests.writes("nodeptpdevices"), 0, "the agent must not create the object");
    create_object(&env).await;
    wait_names(&devices(&env), &["veth1"]).await;
    assert_eq!(agent.requests.count(Verb::Create, "nodeptpdevices"), 0);
    running.stop().await;
}

#[tokio::test]
async fn survives_api_errors_and_discovery_failures() {
    // Double: failure statuses injected on demand.
    let server = ApiServer::start().await.unwrap();
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "openshift-ptp"}})).unwrap();
    server.seed(&ns).unwrap();
    let mut npd = NodePtpDevice::new(NODE, NodePtpDeviceSpec {});
    npd.metadata.namespace = Some("openshift-ptp".into());
    server.seed(&npd).unwrap();
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    *probe.fail.lock().unwrap() = 2;
    server.faults().fail_next(3, STATUS, 500);
    server.faults().fail_next_verb(2, Verb::Get, "nodeptpdevices", 503);
    let running = start(server.client().unwrap(), settings("openshift-ptp"), probe.clone());
    let api = Api::namespaced(server.client().unwrap(), "openshift-ptp");
    wait_names(&api, &["veth1"]).await;
    assert!(probe.calls.load(Ordering::SeqCst) >= 3);
    assert_eq!(server.faults().pending(), 0, "every injected failure was hit");
    running.stop().await;
}

#[tokio::test]
async fn keeps_status_fields_it_does_not_own() {
    let Some((env, agent)) = cluster("report-keeps", true).await else { return };
    let api = devices(&env);
    api.patch_status(
        NODE,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"clockState": "LOCKED", "offsetNs": -3}})),
    )
    .await
    .unwrap();
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    let running = start(agent.client.clone(), settings(&env.ns), probe);
    let status = wait_names(&api, &["veth1"]).await.status.unwrap();
    assert_eq!((status.clock_state, status.offset_ns), (Some(ClockState::Locked), Some(-3)));
    running.stop().await;
}

#[tokio::test]
async fn a_veth_added_in_a_namespace_is_reported() {
    if !ptp_testkit::root::require_root("a_veth_added_in_a_namespace_is_reported") {
        return;
    }
    let ns = ptp_testkit::netns::NetNs::new("ptprep").unwrap();
    ns.add_veth_pair("rep0a", "rep0b").unwrap();
    let Some((env, agent)) = cluster("report-veth", true).await else { return };
    let mut s = settings(&env.ns);
    s.resync = Duration::from_secs(3600); // only link notifications can explain the update
    s.debounce = Duration::from_millis(200);
    s.netns = Some(ns.path());
    // What `run` does (real discovery, the namespace's link notifications), with the discoveries
    // counted and a sender the test can use to ask for one more.
    let probe = Arc::new(CountingDiscovery {
        discovery: Discovery { netns: Some(ns.path()), ..Discovery::default() },
        calls: AtomicUsize::new(0),
    });
    let (links, links_rx) = mpsc::channel(1);
    let forwarder = tokio::spawn(forward_link_changes(LinkWatcher::open(Some(&ns.path())).unwrap(), links.clone()));
    let (stop, stop_rx) = watch::channel(false);
    let (client, counted) = (agent.client.clone(), probe.clone());
    let task = tokio::spawn(async move { run_with(client, &s, counted, links_rx, stop_rx).await });
    let api = devices(&env);
    let npd = wait_names(&api, &["rep0a", "rep0b"]).await;
    let first = &npd.status.unwrap().devices[0];
    assert_eq!(
        first.timestamping.as_deref().unwrap(),
        ["software-transmit", "software-receive", "software-system-clock"]
    );
    assert_eq!(first.hardware_info.as_ref().unwrap().driver, "veth");
    assert_eq!(agent.requests.count(Verb::Patch, STATUS), 1);
    ns.add_veth_pair("rep1a", "rep1b").unwrap();
    wait_names(&api, &["rep0a", "rep0b", "rep1a", "rep1b"]).await;
    ns.del_link("rep0a").unwrap();
    wait_names(&api, &["rep1a", "rep1b"]).await;
    // Once the links are quiet the status is not written again. (Each change is at least one
    // write; an `ip` command that lands after the debounce can add one, e.g. a link going up.)
    probe.rediscovered(&links).await;
    let writes = agent.requests.count(Verb::Patch, STATUS);
    assert!(writes >= 3, "{writes} writes");
    probe.rediscovered(&links).await;
    assert_eq!(agent.requests.count(Verb::Patch, STATUS), writes, "nothing changed, nothing written");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
    forwarder.abort();
}

/// Real discovery (complete, as `run` does for a selection with software interfaces), counted.
struct CountingDiscovery {
    discovery: Discovery,
    calls: AtomicUsize,
}

impl Probe for CountingDiscovery {
    fn discover(&self) -> Result<Vec<Nic>, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.discovery.discover()
    }
}

impl CountingDiscovery {
    /// Asks the loop for two rediscoveries in turn (as link changes) and returns once the second
    /// has started: the loop runs discovery, status sync, wait in turn, so by then the sync of
    /// the first (and of every discovery before it) is done.
    async fn rediscovered(&self, links: &mpsc::Sender<()>) {
        for _ in 0..2 {
            let before = self.calls.load(Ordering::SeqCst);
            links.send(()).await.unwrap();
            eventually("a rediscovery", WAIT, || async { self.calls.load(Ordering::SeqCst) > before }).await.unwrap();
        }
    }
}
