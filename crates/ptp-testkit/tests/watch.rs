//! Watches through kube-runtime's `watcher`, `reflector` and `Controller`: initial list, streaming
//! lists, resuming after dropped watches, 410 for too-old versions, restarts on the same port.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::ObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, Resource, ResourceExt};
use ptp_api::{PtpConfig, PtpConfigSpec, PtpProfile};
use ptp_testkit::ApiServer;

const WAIT: Duration = Duration::from_secs(10);

fn cm(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        data: Some(BTreeMap::from([("k".to_string(), value.to_string())])),
        ..Default::default()
    }
}

/// Collects applied objects' names from a watcher until `want` is satisfied.
async fn wait_until_seen(
    stream: &mut (impl futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin),
    want: impl Fn(&ConfigMap) -> bool,
) -> ConfigMap {
    tokio::time::timeout(WAIT, async {
        loop {
            match stream.next().await {
                Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) if want(&o) => return o,
                Some(_) => {}
                None => panic!("watcher ended"),
            }
        }
    })
    .await
    .expect("watcher saw the change in time")
}

async fn watcher_resumes_after_dropped_watches(config: watcher::Config) {
    let server = ApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &cm("before", "1")).await.unwrap();
    let mut stream = watcher(api.clone(), config).boxed();
    wait_until_seen(&mut stream, |o| o.name_any() == "before").await;
    api.create(&PostParams::default(), &cm("during", "1")).await.unwrap();
    wait_until_seen(&mut stream, |o| o.name_any() == "during").await;
    for round in 0..3 {
        // Wait until the watch is open, then cut it; the watcher re-watches from its version.
        server.wait_for(WAIT, "a watch", |s| s.watch_count() > 0).await.unwrap();
        assert!(server.drop_watches() > 0);
        let name = format!("after-{round}");
        api.create(&PostParams::default(), &cm(&name, "1")).await.unwrap();
        wait_until_seen(&mut stream, |o| o.name_any() == name).await;
    }
    // Resumed watches do not list again: one list (or one initial watch) only.
    assert!(server.requests().count(ptp_testkit::Verb::List, "configmaps") <= 1);
}

#[tokio::test]
async fn list_watch_resumes_after_dropped_watches() {
    watcher_resumes_after_dropped_watches(watcher::Config::default()).await;
}

#[tokio::test]
async fn streaming_list_resumes_after_dropped_watches() {
    watcher_resumes_after_dropped_watches(watcher::Config::default().streaming_lists()).await;
}

#[tokio::test]
async fn watch_from_a_too_old_version_gets_410_expired() {
    let server = ApiServer::builder().history(5).start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let first = api.create(&PostParams::default(), &cm("a", "0")).await.unwrap();
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("x{i}"), "0")).await.unwrap();
    }
    let mut events = api.watch(&WatchParams::default(), &first.resource_version().unwrap()).await.unwrap().boxed();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Error(status)) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {other:?}"),
    }
    // A recent version still works and replays what came after it.
    let recent = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut events = api.watch(&WatchParams::default(), &recent).await.unwrap().boxed();
    api.create(&PostParams::default(), &cm("b", "0")).await.unwrap();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Added(o)) => assert_eq!(o.name_any(), "b"),
        other => panic!("expected ADDED b, got {other:?}"),
    }
}

#[tokio::test]
async fn watcher_relists_after_410_and_converges() {
    let server = ApiServer::builder().history(3).start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default())).applied_objects();
    let task = tokio::spawn(stream.for_each(|_| async {}));
    reader.wait_until_ready().await.unwrap();
    server.wait_for(WAIT, "a watch", |s| s.watch_count() > 0).await.unwrap();
    server.stop().await;
    // Changes beyond the history while the watcher is disconnected force a 410 and a re-list.
    let direct: Api<ConfigMap> = Api::default_namespaced(server.in_process_client());
    for i in 0..10 {
        direct.create(&PostParams::default(), &cm(&format!("x{i}"), "0")).await.unwrap();
    }
    server.restart().await.unwrap();
    tokio::time::timeout(WAIT, async {
        while reader.len() < 10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("reflector converged after a relist");
    assert!(server.requests().count(ptp_testkit::Verb::List, "configmaps") >= 2, "the 410 forced a re-list");
    task.abort();
}

#[tokio::test]
async fn timeout_seconds_ends_the_watch_stream() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let started = std::time::Instant::now();
    let events: Vec<_> = api.watch(&WatchParams::default().timeout(1), "0").await.unwrap().collect().await;
    assert!(events.iter().all(|e| matches!(e, Ok(WatchEvent::Bookmark(_)))), "{events:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn reflector_tracks_creates_updates_and_deletes() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let (reader, writer) = reflector::store::<ConfigMap>();
    let task = tokio::spawn(reflector(writer, watcher(api.clone(), watcher::Config::default())).for_each(|_| async {}));
    reader.wait_until_ready().await.unwrap();
    api.create(&PostParams::default(), &cm("a", "1")).await.unwrap();
    api.create(&PostParams::default(), &cm("b", "1")).await.unwrap();
    let patch = serde_json::json!({"data": {"k": "2"}});
    api.patch("a", &Default::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
    api.delete("b", &Default::default()).await.unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            let state: Vec<(String, String)> =
                reader.state().iter().map(|o| (o.name_any(), o.data.as_ref().unwrap()["k"].clone())).collect();
            if state == [("a".to_string(), "2".to_string())] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("reflector state converged");
    task.abort();
}

#[tokio::test]
async fn watcher_with_label_selector_sees_objects_enter_and_leave() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let (reader, writer) = reflector::store::<ConfigMap>();
    let config = watcher::Config::default().labels("ptp=yes");
    let task = tokio::spawn(reflector(writer, watcher(api.clone(), config)).for_each(|_| async {}));
    reader.wait_until_ready().await.unwrap();
    api.create(&PostParams::default(), &cm("a", "1")).await.unwrap();
    let label = |v: &str| serde_json::json!({"metadata": {"labels": {"ptp": v}}});
    api.patch("a", &Default::default(), &kube::api::Patch::Merge(&label("yes"))).await.unwrap();
    let eventually = |n: usize| {
        let reader = reader.clone();
        async move {
            tokio::time::timeout(WAIT, async {
                while reader.len() != n {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .expect("reflector size");
        }
    };
    eventually(1).await;
    api.patch("a", &Default::default(), &kube::api::Patch::Merge(&label("no"))).await.unwrap();
    eventually(0).await;
    task.abort();
}

async fn run_controller(client: Client, reconciles: Arc<AtomicUsize>) {
    let api: Api<PtpConfig> = Api::all(client.clone());
    let owned: Api<ConfigMap> = Api::all(client.clone());
    Controller::new(api, watcher::Config::default())
        .owns(owned, watcher::Config::default())
        .run(
            move |obj: Arc<PtpConfig>, ctx: Arc<(Client, Arc<AtomicUsize>)>| async move {
                ctx.1.fetch_add(1, Ordering::SeqCst);
                let cms: Api<ConfigMap> = Api::namespaced(ctx.0.clone(), &obj.namespace().unwrap_or_default());
                let mut cm = cm(&format!("{}-profiles", obj.name_any()), &obj.spec.profile.len().to_string());
                cm.metadata.owner_references = obj.controller_owner_ref(&()).map(|r| vec![r]);
                let pp = kube::api::PatchParams::apply("test-controller").force();
                cms.patch(&cm.name_any(), &pp, &kube::api::Patch::Apply(&cm)).await?;
                Ok::<_, kube::Error>(Action::await_change())
            },
            |_obj, _err, _ctx| Action::requeue(Duration::from_millis(100)),
            Arc::new((client, reconciles)),
        )
        .for_each(|_| async {})
        .await;
}

#[tokio::test]
async fn controller_reconciles_and_survives_a_restart_on_the_same_port() {
    let server = ApiServer::start().await.unwrap();
    let client = server.client().unwrap();
    let reconciles = Arc::new(AtomicUsize::new(0));
    let controller = tokio::spawn(run_controller(client.clone(), reconciles.clone()));
    let api: Api<PtpConfig> = Api::default_namespaced(client.clone());
    let spec = |n: usize| PtpConfigSpec {
        profile: (0..n).map(|i| PtpProfile::named(format!("p{i}"))).collect(),
        recommend: vec![],
    };
    api.create(&PostParams::default(), &PtpConfig::new("c", spec(1))).await.unwrap();
    assert_eq!(server.wait_configmap_key("default", "c-profiles", "k", WAIT).await.unwrap(), "1");

    let port = server.addr().port();
    server.stop().await;
    assert!(!server.is_running());
    assert!(api.get("c").await.is_err(), "nothing answers while stopped");
    server.restart().await.unwrap();
    assert_eq!(server.addr().port(), port);
    // The same client reconnects; the controller's watches resume and see the change.
    let mut updated = None;
    for _ in 0..100 {
        if let Ok(mut current) = api.get("c").await {
            current.spec = spec(3);
            if let Ok(o) = api.replace("c", &PostParams::default(), &current).await {
                updated = Some(o);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(updated.is_some(), "client reconnected after restart");
    server
        .wait_until("default", "c-profiles", WAIT, |cm: &ConfigMap| cm.data.as_ref().is_some_and(|d| d["k"] == "3"))
        .await
        .unwrap();
    assert!(reconciles.load(Ordering::SeqCst) >= 2);
    controller.abort();
}
