//! The incremental engine's indexes: nodes by label (which nodes can a rule match) and recommend
//! rules by what their match entries name (which rules can match a node). Both answer without
//! scanning every node or every rule; the caller confirms candidates with [`rule_matches`].
//!
//! [`rule_matches`]: crate::render::rule_matches

use std::collections::{BTreeSet, HashMap};

use crate::MatchRule;
use crate::render::{ConfigKey, NodeInfo};

/// A recommend rule: its PtpConfig and its position in `spec.recommend`.
pub(super) type RuleId = (ConfigKey, usize);

/// Node names by label key, then label value.
#[derive(Debug, Default)]
pub(super) struct LabelIndex {
    by_key: HashMap<String, HashMap<String, BTreeSet<String>>>,
}

impl LabelIndex {
    pub(super) fn insert(&mut self, node: &NodeInfo) {
        for (key, value) in &node.labels {
            self.by_key.entry(key.clone()).or_default().entry(value.clone()).or_default().insert(node.name.clone());
        }
    }

    pub(super) fn remove(&mut self, node: &NodeInfo) {
        for (key, value) in &node.labels {
            let Some(values) = self.by_key.get_mut(key) else { continue };
            if let Some(names) = values.get_mut(value) {
                names.remove(&node.name);
                if names.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// Adds the nodes a `nodeLabel` entry (`key` or `key=value`) selects to `out`.
    pub(super) fn extend_matching(&self, label: &str, out: &mut BTreeSet<String>) {
        match label.split_once('=') {
            Some((key, value)) => {
                if let Some(names) = self.by_key.get(key).and_then(|values| values.get(value)) {
                    out.extend(names.iter().cloned());
                }
            }
            None => {
                for names in self.by_key.get(label).into_iter().flat_map(|values| values.values()) {
                    out.extend(names.iter().cloned());
                }
            }
        }
    }
}

/// Rules by the node name, label key (`key` entries) or label key and value (`key=value`
/// entries) they name.
#[derive(Debug, Default)]
pub(super) struct RuleIndex {
    by_name: HashMap<String, BTreeSet<RuleId>>,
    by_key: HashMap<String, BTreeSet<RuleId>>,
    by_pair: HashMap<String, HashMap<String, BTreeSet<RuleId>>>,
}

/// What one match entry names, as the index files it.
enum Target<'a> {
    Name(&'a str),
    Key(&'a str),
    Pair(&'a str, &'a str),
}

fn targets(entries: &[MatchRule]) -> impl Iterator<Item = Target<'_>> {
    entries.iter().flat_map(|entry| {
        let name = entry.node_name.as_deref().filter(|n| !n.is_empty()).map(Target::Name);
        let label = entry.node_label.as_deref().filter(|l| !l.is_empty()).map(|l| match l.split_once('=') {
            Some((key, value)) => Target::Pair(key, value),
            None => Target::Key(l),
        });
        name.into_iter().chain(label)
    })
}

impl RuleIndex {
    pub(super) fn insert(&mut self, id: &RuleId, entries: &[MatchRule]) {
        for target in targets(entries) {
            let set = match target {
                Target::Name(n) => self.by_name.entry(n.to_string()).or_default(),
                Target::Key(k) => self.by_key.entry(k.to_string()).or_default(),
                Target::Pair(k, v) => self.by_pair.entry(k.to_string()).or_default().entry(v.to_string()).or_default(),
            };
            set.insert(id.clone());
        }
    }

    pub(super) fn remove(&mut self, id: &RuleId, entries: &[MatchRule]) {
        for target in targets(entries) {
            match target {
                Target::Name(n) => remove_from(&mut self.by_name, n, id),
                Target::Key(k) => remove_from(&mut self.by_key, k, id),
                Target::Pair(k, v) => {
                    if let Some(values) = self.by_pair.get_mut(k) {
                        remove_from(values, v, id);
                        if values.is_empty() {
                            self.by_pair.remove(k);
                        }
                    }
                }
            }
        }
    }

    /// The rules with an entry naming this node or one of its labels (each once).
    pub(super) fn candidates(&self, node: &NodeInfo) -> BTreeSet<&RuleId> {
        let mut out: BTreeSet<&RuleId> = BTreeSet::new();
        out.extend(self.by_name.get(&node.name).into_iter().flatten());
        for (key, value) in &node.labels {
            out.extend(self.by_key.get(key).into_iter().flatten());
            out.extend(self.by_pair.get(key).and_then(|values| values.get(value)).into_iter().flatten());
        }
        out
    }

    /// Whether no rule is indexed (for tests).
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.by_name.is_empty() && self.by_key.is_empty() && self.by_pair.is_empty()
    }
}

fn remove_from(map: &mut HashMap<String, BTreeSet<RuleId>>, at: &str, id: &RuleId) {
    if let Some(set) = map.get_mut(at) {
        set.remove(id);
        if set.is_empty() {
            map.remove(at);
        }
    }
}
