//! The incremental render engine: the same output as [`render`](super::render), kept up to date
//! event by event, with work proportional to what changed.
//!
//! - A Node event re-evaluates that node only: its candidate rules come from an index of the rules
//!   by the node names, label keys and `key=value` pairs they name.
//! - A PtpConfig event re-renders that PtpConfig's profiles and re-evaluates the nodes its previous
//!   and new rules match (found through an index of the nodes by label). When the set of profile
//!   names in the cluster changes, references (`controllingProfile`, `haProfiles`) of the other
//!   PtpConfigs may resolve differently: those PtpConfigs are re-rendered and the nodes that carry
//!   a profile whose text changed are re-evaluated too.
//!
//! Every update returns [`Changes`]: exactly the node values and the PtpConfig outcomes that differ
//! from before. The ConfigMap data size is kept up to date as values change.
//!
//! Memory: nodes with the same result (the same profiles) share one copy of it, so the values cost
//! O(distinct selections), not O(nodes) × ~4 KB; [`IncrementalRender::data_bytes`] still counts
//! every node's copy, as the ConfigMap would hold it.

mod index;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::{Finding, NodeMatchList, PtpConfig, join_encoded_profiles, validate_spec};

use super::{
    ConfigKey, ConfigOutcome, EncodedProfile, NodeInfo, ProfileIndex, REFERENCE_KEYS, RenderOutput,
    UnresolvedReference, render_profile, rule_matches, winners,
};
use index::{LabelIndex, RuleId, RuleIndex};

/// How one node's ConfigMap value changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeChange {
    Added,
    Changed,
    Removed,
}

/// What one update changed in the output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Nodes whose ConfigMap value appeared, changed or disappeared.
    pub nodes: BTreeMap<String, NodeChange>,
    /// PtpConfigs whose [`ConfigOutcome`] appeared, changed or disappeared.
    pub configs: BTreeSet<ConfigKey>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.configs.is_empty()
    }
}

/// The render engine's state: every PtpConfig and Node, and what each renders to.
#[derive(Default)]
pub struct IncrementalRender {
    configs: BTreeMap<ConfigKey, ConfigState>,
    nodes: HashMap<String, NodeState>,
    labels: LabelIndex,
    rules: RuleIndex,
    profiles: ProfileNames,
    /// The distinct node results, shared by the nodes that have them (nodes with the same
    /// selection have byte-identical values): one copy of each value however many nodes carry
    /// it. A result leaves the set when its last node does.
    results: HashSet<Arc<Evaluated>>,
    data_bytes: usize,
}

/// What a PtpConfig renders to by itself (given the cluster's profile names).
struct RenderedConfig {
    config: PtpConfig,
    findings: Vec<Finding>,
    unresolved: Vec<UnresolvedReference>,
    /// Profile name → rendered profile; the first of duplicate names wins.
    profiles: BTreeMap<String, EncodedProfile>,
    /// Whether a profile has a reference setting (its text depends on other PtpConfigs).
    has_references: bool,
}

impl RenderedConfig {
    /// Positions in `spec.recommend` of the rules that name an existing profile (the others
    /// never match, as in `render`).
    fn rules(&self) -> impl Iterator<Item = (usize, &crate::PtpRecommend)> {
        self.config.spec.recommend.iter().enumerate().filter(|(_, r)| self.profiles.contains_key(&r.profile))
    }
}

struct ConfigState {
    rendered: RenderedConfig,
    /// `(node, profile)` applied after the global priority decision (the match list).
    matches: BTreeSet<(String, String)>,
    /// Qualified names skipped for a same-named PtpConfig of another namespace → on how many nodes.
    conflicts: BTreeMap<String, usize>,
}

/// One node's result (it does not depend on the node's name, so nodes share it).
#[derive(Default, PartialEq, Eq, Hash)]
struct Evaluated {
    value: String,
    selection: Vec<String>,
    /// `(PtpConfig, profile)` applied, sorted.
    applied: Vec<(ConfigKey, String)>,
    /// `(PtpConfig, qualified name)` skipped as conflicts, sorted.
    conflicts: Vec<(ConfigKey, String)>,
}

struct NodeState {
    info: NodeInfo,
    result: Arc<Evaluated>,
}

/// The cluster's profile names per PtpConfig name (PtpConfigs of the same name in several
/// namespaces each count) and the [`ProfileIndex`] references resolve against.
#[derive(Default)]
struct ProfileNames {
    counts: HashMap<(String, String), usize>,
    index: ProfileIndex,
}

impl ProfileNames {
    /// Replaces one PtpConfig's profile names; whether the set of names in the index changed.
    fn replace(&mut self, config: &str, old: &BTreeSet<&str>, new: &BTreeSet<&str>) -> bool {
        let mut changed = false;
        for profile in new.difference(old) {
            let count = self.counts.entry((config.to_string(), profile.to_string())).or_default();
            *count += 1;
            if *count == 1 {
                self.index.insert(config, profile);
                changed = true;
            }
        }
        for profile in old.difference(new) {
            let pair = (config.to_string(), profile.to_string());
            if let Some(count) = self.counts.get_mut(&pair) {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(&pair);
                    self.index.remove(config, profile);
                    changed = true;
                }
            }
        }
        changed
    }
}

fn profile_names(config: Option<&PtpConfig>) -> BTreeSet<&str> {
    config.into_iter().flat_map(|c| c.spec.profile.iter().map(|p| p.name.as_str())).collect()
}

/// Renders one PtpConfig's profiles against `index`: rendered profiles and unresolved references.
fn render_profiles(
    index: &ProfileIndex,
    name: &str,
    config: &PtpConfig,
) -> (BTreeMap<String, EncodedProfile>, Vec<UnresolvedReference>) {
    let mut profiles = BTreeMap::new();
    let mut unresolved = Vec::new();
    for profile in &config.spec.profile {
        if profiles.contains_key(&profile.name) {
            continue;
        }
        let (rendered, missing) = render_profile(index, name, profile);
        unresolved.extend(missing);
        profiles.insert(profile.name.clone(), rendered);
    }
    (profiles, unresolved)
}

fn render_config(index: &ProfileIndex, key: &ConfigKey, config: PtpConfig) -> RenderedConfig {
    let (profiles, unresolved) = render_profiles(index, &key.name, &config);
    let has_references = config
        .spec
        .profile
        .iter()
        .filter_map(|p| p.ptp_settings.as_ref())
        .any(|s| REFERENCE_KEYS.iter().any(|k| s.contains_key(*k)));
    RenderedConfig { findings: validate_spec(&config.spec).findings, config, unresolved, profiles, has_references }
}

impl IncrementalRender {
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine holding these PtpConfigs and nodes (PtpConfigs first, so that each node is
    /// evaluated once). Later duplicates of a PtpConfig key or node name replace earlier ones.
    pub fn build(configs: impl IntoIterator<Item = PtpConfig>, nodes: impl IntoIterator<Item = NodeInfo>) -> Self {
        let mut engine = Self::default();
        for config in configs {
            engine.upsert_config(config);
        }
        for node in nodes {
            engine.upsert_node(node);
        }
        engine
    }

    /// Adds or replaces a node. Only that node is re-evaluated.
    pub fn upsert_node(&mut self, node: NodeInfo) -> Changes {
        let mut changes = Changes::default();
        let name = node.name.clone();
        match self.nodes.get_mut(&name) {
            Some(state) if state.info == node => return changes,
            Some(state) => {
                self.labels.remove(&state.info);
                self.labels.insert(&node);
                state.info = node;
            }
            None => {
                self.labels.insert(&node);
                self.data_bytes += name.len();
                self.nodes.insert(name.clone(), NodeState { info: node, result: Arc::default() });
                changes.nodes.insert(name.clone(), NodeChange::Added);
            }
        }
        self.reevaluate(&name, &mut changes);
        changes
    }

    /// Removes a node.
    pub fn remove_node(&mut self, name: &str) -> Changes {
        let mut changes = Changes::default();
        let Some(state) = self.nodes.remove(name) else { return changes };
        self.labels.remove(&state.info);
        account(&mut self.configs, &mut self.data_bytes, name, &state.result, None, &mut changes);
        self.release(state.result);
        self.data_bytes -= name.len();
        changes.nodes.insert(name.to_string(), NodeChange::Removed);
        changes
    }

    /// Adds or replaces a PtpConfig (keyed by name and namespace). Re-evaluates the nodes its
    /// previous and new rules match, and, when the cluster's profile names change, the nodes
    /// whose profiles' references now resolve differently. A change of the status or of metadata
    /// other than the generation renders nothing.
    pub fn upsert_config(&mut self, config: PtpConfig) -> Changes {
        let key = ConfigKey::of(&config);
        let mut changes = Changes::default();
        if let Some(state) = self.configs.get_mut(&key)
            && state.rendered.config.spec == config.spec
            && state.rendered.config.metadata.generation == config.metadata.generation
        {
            state.rendered.config = config;
            return changes;
        }
        let mut affected = BTreeSet::new();
        let (old, matches, conflicts) = match self.configs.remove(&key) {
            Some(state) => (Some(state.rendered), state.matches, state.conflicts),
            None => (None, BTreeSet::new(), BTreeMap::new()),
        };
        if let Some(old) = &old {
            self.unindex_rules(&key, old, &mut affected);
        }
        let index_changed = self.profiles.replace(
            &key.name,
            &profile_names(old.as_ref().map(|o| &o.config)),
            &profile_names(Some(&config)),
        );
        let rendered = render_config(&self.profiles.index, &key, config);
        let outcome_changed = old.as_ref().is_none_or(|old| {
            old.findings != rendered.findings
                || old.unresolved != rendered.unresolved
                || old.config.metadata.generation != rendered.config.metadata.generation
        });
        if outcome_changed {
            changes.configs.insert(key.clone());
        }
        self.index_rules(&key, &rendered, &mut affected);
        self.configs.insert(key.clone(), ConfigState { rendered, matches, conflicts });
        if index_changed {
            self.rerender_references(&key, &mut affected, &mut changes);
        }
        for node in affected {
            self.reevaluate(&node, &mut changes);
        }
        changes
    }

    /// Removes a PtpConfig; the nodes it applied to are re-evaluated (other rules may now win).
    pub fn remove_config(&mut self, key: &ConfigKey) -> Changes {
        let mut changes = Changes::default();
        let Some(state) = self.configs.remove(key) else { return changes };
        changes.configs.insert(key.clone());
        let mut affected = BTreeSet::new();
        self.unindex_rules(key, &state.rendered, &mut affected);
        if self.profiles.replace(&key.name, &profile_names(Some(&state.rendered.config)), &BTreeSet::new()) {
            self.rerender_references(key, &mut affected, &mut changes);
        }
        for node in affected {
            self.reevaluate(&node, &mut changes);
        }
        changes
    }

    /// One node's ConfigMap value.
    pub fn value(&self, node: &str) -> Option<&str> {
        self.nodes.get(node).map(|n| n.result.value.as_str())
    }

    /// One node's profiles (qualified names, sorted).
    pub fn selection(&self, node: &str) -> Option<&[String]> {
        self.nodes.get(node).map(|n| n.result.selection.as_slice())
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name).map(|n| &n.info)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values().map(|n| &n.info)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The PtpConfig stored under `key` (as last upserted).
    pub fn config(&self, key: &ConfigKey) -> Option<&PtpConfig> {
        self.configs.get(key).map(|c| &c.rendered.config)
    }

    pub fn config_keys(&self) -> impl Iterator<Item = &ConfigKey> {
        self.configs.keys()
    }

    /// One PtpConfig's outcome (O(size of its match list)).
    pub fn outcome(&self, key: &ConfigKey) -> Option<ConfigOutcome> {
        let state = self.configs.get(key)?;
        let match_list: Vec<NodeMatchList> = state
            .matches
            .iter()
            .map(|(node, profile)| NodeMatchList { node_name: node.clone(), profile: profile.clone() })
            .collect();
        let mut node_count = 0;
        let mut last: Option<&str> = None;
        for (node, _) in &state.matches {
            if last != Some(node.as_str()) {
                node_count += 1;
                last = Some(node);
            }
        }
        Some(ConfigOutcome {
            match_list,
            node_count,
            findings: state.rendered.findings.clone(),
            unresolved: state.rendered.unresolved.clone(),
            conflicts: state.conflicts.keys().cloned().collect(),
            observed_generation: state.rendered.config.metadata.generation,
        })
    }

    /// Total size of the ConfigMap data in bytes (keys and values), kept up to date.
    pub fn data_bytes(&self) -> usize {
        self.data_bytes
    }

    /// The ConfigMap data (one key per node).
    pub fn data(&self) -> BTreeMap<String, String> {
        self.nodes.iter().map(|(name, n)| (name.clone(), n.result.value.clone())).collect()
    }

    /// The whole output, as [`render`](super::render) returns it.
    pub fn output(&self) -> RenderOutput {
        RenderOutput {
            data: self.data(),
            configs: self.configs.keys().filter_map(|k| Some((k.clone(), self.outcome(k)?))).collect(),
            selection: self.nodes.iter().map(|(name, n)| (name.clone(), n.result.selection.clone())).collect(),
        }
    }

    /// Re-evaluates one node and accounts for the difference.
    fn reevaluate(&mut self, name: &str, changes: &mut Changes) {
        let Some(state) = self.nodes.get(name) else { return };
        let next = self.evaluate(&state.info);
        let next = match self.results.get(&next) {
            Some(shared) => shared.clone(),
            None => {
                let next = Arc::new(next);
                self.results.insert(next.clone());
                next
            }
        };
        let Some(state) = self.nodes.get_mut(name) else { return };
        let prev = std::mem::replace(&mut state.result, next);
        account(&mut self.configs, &mut self.data_bytes, name, &prev, Some(&state.result), changes);
        self.release(prev);
    }

    /// Drops a node's former result from the shared set when no node has it any more (held by
    /// the set and `prev` only; a fresh node's default result is not in the set).
    fn release(&mut self, prev: Arc<Evaluated>) {
        if Arc::strong_count(&prev) == 2 && self.results.get(&prev).is_some_and(|r| Arc::ptr_eq(r, &prev)) {
            self.results.remove(&prev);
        }
    }

    /// Number of distinct node results held (each value stored once).
    pub fn distinct_values(&self) -> usize {
        self.results.len()
    }

    /// What one node gets: the candidate rules from the index, then the same decision as `render`.
    fn evaluate(&self, node: &NodeInfo) -> Evaluated {
        let mut candidates: Vec<(i64, (&ConfigKey, &str))> = Vec::new();
        for (key, position) in self.rules.candidates(node) {
            let Some(rule) = self.configs.get(key).and_then(|s| s.rendered.config.spec.recommend.get(*position)) else {
                continue;
            };
            if rule_matches(rule, node) {
                candidates.push((rule.priority, (key, rule.profile.as_str())));
            }
        }
        let mut won = winners(&candidates);
        won.sort();
        won.dedup();
        let mut chosen: BTreeMap<&str, (&ConfigKey, &str, &str)> = BTreeMap::new();
        let mut conflicts = Vec::new();
        for (key, profile) in won {
            let Some(rendered) = self.configs.get(key).and_then(|s| s.rendered.profiles.get(profile)) else { continue };
            match chosen.get(rendered.qualified.as_str()) {
                Some((first, ..)) if *first != key => conflicts.push((key.clone(), rendered.qualified.clone())),
                Some(_) => {}
                None => {
                    chosen.insert(rendered.qualified.as_str(), (key, profile, rendered.encoded.as_str()));
                }
            }
        }
        let mut applied: Vec<(ConfigKey, String)> =
            chosen.values().map(|(key, profile, _)| ((*key).clone(), profile.to_string())).collect();
        applied.sort();
        conflicts.sort();
        conflicts.dedup();
        Evaluated {
            value: join_encoded_profiles(chosen.values().map(|(_, _, encoded)| *encoded)),
            selection: chosen.keys().map(std::string::ToString::to_string).collect(),
            applied,
            conflicts,
        }
    }

    /// The nodes a PtpConfig's rules match, from the label index.
    fn matched_nodes(&self, rendered: &RenderedConfig, out: &mut BTreeSet<String>) {
        for (_, rule) in rendered.rules() {
            for entry in rule.r#match.iter().flatten() {
                if let Some(name) = entry.node_name.as_deref().filter(|n| self.nodes.contains_key(*n)) {
                    out.insert(name.to_string());
                }
                if let Some(label) = entry.node_label.as_deref().filter(|l| !l.is_empty()) {
                    self.labels.extend_matching(label, out);
                }
            }
        }
    }

    fn index_rules(&mut self, key: &ConfigKey, rendered: &RenderedConfig, affected: &mut BTreeSet<String>) {
        self.matched_nodes(rendered, affected);
        for (position, rule) in rendered.rules() {
            self.rules.insert(&(key.clone(), position), rule.r#match.as_deref().unwrap_or_default());
        }
    }

    fn unindex_rules(&mut self, key: &ConfigKey, rendered: &RenderedConfig, affected: &mut BTreeSet<String>) {
        self.matched_nodes(rendered, affected);
        for (position, rule) in rendered.rules() {
            let id: RuleId = (key.clone(), position);
            self.rules.remove(&id, rule.r#match.as_deref().unwrap_or_default());
        }
    }

    /// After the cluster's profile names changed: re-renders the other PtpConfigs with
    /// references, adding the nodes that carry a profile whose text changed to `affected`.
    fn rerender_references(&mut self, except: &ConfigKey, affected: &mut BTreeSet<String>, changes: &mut Changes) {
        for (key, state) in &mut self.configs {
            if key == except || !state.rendered.has_references {
                continue;
            }
            let (profiles, unresolved) = render_profiles(&self.profiles.index, &key.name, &state.rendered.config);
            for (name, fresh) in &profiles {
                if state.rendered.profiles.get(name).is_some_and(|old| old.encoded != fresh.encoded) {
                    affected.extend(state.matches.iter().filter(|(_, p)| p == name).map(|(n, _)| n.clone()));
                }
            }
            if unresolved != state.rendered.unresolved {
                changes.configs.insert(key.clone());
            }
            state.rendered.profiles = profiles;
            state.rendered.unresolved = unresolved;
        }
    }
}

/// Updates the per-PtpConfig results and the data size for one node whose result went from
/// `prev` to `next` (`None`: the node is gone), and records what changed.
fn account(
    configs: &mut BTreeMap<ConfigKey, ConfigState>,
    data_bytes: &mut usize,
    node: &str,
    prev: &Evaluated,
    next: Option<&Evaluated>,
    changes: &mut Changes,
) {
    let empty = Evaluated::default();
    let next_result = next.unwrap_or(&empty);
    for (key, profile) in sorted_difference(&prev.applied, &next_result.applied) {
        if let Some(state) = configs.get_mut(key) {
            state.matches.remove(&(node.to_string(), profile.clone()));
            changes.configs.insert(key.clone());
        }
    }
    for (key, profile) in sorted_difference(&next_result.applied, &prev.applied) {
        if let Some(state) = configs.get_mut(key) {
            state.matches.insert((node.to_string(), profile.clone()));
            changes.configs.insert(key.clone());
        }
    }
    for (key, qualified) in sorted_difference(&prev.conflicts, &next_result.conflicts) {
        if let Some(state) = configs.get_mut(key)
            && let Some(count) = state.conflicts.get_mut(qualified)
        {
            *count -= 1;
            if *count == 0 {
                state.conflicts.remove(qualified);
                changes.configs.insert(key.clone());
            }
        }
    }
    for (key, qualified) in sorted_difference(&next_result.conflicts, &prev.conflicts) {
        if let Some(state) = configs.get_mut(key) {
            let count = state.conflicts.entry(qualified.clone()).or_default();
            *count += 1;
            if *count == 1 {
                changes.configs.insert(key.clone());
            }
        }
    }
    *data_bytes -= prev.value.len();
    if let Some(next) = next {
        *data_bytes += next.value.len();
        if next.value != prev.value {
            changes.nodes.entry(node.to_string()).or_insert(NodeChange::Changed);
        }
    }
}

/// Items of sorted `a` not in sorted `b`.
fn sorted_difference<'a, T: Ord>(a: &'a [T], b: &'a [T]) -> impl Iterator<Item = &'a T> {
    a.iter().filter(move |x| b.binary_search(x).is_err())
}

#[cfg(test)]
mod tests;
