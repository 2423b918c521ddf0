//! The controller's decisions as a pure function: from a snapshot of the cluster (the reflector
//! stores) to the writes and events needed. Nothing is written when nothing changed.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use ptp_api::{PtpConfig, PtpConfigStatus};

use super::conditions::merge;
use super::selector::LabelSelector;
use crate::render::{
    CONDITION_PROFILE_REFERENCE_VALID, CONDITION_VALID, ConfigKey, DesiredCondition, NodeInfo, RenderOutput, render,
};

/// ConfigMaps above this size get a warning condition and event (the API limit is 1 MiB).
pub const CONFIGMAP_WARN_BYTES: usize = 900 * 1024;
/// Condition present on every PtpConfig while the ConfigMap is above [`CONFIGMAP_WARN_BYTES`].
pub const CONDITION_CONFIGMAP_WITHIN_LIMIT: &str = "ConfigMapWithinLimit";

/// What the controller knows about the cluster at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// PtpConfigs with their current status.
    pub configs: Vec<PtpConfig>,
    pub nodes: Vec<NodeInfo>,
    /// Current `ptp-configmap` data; `None` when the ConfigMap does not exist.
    pub configmap_data: Option<BTreeMap<String, String>>,
    /// Names of the existing NodePtpDevices (in the operator's namespace).
    pub devices: BTreeSet<String>,
    /// Nodes that run the agent (and so get a NodePtpDevice).
    pub agent_selector: LabelSelector,
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
    pub render: RenderOutput,
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

/// Plans one reconcile. `now` stamps conditions that change status.
pub fn plan(snapshot: &Snapshot, now: &Time) -> Plan {
    let rendered = render(&snapshot.configs, &snapshot.nodes);
    let oversize = rendered.data_bytes() > CONFIGMAP_WARN_BYTES;

    let configmap = match &snapshot.configmap_data {
        None => ConfigMapAction::Create(rendered.data.clone()),
        Some(current) if *current != rendered.data => ConfigMapAction::Update(rendered.data.clone()),
        Some(_) => ConfigMapAction::Keep,
    };

    let mut statuses = Vec::new();
    let mut events = Vec::new();
    for config in &snapshot.configs {
        let key = ConfigKey::of(config);
        let Some(outcome) = rendered.configs.get(&key) else { continue };
        let current = config.status.clone().unwrap_or_default();
        let mut desired = outcome.conditions();
        if oversize {
            desired.push(DesiredCondition {
                type_: CONDITION_CONFIGMAP_WITHIN_LIMIT,
                status: false,
                reason: "NearSizeLimit".into(),
                message: format!(
                    "ptp-configmap holds {} nodes in {} bytes, close to the 1 MiB object limit",
                    rendered.data.len(),
                    rendered.data_bytes()
                ),
            });
        }
        let drop = if oversize { vec![] } else { vec![CONDITION_CONFIGMAP_WITHIN_LIMIT] };
        let new = PtpConfigStatus {
            match_list: outcome.match_list.clone(),
            node_count: Some(outcome.node_count as i64),
            observed_generation: config.metadata.generation,
            conditions: merge(&current.conditions, &desired, &drop, config.metadata.generation, now),
        };
        events.extend(condition_events(&key, &current.conditions, &new.conditions));
        events.extend(node_set_event(&key, config.status.as_ref(), &new));
        if config.status.as_ref() != Some(&new) {
            statuses.push((key, new));
        }
    }

    let wanted: BTreeSet<&str> =
        snapshot.nodes.iter().filter(|n| snapshot.agent_selector.matches(&n.labels)).map(|n| n.name.as_str()).collect();
    let create_devices = wanted.iter().filter(|n| !snapshot.devices.contains(**n)).map(|n| n.to_string()).collect();
    let delete_devices = snapshot.devices.iter().filter(|d| !wanted.contains(d.as_str())).cloned().collect();

    Plan { configmap, statuses, create_devices, delete_devices, events, render: rendered }
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
