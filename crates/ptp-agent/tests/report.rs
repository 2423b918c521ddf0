//! The reporting loop against the in-process API server double, with a scripted probe (no root
//! needed) and, as root, with real discovery in a network namespace.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use kube::core::ObjectMeta;
use ptp_agent::Error;
use ptp_agent::nic::{Nic, Selection};
use ptp_agent::report::{Probe, Settings, run, run_with};
use ptp_api::{ClockState, NodePtpDevice, NodePtpDeviceSpec};
use ptp_testkit::{ApiServer, Verb};
use serde_json::json;
use tokio::sync::{mpsc, watch};

const NS: &str = "openshift-ptp";
const NODE: &str = "worker-0";
const STATUS: &str = "nodeptpdevices/status";

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

async fn server(with_object: bool) -> ApiServer {
    let server = ApiServer::start().await.unwrap();
    server
        .seed(&Namespace { metadata: ObjectMeta { name: Some(NS.into()), ..Default::default() }, ..Default::default() })
        .unwrap();
    if with_object {
        seed_object(&server);
    }
    server
}

fn seed_object(server: &ApiServer) {
    let mut npd = NodePtpDevice::new(NODE, NodePtpDeviceSpec {});
    npd.metadata.namespace = Some(NS.into());
    server.seed(&npd).unwrap();
}

fn settings() -> Settings {
    let mut s = Settings::new(NODE, NS);
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

fn start(server: &ApiServer, settings: Settings, probe: Arc<Scripted>) -> Running {
    let client = server.client().unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let (links, links_rx) = mpsc::channel(1);
    let task = tokio::spawn(async move { run_with(client, &settings, probe, links_rx, stop_rx).await });
    Running { stop, links, task }
}

fn names(npd: &NodePtpDevice) -> Vec<String> {
    npd.status.as_ref().map(|s| s.devices.iter().map(|d| d.name.clone()).collect()).unwrap_or_default()
}

async fn wait_names(server: &ApiServer, want: &[&str]) -> NodePtpDevice {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    server.wait_until::<NodePtpDevice>(NS, NODE, Duration::from_secs(10), |o| names(o) == want).await.unwrap_or_else(
        |e| panic!("status devices never became {want:?}: {e}; now {:?}", server.get::<NodePtpDevice>(NS, NODE)),
    )
}

#[tokio::test]
async fn status_is_written_once_and_not_rewritten_when_unchanged() {
    let server = server(true).await;
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5), ptp_nic("ens1f0", 3), Nic { loopback: true, ..soft("lo", 1) }];
    let running = start(&server, settings(), probe.clone());
    let npd = wait_names(&server, &["ens1f0", "veth1"]).await;
    let status = npd.status.unwrap();
    assert_eq!(status.device_count, Some(2));
    assert_eq!(status.devices[0].phc_index, Some(0));
    assert_eq!(status.devices[0].hardware_info.as_ref().unwrap().driver, "ice");
    // Link notifications and several resyncs later: rediscovered, never rewritten.
    for _ in 0..3 {
        running.links.send(()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(probe.calls.load(Ordering::SeqCst) >= 4, "discovery ran {} times", probe.calls.load(Ordering::SeqCst));
    assert_eq!(server.requests().count(Verb::Patch, STATUS), 1);
    assert_eq!(server.requests().writes("nodeptpdevices"), 1);
    running.stop().await;
}

#[tokio::test]
async fn status_follows_devices_that_appear_and_disappear() {
    let server = server(true).await;
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    let mut s = settings();
    s.resync = Duration::from_secs(3600); // only link notifications trigger discovery
    let running = start(&server, s, probe.clone());
    wait_names(&server, &["veth1"]).await;
    probe.nics.lock().unwrap().push(soft("veth0", 6));
    running.links.send(()).await.unwrap();
    wait_names(&server, &["veth0", "veth1"]).await;
    probe.nics.lock().unwrap().retain(|n| n.name != "veth1");
    running.links.send(()).await.unwrap();
    let npd = wait_names(&server, &["veth0"]).await;
    assert_eq!(npd.status.unwrap().device_count, Some(1));
    assert_eq!(server.requests().count(Verb::Patch, STATUS), 3);
    running.stop().await;
}

#[tokio::test]
async fn waits_for_the_operator_to_create_the_object_and_never_creates_it() {
    let server = server(false).await;
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    let running = start(&server, settings(), probe.clone());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(server.get::<NodePtpDevice>(NS, NODE).is_none());
    assert_eq!(server.requests().writes("nodeptpdevices"), 0, "the agent must not create the object");
    let gets = server.requests().count(Verb::Get, "nodeptpdevices");
    assert!(gets >= 3, "retried {gets} times");
    assert!(gets <= 30, "backoff bounds the retries: {gets}");
    seed_object(&server);
    wait_names(&server, &["veth1"]).await;
    assert_eq!(server.requests().count(Verb::Create, "nodeptpdevices"), 0);
    running.stop().await;
}

#[tokio::test]
async fn survives_api_errors_and_discovery_failures() {
    let server = server(true).await;
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    *probe.fail.lock().unwrap() = 2;
    server.faults().fail_next(3, STATUS, 500);
    server.faults().fail_next_verb(2, Verb::Get, "nodeptpdevices", 503);
    let running = start(&server, settings(), probe.clone());
    wait_names(&server, &["veth1"]).await;
    assert!(probe.calls.load(Ordering::SeqCst) >= 3);
    assert_eq!(server.faults().pending(), 0, "every injected failure was hit");
    running.stop().await;
}

#[tokio::test]
async fn keeps_status_fields_it_does_not_own() {
    let server = server(true).await;
    let api: Api<NodePtpDevice> = Api::namespaced(server.client().unwrap(), NS);
    api.patch_status(
        NODE,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"clockState": "LOCKED", "offsetNs": -3}})),
    )
    .await
    .unwrap();
    let probe = Arc::new(Scripted::default());
    *probe.nics.lock().unwrap() = vec![soft("veth1", 5)];
    let running = start(&server, settings(), probe);
    let status = wait_names(&server, &["veth1"]).await.status.unwrap();
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
    let server = server(true).await;
    let mut s = settings();
    s.resync = Duration::from_secs(3600); // only link notifications can explain the update
    s.debounce = Duration::from_millis(200);
    s.netns = Some(ns.path());
    let (stop, stop_rx) = watch::channel(false);
    let client = server.client().unwrap();
    let task = tokio::spawn(run(client, s, stop_rx));
    let npd = wait_names(&server, &["rep0a", "rep0b"]).await;
    let first = &npd.status.unwrap().devices[0];
    assert_eq!(
        first.timestamping.as_deref().unwrap(),
        ["software-transmit", "software-receive", "software-system-clock"]
    );
    assert_eq!(first.hardware_info.as_ref().unwrap().driver, "veth");
    assert_eq!(server.requests().count(Verb::Patch, STATUS), 1);
    ns.add_veth_pair("rep1a", "rep1b").unwrap();
    wait_names(&server, &["rep0a", "rep0b", "rep1a", "rep1b"]).await;
    ns.del_link("rep0a").unwrap();
    wait_names(&server, &["rep1a", "rep1b"]).await;
    // Once the links are quiet the status is not written again. (Each change is at least one
    // write; an `ip` command that lands after the debounce can add one, e.g. a link going up.)
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = server.requests().count(Verb::Patch, STATUS);
    assert!(writes >= 3, "{writes} writes");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(server.requests().count(Verb::Patch, STATUS), writes, "nothing changed, nothing written");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
}
