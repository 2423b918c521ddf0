//! What the agent knows to render its own node, pure: every PtpConfig as last seen (decoded one
//! at a time: one the agent's types cannot read keeps its last decoded version, or is left out,
//! and never hides the others) and its Node's labels. [`OwnNode::value`] is the node's value as
//! the operator would write it into `ptp-configmap`, once both initial lists are complete.

use std::collections::{BTreeMap, BTreeSet};

use ptp_api::render::{ConfigKey, NodeInfo, render_node};
use ptp_api::{PtpConfig, RawPtpConfig};

/// One PtpConfig as last seen.
#[derive(Clone, Debug)]
struct Known {
    uid: Option<String>,
    resource_version: Option<String>,
    /// `metadata.generation`: moves with the spec, not with the operator's status writes.
    generation: Option<i64>,
    /// Why the current version does not decode, if it does not.
    error: Option<String>,
    /// The latest version of this object (same uid) that decoded: what is rendered.
    last_good: Option<PtpConfig>,
}

/// A PtpConfig that stopped decoding (for a log line and a count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecodable {
    pub key: ConfigKey,
    pub error: String,
    /// Whether an earlier version is still rendered in its place.
    pub last_good_kept: bool,
}

/// The agent's view of the inputs of its node's render.
#[derive(Clone, Debug)]
pub struct OwnNode {
    node: String,
    /// `None` until the Node was seen (or after it was deleted).
    labels: Option<BTreeMap<String, String>>,
    configs: BTreeMap<ConfigKey, Known>,
    /// Per watch (a namespace, or `None` for all), the keys seen since its (re)list began.
    listing: BTreeMap<Option<String>, BTreeSet<ConfigKey>>,
    /// The watches whose list is complete.
    listed: BTreeSet<Option<String>>,
    /// The watches there are (one per namespace, or one for all).
    watches: usize,
    /// Moves with every change that can change [`OwnNode::value`].
    revision: u64,
}

impl OwnNode {
    /// For `watches` PtpConfig watches (one per namespace, or one of all namespaces).
    pub fn new(node: impl Into<String>, watches: usize) -> Self {
        OwnNode {
            node: node.into(),
            labels: None,
            configs: BTreeMap::new(),
            listing: BTreeMap::new(),
            listed: BTreeSet::new(),
            watches: watches.max(1),
            revision: 0,
        }
    }

    /// Changes whenever [`OwnNode::value`] may have changed; equal revisions, equal values (the
    /// watch renders only when it moved: the operator's status writes reach every agent).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// A (re)list of the watch of `namespace` (`None`: all) begins: its objects not in the list
    /// are forgotten when it ends.
    pub fn list_started(&mut self, namespace: Option<&str>) {
        self.listing.insert(namespace.map(str::to_string), BTreeSet::new());
    }

    /// The (re)list of the watch of `namespace` is complete.
    pub fn list_done(&mut self, namespace: Option<&str>) {
        let scope = namespace.map(str::to_string);
        if let Some(seen) = self.listing.remove(&scope) {
            self.configs.retain(|key, _| seen.contains(key) || namespace.is_some_and(|n| n != key.namespace.as_str()));
        }
        self.listed.insert(scope);
        self.revision += 1;
    }

    /// A PtpConfig was created or changed (or listed). Returns the decode problem when this
    /// version does not decode and the previous one did (or there was none).
    pub fn config_applied(&mut self, raw: &RawPtpConfig) -> Option<Undecodable> {
        let key = ConfigKey::of_raw(raw);
        for (scope, seen) in &mut self.listing {
            if scope.as_ref().is_none_or(|n| *n == key.namespace) {
                seen.insert(key.clone());
            }
        }
        let uid = raw.metadata.uid.clone();
        let resource_version = raw.metadata.resource_version.clone();
        let generation = raw.metadata.generation;
        let previous = self.configs.remove(&key).filter(|k| k.uid == uid);
        // The same version, or only its status changed (the operator writes statuses; every
        // agent receives them): nothing to decode, nothing the render reads changed.
        let unchanged = |p: &Known| {
            (p.resource_version.is_some() && p.resource_version == resource_version)
                || (p.generation.is_some() && p.generation == generation)
        };
        if let Some(mut p) = previous.clone().filter(unchanged) {
            p.resource_version = resource_version;
            self.configs.insert(key, p);
            return None;
        }
        let was_bad = previous.as_ref().is_some_and(|p| p.error.is_some());
        let mut last_good = previous.and_then(|p| p.last_good);
        // The spec only: the status (the operator's matchList, large in big fleets) is not
        // rendered, and not kept.
        let decoded = ptp_api::decode_spec(&raw.spec).map(|d| {
            let mut metadata = raw.metadata.clone();
            metadata.managed_fields = None;
            PtpConfig { metadata, spec: d.spec, status: None }
        });
        let (error, problem) = match decoded {
            Ok(config) => {
                last_good = Some(config);
                (None, None)
            }
            Err(e) => {
                let error = e.to_string();
                let problem = (!was_bad).then(|| Undecodable {
                    key: key.clone(),
                    error: error.clone(),
                    last_good_kept: last_good.is_some(),
                });
                (Some(error), problem)
            }
        };
        self.configs.insert(key, Known { uid, resource_version, generation, error, last_good });
        self.revision += 1;
        problem
    }

    /// A PtpConfig was deleted.
    pub fn config_deleted(&mut self, raw: &RawPtpConfig) {
        if self.configs.remove(&ConfigKey::of_raw(raw)).is_some() {
            self.revision += 1;
        }
    }

    /// The Node's labels (`None`: the Node is gone).
    pub fn node_labels(&mut self, labels: Option<BTreeMap<String, String>>) {
        if self.labels != labels {
            self.labels = labels;
            self.revision += 1;
        }
    }

    /// The PtpConfigs that do not decode now.
    pub fn undecodable(&self) -> usize {
        self.configs.values().filter(|k| k.error.is_some()).count()
    }

    /// The node's value, once the PtpConfigs were listed and the Node was seen; `None` before.
    pub fn value(&self) -> Option<String> {
        if self.listed.len() < self.watches {
            return None;
        }
        let labels = self.labels.as_ref()?;
        let node = NodeInfo { name: self.node.clone(), labels: labels.clone() };
        Some(render_node(self.configs.values().filter_map(|k| k.last_good.as_ref()), &node))
    }
}

#[cfg(test)]
mod tests {
    use ptp_api::render::render;
    use ptp_api::{MatchRule, PtpConfigSpec, PtpProfile, PtpRecommend};
    use serde_json::json;

    use super::*;

    fn config(name: &str, label: &str, priority: i64, opts: &str) -> PtpConfig {
        let mut c = PtpConfig::new(
            name,
            PtpConfigSpec {
                profile: vec![PtpProfile { ptp4l_opts: Some(opts.into()), ..PtpProfile::named("p") }],
                recommend: vec![PtpRecommend {
                    profile: "p".into(),
                    priority,
                    r#match: Some(vec![MatchRule::node_label(label)]),
                }],
            },
        );
        c.metadata.namespace = Some("ptp".into());
        c.metadata.uid = Some(format!("uid-{name}"));
        c
    }

    fn raw(config: &PtpConfig, version: u32) -> RawPtpConfig {
        let mut raw = RawPtpConfig::from_typed(config).unwrap();
        raw.metadata.resource_version = Some(version.to_string());
        raw
    }

    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn fleet_value(configs: &[&PtpConfig], labels: &[(&str, &str)]) -> String {
        let node = labels.iter().fold(NodeInfo::new("n1"), |n, (k, v)| n.with_label(*k, *v));
        render(configs.iter().copied(), &[node]).data["n1"].clone()
    }

    #[test]
    fn no_value_before_both_lists_and_the_operators_value_after() {
        let a = config("a", "ptp/a", 10, "-2");
        let mut own = OwnNode::new("n1", 1);
        own.list_started(None);
        own.config_applied(&raw(&a, 1));
        assert_eq!(own.value(), None, "the PtpConfig list is not complete");
        own.list_done(None);
        assert_eq!(own.value(), None, "the Node was not seen");
        own.node_labels(labels(&[("ptp/a", "")]));
        assert_eq!(own.value(), Some(fleet_value(&[&a], &[("ptp/a", "")])));
        own.node_labels(labels(&[]));
        assert_eq!(own.value().as_deref(), Some("[]"), "a label removed: nothing for this node");
    }

    #[test]
    fn edits_deletes_and_relists_follow_the_cluster() {
        let (a, b) = (config("a", "ptp/x", 10, "-2"), config("b", "ptp/x", 5, "-4"));
        let mut own = OwnNode::new("n1", 1);
        own.list_started(None);
        own.config_applied(&raw(&a, 1));
        own.list_done(None);
        own.node_labels(labels(&[("ptp/x", "")]));
        own.config_applied(&raw(&b, 2));
        assert_eq!(own.value(), Some(fleet_value(&[&a, &b], &[("ptp/x", "")])), "b wins on priority");
        own.config_deleted(&raw(&b, 3));
        assert_eq!(own.value(), Some(fleet_value(&[&a], &[("ptp/x", "")])));
        // A relist that no longer has `a` (deleted while the watch was down) forgets it.
        own.list_started(None);
        own.config_applied(&raw(&b, 4));
        own.list_done(None);
        assert_eq!(own.value(), Some(fleet_value(&[&b], &[("ptp/x", "")])));
    }

    #[test]
    fn an_undecodable_version_keeps_the_last_good_one_and_hides_nothing_else() {
        let (a, b) = (config("a", "ptp/a", 10, "-2"), config("b", "ptp/b", 10, "-4"));
        let mut own = OwnNode::new("n1", 1);
        own.list_started(None);
        own.config_applied(&raw(&a, 1));
        own.config_applied(&raw(&b, 1));
        own.list_done(None);
        own.node_labels(labels(&[("ptp/a", ""), ("ptp/b", "")]));
        let before = own.value();
        let mut bad = raw(&a, 2);
        bad.spec = json!({"profile": [{"name": "p", "ptpSchedulingPolicy": "SCHED_RR"}]});
        let problem = own.config_applied(&bad).expect("reported");
        assert!(problem.last_good_kept && problem.error.contains("ptpSchedulingPolicy"), "{problem:?}");
        assert_eq!(
            own.config_applied(&{
                bad.metadata.resource_version = Some("3".into());
                bad.clone()
            }),
            None,
            "once"
        );
        assert_eq!(own.value(), before, "the last good version of `a` is still rendered");
        assert_eq!(own.undecodable(), 1);
        // `b` still follows its edits.
        let b2 = config("b", "ptp/b", 10, "-4 -S");
        own.config_applied(&raw(&b2, 5));
        assert_eq!(own.value(), Some(fleet_value(&[&a, &b2], &[("ptp/a", ""), ("ptp/b", "")])));
        // Without a good version (first seen undecodable) the object is left out.
        let mut fresh = OwnNode::new("n1", 1);
        fresh.list_started(None);
        fresh.config_applied(&bad);
        fresh.config_applied(&raw(&b2, 5));
        fresh.list_done(None);
        fresh.node_labels(labels(&[("ptp/a", ""), ("ptp/b", "")]));
        assert_eq!(fresh.value(), Some(fleet_value(&[&b2], &[("ptp/a", ""), ("ptp/b", "")])));
        // A recreated object (new uid) does not inherit the old one's last good version.
        let mut recreated = bad.clone();
        recreated.metadata.uid = Some("another".into());
        own.config_applied(&recreated);
        assert_eq!(own.value(), Some(fleet_value(&[&b2], &[("ptp/a", ""), ("ptp/b", "")])));
    }

    #[test]
    fn one_watch_per_namespace_relists_its_own_namespace_only() {
        let mut a = config("a", "ptp/x", 10, "-2");
        a.metadata.namespace = Some("one".into());
        let mut b = config("b", "ptp/x", 10, "-4");
        b.metadata.namespace = Some("two".into());
        let mut own = OwnNode::new("n1", 2);
        own.node_labels(labels(&[("ptp/x", "")]));
        own.list_started(Some("one"));
        own.config_applied(&raw(&a, 1));
        own.list_done(Some("one"));
        assert_eq!(own.value(), None, "the second namespace is not listed yet");
        own.list_started(Some("two"));
        own.config_applied(&raw(&b, 1));
        own.list_done(Some("two"));
        let both = own.value();
        assert_eq!(both, Some(fleet_value(&[&a, &b], &[("ptp/x", "")])));
        // A relist of `one` keeps `two`'s objects.
        own.list_started(Some("one"));
        own.config_applied(&raw(&a, 1));
        own.list_done(Some("one"));
        assert_eq!(own.value(), both);
        own.list_started(Some("two"));
        own.list_done(Some("two"));
        assert_eq!(own.value(), Some(fleet_value(&[&a], &[("ptp/x", "")])), "b is gone from `two`");
    }

    /// The operator's status writes reach every agent: a new resourceVersion with the same
    /// generation is not decoded again (and statuses are never kept), a spec change is.
    #[test]
    fn status_only_changes_are_not_decoded_and_statuses_not_kept() {
        let mut a = config("a", "ptp/a", 10, "-2");
        a.metadata.generation = Some(1);
        let mut own = OwnNode::new("n1", 1);
        own.list_started(None);
        own.config_applied(&raw(&a, 1));
        own.list_done(None);
        own.node_labels(labels(&[("ptp/a", "")]));
        let before = own.value();
        let stored = |own: &OwnNode| own.configs.values().next().and_then(|k| k.last_good.clone()).unwrap();
        assert_eq!(stored(&own).status, None, "no status kept");
        // A status write: same generation, a spec the agent could not even decode would not matter.
        let mut status_only = raw(&a, 2);
        status_only.status = json!({"matchList": [{"nodeName": "n1", "profile": "p"}]});
        status_only.spec = json!({"profile": "not even a list"});
        let revision = own.revision();
        assert_eq!(own.config_applied(&status_only), None);
        assert_eq!(own.revision(), revision, "nothing to render again");
        assert_eq!(own.value(), before);
        assert_eq!(own.undecodable(), 0, "not decoded at all");
        // A spec change moves the generation: decoded and rendered.
        a.spec.profile[0].ptp4l_opts = Some("-2 -S".into());
        a.metadata.generation = Some(2);
        own.config_applied(&raw(&a, 3));
        assert_eq!(own.value(), Some(fleet_value(&[&a], &[("ptp/a", "")])));
        assert_ne!(own.value(), before);
    }
}
