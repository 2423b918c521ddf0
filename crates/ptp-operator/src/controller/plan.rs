//! The controller's decisions as a pure function: from a snapshot of the cluster (the reflector
//! stores) and the incremental render engine to the writes and events needed. Nothing is written
//! when nothing changed, and only what may have changed ([`Dirty`]) is looked at: a Node label
//! change compares one ConfigMap and the statuses of the PtpConfigs whose outcome changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use ptp_api::{NodeMatchList, PtpConfig, PtpConfigStatus};

use super::conditions::merge;
use super::selector::LabelSelector;
pub use super::size::CONFIGMAP_WARN_BYTES;
use super::size::{CONFIGMAP_LIMIT_BYTES, Precision, size_warning};
use crate::render::{
    CONDITION_APPLIED, CONDITION_PROFILE_REFERENCE_VALID, CONDITION_VALID, Changes, ConfigKey, ConfigOutcome,
    DesiredCondition, IncrementalRender, NodeInfo,
};

/// Condition present on every PtpConfig while the ConfigMap is above [`CONFIGMAP_WARN_BYTES`].
pub const CONDITION_CONFIGMAP_WITHIN_LIMIT: &str = "ConfigMapWithinLimit";
/// Reason of `Valid=False` (and of `Applied=False` when nothing is rendered) for a PtpConfig
/// this operator's types cannot decode.
pub const REASON_DECODE_ERROR: &str = "DecodeError";

/// A PtpConfig whose current spec this operator cannot decode.
#[derive(Clone, Debug, PartialEq)]
pub struct Undecodable {
    pub key: ConfigKey,
    pub generation: Option<i64>,
    /// Its current status, when that decodes.
    pub status: Option<PtpConfigStatus>,
    /// The decode error, naming the field (`spec.profile[0].ptpSchedulingPolicy: ...`).
    pub error: String,
    /// The latest version of the same object that decoded during this process's life; it is
    /// still rendered so that its nodes stay in sync. `None`: the object is left out.
    pub last_good: Option<PtpConfig>,
}

/// What the controller knows about the cluster at one moment.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    /// PtpConfigs with their current status (shared with the decode cache).
    pub configs: Vec<Arc<PtpConfig>>,
    /// PtpConfigs that do not decode (never in `configs`).
    pub undecodable: Vec<Undecodable>,
    /// Every Node, for [`plan`] (the controller keeps them in its engine and leaves this empty).
    pub nodes: Vec<NodeInfo>,
    /// Current `ptp-configmap` data; `None` when the ConfigMap does not exist.
    pub configmap_data: Option<BTreeMap<String, String>>,
    /// Names of the existing NodePtpDevices (in the operator's namespace).
    pub devices: BTreeSet<String>,
    /// Nodes that run the agent (and so get a NodePtpDevice).
    pub agent_selector: LabelSelector,
    /// Name of the ConfigMap (for messages).
    pub configmap_name: String,
    /// `--write-configmap=false`: the ConfigMap is neither written nor sized (every agent renders
    /// its own node); what is stored stays as it is.
    pub configmap_off: bool,
}

/// What to do with the ConfigMap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigMapAction {
    Keep,
    Create(BTreeMap<String, String>),
    Update(BTreeMap<String, String>),
}

/// An Event to emit on a PtpConfig.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedEvent {
    pub config: ConfigKey,
    pub warning: bool,
    pub reason: String,
    pub note: String,
}

/// Everything one reconcile must do.
#[derive(Clone, Debug)]
pub struct Plan {
    pub configmap: ConfigMapAction,
    /// New statuses of the PtpConfigs whose status changed.
    pub statuses: Vec<(ConfigKey, PtpConfigStatus)>,
    pub create_devices: Vec<String>,
    pub delete_devices: Vec<String>,
    pub events: Vec<PlannedEvent>,
    /// Size of the rendered ConfigMap data (written or not).
    pub data_bytes: usize,
    /// `ConfigMapWithinLimit=False` while the data is above the warning size.
    pub size_condition: Option<DesiredCondition>,
}

/// What may differ from the cluster since the last reconcile that wrote everything it planned.
#[derive(Clone, Debug, Default)]
pub struct Dirty {
    /// Everything (first reconcile, new leader, resync, after a failed write).
    pub all: bool,
    /// The ConfigMap data (a node value changed, or the stored ConfigMap changed).
    pub configmap: bool,
    /// PtpConfigs whose outcome or stored object changed.
    pub configs: BTreeSet<ConfigKey>,
    /// Every NodePtpDevice against every node (a device appeared, went or changed; a Node relist).
    pub devices: bool,
    /// Nodes that appeared, went or changed labels: only their NodePtpDevices are looked at
    /// (not every node's, which would make each Node event cost O(fleet)).
    pub nodes: BTreeSet<String>,
}

impl Dirty {
    pub fn all() -> Self {
        Dirty { all: true, ..Default::default() }
    }

    /// Adds what an engine update changed.
    pub fn absorb(&mut self, changes: Changes) {
        self.configmap |= !changes.nodes.is_empty();
        self.configs.extend(changes.configs);
    }

    pub fn is_clean(&self) -> bool {
        !self.all && !self.configmap && !self.devices && self.configs.is_empty() && self.nodes.is_empty()
    }
}

impl Plan {
    /// Number of API writes the plan needs (events excluded).
    pub fn writes(&self) -> usize {
        usize::from(self.configmap != ConfigMapAction::Keep)
            + self.statuses.len()
            + self.create_devices.len()
            + self.delete_devices.len()
    }
}

/// Plans one reconcile from scratch (every PtpConfig and Node of the snapshot rendered).
pub fn plan(snapshot: &ClusterView, now: &Time) -> Plan {
    let last_good = snapshot.undecodable.iter().filter_map(|u| u.last_good.clone());
    let engine = IncrementalRender::build(
        snapshot.configs.iter().map(|c| (**c).clone()).chain(last_good),
        snapshot.nodes.clone(),
    );
    plan_from(snapshot, &engine, &Dirty::all(), None, now)
}

/// Plans one reconcile from the engine (which holds the snapshot's decoded PtpConfigs, the last
/// good versions of the undecodable ones, and every Node; `snapshot.nodes` is not read). Looks at
/// the ConfigMap only when it is dirty, and at the statuses of the dirty PtpConfigs only, unless
/// everything is dirty or the size condition differs from `previous_size` (it is on every
/// PtpConfig). `now` stamps conditions that change status.
pub fn plan_from(
    snapshot: &ClusterView,
    engine: &IncrementalRender,
    dirty: &Dirty,
    previous_size: Option<&DesiredCondition>,
    now: &Time,
) -> Plan {
    let data_bytes = engine.data_bytes();
    let size = size_warning(&snapshot.configmap_name, data_bytes, engine.node_count(), Precision::Steady)
        .filter(|_| !snapshot.configmap_off)
        .map(|w| DesiredCondition {
            type_: CONDITION_CONFIGMAP_WITHIN_LIMIT,
            status: false,
            reason: w.reason.into(),
            message: w.message,
        });

    // Over the object limit the API server refuses the write, every time: writing nothing keeps
    // the last stored version for every node (and no retry loop), the condition says why.
    let over_limit = data_bytes > CONFIGMAP_LIMIT_BYTES;
    let configmap = match &snapshot.configmap_data {
        _ if snapshot.configmap_off || over_limit || !(dirty.all || dirty.configmap) => ConfigMapAction::Keep,
        None => ConfigMapAction::Create(engine.data()),
        Some(current) => {
            let data = engine.data();
            if *current != data { ConfigMapAction::Update(data) } else { ConfigMapAction::Keep }
        }
    };

    let every_status = dirty.all || size.as_ref() != previous_size;
    let wanted = |key: &ConfigKey| every_status || dirty.configs.contains(key);
    let mut statuses = Vec::new();
    let mut events = Vec::new();
    let mut update = |key: ConfigKey, current: Option<&PtpConfigStatus>, generation: Option<i64>, next: NextStatus| {
        let mut desired = next.conditions;
        let mut drop = next.drop;
        match &size {
            Some(c) => desired.push(c.clone()),
            None => drop.push(CONDITION_CONFIGMAP_WITHIN_LIMIT),
        }
        let old_conditions = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
        let new = PtpConfigStatus {
            match_list: next.match_list,
            node_count: Some(next.node_count as i64),
            observed_generation: generation,
            conditions: merge(old_conditions, &desired, &drop, generation, now),
        };
        events.extend(condition_events(&key, old_conditions, &new.conditions));
        events.extend(node_set_event(&key, current, &new));
        if current != Some(&new) {
            statuses.push((key, new));
        }
    };
    for config in &snapshot.configs {
        let key = ConfigKey::of(config);
        if !wanted(&key) {
            continue;
        }
        let Some(outcome) = engine.outcome(&key) else { continue };
        let next = NextStatus::rendered(&outcome, outcome.conditions());
        update(key, config.status.as_ref(), config.metadata.generation, next);
    }
    for u in snapshot.undecodable.iter().filter(|u| wanted(&u.key)) {
        let outcome = u.last_good.as_ref().and_then(|_| engine.outcome(&u.key));
        update(u.key.clone(), u.status.as_ref(), u.generation, undecodable_status(u, outcome.as_ref()));
    }

    let (mut create_devices, mut delete_devices) = (Vec::new(), Vec::new());
    let runs_agent = |n: &NodeInfo| snapshot.agent_selector.matches(&n.labels);
    if dirty.all || dirty.devices {
        let wanted: BTreeSet<&str> = engine.nodes().filter(|n| runs_agent(n)).map(|n| n.name.as_str()).collect();
        create_devices = wanted.iter().filter(|n| !snapshot.devices.contains(**n)).map(ToString::to_string).collect();
        delete_devices = snapshot.devices.iter().filter(|d| !wanted.contains(d.as_str())).cloned().collect();
    } else {
        for name in &dirty.nodes {
            let wanted = engine.node(name).is_some_and(runs_agent);
            match (wanted, snapshot.devices.contains(name)) {
                (true, false) => create_devices.push(name.clone()),
                (false, true) => delete_devices.push(name.clone()),
                _ => {}
            }
        }
    }

    Plan { configmap, statuses, create_devices, delete_devices, events, data_bytes, size_condition: size }
}

/// The parts of a PtpConfig's next status that differ between decoded and undecodable objects.
struct NextStatus {
    match_list: Vec<NodeMatchList>,
    node_count: usize,
    conditions: Vec<DesiredCondition>,
    /// Condition types to remove.
    drop: Vec<&'static str>,
}

impl NextStatus {
    fn rendered(outcome: &ConfigOutcome, conditions: Vec<DesiredCondition>) -> Self {
        NextStatus { match_list: outcome.match_list.clone(), node_count: outcome.node_count, conditions, drop: vec![] }
    }
}

/// `Valid=False`, `DecodeError` naming the field; the last decodable version's outcome when it is
/// still rendered, else `Applied=False` and no node.
fn undecodable_status(u: &Undecodable, outcome: Option<&ConfigOutcome>) -> NextStatus {
    let cannot = format!("this operator cannot decode the PtpConfig: {}", u.error);
    match (outcome, u.last_good.as_ref()) {
        (Some(outcome), Some(last_good)) => {
            let generation = last_good
                .metadata
                .generation
                .map(|g| format!("generation {g}"))
                .unwrap_or_else(|| "the version".into());
            let valid = DesiredCondition {
                type_: CONDITION_VALID,
                status: false,
                reason: REASON_DECODE_ERROR.into(),
                message: format!(
                    "{cannot}; its nodes keep the profiles of {generation}, the last version this operator decoded, \
                     until the spec is fixed or the operator is upgraded"
                ),
            };
            let mut conditions = vec![valid];
            for mut c in outcome.conditions().into_iter().filter(|c| c.type_ != CONDITION_VALID) {
                if c.type_ == CONDITION_APPLIED {
                    c.message = format!("{} ({generation}, the last decodable version)", c.message);
                }
                conditions.push(c);
            }
            NextStatus::rendered(outcome, conditions)
        }
        _ => NextStatus {
            match_list: vec![],
            node_count: 0,
            conditions: vec![
                DesiredCondition {
                    type_: CONDITION_VALID,
                    status: false,
                    reason: REASON_DECODE_ERROR.into(),
                    message: format!(
                        "{cannot}; it is left out of the ConfigMap (no earlier version was decoded since the operator \
                         started); fix the spec or upgrade the operator"
                    ),
                },
                DesiredCondition {
                    type_: CONDITION_APPLIED,
                    status: false,
                    reason: REASON_DECODE_ERROR.into(),
                    message: "not rendered: the spec cannot be decoded".into(),
                },
            ],
            drop: vec![CONDITION_PROFILE_REFERENCE_VALID],
        },
    }
}

/// Warning when a watched condition turns False (or appears False); Normal when it recovers.
fn condition_events(key: &ConfigKey, old: &[Condition], new: &[Condition]) -> Vec<PlannedEvent> {
    let watched = [CONDITION_VALID, CONDITION_PROFILE_REFERENCE_VALID, CONDITION_CONFIGMAP_WITHIN_LIMIT];
    let status_of = |list: &[Condition], t: &str| list.iter().find(|c| c.type_ == t).map(|c| c.status.clone());
    let mut events = Vec::new();
    for type_ in watched {
        let before = status_of(old, type_);
        let after = new.iter().find(|c| c.type_ == type_);
        match (before.as_deref(), after) {
            (Some("False"), Some(c)) if c.status == "False" => {}
            (_, Some(c)) if c.status == "False" => events.push(PlannedEvent {
                config: key.clone(),
                warning: true,
                reason: c.reason.clone(),
                note: c.message.clone(),
            }),
            (Some("False"), after) => events.push(PlannedEvent {
                config: key.clone(),
                warning: false,
                reason: format!("{type_}Restored"),
                note: after.map(|c| c.message.clone()).unwrap_or_else(|| format!("{type_} no longer reported")),
            }),
            _ => {}
        }
    }
    events
}

/// Normal event when the set of nodes the PtpConfig applies to changes.
fn node_set_event(key: &ConfigKey, old: Option<&PtpConfigStatus>, new: &PtpConfigStatus) -> Option<PlannedEvent> {
    let nodes = |s: &PtpConfigStatus| s.match_list.iter().map(|m| m.node_name.clone()).collect::<BTreeSet<_>>();
    let before = old.map(nodes).unwrap_or_default();
    let after = nodes(new);
    if before == after {
        return None;
    }
    let list = |set: Vec<&String>| {
        let shown: Vec<&str> = set.iter().take(10).map(|s| s.as_str()).collect();
        let more = set.len().saturating_sub(10);
        if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
    };
    let added: Vec<&String> = after.difference(&before).collect();
    let removed: Vec<&String> = before.difference(&after).collect();
    let mut parts = vec![format!("now applies to {} node{}", after.len(), if after.len() == 1 { "" } else { "s" })];
    if !added.is_empty() {
        parts.push(format!("added: {}", list(added)));
    }
    if !removed.is_empty() {
        parts.push(format!("removed: {}", list(removed)));
    }
    Some(PlannedEvent { config: key.clone(), warning: false, reason: "NodesChanged".into(), note: parts.join("; ") })
}

#[cfg(test)]
mod tests;
