//! The API double through a real `kube::Client`: CRUD, conflicts, status, generation,
//! finalizers, selectors, paging, apply, events, CRD registration. (It admits custom resources
//! without validation and collects no garbage: the real server's admission and garbage collector
//! are tested against the real server.)

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use kube::{Resource, ResourceExt};
use ptp_api::{PtpConfig, PtpConfigStatus, PtpProfile};
use ptp_testkit::ApiServer;
use ptp_testkit::fixtures;
use serde_json::json;

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..Default::default()
    }
}

fn ptp_config(name: &str, profiles: &[&str], priority: i64) -> PtpConfig {
    let config = profiles.iter().fold(fixtures::ptp_config(name), |c, p| c.profile(PtpProfile::named(*p)));
    config.recommend_everywhere(profiles[0], priority).build()
}

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_get_list_over_http_and_from_the_kubeconfig() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let created = api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let via_kubeconfig: Api<ConfigMap> = Api::default_namespaced(server.kubeconfig_client().await.unwrap());
    assert_eq!(via_kubeconfig.get("a").await.unwrap().data, created.data);
    let in_process: Api<ConfigMap> = Api::default_namespaced(server.in_process_client());
    assert_eq!(in_process.list(&ListParams::default()).await.unwrap().items.len(), 1);
    let err = api_err(api.create(&PostParams::default(), &cm("a", &[])).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    let err = api_err(api.get("missing").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert!(std::fs::read_to_string(server.kubeconfig_path()).unwrap().contains(&server.url()));
}

#[tokio::test]
async fn stale_update_is_409_and_fresh_update_succeeds() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let v1 = api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    let mut v2 = v1.clone();
    v2.data = Some(BTreeMap::from([("k".into(), "w".into())]));
    let v2 = api.replace("a", &PostParams::default(), &v2).await.unwrap();
    assert_ne!(v1.resource_version(), v2.resource_version());
    let err = api_err(api.replace("a", &PostParams::default(), &v1).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(api.get("a").await.unwrap().data.unwrap()["k"], "w");
}

#[tokio::test]
async fn status_is_separate_and_generation_tracks_spec_only() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<PtpConfig> = Api::default_namespaced(server.client().unwrap());
    let mut with_status = ptp_config("c", &["a"], 0);
    with_status.status = Some(PtpConfigStatus { node_count: Some(7), ..Default::default() });
    let created = api.create(&PostParams::default(), &with_status).await.unwrap();
    assert_eq!(created.status, None, "status is ignored on create");
    assert_eq!(created.metadata.generation, Some(1));

    let status = json!({"status": {"nodeCount": 3, "matchList": [], "conditions": []}});
    let after_status = api.patch_status("c", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(after_status.status.as_ref().unwrap().node_count, Some(3));
    assert_eq!(after_status.metadata.generation, Some(1), "status writes keep the generation");

    let mut spec_write = after_status.clone();
    spec_write.spec.recommend[0].priority = 5;
    spec_write.status.as_mut().unwrap().node_count = Some(99);
    let after_spec = api.replace("c", &PostParams::default(), &spec_write).await.unwrap();
    assert_eq!(after_spec.metadata.generation, Some(2));
    assert_eq!(after_spec.status.unwrap().node_count, Some(3), "the main resource ignores status");

    let labels = json!({"metadata": {"labels": {"x": "y"}}});
    let after_labels = api.patch("c", &PatchParams::default(), &Patch::Merge(&labels)).await.unwrap();
    assert_eq!(after_labels.metadata.generation, Some(2), "metadata changes keep the generation");

    let mut status_with_spec = after_labels.clone();
    status_with_spec.spec.recommend[0].priority = 9;
    status_with_spec.status = Some(PtpConfigStatus { node_count: Some(4), ..Default::default() });
    let after = api.replace_status("c", &PostParams::default(), &status_with_spec).await.unwrap();
    assert_eq!(after.spec.recommend[0].priority, 5, "status writes ignore spec");
    assert_eq!(after.status.unwrap().node_count, Some(4));
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let mut object = cm("f", &[]);
    object.metadata.finalizers = Some(vec!["ptp.openshift.io/test".into()]);
    api.create(&PostParams::default(), &object).await.unwrap();
    api.delete("f", &DeleteParams::default()).await.unwrap();
    assert!(api.get("f").await.unwrap().metadata.deletion_timestamp.is_some());
    let remove = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "ptp.openshift.io/test"}, {"op": "remove", "path": "/metadata/finalizers/0"}]);
    api.patch("f", &PatchParams::default(), &Patch::<()>::Json(serde_json::from_value(remove).unwrap())).await.unwrap();
    assert_eq!(api_err(api.get("f").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn label_and_field_selectors() {
    let server = ApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    for (name, labels) in [
        ("a", vec![("app", "ptp"), ("tier", "agent")]),
        ("b", vec![("app", "ptp")]),
        ("c", vec![("app", "other")]),
        ("d", vec![]),
    ] {
        api.create(&PostParams::default(), &cm(name, &labels)).await.unwrap();
    }
    let names = |l: Vec<ConfigMap>| l.iter().map(ResourceExt::name_any).collect::<Vec<_>>();
    let select = |s: &str| ListParams::default().labels(s);
    assert_eq!(names(api.list(&select("app=ptp")).await.unwrap().items), ["a", "b"]);
    assert_eq!(names(api.list(&select("app!=ptp")).await.unwrap().items), ["c", "d"]);
    assert_eq!(names(api.list(&select("app in (other,x)")).await.unwrap().items), ["c"]);
    assert_eq!(names(api.list(&select("app notin (ptp)")).await.unwrap().items), ["c", "d"]);
    assert_eq!(names(api.list(&select("tier")).await.unwrap().items), ["a"]);
    assert_eq!(names(api.list(&select("!app")).await.unwrap().items), ["d"]);
    assert_eq!(names(api.list(&select("app=ptp,!tier")).await.unwrap().items), ["b"]);
    assert_eq!(names(api.list(&ListParams::default().fields("metadata.name=c")).await.unwrap().items), ["c"]);
    let kube_system: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    kube_system.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    let all: Api<ConfigMap> = Api::all(client);
    assert_eq!(all.list(&ListParams::default()).await.unwrap().items.len(), 5);
    assert_eq!(all.list(&ListParams::default().fields("metadata.namespace=kube-system")).await.unwrap().items.len(), 1);
    let err = api_err(api.list(&select("app in ptp")).await.unwrap_err());
    assert_eq!(err.code, 400);
}

#[tokio::test]
async fn limit_and_continue_page_through_a_list() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    for i in 0..7 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), &[])).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(3);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(ResourceExt::name_any));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (0..7).map(|i| format!("c{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn server_side_apply_creates_then_merges_and_needs_a_field_manager() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let apply = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"a": "1"}});
    let created = api.patch("s", &PatchParams::apply("test").force(), &Patch::Apply(&apply)).await.unwrap();
    assert_eq!(created.data.unwrap()["a"], "1");
    let apply2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"b": "2"}});
    let merged = api.patch("s", &PatchParams::apply("test"), &Patch::Apply(&apply2)).await.unwrap();
    assert_eq!(merged.data.unwrap().len(), 2, "documented gap: no field ownership, so `a` stays");
    let err = api_err(api.patch("s", &PatchParams::default(), &Patch::Apply(&apply2)).await.unwrap_err());
    assert_eq!(err.code, 400);
}

#[tokio::test]
async fn namespaces_nodes_and_discovery() {
    let server = ApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> =
        namespaces.list(&ListParams::default()).await.unwrap().items.iter().map(ResourceExt::name_any).collect();
    assert!(names.contains(&"default".to_string()) && names.contains(&"kube-system".to_string()));
    let in_missing: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
    assert_eq!(api_err(in_missing.create(&PostParams::default(), &cm("a", &[])).await.unwrap_err()).code, 404);
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let (resource, caps) = discovery
        .groups()
        .find(|g| g.name() == "ptp.openshift.io")
        .and_then(|g| g.recommended_kind("PtpConfig"))
        .expect("PtpConfig discovered");
    assert_eq!(resource.plural, "ptpconfigs");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(
        caps.subresources.iter().any(|(r, _)| r.plural == "ptpconfigs/status" || r.plural == "status"),
        "{:?}",
        caps.subresources.iter().map(|s| &s.0.plural).collect::<Vec<_>>()
    );
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn kube_runtime_event_recorder_publishes_and_patches_a_series() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let server = ApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let configs: Api<PtpConfig> = Api::default_namespaced(client.clone());
    let config = configs.create(&PostParams::default(), &ptp_config("c", &["a"], 0)).await.unwrap();
    let recorder = Recorder::new(client.clone(), Reporter { controller: "ptp-operator".into(), instance: None });
    let event = Event {
        type_: EventType::Normal,
        reason: "Applied".into(),
        note: Some("profiles applied".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &config.object_ref(&())).await.unwrap();
    recorder.publish(&event, &config.object_ref(&())).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(client);
    let list = events.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reason.as_deref(), Some("Applied"));
    assert_eq!(list[0].series.as_ref().map(|s| s.count), Some(2), "the repeat is patched into a series");
    assert_eq!(server.requests().count(ptp_testkit::Verb::Create, "events"), 1);
    assert_eq!(server.requests().count(ptp_testkit::Verb::Patch, "events"), 1);
}

#[tokio::test]
async fn crds_can_be_registered_over_the_api() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let server = ApiServer::builder().without_ptp_crds().start().await.unwrap();
    let client = server.client().unwrap();
    let configs: Api<PtpConfig> = Api::default_namespaced(client.clone());
    assert_eq!(api_err(configs.list(&ListParams::default()).await.unwrap_err()).code, 404);
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    for crd in ptp_api::crd::crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    configs.create(&PostParams::default(), &ptp_config("c", &["a"], 0)).await.unwrap();
    assert_eq!(configs.list(&ListParams::default()).await.unwrap().items.len(), 1);
}
