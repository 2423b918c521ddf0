//! The render engine: every PtpConfig and every Node in, the `ptp-configmap` data, each
//! PtpConfig's status and each node's selection out. Pure and deterministic: the output depends on
//! the set of inputs only, never on their order. [`IncrementalRender`] keeps the same output up to
//! date event by event (a Node change re-evaluates that node only); `render` stays the reference
//! its property test compares against.

mod incremental;
mod matching;
mod node;
mod references;
mod status;

use std::collections::{BTreeMap, BTreeSet};

use crate::{Finding, NodeMatchList, PtpConfig, PtpProfile, encode_profile, join_encoded_profiles, validate_spec};

pub use incremental::{Changes, IncrementalRender, NodeChange};
pub use matching::{NodeInfo, entry_matches, rule_matches, winners};
pub use node::render_node;
pub use references::{ProfileIndex, REFERENCE_KEYS, qualified_name, rewrite_setting};
pub use status::{
    CONDITION_APPLIED, CONDITION_PROFILE_REFERENCE_VALID, CONDITION_VALID, DesiredCondition, desired_conditions,
};

/// Identifies a PtpConfig. Ordered by name, then namespace (the order used for resolution).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigKey {
    pub name: String,
    pub namespace: String,
}

impl ConfigKey {
    pub fn of(config: &PtpConfig) -> Self {
        Self::of_meta(&config.metadata)
    }

    /// The key of an object as watched undecoded.
    pub fn of_raw(raw: &crate::RawPtpConfig) -> Self {
        Self::of_meta(&raw.metadata)
    }

    fn of_meta(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Self {
        ConfigKey { name: meta.name.clone().unwrap_or_default(), namespace: meta.namespace.clone().unwrap_or_default() }
    }
}

impl std::fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// A profile reference that names no profile anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnresolvedReference {
    pub profile: String,
    pub key: String,
    pub value: String,
}

/// What the render decided for one PtpConfig.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigOutcome {
    /// `(node, unqualified profile)` that apply after the global priority decision, sorted.
    pub match_list: Vec<NodeMatchList>,
    /// Distinct nodes in `match_list`.
    pub node_count: usize,
    /// Validation findings (errors make the PtpConfig invalid; the profiles are still rendered).
    pub findings: Vec<Finding>,
    /// References in `ptpSettings` that were kept as written because nothing matched.
    pub unresolved: Vec<UnresolvedReference>,
    /// Qualified names another PtpConfig (same name, other namespace) already used on a node.
    pub conflicts: Vec<String>,
    pub observed_generation: Option<i64>,
}

impl ConfigOutcome {
    /// The conditions this outcome implies (without timestamps).
    pub fn conditions(&self) -> Vec<DesiredCondition> {
        desired_conditions(self)
    }
}

/// The full result of one render.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenderOutput {
    /// ConfigMap data: one key per node, `[]` for nodes that get nothing.
    pub data: BTreeMap<String, String>,
    /// Per PtpConfig.
    pub configs: BTreeMap<ConfigKey, ConfigOutcome>,
    /// Per node, the qualified names of its profiles, sorted.
    pub selection: BTreeMap<String, Vec<String>>,
}

impl RenderOutput {
    /// Total size of the ConfigMap data in bytes (keys and values).
    pub fn data_bytes(&self) -> usize {
        self.data.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

/// A profile as it appears in the ConfigMap: qualified name, schema defaults, rewritten references.
struct EncodedProfile {
    qualified: String,
    encoded: String,
}

/// One PtpConfig during a render: its rendered profiles by name (the first of duplicate names
/// wins), its outcome so far and the nodes it applies to.
struct ConfigRender<'a> {
    key: ConfigKey,
    profiles: BTreeMap<&'a str, EncodedProfile>,
    outcome: ConfigOutcome,
    nodes: BTreeSet<&'a str>,
}

/// Renders the ConfigMap data and statuses from every PtpConfig and Node.
pub fn render<'a>(configs: impl IntoIterator<Item = &'a PtpConfig>, nodes: &[NodeInfo]) -> RenderOutput {
    let mut configs: Vec<(ConfigKey, &PtpConfig)> = configs.into_iter().map(|c| (ConfigKey::of(c), c)).collect();
    configs.sort_by(|a, b| a.0.cmp(&b.0));
    configs.dedup_by(|a, b| a.0 == b.0);
    let mut nodes: Vec<&NodeInfo> = nodes.iter().collect();
    nodes.sort();
    nodes.dedup_by(|a, b| a.name == b.name);

    let mut index = ProfileIndex::default();
    for (key, config) in &configs {
        for p in &config.spec.profile {
            index.insert(&key.name, &p.name);
        }
    }

    let mut records: Vec<ConfigRender<'_>> = Vec::with_capacity(configs.len());
    // (record index, rule) for every rule that names an existing profile.
    let mut rules: Vec<(usize, &crate::PtpRecommend)> = Vec::new();
    for (i, (key, config)) in configs.into_iter().enumerate() {
        let mut outcome = ConfigOutcome {
            findings: validate_spec(&config.spec).findings,
            observed_generation: config.metadata.generation,
            ..Default::default()
        };
        let mut profiles = BTreeMap::new();
        for profile in &config.spec.profile {
            if profiles.contains_key(profile.name.as_str()) {
                continue;
            }
            let (encoded, unresolved) = render_profile(&index, &key.name, profile);
            outcome.unresolved.extend(unresolved);
            profiles.insert(profile.name.as_str(), encoded);
        }
        rules
            .extend(config.spec.recommend.iter().filter(|r| profiles.contains_key(r.profile.as_str())).map(|r| (i, r)));
        records.push(ConfigRender { key, profiles, outcome, nodes: BTreeSet::new() });
    }

    let mut output = RenderOutput::default();
    for node in &nodes {
        let candidates: Vec<(i64, (usize, &str))> = rules
            .iter()
            .filter(|(_, rule)| rule_matches(rule, node))
            .map(|(i, rule)| (rule.priority, (*i, rule.profile.as_str())))
            .collect();
        let mut chosen: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        let mut won: Vec<(usize, &str)> = winners(&candidates);
        won.sort();
        won.dedup();
        let mut conflicts: Vec<(usize, String)> = Vec::new();
        for (i, profile) in won {
            let qualified = records[i].profiles[profile].qualified.as_str();
            match chosen.get(qualified) {
                Some((first, _)) if *first != i => conflicts.push((i, qualified.to_string())),
                Some(_) => {}
                None => {
                    chosen.insert(qualified, (i, profile));
                }
            }
        }
        let value = join_encoded_profiles(chosen.values().map(|(i, p)| records[*i].profiles[p].encoded.as_str()));
        output.data.insert(node.name.clone(), value);
        output.selection.insert(node.name.clone(), chosen.keys().map(std::string::ToString::to_string).collect());
        let picks: Vec<(usize, &str)> = chosen.into_values().collect();
        for (i, qualified) in conflicts {
            records[i].outcome.conflicts.push(qualified);
        }
        for (i, profile) in picks {
            let record = &mut records[i];
            let matched = NodeMatchList { node_name: node.name.clone(), profile: profile.to_string() };
            record.outcome.match_list.push(matched);
            record.nodes.insert(node.name.as_str());
        }
    }

    for ConfigRender { key, mut outcome, nodes, .. } in records {
        outcome.match_list.sort();
        outcome.conflicts.sort();
        outcome.conflicts.dedup();
        outcome.node_count = nodes.len();
        output.configs.insert(key, outcome);
    }
    output
}

/// The profile as written into the ConfigMap, and the references that did not resolve.
fn render_profile(
    index: &ProfileIndex,
    config: &str,
    profile: &PtpProfile,
) -> (EncodedProfile, Vec<UnresolvedReference>) {
    let mut p = profile.clone();
    p.apply_defaults();
    p.name = qualified_name(config, &profile.name);
    let mut unresolved = Vec::new();
    if let Some(settings) = p.ptp_settings.as_mut() {
        for key in REFERENCE_KEYS {
            if let Some(value) = settings.get_mut(*key) {
                let (rewritten, missing) = rewrite_setting(index, config, key, value);
                *value = rewritten;
                unresolved.extend(missing.into_iter().map(|value| UnresolvedReference {
                    profile: profile.name.clone(),
                    key: key.to_string(),
                    value,
                }));
            }
        }
    }
    let encoded = encode_profile(&p);
    (EncodedProfile { qualified: p.name, encoded }, unresolved)
}

#[cfg(test)]
mod tests;
