//! The watches the controller reconciles from: reflectors keep caches of the PtpConfigs (undecoded,
//! per watched namespace), the ConfigMap and the NodePtpDevices; the Nodes are watched metadata
//! only and not cached (their names, labels and uids go to the render engine as [`NodeDelta`]s).
//! Every relevant event wakes the reconcile loop; the events of the operator's own writes
//! ([`OwnWrites`]) and agent status writes wake nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Node, ObjectReference};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher::Config as WatchConfig};
use kube::{Api, Client, Resource, ResourceExt};
use ptp_api::{NodePtpDevice, RawPtpConfig};
use tokio::sync::{mpsc, watch};

use super::decode::DecodeCache;
use super::feed::NodeDelta;
use super::own_writes::OwnWrites;
use super::plan::ClusterView;
use super::run::ControllerSettings;
use crate::render::{ConfigKey, NodeInfo};

/// Everything the watches deliver to the reconcile loop.
pub(super) struct Watches {
    pub caches: Caches,
    /// Woken by every relevant event (a burst wakes once).
    pub woken: mpsc::Receiver<()>,
    /// Wakes the loop (a retry after a failed write).
    pub wake: mpsc::Sender<()>,
    /// Node changes for the render engine, in order.
    pub deltas: mpsc::UnboundedReceiver<NodeDelta>,
    /// What kinds of objects changed since the last [`Changed::take`].
    pub changed: Changed,
}

/// Flags set by the watches, taken by each reconcile.
pub(super) struct Changed {
    configmap: Arc<AtomicBool>,
    devices: Arc<AtomicBool>,
    configs: Arc<AtomicBool>,
}

/// What [`Changed::take`] found.
pub(super) struct ChangedKinds {
    pub configmap: bool,
    pub devices: bool,
    pub configs: bool,
}

impl Changed {
    pub fn take(&self) -> ChangedKinds {
        ChangedKinds {
            configmap: self.configmap.swap(false, Ordering::Relaxed),
            devices: self.devices.swap(false, Ordering::Relaxed),
            configs: self.configs.swap(false, Ordering::Relaxed),
        }
    }
}

/// Starts every watch.
pub(super) fn start(client: &Client, settings: &ControllerSettings, own: &OwnWrites) -> Watches {
    let (wake, woken) = mpsc::channel::<()>(1);
    let (node_deltas, deltas) = mpsc::unbounded_channel::<NodeDelta>();
    let changed = Changed {
        configmap: Arc::new(AtomicBool::new(true)),
        devices: Arc::new(AtomicBool::new(true)),
        configs: Arc::new(AtomicBool::new(true)),
    };
    let not_own = || NotOwn { own: own.clone(), changed: changed.configmap.clone() };
    let configs_event = || Flagged { inner: not_own(), changed: changed.configs.clone() };
    let ns = settings.namespace.as_str();
    let config_apis: Vec<Api<RawPtpConfig>> = if settings.watch_namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        settings.watch_namespaces.iter().map(|w| Api::namespaced(client.clone(), w)).collect()
    };
    let configs = config_apis
        .into_iter()
        .map(|api| spawn_reflector(api, WatchConfig::default(), configs_event(), wake.clone()))
        .collect();
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
            Flagged { inner: NamesOnly::default(), changed: changed.devices.clone() },
            wake.clone(),
        ),
    };
    Watches { caches, woken, wake, deltas, changed }
}

/// The reflector caches the reconcile reads. PtpConfigs are cached undecoded
/// ([`RawPtpConfig`]): one object the types cannot read must not stop the watch.
#[derive(Clone)]
pub(super) struct Caches {
    configs: Vec<Store<RawPtpConfig>>,
    /// Whether the Node watch listed every node once (the nodes themselves are kept by the
    /// render engine and the node feed only: name, labels, uid).
    nodes: watch::Receiver<bool>,
    configmaps: Store<ConfigMap>,
    devices: Store<NodePtpDevice>,
}

impl Caches {
    pub async fn wait_ready(&self) {
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
    pub fn snapshot(&self, settings: &ControllerSettings, decoder: &mut DecodeCache) -> Cached {
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
        let view = ClusterView {
            configs: pass.configs,
            undecodable: pass.undecodable,
            nodes: Vec::new(),
            configmap_data: None,
            devices,
            agent_selector: settings.agent_selector.clone(),
            configmap_name: settings.configmap_name.clone(),
            configmap_off: !settings.write_configmap,
        };
        Cached { view, config_refs, versions }
    }

    /// The stored ConfigMap's data; `None` when it does not exist.
    pub fn configmap_data(&self, settings: &ControllerSettings) -> Option<BTreeMap<String, String>> {
        self.configmaps
            .state()
            .into_iter()
            .find(|c| c.name_any() == settings.configmap_name)
            .map(|c| c.data.clone().unwrap_or_default())
    }
}

/// One snapshot of the caches.
pub(super) struct Cached {
    pub view: ClusterView,
    pub config_refs: BTreeMap<ConfigKey, ObjectReference>,
    pub versions: HashMap<ConfigKey, Option<String>>,
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
    let span = tracing::info_span!("watch", kind = %K::kind(&()));
    tokio::spawn(tracing::Instrument::instrument(
        drive(stream, move |event| {
            if relevance.relevant(event) {
                let _ = wake.try_send(());
            }
        }),
        span,
    ));
    reader
}

/// Watches the Nodes as the operator needs them: metadata only (the API server sends no spec or
/// status, which are most of a real Node's 10–20 KB: images, conditions), and no store: `events`
/// passes name, labels and uid on to the render engine and the node feed, which keep them.
fn spawn_node_watch(client: Client, mut events: NodeEvents, wake: mpsc::Sender<()>) {
    let watch = watcher::watcher(Api::<PartialObjectMeta<Node>>::all(client), WatchConfig::default());
    tokio::spawn(tracing::Instrument::instrument(
        drive(watch.default_backoff(), move |event| {
            if events.relevant(event) {
                let _ = wake.try_send(());
            }
        }),
        tracing::info_span!("watch", kind = "Node"),
    ));
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
