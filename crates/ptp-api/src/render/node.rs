//! One node's value without rendering the fleet: what an agent computes for its own node from
//! every PtpConfig and its Node's labels. It equals [`super::render`]'s value for that node byte
//! for byte (the property tests in `ptp-operator/tests/render_properties.rs` check it), but
//! encodes only the profiles the node gets: the profile index (for references and the
//! cross-namespace conflicts) still covers every PtpConfig, which costs names only.

use std::collections::BTreeMap;

use crate::PtpConfig;
use crate::join_encoded_profiles;

use super::{ConfigKey, NodeInfo, ProfileIndex, render_profile, rule_matches, winners};

/// The value `render(configs, nodes)` gives `node` (a JSON array of its profiles, `[]` when it
/// gets none).
pub fn render_node<'a>(configs: impl IntoIterator<Item = &'a PtpConfig>, node: &NodeInfo) -> String {
    let mut configs: Vec<(ConfigKey, &PtpConfig)> = configs.into_iter().map(|c| (ConfigKey::of(c), c)).collect();
    configs.sort_by(|a, b| a.0.cmp(&b.0));
    configs.dedup_by(|a, b| a.0 == b.0);

    let mut index = ProfileIndex::default();
    for (key, config) in &configs {
        for p in &config.spec.profile {
            index.insert(&key.name, &p.name);
        }
    }
    // (priority, (config index, profile name)) of the rules that match this node and name a
    // profile of their PtpConfig.
    let mut candidates: Vec<(i64, (usize, &str))> = Vec::new();
    for (i, (_, config)) in configs.iter().enumerate() {
        for rule in &config.spec.recommend {
            if config.spec.profile.iter().any(|p| p.name == rule.profile) && rule_matches(rule, node) {
                candidates.push((rule.priority, (i, rule.profile.as_str())));
            }
        }
    }
    let mut won = winners(&candidates);
    won.sort();
    won.dedup();
    // Qualified name → the first (config, profile) in key order that has it; later ones are
    // conflicts and get nothing on this node.
    let mut chosen: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for (i, profile) in won {
        chosen.entry(super::qualified_name(&configs[i].0.name, profile)).or_insert((i, profile));
    }
    let encoded: Vec<String> = chosen
        .values()
        .filter_map(|(i, name)| {
            let (key, config) = &configs[*i];
            // The first profile of that name in the PtpConfig is the one rendered.
            let profile = config.spec.profile.iter().find(|p| p.name == *name)?;
            Some(render_profile(&index, &key.name, profile).0.encoded)
        })
        .collect();
    join_encoded_profiles(encoded.iter().map(String::as_str))
}
