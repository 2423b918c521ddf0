//! Which recommend rules match which nodes, and the cluster-wide priority decision.

use std::collections::BTreeMap;

use crate::{MatchRule, PtpRecommend};

/// What the render engine needs to know about a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl NodeInfo {
    pub fn new(name: impl Into<String>) -> Self {
        NodeInfo { name: name.into(), labels: BTreeMap::new() }
    }

    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
}

/// One match entry: `nodeName` equals the node's name, or `nodeLabel` `key` (label present, any
/// value) / `key=value` (label has exactly that value). Either field matching is enough; empty
/// strings count as unset.
pub fn entry_matches(entry: &MatchRule, node: &NodeInfo) -> bool {
    let by_name = entry.node_name.as_deref().is_some_and(|n| !n.is_empty() && n == node.name);
    let by_label =
        entry.node_label.as_deref().filter(|l| !l.is_empty()).is_some_and(|label| match label.split_once('=') {
            Some((key, value)) => node.labels.get(key).is_some_and(|v| v == value),
            None => node.labels.contains_key(label),
        });
    by_name || by_label
}

/// A rule matches when any of its entries does; a rule without entries matches no node.
pub fn rule_matches(rule: &PtpRecommend, node: &NodeInfo) -> bool {
    rule.r#match.iter().flatten().any(|entry| entry_matches(entry, node))
}

/// Of the candidates `(priority, item)` matching one node, the items at the lowest priority.
pub fn winners<T: Clone>(candidates: &[(i64, T)]) -> Vec<T> {
    let Some(best) = candidates.iter().map(|(p, _)| *p).min() else { return Vec::new() };
    candidates.iter().filter(|(p, _)| *p == best).map(|(_, t)| t.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeInfo {
        NodeInfo::new("worker-0").with_label("node-role.kubernetes.io/worker", "").with_label("ptp/tbc", "true")
    }

    #[test]
    fn name_and_label_forms() {
        let n = node();
        assert!(entry_matches(&MatchRule::node_name("worker-0"), &n));
        assert!(!entry_matches(&MatchRule::node_name("worker-1"), &n));
        assert!(entry_matches(&MatchRule::node_label("node-role.kubernetes.io/worker"), &n));
        assert!(entry_matches(&MatchRule::node_label("ptp/tbc"), &n));
        assert!(entry_matches(&MatchRule::node_label("ptp/tbc=true"), &n));
        assert!(!entry_matches(&MatchRule::node_label("ptp/tbc=false"), &n));
        assert!(entry_matches(&MatchRule::node_label("node-role.kubernetes.io/worker="), &n));
        assert!(!entry_matches(&MatchRule::node_label("missing"), &n));
        assert!(!entry_matches(&MatchRule::node_label("missing="), &n));
        assert!(!entry_matches(&MatchRule::default(), &n));
        assert!(!entry_matches(&MatchRule { node_label: Some(String::new()), node_name: Some(String::new()) }, &n));
        // Either field matching is enough.
        assert!(entry_matches(
            &MatchRule { node_label: Some("missing".into()), node_name: Some("worker-0".into()) },
            &n
        ));
    }

    #[test]
    fn rule_without_entries_matches_nothing() {
        let n = node();
        let mut rule = PtpRecommend { profile: "p".into(), priority: 0, r#match: None };
        assert!(!rule_matches(&rule, &n));
        rule.r#match = Some(vec![]);
        assert!(!rule_matches(&rule, &n));
        rule.r#match = Some(vec![MatchRule::node_name("other"), MatchRule::node_label("ptp/tbc")]);
        assert!(rule_matches(&rule, &n));
    }

    #[test]
    fn lowest_priority_number_wins_and_ties_all_apply() {
        assert_eq!(winners(&[(5, "a"), (4, "b"), (4, "c"), (10, "d")]), vec!["b", "c"]);
        assert_eq!(winners::<&str>(&[]), Vec::<&str>::new());
        assert_eq!(winners(&[(0, "x")]), vec!["x"]);
    }
}
