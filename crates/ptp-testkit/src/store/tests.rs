use super::*;

fn store() -> Store {
    let mut s = Store::new(DEFAULT_HISTORY);
    for crd in ptp_api::crd::crds() {
        s.register_crd(&crd).unwrap();
    }
    s
}

fn t(s: &Store, group: &str, plural: &str) -> Arc<ResourceType> {
    s.registry().any_version(group, plural).unwrap()
}

fn cm(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

fn w() -> WriteOptions {
    WriteOptions::default()
}

fn ptp_config(name: &str, priority: i64) -> Value {
    json!({"apiVersion": "ptp.openshift.io/v1", "kind": "PtpConfig", "metadata": {"name": name},
        "spec": {"profile": [{"name": "a"}], "recommend": [{"profile": "a", "priority": priority}]}})
}

#[test]
fn create_sets_server_metadata_and_rejects_duplicates() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    let created = s.create(&c, "default", cm("a", json!({})), &w()).unwrap();
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(created["metadata"]["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created["metadata"]["resourceVersion"], s.resource_version().to_string());
    assert_eq!(created["metadata"].get("generation"), None, "ConfigMaps have no generation");
    let err = s.create(&c, "default", cm("a", json!({})), &w()).unwrap_err();
    assert_eq!(err.code(), 409);
    assert_eq!(err.reason(), "AlreadyExists");
}

#[test]
fn create_in_missing_namespace_is_404() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    let err = s.create(&c, "nope", cm("a", json!({})), &w()).unwrap_err();
    assert_eq!(err.code(), 404);
    assert!(err.to_string().contains("namespaces \"nope\""));
}

#[test]
fn generate_name_and_invalid_names() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    let created = s.create(&c, "default", json!({"metadata": {"generateName": "x-"}}), &w()).unwrap();
    let name = created["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("x-") && name.len() == 7, "{name}");
    let err = s.create(&c, "default", cm("Bad_Name", json!({})), &w()).unwrap_err();
    assert_eq!(err.code(), 422);
}

#[test]
fn stale_update_conflicts_and_noop_update_writes_nothing() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    let v1 = s.create(&c, "default", cm("a", json!({})), &w()).unwrap();
    let mut v2 = v1.clone();
    v2["data"]["k"] = json!("w");
    let (v2, _) = s.update(&c, "default", "a", v2, false, &w()).unwrap();
    assert_ne!(v1["metadata"]["resourceVersion"], v2["metadata"]["resourceVersion"]);
    let mut stale = v1.clone();
    stale["data"]["k"] = json!("x");
    assert_eq!(s.update(&c, "default", "a", stale, false, &w()).unwrap_err().code(), 409);
    let rv = s.resource_version();
    let (same, _) = s.update(&c, "default", "a", v2.clone(), false, &w()).unwrap();
    assert_eq!(s.resource_version(), rv, "a no-op update must not write");
    assert_eq!(same["metadata"]["resourceVersion"], v2["metadata"]["resourceVersion"]);
}

#[test]
fn generation_and_status_separation_for_custom_resources() {
    let mut s = store();
    let p = t(&s, "ptp.openshift.io", "ptpconfigs");
    s.create(&p, "default", ptp_config("c", 1), &w()).unwrap();
    let mut with_status = ptp_config("c", 1);
    with_status["status"] = json!({"nodeCount": 3});
    let (o, _) = s.update(&p, "default", "c", with_status.clone(), true, &w()).unwrap();
    assert_eq!(o["status"]["nodeCount"], 3);
    assert_eq!(o["metadata"]["generation"], 1, "status writes keep the generation");
    let mut spec_write = with_status;
    spec_write["spec"]["recommend"][0]["priority"] = json!(2);
    spec_write["status"]["nodeCount"] = json!(9);
    let (o, _) = s.update(&p, "default", "c", spec_write, false, &w()).unwrap();
    assert_eq!(o["metadata"]["generation"], 2);
    assert_eq!(o["status"]["nodeCount"], 3, "the main resource ignores status");
    let mut metadata_only = o.clone();
    metadata_only["metadata"]["labels"] = json!({"x": "y"});
    let (o, _) = s.update(&p, "default", "c", metadata_only, false, &w()).unwrap();
    assert_eq!(o["metadata"]["generation"], 2, "metadata changes keep the generation");
}

#[test]
fn custom_resources_are_admitted_without_validation() {
    let mut s = store();
    let p = t(&s, "ptp.openshift.io", "ptpconfigs");
    s.create(&p, "default", ptp_config("below-the-minimum", -1), &w()).unwrap();
    let mut status_on_create = ptp_config("ok", 0);
    status_on_create["status"] = json!({"nodeCount": 1});
    status_on_create["spec"]["unknown"] = json!(1);
    let created = s.create(&p, "default", status_on_create, &w()).unwrap();
    assert_eq!(created.get("status"), None, "status is dropped on create");
    assert_eq!(created["spec"]["unknown"], 1, "nothing is pruned");
    assert_eq!(created["metadata"]["generation"], 1);
}

#[test]
fn patches() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    s.create(&c, "default", cm("a", json!({"x": "1"})), &w()).unwrap();
    let (o, _) = s.patch(&c, "default", "a", PatchKind::Merge, &json!({"data": {"k2": "v2"}}), false, &w()).unwrap();
    assert_eq!(o["data"], json!({"k": "v", "k2": "v2"}));
    let (o, _) = s
        .patch(
            &c,
            "default",
            "a",
            PatchKind::Json,
            &json!([{"op": "replace", "path": "/data/k", "value": "z"}]),
            false,
            &w(),
        )
        .unwrap();
    assert_eq!(o["data"]["k"], "z");
    let stale = json!({"metadata": {"resourceVersion": "1"}, "data": {"k": "q"}});
    assert_eq!(s.patch(&c, "default", "a", PatchKind::Merge, &stale, false, &w()).unwrap_err().code(), 409);
    let apply = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"a": "1"}});
    assert_eq!(
        s.patch(&c, "default", "b", PatchKind::Apply, &apply, false, &w()).unwrap_err().code(),
        400,
        "fieldManager"
    );
    let mgr = WriteOptions { field_manager: Some("t".into()), ..w() };
    let (o, created) = s.patch(&c, "default", "b", PatchKind::Apply, &apply, false, &mgr).unwrap();
    assert!(created);
    assert_eq!(o["data"]["a"], "1");
    assert_eq!(s.patch(&c, "default", "zz", PatchKind::Merge, &json!({}), false, &w()).unwrap_err().code(), 404);
    let p = t(&s, "ptp.openshift.io", "ptpconfigs");
    s.create(&p, "default", ptp_config("c", 1), &w()).unwrap();
    let err = s.patch(&p, "default", "c", PatchKind::StrategicMerge, &json!({}), false, &w()).unwrap_err();
    assert_eq!(err.code(), 415);
}

#[test]
fn list_selectors_and_pages() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    for i in 0..5 {
        s.create(
            &c,
            "default",
            cm(&format!("c{i}"), json!({"i": i.to_string(), "even": (i % 2 == 0).to_string()})),
            &w(),
        )
        .unwrap();
    }
    let names = |r: &ListResult| {
        r.items.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let opts = |l: &str| ListOptions { labels: LabelSelector::parse(l).unwrap(), ..Default::default() };
    assert_eq!(names(&s.list(&c, Some("default"), &opts("even=true")).unwrap()), ["c0", "c2", "c4"]);
    assert_eq!(names(&s.list(&c, None, &opts("i in (1,3)")).unwrap()), ["c1", "c3"]);
    let page1 = s.list(&c, Some("default"), &ListOptions { limit: Some(2), ..Default::default() }).unwrap();
    assert_eq!(names(&page1), ["c0", "c1"]);
    assert_eq!(page1.remaining_item_count, Some(3));
    let page2 = s
        .list(
            &c,
            Some("default"),
            &ListOptions { limit: Some(2), continue_token: page1.continue_token.clone(), ..Default::default() },
        )
        .unwrap();
    assert_eq!(names(&page2), ["c2", "c3"]);
    let page3 = s
        .list(
            &c,
            Some("default"),
            &ListOptions { limit: Some(2), continue_token: page2.continue_token.clone(), ..Default::default() },
        )
        .unwrap();
    assert_eq!(names(&page3), ["c4"]);
    assert_eq!(page3.continue_token, None);
}

#[test]
fn finalizers_delay_deletion_until_removed() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    let mut o = cm("f", json!({}));
    o["metadata"]["finalizers"] = json!(["x/y"]);
    s.create(&c, "default", o, &w()).unwrap();
    let marked = s.delete(&c, "default", "f", &DeleteOptions::default()).unwrap();
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert!(s.get(&c, "default", "f").is_ok());
    s.patch(&c, "default", "f", PatchKind::Merge, &json!({"metadata": {"finalizers": null}}), false, &w()).unwrap();
    assert_eq!(s.get(&c, "default", "f").unwrap_err().code(), 404);
}

fn drain(rx: &mut mpsc::UnboundedReceiver<WatchItem>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(item) = rx.try_recv() {
        out.push(match item {
            WatchItem::Event(t, o) => format!("{}:{}", t.as_str(), o["metadata"]["name"].as_str().unwrap_or_default()),
            WatchItem::Bookmark { initial_events_end, .. } => format!("BOOKMARK:{initial_events_end}"),
            WatchItem::Error(s) => format!("ERROR:{}", s["code"]),
        });
    }
    out
}

#[test]
fn watch_from_state_from_version_and_expired() {
    let mut s = Store::new(4);
    let c = t(&s, "", "configmaps");
    s.create(&c, "default", cm("a", json!({})), &w()).unwrap();
    let rv_after_a = s.resource_version();
    let mut initial = s
        .watch(&c, Some("default"), &WatchOptions { send_initial_events: true, bookmarks: true, ..Default::default() })
        .unwrap();
    assert_eq!(drain(&mut initial), ["ADDED:a", "BOOKMARK:true"]);
    s.create(&c, "default", cm("b", json!({})), &w()).unwrap();
    assert_eq!(drain(&mut initial), ["ADDED:b"]);
    let mut resumed = s
        .watch(&c, None, &WatchOptions { resource_version: Some(rv_after_a.to_string()), ..Default::default() })
        .unwrap();
    assert_eq!(drain(&mut resumed), ["ADDED:b"]);
    for i in 0..6 {
        s.create(&c, "default", cm(&format!("x{i}"), json!({})), &w()).unwrap();
    }
    let mut expired = s
        .watch(&c, None, &WatchOptions { resource_version: Some(rv_after_a.to_string()), ..Default::default() })
        .unwrap();
    assert_eq!(drain(&mut expired), ["ERROR:410"]);
    assert_eq!(s.drop_watches(), 2);
    assert_eq!(drain(&mut initial).len(), 6);
    assert!(matches!(initial.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
}

#[test]
fn watch_with_selector_sees_transitions() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    let mut rx = s
        .watch(&c, None, &WatchOptions { labels: LabelSelector::parse("app=x").unwrap(), ..Default::default() })
        .unwrap();
    s.create(&c, "default", cm("a", json!({"app": "y"})), &w()).unwrap();
    s.patch(&c, "default", "a", PatchKind::Merge, &json!({"metadata": {"labels": {"app": "x"}}}), false, &w()).unwrap();
    s.patch(&c, "default", "a", PatchKind::Merge, &json!({"data": {"z": "1"}}), false, &w()).unwrap();
    s.patch(&c, "default", "a", PatchKind::Merge, &json!({"metadata": {"labels": {"app": "q"}}}), false, &w()).unwrap();
    assert_eq!(drain(&mut rx), ["ADDED:a", "MODIFIED:a", "DELETED:a"]);
}

#[test]
fn crds_posted_as_objects_are_served() {
    let mut s = Store::new(DEFAULT_HISTORY);
    assert!(s.registry().any_version("ptp.openshift.io", "ptpconfigs").is_none());
    let crd_t = t(&s, "apiextensions.k8s.io", "customresourcedefinitions");
    let crd = serde_json::to_value(&ptp_api::crd::crds()[0]).unwrap();
    s.create(&crd_t, "", crd, &w()).unwrap();
    assert!(s.registry().any_version("ptp.openshift.io", "ptpconfigs").is_some());
}

#[test]
fn thousand_creates_in_the_store_with_a_watch() {
    let mut s = store();
    let c = t(&s, "", "configmaps");
    let mut rx = s.watch(&c, None, &WatchOptions::default()).unwrap();
    let started = std::time::Instant::now();
    for i in 0..1000 {
        s.create(&c, "default", cm(&format!("c{i:04}"), json!({"i": i.to_string()})), &w()).unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(drain(&mut rx).len(), 1000);
    println!("store: 1000 creates with one watch in {elapsed:?}");
}
