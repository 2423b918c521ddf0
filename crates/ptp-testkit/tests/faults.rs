//! Fault injection, request counters and wait helpers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use kube::runtime::{reflector, watcher};
use ptp_testkit::{ApiServer, Verb};
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..Default::default()
    }
}

fn code(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn next_n_requests_fail_with_the_given_status() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    server.faults().fail_next(2, "configmaps", 500);
    assert_eq!(code(api.create(&PostParams::default(), &cm("a")).await.unwrap_err()), 500);
    assert_eq!(code(api.list(&ListParams::default()).await.unwrap_err()), 500);
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    // kube's client retries 503 by itself: two injected 503s cost two extra requests.
    server.requests().reset();
    server.faults().fail_next(2, "configmaps", 503);
    api.get("a").await.unwrap();
    assert_eq!(server.requests().count(Verb::Get, "configmaps"), 3);
    server.faults().fail_next_verb(1, Verb::Patch, "configmaps", 500);
    api.get("a").await.unwrap();
    let patch = json!({"data": {"x": "y"}});
    assert_eq!(code(api.patch("a", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap_err()), 500);
    api.patch("a", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(server.faults().pending(), 0);
}

#[tokio::test]
async fn watcher_recovers_from_failing_watch_requests() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let (reader, writer) = reflector::store::<ConfigMap>();
    // No backoff: the watcher retries at once, so the test is quick.
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()));
    let task = tokio::spawn(stream.for_each(|_| async {}));
    reader.wait_until_ready().await.unwrap();
    server.wait_for(Duration::from_secs(5), "a watch", |s| s.watch_count() > 0).await.unwrap();
    server.faults().fail_next_verb(3, Verb::Watch, "configmaps", 500);
    server.drop_watches();
    api.create(&PostParams::default(), &cm("late")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while reader.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("watcher recovered");
    assert_eq!(server.faults().pending(), 0, "the watcher retried through the faults");
    task.abort();
}

#[tokio::test]
async fn latency_is_added() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<Lease> = Api::default_namespaced(server.client().unwrap());
    server.faults().set_latency_for("leases", Duration::from_millis(200));
    let started = Instant::now();
    let _ = api.get_opt("x").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    server.faults().clear();
    let started = Instant::now();
    let _ = api.get_opt("x").await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn counters_show_that_an_unchanged_write_is_skipped_or_a_noop() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let created = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    api.get("a").await.unwrap();
    api.list(&ListParams::default()).await.unwrap();
    assert_eq!(server.requests().count(Verb::Create, "configmaps"), 1);
    assert_eq!(server.requests().count(Verb::Get, "configmaps"), 1);
    assert_eq!(server.requests().count(Verb::List, "configmaps"), 1);
    assert_eq!(server.requests().writes("configmaps"), 1);
    // A replace with identical content is counted as a request but stores nothing new.
    let rv = server.store().resource_version();
    let same = api.replace("a", &PostParams::default(), &created).await.unwrap();
    assert_eq!(same.metadata.resource_version, created.metadata.resource_version);
    assert_eq!(server.store().resource_version(), rv);
    assert_eq!(server.requests().count(Verb::Update, "configmaps"), 1);
    server.requests().reset();
    assert_eq!(server.requests().total(), 0);
}

#[tokio::test]
async fn status_writes_are_counted_as_the_subresource() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ptp_api::PtpConfig> = Api::default_namespaced(server.client().unwrap());
    let config = ptp_api::PtpConfig::new("c", ptp_api::PtpConfigSpec { profile: vec![], recommend: vec![] });
    api.create(&PostParams::default(), &config).await.unwrap();
    let status = json!({"status": {"nodeCount": 1, "matchList": [], "conditions": []}});
    api.patch_status("c", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(server.requests().count(Verb::Patch, "ptpconfigs/status"), 1);
    assert_eq!(server.requests().count(Verb::Patch, "ptpconfigs"), 0);
    assert_eq!(server.requests().writes("ptpconfigs"), 2);
}

#[tokio::test]
async fn wait_helpers() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.create(&PostParams::default(), &cm("ptp-configmap")).await.unwrap();
    });
    let value = server.wait_configmap_key("default", "ptp-configmap", "k", Duration::from_secs(5)).await.unwrap();
    assert_eq!(value, "v");
    writer.await.unwrap();
    let err =
        server.wait_configmap_key("default", "ptp-configmap", "missing", Duration::from_millis(100)).await.unwrap_err();
    assert!(matches!(err, ptp_testkit::Error::Timeout(..)), "{err}");
    let seeded = server.seed(&cm("seeded")).unwrap();
    assert!(seeded.metadata.uid.is_some());
    assert_eq!(server.list::<ConfigMap>(Some("default")).len(), 2);
    assert_eq!(server.requests().count(Verb::Create, "configmaps"), 1, "seeding is not a request");
}
