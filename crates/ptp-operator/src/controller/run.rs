//! The event loop: the watches ([`super::watches`]) wake one debounced reconcile at a time. Node
//! events reach the incremental render engine as deltas; each reconcile ([`Reconciler`]) syncs the
//! engine's PtpConfigs with the decoded ones (a change re-renders only the nodes concerned), then
//! plans from what changed ([`Dirty`]) and writes. Only the leader writes; standbys keep the engine
//! and the decode cache current so that a new leader is ready.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::apply::Writer;
use super::decode::DecodeCache;
use super::feed::{NodeDelta, NodeFeed, sync_configs};
use super::http::{Health, start};
use super::leader::{LeaderElector, LeaseTiming};
use super::metrics::OperatorMetrics;
use super::own_writes::OwnWrites;
use super::plan::{Dirty, plan_from};
use super::selector::LabelSelector;
use super::size::CONFIGMAP_LIMIT_BYTES;
use super::watches::{self, Cached, Caches, ChangedKinds};
use crate::render::{ConfigKey, DesiredCondition, IncrementalRender};

/// Settings of `ptp-operator run`.
#[derive(Clone, Debug)]
pub struct ControllerSettings {
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

/// A controller instance: create it, take handles (leadership, metrics), then `run` it.
pub struct Controller {
    client: Client,
    settings: ControllerSettings,
    registry: Arc<Registry>,
    metrics: OperatorMetrics,
    health: Arc<Health>,
    leader_tx: watch::Sender<bool>,
    leader_rx: watch::Receiver<bool>,
}

impl Controller {
    pub fn new(client: Client, settings: ControllerSettings) -> Self {
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
        let Controller { client, settings, registry, metrics, health, leader_tx, leader_rx } = self;
        let served_metrics = settings.metrics_addr.map(|addr| (addr, &settings.metrics_security, registry));
        let served_health = settings.health_addr.map(|addr| (addr, health.clone()));
        start(served_metrics, served_health, &shutdown).await?;
        run_loop(client, settings, metrics, health, (leader_tx, leader_rx), shutdown).await;
        Ok(())
    }
}

/// Runs a controller until `shutdown` turns true (see [`Controller::run`]).
pub async fn run(
    client: Client,
    settings: ControllerSettings,
    shutdown: watch::Receiver<bool>,
) -> Result<(), crate::OperatorError> {
    Controller::new(client, settings).run(shutdown).await
}

/// What one reconcile keeps until the next: the render engine and the node feed, the decode cache,
/// what changed since the last successful write, and what was last seen of leadership, sizes
/// and PtpConfig versions.
struct Reconciler {
    settings: ControllerSettings,
    metrics: OperatorMetrics,
    writer: Writer,
    decoder: DecodeCache,
    engine: IncrementalRender,
    feed: NodeFeed,
    dirty: Dirty,
    previous_size: Option<DesiredCondition>,
    versions: HashMap<ConfigKey, Option<String>>,
    was_leading: bool,
}

/// How a reconcile ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Nothing to look at (Node status updates), or not leading: nothing written.
    Idle,
    Written,
    /// A write failed: everything is looked at again soon.
    Failed,
}

impl Reconciler {
    /// Node changes into the engine; the nodes whose labels or presence changed are dirty.
    fn absorb_nodes(&mut self, deltas: &mut mpsc::UnboundedReceiver<NodeDelta>) {
        while let Ok(delta) = deltas.try_recv() {
            match &delta {
                // Labels or presence changed (not a status update): that node's device is looked at.
                NodeDelta::Upsert(node, _) if self.engine.node(&node.name) != Some(node) => {
                    self.dirty.nodes.insert(node.name.clone());
                }
                NodeDelta::Remove(name) if self.engine.node(name).is_some() => {
                    self.dirty.nodes.insert(name.clone());
                }
                NodeDelta::Relist | NodeDelta::RelistDone => self.dirty.devices = true,
                _ => {}
            }
            let changed = self.feed.apply(&mut self.engine, delta);
            self.dirty.absorb(changed);
        }
    }

    /// One reconcile after the node deltas were absorbed: decode and sync the PtpConfigs, then,
    /// when leading, plan from what changed and write.
    async fn reconcile(&mut self, caches: &Caches, changed: ChangedKinds, leading: bool) -> Outcome {
        let started = Instant::now();
        self.dirty.configmap |= changed.configmap;
        self.dirty.devices |= changed.devices;
        // Woken by Node events that changed nothing (status updates): nothing else to do.
        if self.dirty.is_clean() && !changed.configs && leading == self.was_leading {
            return Outcome::Idle;
        }
        let Cached { mut view, config_refs, versions } = caches.snapshot(&self.settings, &mut self.decoder);
        let moved = versions.iter().filter(|(k, v)| self.versions.get(*k) != Some(*v)).map(|(k, _)| k.clone());
        self.dirty.configs.extend(moved);
        self.versions = versions;
        self.dirty.absorb(sync_configs(&mut self.engine, view.configs.iter().map(|c| &**c), &view.undecodable));
        let metrics = &self.metrics;
        metrics.ptpconfigs.set((view.configs.len() + view.undecodable.len()) as i64);
        metrics.undecodable_ptpconfigs.set(view.undecodable.len() as i64);
        metrics.nodes.set(self.engine.node_count() as i64);
        metrics.configmap_bytes.set(self.engine.data_bytes() as i64);
        metrics.configmap_within_limit.set(i64::from(self.engine.data_bytes() <= CONFIGMAP_LIMIT_BYTES));
        metrics.leader.set(i64::from(leading));
        if !leading {
            self.was_leading = false;
            return Outcome::Idle;
        }
        if !self.was_leading {
            self.dirty.all = true;
            self.was_leading = true;
        }
        if self.dirty.all || self.dirty.configmap {
            view.configmap_data = caches.configmap_data(&self.settings);
        }
        let planned = plan_from(&view, &self.engine, &self.dirty, self.previous_size.as_ref(), &now());
        let node_uids: BTreeMap<String, String> = planned
            .create_devices
            .iter()
            .filter_map(|n| self.feed.uid(n).map(|uid| (n.clone(), uid.to_string())))
            .collect();
        let applied = self.writer.apply(&planned, &node_uids, &config_refs).await;
        self.metrics.reconciles.inc();
        self.metrics.reconcile_duration.observe(started.elapsed().as_secs_f64());
        if planned.writes() > 0 {
            tracing::debug!(writes = planned.writes(), elapsed_ms = started.elapsed().as_millis() as u64, "reconciled");
        }
        self.previous_size = planned.size_condition.clone();
        if applied.failures > 0 {
            self.metrics.reconcile_errors.inc();
            self.dirty = Dirty::all();
            Outcome::Failed
        } else {
            self.dirty = Dirty::default();
            Outcome::Written
        }
    }
}

/// Watches, waits for the caches, then reconciles after each (debounced) wake, resync, or change
/// of leadership until `shutdown` turns true.
async fn run_loop(
    client: Client,
    settings: ControllerSettings,
    metrics: OperatorMetrics,
    health: Arc<Health>,
    leadership: (watch::Sender<bool>, watch::Receiver<bool>),
    shutdown: watch::Receiver<bool>,
) {
    let (leader_tx, mut leader_rx) = leadership;
    let own = OwnWrites::default();
    let mut watches = watches::start(&client, &settings, &own);
    let ns = settings.namespace.as_str();
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
        Some(e) => (Some(tokio::spawn(e.run(leader_tx, shutdown.clone()).in_current_span())), None),
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
        own,
    };

    let mut stop = shutdown.clone();
    tokio::select! {
        () = watches.caches.wait_ready() => {}
        () = stopped(&mut stop) => return finish(election).await,
    }
    health.set_ready(true);
    tracing::info!(namespace = %settings.namespace, identity = %settings.identity, "caches synced");

    let mut resync = tokio::time::interval(settings.resync);
    resync.tick().await;
    let debounce = settings.debounce;
    let mut reconciler = Reconciler {
        settings,
        metrics,
        writer,
        decoder: DecodeCache::default(),
        engine: IncrementalRender::new(),
        feed: NodeFeed::default(),
        dirty: Dirty::all(),
        previous_size: None,
        versions: HashMap::new(),
        was_leading: false,
    };
    let mut pending = true;
    loop {
        if !pending {
            tokio::select! {
                _ = watches.woken.recv() => {}
                _ = resync.tick() => reconciler.dirty.all = true,
                changed = leader_rx.changed() => { if changed.is_err() { break } }
                () = stopped(&mut stop) => break,
            }
        }
        pending = false;
        // Debounce: let a burst of events settle, then reconcile once.
        tokio::time::sleep(debounce).await;
        while watches.woken.try_recv().is_ok() {}
        // The engine and decoding run on standbys too, so that a new leader is ready and knows
        // each PtpConfig's last decodable version.
        reconciler.absorb_nodes(&mut watches.deltas);
        let leading = *leader_rx.borrow_and_update() && !*stop.borrow();
        let outcome = reconciler
            .reconcile(&watches.caches, watches.changed.take(), leading)
            .instrument(tracing::debug_span!("reconcile"))
            .await;
        if outcome == Outcome::Failed {
            // Try again soon; the caches will have caught up with whatever changed.
            let wake = watches.wake.clone();
            tokio::spawn(
                async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let _ = wake.try_send(());
                }
                .in_current_span(),
            );
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
    ptp_api::util::to_the_second(Timestamp::now())
}

/// The identity of this instance in the Lease: the pod name when set, else host and pid.
pub fn default_identity() -> String {
    std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
        let host =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        format!("{host}-{}", std::process::id())
    })
}
