//! The event loop: reflectors keep caches of PtpConfigs, the ConfigMap and NodePtpDevices; Nodes
//! are watched metadata only and not cached (the engine keeps names and labels, the node feed
//! uids); every relevant change wakes one debounced reconcile. Node events reach the incremental
//! render engine as deltas; each reconcile syncs the engine's PtpConfigs with the decoded ones (a change
//! re-renders only the nodes concerned), then plans from what changed ([`Dirty`]) and writes.
//! The events of the operator's own writes (ConfigMap data, statuses) wake nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher::Config as WatchConfig};
use kube::{Api, Client, Resource, ResourceExt};
use prometheus_client::registry::Registry;
use ptp_api::{NodePtpDevice, RawPtpConfig};
use tokio::sync::{mpsc, watch};

use super::apply::Writer;
use super::decode::DecodeCache;
use super::feed::{NodeDelta, NodeFeed, sync_configs};
use super::http::{Health, start};
use super::leader::{LeaderElector, LeaseTiming};
use super::metrics::OperatorMetrics;
use super::own_writes::OwnWrites;
use super::plan::{Dirty, Snapshot, plan_from};
use super::selector::LabelSelector;
use super::size::CONFIGMAP_LIMIT_BYTES;
use crate::render::{ConfigKey, DesiredCondition, IncrementalRender, NodeInfo};

/// Settings of `ptp-operator run`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Namespace of the ConfigMap, the NodePtpDevices and the Lease.
    pub namespace: String,
    /// Namespaces whose PtpConfigs count; empty: all namespaces.
    pub watch_namespaces: Vec<String>,
    pub configmap_name: String,
    /// Whether `ptp-configmap` is written (for `--profile-source configmap`/`file` agents, Go
    /// daemons and tools that read it); agents that render their own node do not need it.
    pub write_configmap: bool,
    pub agent_selector: LabelSelector,
    pub leader_election: bool,
    pub lease_name: String,
    pub identity: String,
    pub lease_timing: LeaseTiming,
    pub debounce: Duration,
    pub resync: Duration,
    pub metrics_addr: Option<SocketAddr>,
    pub health_addr: Option<SocketAddr>,
    /// TLS and authorization of `/metrics` (none by default); `/healthz` stays plain HTTP.
    pub metrics_security: ptp_serve::Security,
}

/// The reflector caches the reconcile reads. PtpConfigs are cached undecoded
/// ([`RawPtpConfig`]): one object the types cannot read must not stop the watch.
#[derive(Clone)]
struct Caches {
    configs: Vec<Store<RawPtpConfig>>,
    /// Whether the Node watch listed every node once (the nodes themselves are kept by the
    /// render engine and the node feed only: name, labels, uid).
    nodes: watch::Receiver<bool>,
    configmaps: Store<ConfigMap>,
    devices: Store<NodePtpDevice>,
}

impl Caches {
    async fn wait_ready(&self) {
        for s in &self.configs {
            let _ = s.wait_until_ready().await;
        }
        let _ = self.nodes.clone().wait_for(|listed| *listed).await;
        let _ = self.configmaps.wait_until_ready().await;
        let _ = self.devices.wait_until_ready().await;
    }

    /// What the reconcile plans from (without the nodes, which the engine holds, and without the
    /// ConfigMap data, read by [`Caches::configmap_data`] when needed), the references of the
    /// PtpConfigs (for Events) and their resourceVersions. Decodes the PtpConfigs through
    /// `decoder`, logging the ones that stop or start decoding.
    fn snapshot(&self, settings: &Settings, decoder: &mut DecodeCache) -> Cached {
        let raws: Vec<Arc<RawPtpConfig>> = self.configs.iter().flat_map(Store::state).collect();
        let mut config_refs = BTreeMap::new();
        let mut versions = HashMap::new();
        for r in &raws {
            let key = ConfigKey::of_raw(r);
            versions.insert(key.clone(), r.metadata.resource_version.clone());
            config_refs.insert(key, r.object_ref(&()));
        }
        let pass = decoder.decode(raws.iter().map(AsRef::as_ref));
        for (key, error) in &pass.newly_undecodable {
            tracing::warn!(
                ptpconfig = %key,
                error = %error,
                "cannot decode PtpConfig; it is flagged Valid=False (DecodeError) and the others keep rendering"
            );
        }
        for key in &pass.recovered {
            tracing::info!(ptpconfig = %key, "PtpConfig decodes again");
        }
        let devices = self.devices.state().iter().map(|d| d.name_any()).collect();
        let snapshot = Snapshot {
            configs: pass.configs,
            undecodable: pass.undecodable,
            nodes: Vec::new(),
            configmap_data: None,
            devices,
            agent_selector: settings.agent_selector.clone(),
            configmap_name: settings.configmap_name.clone(),
            configmap_off: !settings.write_configmap,
        };
        Cached { snapshot, config_refs, versions }
    }

    /// The stored ConfigMap's data; `None` when it does not exist.
    fn configmap_data(&self, settings: &Settings) -> Option<BTreeMap<String, String>> {
        self.configmaps
            .state()
            .into_iter()
            .find(|c| c.name_any() == settings.configmap_name)
            .map(|c| c.data.clone().unwrap_or_default())
    }
}

/// One snapshot of the caches.
struct Cached {
    snapshot: Snapshot,
    config_refs: BTreeMap<ConfigKey, ObjectReference>,
    versions: HashMap<ConfigKey, Option<String>>,
}

/// Which watch events are worth a reconcile.
trait Relevance<K> {
    fn relevant(&mut self, event: &Event<K>) -> bool;
}

/// Every change but the operator's own writes counts; `changed` records that one happened.
struct NotOwn {
    own: OwnWrites,
    changed: Arc<AtomicBool>,
}

impl Relevance<ConfigMap> for NotOwn {
    fn relevant(&mut self, event: &Event<ConfigMap>) -> bool {
        let relevant = match event {
            Event::Init | Event::InitApply(_) => false,
            Event::Apply(cm) => !self.own.is_own_configmap(cm),
            Event::Delete(_) | Event::InitDone => true,
        };
        if relevant {
            self.changed.store(true, Ordering::Relaxed);
        }
        relevant
    }
}

impl Relevance<RawPtpConfig> for NotOwn {
    fn relevant(&mut self, event: &Event<RawPtpConfig>) -> bool {
        match event {
            Event::Init | Event::InitApply(_) => false,
            Event::Apply(raw) => !self.own.is_own_status(raw),
            Event::Delete(_) | Event::InitDone => true,
        }
    }
}

/// Node events go to the render engine as [`NodeDelta`]s (a relist as a whole) and wake the
/// loop, which drops the ones that change nothing (kubelet status updates) before any other work:
/// the engine holds the labels to compare with, so they are not kept twice.
struct NodeEvents {
    deltas: mpsc::UnboundedSender<NodeDelta>,
    /// Turned true by the first complete list.
    listed: watch::Sender<bool>,
}

impl Relevance<PartialObjectMeta<Node>> for NodeEvents {
    fn relevant(&mut self, event: &Event<PartialObjectMeta<Node>>) -> bool {
        let upsert = |n: &PartialObjectMeta<Node>| {
            NodeDelta::Upsert(NodeInfo { name: n.name_any(), labels: n.labels().clone() }, n.uid().unwrap_or_default())
        };
        if matches!(event, Event::InitDone) {
            self.listed.send_replace(true);
        }
        let delta = match event {
            Event::Apply(n) | Event::InitApply(n) => upsert(n),
            Event::Delete(n) => NodeDelta::Remove(n.name_any()),
            Event::Init => NodeDelta::Relist,
            Event::InitDone => NodeDelta::RelistDone,
        };
        let _ = self.deltas.send(delta);
        matches!(event, Event::Apply(_) | Event::Delete(_) | Event::InitDone)
    }
}

/// Records that an event was relevant (NodePtpDevices).
struct Flagged<R> {
    inner: R,
    changed: Arc<AtomicBool>,
}

impl<K, R: Relevance<K>> Relevance<K> for Flagged<R> {
    fn relevant(&mut self, event: &Event<K>) -> bool {
        let relevant = self.inner.relevant(event);
        if relevant {
            self.changed.store(true, Ordering::Relaxed);
        }
        relevant
    }
}

/// Only appearance and disappearance count (NodePtpDevices, by name): agent status writes do not
/// wake the render.
#[derive(Default)]
struct NamesOnly {
    seen: HashSet<String>,
}

impl<K: Resource> Relevance<K> for NamesOnly {
    fn relevant(&mut self, event: &Event<K>) -> bool {
        match event {
            Event::Apply(obj) => self.seen.insert(obj.name_any()),
            Event::Delete(obj) => self.seen.remove(&obj.name_any()),
            Event::InitApply(obj) => {
                self.seen.insert(obj.name_any());
                false
            }
            Event::Init => {
                self.seen.clear();
                false
            }
            Event::InitDone => true,
        }
    }
}

/// Drives a reflector, waking the reconcile loop on relevant events.
fn spawn_reflector<K>(
    api: Api<K>,
    config: WatchConfig,
    relevance: impl Relevance<K> + Send + 'static,
    wake: mpsc::Sender<()>,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    spawn_reflector_on(watcher::watcher(api, config), relevance, wake)
}

/// Drives a reflector over `watch`, waking the reconcile loop on relevant events.
fn spawn_reflector_on<K, W>(
    watch: W,
    mut relevance: impl Relevance<K> + Send + 'static,
    wake: mpsc::Sender<()>,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    W: Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watch.default_backoff());
    tokio::spawn(drive(stream, move |event| {
        if relevance.relevant(event) {
            let _ = wake.try_send(());
        }
    }));
    reader
}

/// Watches the Nodes as the operator needs them: metadata only (the API server sends no spec or
/// status, which are most of a real Node's 10–20 KB: images, conditions), and no store: `events`
/// passes name, labels and uid on to the render engine and the node feed, which keep them.
fn spawn_node_watch(client: Client, mut events: NodeEvents, wake: mpsc::Sender<()>) {
    let watch = watcher::watcher(Api::<PartialObjectMeta<Node>>::all(client), WatchConfig::default());
    tokio::spawn(drive(watch.default_backoff(), move |event| {
        if events.relevant(event) {
            let _ = wake.try_send(());
        }
    }));
}

async fn drive<K, S>(stream: S, mut on_event: impl FnMut(&Event<K>))
where
    S: Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => on_event(&event),
            Err(e) => tracing::warn!(error = %e, "watch error; retrying with backoff"),
        }
    }
}

/// A controller instance: create it, take handles (leadership, metrics), then `run` it.
pub struct Controller {
    client: Client,
    settings: Settings,
    registry: Arc<Registry>,
    metrics: OperatorMetrics,
    health: Arc<Health>,
    leader_tx: watch::Sender<bool>,
    leader_rx: watch::Receiver<bool>,
}

impl Controller {
    pub fn new(client: Client, settings: Settings) -> Self {
        let mut registry = Registry::default();
        let metrics = OperatorMetrics::register(&mut registry);
        let (leader_tx, leader_rx) = watch::channel(!settings.leader_election);
        Controller {
            client,
            settings,
            registry: Arc::new(registry),
            metrics,
            health: Arc::new(Health::default()),
            leader_tx,
            leader_rx,
        }
    }

    /// Whether this instance currently leads (always true without leader election).
    pub fn leader(&self) -> watch::Receiver<bool> {
        self.leader_rx.clone()
    }

    /// The metrics registry (encode it with [`super::metrics::encode`]).
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Readiness (caches synced).
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Runs until `shutdown` turns true; a leader releases its lease on the way out. Fails only
    /// at the start, when `/metrics` or `/healthz` cannot listen on its address.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), crate::OperatorError> {
        let Controller { client, settings, registry, metrics, health, leader_tx, mut leader_rx } = self;
        let served_metrics = settings.metrics_addr.map(|addr| (addr, &settings.metrics_security, registry));
        let served_health = settings.health_addr.map(|addr| (addr, health.clone()));
        start(served_metrics, served_health, &shutdown).await?;
        run_loop(client, settings, metrics, health, leader_tx, &mut leader_rx, shutdown).await;
        Ok(())
    }
}

/// Runs a controller until `shutdown` turns true (see [`Controller::run`]).
pub async fn run(
    client: Client,
    settings: Settings,
    shutdown: watch::Receiver<bool>,
) -> Result<(), crate::OperatorError> {
    Controller::new(client, settings).run(shutdown).await
}

async fn run_loop(
    client: Client,
    settings: Settings,
    metrics: OperatorMetrics,
    health: Arc<Health>,
    leader_tx: watch::Sender<bool>,
    leader_rx: &mut watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) {
    let (wake, mut woken) = mpsc::channel::<()>(1);
    let (node_deltas, mut deltas) = mpsc::unbounded_channel::<NodeDelta>();
    let own = OwnWrites::default();
    let configmap_changed = Arc::new(AtomicBool::new(true));
    let devices_changed = Arc::new(AtomicBool::new(true));
    let configs_changed = Arc::new(AtomicBool::new(true));
    let not_own = || NotOwn { own: own.clone(), changed: configmap_changed.clone() };
    let configs_event = || Flagged { inner: not_own(), changed: configs_changed.clone() };
    let ns = settings.namespace.as_str();
    let configs = if settings.watch_namespaces.is_empty() {
        vec![spawn_reflector(
            Api::<RawPtpConfig>::all(client.clone()),
            WatchConfig::default(),
            configs_event(),
            wake.clone(),
        )]
    } else {
        settings
            .watch_namespaces
            .iter()
            .map(|w| {
                spawn_reflector(
                    Api::<RawPtpConfig>::namespaced(client.clone(), w),
                    WatchConfig::default(),
                    configs_event(),
                    wake.clone(),
                )
            })
            .collect()
    };
    let (listed, nodes_listed) = watch::channel(false);
    spawn_node_watch(client.clone(), NodeEvents { deltas: node_deltas, listed }, wake.clone());
    let caches = Caches {
        configs,
        nodes: nodes_listed,
        configmaps: spawn_reflector(
            Api::<ConfigMap>::namespaced(client.clone(), ns),
            WatchConfig::default().fields(&format!("metadata.name={}", settings.configmap_name)),
            not_own(),
            wake.clone(),
        ),
        devices: spawn_reflector(
            Api::<NodePtpDevice>::namespaced(client.clone(), ns),
            WatchConfig::default(),
            Flagged { inner: NamesOnly::default(), changed: devices_changed.clone() },
            wake.clone(),
        ),
    };

    let elector = settings.leader_election.then(|| {
        LeaderElector::new(
            Api::<Lease>::namespaced(client.clone(), ns),
            settings.lease_name.clone(),
            settings.identity.clone(),
            settings.lease_timing,
        )
    });
    // Without an election the sender stays here, so `leader_rx.changed()` never reports a
    // closed channel and the loop keeps running.
    let (election, _fixed_leadership) = match elector {
        Some(e) => (Some(tokio::spawn(e.run(leader_tx, shutdown.clone()))), None),
        None => (None, Some(leader_tx)),
    };

    let writer = Writer {
        client: client.clone(),
        namespace: settings.namespace.clone(),
        configmap_name: settings.configmap_name.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter { controller: "ptp-operator".into(), instance: Some(settings.identity.clone()) },
        ),
        metrics: metrics.clone(),
        own: own.clone(),
    };

    let mut stop = shutdown.clone();
    tokio::select! {
        _ = caches.wait_ready() => {}
        _ = stopped(&mut stop) => return finish(election).await,
    }
    health.set_ready(true);
    tracing::info!(namespace = %settings.namespace, identity = %settings.identity, "caches synced");

    let mut resync = tokio::time::interval(settings.resync);
    resync.tick().await;
    let mut pending = true;
    let mut decoder = DecodeCache::default();
    let mut engine = IncrementalRender::new();
    let mut feed = NodeFeed::default();
    let mut dirty = Dirty::all();
    let mut previous_size: Option<DesiredCondition> = None;
    let mut versions: HashMap<ConfigKey, Option<String>> = HashMap::new();
    let mut was_leading = false;
    loop {
        if !pending {
            tokio::select! {
                _ = woken.recv() => {}
                _ = resync.tick() => dirty.all = true,
                changed = leader_rx.changed() => { if changed.is_err() { break } }
                _ = stopped(&mut stop) => break,
            }
        }
        pending = false;
        // Debounce: let a burst of events settle, then reconcile once.
        tokio::time::sleep(settings.debounce).await;
        while woken.try_recv().is_ok() {}
        let started = Instant::now();
        // The engine and decoding run on standbys too, so that a new leader is ready and knows
        // each PtpConfig's last decodable version.
        while let Ok(delta) = deltas.try_recv() {
            match &delta {
                // Labels or presence changed (not a status update): that node's device is looked at.
                NodeDelta::Upsert(node, _) if engine.node(&node.name) != Some(node) => {
                    dirty.nodes.insert(node.name.clone());
                }
                NodeDelta::Remove(name) if engine.node(name).is_some() => {
                    dirty.nodes.insert(name.clone());
                }
                NodeDelta::Relist | NodeDelta::RelistDone => dirty.devices = true,
                _ => {}
            }
            dirty.absorb(feed.apply(&mut engine, delta));
        }
        dirty.configmap |= configmap_changed.swap(false, Ordering::Relaxed);
        dirty.devices |= devices_changed.swap(false, Ordering::Relaxed);
        // Woken by Node events that changed nothing (status updates): nothing else to do.
        let configs_touched = configs_changed.swap(false, Ordering::Relaxed);
        if dirty.is_clean() && !configs_touched && *leader_rx.borrow() == was_leading && !*stop.borrow() {
            continue;
        }
        let Cached { mut snapshot, config_refs, versions: current } = caches.snapshot(&settings, &mut decoder);
        dirty.configs.extend(current.iter().filter(|(k, v)| versions.get(*k) != Some(*v)).map(|(k, _)| k.clone()));
        versions = current;
        dirty.absorb(sync_configs(&mut engine, snapshot.configs.iter().map(|c| &**c), &snapshot.undecodable));
        metrics.ptpconfigs.set((snapshot.configs.len() + snapshot.undecodable.len()) as i64);
        metrics.undecodable_ptpconfigs.set(snapshot.undecodable.len() as i64);
        metrics.nodes.set(engine.node_count() as i64);
        metrics.configmap_bytes.set(engine.data_bytes() as i64);
        metrics.configmap_within_limit.set(i64::from(engine.data_bytes() <= CONFIGMAP_LIMIT_BYTES));
        let leading = *leader_rx.borrow_and_update();
        metrics.leader.set(i64::from(leading));
        if !leading || *stop.borrow() {
            was_leading = false;
            continue;
        }
        if !was_leading {
            dirty.all = true;
            was_leading = true;
        }
        if dirty.all || dirty.configmap {
            snapshot.configmap_data = caches.configmap_data(&settings);
        }
        let planned = plan_from(&snapshot, &engine, &dirty, previous_size.as_ref(), &now());
        let node_uids: BTreeMap<String, String> =
            planned.create_devices.iter().filter_map(|n| feed.uid(n).map(|uid| (n.clone(), uid.to_string()))).collect();
        let applied = writer.apply(&planned, &node_uids, &config_refs).await;
        metrics.reconciles.inc();
        metrics.reconcile_duration.observe(started.elapsed().as_secs_f64());
        if planned.writes() > 0 {
            tracing::debug!(writes = planned.writes(), elapsed_ms = started.elapsed().as_millis() as u64, "reconciled");
        }
        previous_size = planned.size_condition.clone();
        if applied.failures > 0 {
            metrics.reconcile_errors.inc();
            dirty = Dirty::all();
            // Try again soon; the caches will have caught up with whatever changed.
            let wake = wake.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = wake.try_send(());
            });
        } else {
            dirty = Dirty::default();
        }
    }
    finish(election).await;
}

/// Resolves once `stop` turns true (without holding a borrow across awaits).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn finish(election: Option<tokio::task::JoinHandle<()>>) {
    if let Some(handle) = election {
        let _ = handle.await;
    }
    tracing::info!("stopped");
}

/// Now, to the second (what the API server stores), so unchanged conditions compare equal.
fn now() -> Time {
    let ts = Timestamp::now();
    Time(Timestamp::from_second(ts.as_second()).unwrap_or(ts))
}

/// The identity of this instance in the Lease: the pod name when set, else host and pid.
pub fn default_identity() -> String {
    std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
        let host =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        format!("{host}-{}", std::process::id())
    })
}
