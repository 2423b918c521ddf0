use k8s_openapi::jiff::Timestamp;
use ptp_api::{MatchRule, PtpConfigSpec, PtpProfile, PtpRecommend};

use super::*;

fn now(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

fn config(name: &str, profile: &str, recommend_profile: &str, label: &str) -> PtpConfig {
    let mut c = PtpConfig::new(
        name,
        PtpConfigSpec {
            profile: vec![PtpProfile { ptp4l_opts: Some("-2".into()), ..PtpProfile::named(profile) }],
            recommend: vec![PtpRecommend {
                profile: recommend_profile.into(),
                priority: 4,
                r#match: Some(vec![MatchRule::node_label(label)]),
            }],
        },
    );
    c.metadata.namespace = Some("openshift-ptp".into());
    c.metadata.generation = Some(1);
    c
}

fn linux(name: &str) -> NodeInfo {
    NodeInfo::new(name).with_label("kubernetes.io/os", "linux")
}

fn snapshot() -> ClusterView {
    ClusterView {
        configs: vec![Arc::new(config("oc", "p", "p", "ptp"))],
        nodes: vec![
            linux("w0").with_label("ptp", ""),
            linux("w1"),
            NodeInfo::new("win").with_label("kubernetes.io/os", "windows"),
        ],
        configmap_data: None,
        devices: BTreeSet::new(),
        agent_selector: LabelSelector::parse("kubernetes.io/os=linux").unwrap(),
        undecodable: vec![],
        configmap_name: "ptp-configmap".into(),
        configmap_off: false,
    }
}

/// What the cluster looks like after the plan's writes succeeded.
fn applied(mut s: ClusterView, plan: &Plan) -> ClusterView {
    match &plan.configmap {
        ConfigMapAction::Create(d) | ConfigMapAction::Update(d) => s.configmap_data = Some(d.clone()),
        ConfigMapAction::Keep => {}
    }
    for (key, status) in &plan.statuses {
        match s.configs.iter_mut().find(|c| ConfigKey::of(c) == *key) {
            Some(c) => Arc::make_mut(c).status = Some(status.clone()),
            None => s.undecodable.iter_mut().find(|u| u.key == *key).unwrap().status = Some(status.clone()),
        }
    }
    s.devices.extend(plan.create_devices.iter().cloned());
    for d in &plan.delete_devices {
        s.devices.remove(d);
    }
    s
}

#[test]
fn first_reconcile_creates_everything_and_the_next_writes_nothing() {
    let s = snapshot();
    let first = plan(&s, &now(100));
    let ConfigMapAction::Create(data) = &first.configmap else { panic!("expected create, got {:?}", first.configmap) };
    assert_eq!(data.keys().collect::<Vec<_>>(), ["w0", "w1", "win"]);
    assert_eq!(data["w1"], "[]");
    assert_eq!(first.create_devices, vec!["w0", "w1"], "windows node gets no NodePtpDevice");
    assert_eq!(first.statuses.len(), 1);
    let status = &first.statuses[0].1;
    assert_eq!(status.node_count, Some(1));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        status.conditions.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(),
        ["Valid", "ProfileReferenceValid", "Applied"]
    );
    assert_eq!(first.events.len(), 1);
    assert_eq!(first.events[0].reason, "NodesChanged");
    assert_eq!(first.events[0].note, "now applies to 1 node; added: w0");

    let s = applied(s, &first);
    let second = plan(&s, &now(200));
    assert_eq!(second.writes(), 0, "resync without change: {:?} {:?}", second.configmap, second.statuses);
    assert!(second.events.is_empty());
}

#[test]
fn label_change_rerenders_and_reports_the_node_set() {
    let mut s = snapshot();
    s = applied(s.clone(), &plan(&s, &now(1)));
    s.nodes[1].labels.insert("ptp".into(), "".into());
    let p = plan(&s, &now(2));
    let ConfigMapAction::Update(data) = &p.configmap else { panic!("expected update") };
    assert!(data["w1"].contains("oc_p"));
    assert_eq!(p.statuses[0].1.node_count, Some(2));
    assert_eq!(p.events.iter().map(|e| e.note.as_str()).collect::<Vec<_>>(), ["now applies to 2 nodes; added: w1"]);
    // lastTransitionTime is kept: Applied stayed True.
    let applied_cond = p.statuses[0].1.conditions.iter().find(|c| c.type_ == "Applied").unwrap();
    assert_eq!(applied_cond.last_transition_time, now(1));
    assert_eq!(applied_cond.message, "applied to 2 nodes");
}

#[test]
fn node_delete_removes_key_and_device() {
    let mut s = snapshot();
    s = applied(s.clone(), &plan(&s, &now(1)));
    s.nodes.retain(|n| n.name != "w0");
    let p = plan(&s, &now(2));
    let ConfigMapAction::Update(data) = &p.configmap else { panic!("expected update") };
    assert!(!data.contains_key("w0"));
    assert_eq!(p.delete_devices, vec!["w0"]);
    assert!(p.create_devices.is_empty());
    assert!(p.events.iter().any(|e| e.note.contains("removed: w0")));
}

#[test]
fn invalid_config_warns_once_and_recovery_is_reported() {
    let mut s = snapshot();
    s.configs.push(Arc::new(config("broken", "p", "typo", "ptp")));
    let p = plan(&s, &now(1));
    let warning: Vec<_> = p.events.iter().filter(|e| e.warning).collect();
    assert_eq!(warning.len(), 1);
    assert_eq!(warning[0].config.name, "broken");
    assert_eq!(warning[0].reason, "UnknownProfile");
    // The other PtpConfig is unaffected.
    let ConfigMapAction::Create(data) = &p.configmap else { panic!() };
    assert!(data["w0"].contains("oc_p"));

    let s2 = applied(s.clone(), &p);
    assert!(plan(&s2, &now(2)).events.iter().all(|e| !e.warning), "no repeated warning");

    let mut fixed = s2.clone();
    Arc::make_mut(&mut fixed.configs[1]).spec.recommend[0].profile = "p".into();
    Arc::make_mut(&mut fixed.configs[1]).metadata.generation = Some(2);
    let p = plan(&fixed, &now(3));
    let restored: Vec<_> = p.events.iter().filter(|e| e.reason == "ValidRestored").collect();
    assert_eq!(restored.len(), 1);
    let (_, status) = p.statuses.iter().find(|(k, _)| k.name == "broken").unwrap();
    let valid = status.conditions.iter().find(|c| c.type_ == "Valid").unwrap();
    assert_eq!((valid.status.as_str(), valid.last_transition_time.clone()), ("True", now(3)));
    assert_eq!(status.observed_generation, Some(2));
}

#[test]
fn oversize_configmap_sets_a_condition_and_event_and_clears_them() {
    let mut s = snapshot();
    let big = "x".repeat(1000);
    Arc::make_mut(&mut s.configs[0]).spec.profile[0].ptp4l_conf = Some(format!("[global]\n# {big}\n"));
    for i in 0..1000 {
        s.nodes.push(linux(&format!("node-{i:04}")).with_label("ptp", ""));
    }
    let p = plan(&s, &now(1));
    assert!(p.data_bytes > CONFIGMAP_WARN_BYTES);
    let status = &p.statuses[0].1;
    let c = status.conditions.iter().find(|c| c.type_ == CONDITION_CONFIGMAP_WITHIN_LIMIT).unwrap();
    assert_eq!(c.status, "False");
    assert_eq!(c.reason, "OverSizeLimit");
    let bytes = p.data_bytes;
    assert!(bytes > 1024 * 1024, "{bytes}");
    assert!(c.message.starts_with("ptp-configmap is about 1."), "{}", c.message);
    assert!(
        c.message.contains("for about 1,000 nodes, over the 1 MiB (1,048,576 bytes) object limit"),
        "{}",
        c.message
    );
    let event = p.events.iter().find(|e| e.warning && e.reason == "OverSizeLimit").expect("event");
    assert_eq!(event.note, c.message);
    // The server would refuse it: nothing is written (the stored version stays for every node).
    assert_eq!(p.configmap, ConfigMapAction::Keep);
    let mut first = s.clone();
    first.configmap_data = None;
    assert_eq!(plan(&first, &now(1)).configmap, ConfigMapAction::Keep, "not created either");

    // Between the threshold and the limit: near, not over.
    let mut near = s.clone();
    near.nodes.truncate(3 + 900);
    let p_near = plan(&near, &now(1));
    let c = p_near.statuses[0].1.conditions.iter().find(|c| c.type_ == CONDITION_CONFIGMAP_WITHIN_LIMIT).unwrap();
    assert_eq!(c.reason, "NearSizeLimit", "{} bytes", p_near.data_bytes);
    assert!(c.message.contains("above the 900 KiB (921,600 bytes) warning threshold"), "{}", c.message);

    let mut s = applied(s, &p);
    s.nodes.truncate(3);
    let p = plan(&s, &now(2));
    assert!(p.statuses[0].1.conditions.iter().all(|c| c.type_ != CONDITION_CONFIGMAP_WITHIN_LIMIT));
    assert!(p.events.iter().any(|e| e.reason == "ConfigMapWithinLimitRestored"));
}

/// `--write-configmap=false`: no ConfigMap write of any kind and no size condition, however
/// big the fleet; statuses and devices as usual.
#[test]
fn with_the_configmap_off_nothing_is_written_to_it_and_no_size_is_reported() {
    let mut s = snapshot();
    s.configmap_off = true;
    let p = plan(&s, &now(1));
    assert_eq!(p.configmap, ConfigMapAction::Keep, "not created");
    assert!(!p.statuses.is_empty() && !p.create_devices.is_empty(), "the rest is planned as usual");
    let mut stale = applied(s.clone(), &p);
    stale.configmap_data = Some(BTreeMap::from([("node-x".to_string(), "[]".to_string())]));
    assert_eq!(plan(&stale, &now(2)).configmap, ConfigMapAction::Keep, "not updated");
    let big = "x".repeat(1000);
    Arc::make_mut(&mut s.configs[0]).spec.profile[0].ptp4l_conf = Some(format!("[global]\n# {big}\n"));
    for i in 0..1000 {
        s.nodes.push(linux(&format!("node-{i:04}")).with_label("ptp", ""));
    }
    let p = plan(&s, &now(3));
    assert!(p.data_bytes > 1024 * 1024);
    assert!(p.statuses.iter().all(|(_, st)| st.conditions.iter().all(|c| c.type_ != CONDITION_CONFIGMAP_WITHIN_LIMIT)));
    assert!(p.events.iter().all(|e| e.reason != "OverSizeLimit"));
}

#[test]
fn drifted_configmap_and_deleted_device_are_repaired() {
    let mut s = snapshot();
    s = applied(s.clone(), &plan(&s, &now(1)));
    s.configmap_data.as_mut().unwrap().insert("w0".into(), "[]".into());
    s.devices.remove("w1");
    let p = plan(&s, &now(2));
    assert!(matches!(p.configmap, ConfigMapAction::Update(_)));
    assert_eq!(p.create_devices, vec!["w1"]);
    assert!(p.statuses.is_empty());
}

fn undecodable(name: &str, last_good: Option<PtpConfig>) -> Undecodable {
    Undecodable {
        key: ConfigKey { name: name.into(), namespace: "openshift-ptp".into() },
        generation: Some(2),
        status: None,
        error:
            "spec.profile[0].ptpSchedulingPolicy: unknown variant `SCHED_RR`, expected `SCHED_OTHER` or `SCHED_FIFO`"
                .into(),
        last_good,
    }
}

#[test]
fn undecodable_config_keeps_its_last_good_version_rendered_and_is_flagged() {
    let mut s = snapshot();
    s.undecodable.push(undecodable("rr", Some(config("rr", "q", "q", "ptp"))));
    let p = plan(&s, &now(1));
    let ConfigMapAction::Create(data) = &p.configmap else { panic!() };
    assert!(data["w0"].contains("oc_p") && data["w0"].contains("rr_q"), "{}", data["w0"]);
    let (_, status) = p.statuses.iter().find(|(k, _)| k.name == "rr").expect("status written");
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(status.node_count, Some(1));
    let valid = status.conditions.iter().find(|c| c.type_ == "Valid").unwrap();
    assert_eq!((valid.status.as_str(), valid.reason.as_str()), ("False", "DecodeError"));
    assert!(
        valid.message.contains("spec.profile[0].ptpSchedulingPolicy: unknown variant `SCHED_RR`"),
        "{}",
        valid.message
    );
    assert!(valid.message.contains("keep the profiles of generation 1"), "{}", valid.message);
    let applied_cond = status.conditions.iter().find(|c| c.type_ == "Applied").unwrap();
    assert_eq!(applied_cond.message, "applied to 1 node (generation 1, the last decodable version)");
    let warning: Vec<_> = p.events.iter().filter(|e| e.warning).collect();
    assert_eq!(warning.len(), 1);
    assert_eq!((warning[0].config.name.as_str(), warning[0].reason.as_str()), ("rr", "DecodeError"));

    let s = applied(s, &p);
    let again = plan(&s, &now(2));
    assert_eq!(again.writes(), 0, "{:?}", again.statuses);
    assert!(again.events.is_empty());
}

#[test]
fn undecodable_config_without_a_good_version_is_left_out() {
    let mut s = snapshot();
    s = applied(s.clone(), &plan(&s, &now(1)));
    s.undecodable.push(undecodable("rr", None));
    let p = plan(&s, &now(2));
    assert_eq!(p.configmap, ConfigMapAction::Keep, "the others render as before");
    let (_, status) = p.statuses.iter().find(|(k, _)| k.name == "rr").expect("status written");
    assert_eq!((status.node_count, status.match_list.len()), (Some(0), 0));
    let types: Vec<_> =
        status.conditions.iter().map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str())).collect();
    assert_eq!(types, [("Valid", "False", "DecodeError"), ("Applied", "False", "DecodeError")]);
    assert!(status.conditions[0].message.contains("left out of the ConfigMap"), "{}", status.conditions[0].message);
    assert!(p.events.iter().any(|e| e.warning && e.reason == "DecodeError" && e.config.name == "rr"));
}

/// The engine the controller would hold for this snapshot.
fn engine_of(s: &ClusterView) -> IncrementalRender {
    IncrementalRender::build(s.configs.iter().map(|c| (**c).clone()), s.nodes.iter().cloned())
}

#[test]
fn only_what_is_dirty_is_planned() {
    let mut s = snapshot();
    s.configs.push(Arc::new(config("other", "q", "q", "ptp")));
    let s = applied(s.clone(), &plan(&s, &now(100)));
    let mut engine = engine_of(&s);
    // A label change reaches w1: its value and both match lists change.
    let changes = engine.upsert_node(linux("w1").with_label("ptp", ""));
    let mut dirty = Dirty::default();
    assert!(dirty.is_clean());
    assert_eq!(plan_from(&s, &engine, &dirty, None, &now(200)).writes(), 0, "nothing dirty, nothing looked at");
    dirty.absorb(changes);
    dirty.configs.retain(|k| k.name == "oc");
    let p = plan_from(&s, &engine, &dirty, None, &now(200));
    assert!(matches!(p.configmap, ConfigMapAction::Update(_)));
    assert_eq!(p.statuses.iter().map(|(k, _)| k.name.as_str()).collect::<Vec<_>>(), ["oc"], "only the dirty one");
    assert!(p.create_devices.is_empty() && p.delete_devices.is_empty(), "devices not dirty");
    // Everything dirty: the other status too, and the plan equals the full one.
    let all = plan_from(&s, &engine, &Dirty::all(), None, &now(200));
    assert_eq!(all.statuses.len(), 2);
    let mut full = s.clone();
    full.nodes[1] = linux("w1").with_label("ptp", "");
    assert_eq!(all.configmap, plan(&full, &now(200)).configmap);
}

#[test]
fn a_node_event_looks_at_that_node_s_device_only() {
    let s = snapshot();
    let mut s = applied(s.clone(), &plan(&s, &now(100)));
    s.devices.remove("w0"); // drift the node event does not concern: left to the next full pass
    let mut engine = engine_of(&s);
    engine.upsert_node(linux("w2"));
    engine.upsert_node(NodeInfo::new("w1").with_label("kubernetes.io/os", "windows"));
    let dirty = Dirty { nodes: ["w1".to_string(), "w2".to_string()].into(), ..Default::default() };
    let p = plan_from(&s, &engine, &dirty, None, &now(200));
    assert_eq!(p.create_devices, ["w2"], "the new agent node only, not w0");
    assert_eq!(p.delete_devices, ["w1"], "no longer selected");
    engine.remove_node("w2");
    let p = plan_from(&s, &engine, &Dirty { nodes: ["w2".to_string()].into(), ..Default::default() }, None, &now(300));
    assert!(p.create_devices.is_empty() && p.delete_devices.is_empty(), "gone before its device was made");
    let full = plan_from(&s, &engine, &Dirty { devices: true, ..Default::default() }, None, &now(300));
    assert_eq!(full.create_devices, ["w0"]);
}

#[test]
fn a_size_condition_change_plans_every_status() {
    let s = snapshot();
    let mut s = applied(s.clone(), &plan(&s, &now(100)));
    // The stored status still says the ConfigMap was near the limit.
    let status = Arc::make_mut(&mut s.configs[0]).status.as_mut().unwrap();
    status.conditions.push(Condition {
        type_: CONDITION_CONFIGMAP_WITHIN_LIMIT.into(),
        status: "False".into(),
        reason: "NearSizeLimit".into(),
        message: "was near".into(),
        last_transition_time: now(100),
        observed_generation: Some(1),
    });
    let engine = engine_of(&s);
    let previous = DesiredCondition {
        type_: CONDITION_CONFIGMAP_WITHIN_LIMIT,
        status: false,
        reason: "NearSizeLimit".into(),
        message: "was near".into(),
    };
    assert_eq!(plan_from(&s, &engine, &Dirty::default(), None, &now(200)).writes(), 0, "same size condition");
    let p = plan_from(&s, &engine, &Dirty::default(), Some(&previous), &now(200));
    assert_eq!(p.statuses.len(), 1, "the condition is dropped from every PtpConfig");
    assert!(p.statuses[0].1.conditions.iter().all(|c| c.type_ != CONDITION_CONFIGMAP_WITHIN_LIMIT));
    assert!(p.size_condition.is_none());
}
