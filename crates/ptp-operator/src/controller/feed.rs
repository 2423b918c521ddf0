//! Feeding the incremental render engine: Node watch events as deltas (a relist removes the
//! nodes it did not list), and the decoded PtpConfigs of each reconcile (O(PtpConfigs); an
//! unchanged spec and generation renders nothing).

use std::collections::{BTreeMap, HashMap, HashSet};

use ptp_api::PtpConfig;

use super::plan::Undecodable;
use crate::render::{Changes, ConfigKey, IncrementalRender, NodeInfo};

/// One Node watch event, as far as rendering cares.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeDelta {
    /// A node and its uid (owner of its NodePtpDevice).
    Upsert(NodeInfo, String),
    Remove(String),
    /// The watch relists: the nodes not listed before [`NodeDelta::RelistDone`] are gone.
    Relist,
    RelistDone,
}

/// Applies [`NodeDelta`]s to the engine.
#[derive(Debug, Default)]
pub struct NodeFeed {
    listed: Option<HashSet<String>>,
    /// Uid of every node (the operator keeps no Node objects).
    uids: HashMap<String, String>,
}

impl NodeFeed {
    pub fn apply(&mut self, engine: &mut IncrementalRender, delta: NodeDelta) -> Changes {
        match delta {
            NodeDelta::Upsert(node, uid) => {
                if let Some(listed) = self.listed.as_mut() {
                    listed.insert(node.name.clone());
                }
                self.uids.insert(node.name.clone(), uid);
                engine.upsert_node(node)
            }
            NodeDelta::Remove(name) => {
                self.uids.remove(&name);
                engine.remove_node(&name)
            }
            NodeDelta::Relist => {
                self.listed = Some(HashSet::new());
                Changes::default()
            }
            NodeDelta::RelistDone => {
                let Some(listed) = self.listed.take() else { return Changes::default() };
                let gone: Vec<String> =
                    engine.nodes().filter(|n| !listed.contains(&n.name)).map(|n| n.name.clone()).collect();
                let mut changes = Changes::default();
                for name in gone {
                    self.uids.remove(&name);
                    let c = engine.remove_node(&name);
                    changes.nodes.extend(c.nodes);
                    changes.configs.extend(c.configs);
                }
                changes
            }
        }
    }
}

impl NodeFeed {
    /// A node's uid, as last seen.
    pub fn uid(&self, name: &str) -> Option<&str> {
        self.uids.get(name).map(String::as_str)
    }
}

/// Makes the engine's PtpConfigs those that decode plus the last decodable versions of the
/// undecodable ones; returns what changed.
pub fn sync_configs<'a>(
    engine: &mut IncrementalRender,
    configs: impl IntoIterator<Item = &'a PtpConfig>,
    undecodable: &'a [Undecodable],
) -> Changes {
    let mut desired: BTreeMap<ConfigKey, &PtpConfig> = configs.into_iter().map(|c| (ConfigKey::of(c), c)).collect();
    for u in undecodable {
        if let Some(last_good) = &u.last_good {
            desired.insert(u.key.clone(), last_good);
        }
    }
    let mut changes = Changes::default();
    let mut merge = |c: Changes| {
        changes.nodes.extend(c.nodes);
        changes.configs.extend(c.configs);
    };
    let gone: Vec<ConfigKey> = engine.config_keys().filter(|k| !desired.contains_key(*k)).cloned().collect();
    for key in gone {
        merge(engine.remove_config(&key));
    }
    for (key, config) in desired {
        let same = engine
            .config(&key)
            .is_some_and(|c| c.spec == config.spec && c.metadata.generation == config.metadata.generation);
        if !same {
            // Without its status: rendering does not read it, and at fleet size a status's match
            // list is as long as the PtpConfig's nodes.
            merge(engine.upsert_config(PtpConfig { status: None, ..config.clone() }));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use ptp_api::{MatchRule, PtpConfigSpec, PtpProfile, PtpRecommend};

    use super::*;
    use crate::render::{NodeChange, render};

    fn config(name: &str) -> PtpConfig {
        let mut c = PtpConfig::new(
            name,
            PtpConfigSpec {
                profile: vec![PtpProfile { ptp4l_opts: Some("-2".into()), ..PtpProfile::named("p") }],
                recommend: vec![PtpRecommend {
                    profile: "p".into(),
                    priority: 1,
                    r#match: Some(vec![MatchRule::node_label("ptp")]),
                }],
            },
        );
        c.metadata.namespace = Some("ns".into());
        c
    }

    #[test]
    fn a_relist_removes_the_nodes_it_did_not_list() {
        let mut engine = IncrementalRender::new();
        let mut feed = NodeFeed::default();
        for n in ["a", "b", "c"] {
            feed.apply(&mut engine, NodeDelta::Upsert(NodeInfo::new(n), format!("uid-{n}")));
        }
        feed.apply(&mut engine, NodeDelta::Relist);
        feed.apply(&mut engine, NodeDelta::Upsert(NodeInfo::new("a"), "uid-a2".into()));
        feed.apply(&mut engine, NodeDelta::Upsert(NodeInfo::new("d"), "uid-d".into()));
        let changes = feed.apply(&mut engine, NodeDelta::RelistDone);
        assert_eq!(changes.nodes, [("b".into(), NodeChange::Removed), ("c".into(), NodeChange::Removed)].into());
        let mut names: Vec<&str> = engine.nodes().map(|n| n.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["a", "d"]);
        assert_eq!((feed.uid("a"), feed.uid("b"), feed.uid("d")), (Some("uid-a2"), None, Some("uid-d")));
        assert!(feed.apply(&mut engine, NodeDelta::Remove("a".into())).nodes.contains_key("a"));
        assert_eq!(feed.uid("a"), None);
    }

    #[test]
    fn configs_sync_to_the_decoded_set_and_last_good_versions() {
        let mut engine = IncrementalRender::new();
        engine.upsert_node(NodeInfo::new("n").with_label("ptp", ""));
        let (a, b) = (config("a"), config("b"));
        let changes = sync_configs(&mut engine, &[a.clone(), b.clone()], &[]);
        assert_eq!(changes.configs.len(), 2);
        assert!(sync_configs(&mut engine, &[a.clone(), b.clone()], &[]).is_empty(), "nothing changed");
        // b stops decoding but its last good version stays rendered; a is deleted.
        let u = Undecodable {
            key: ConfigKey::of(&b),
            generation: Some(2),
            status: None,
            error: "spec: bad".into(),
            last_good: Some(b.clone()),
        };
        let changes = sync_configs(&mut engine, &[], std::slice::from_ref(&u));
        assert_eq!(changes.configs, [ConfigKey::of(&a)].into());
        assert_eq!(engine.output(), render([&b], &[NodeInfo::new("n").with_label("ptp", "")]));
        let without = Undecodable { last_good: None, ..u };
        sync_configs(&mut engine, &[], &[without]);
        assert_eq!(engine.config_keys().count(), 0);
    }
}
