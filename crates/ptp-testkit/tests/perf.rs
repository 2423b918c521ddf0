//! 1,000 ConfigMaps created over HTTP and observed through a watcher.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::core::ObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use ptp_testkit::ApiServer;

const N: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_objects_created_and_watched() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.client().unwrap());
    let started = Instant::now();
    let watch_api = api.clone();
    let observer = tokio::spawn(async move {
        let mut seen = HashSet::new();
        let mut stream = watcher(watch_api, watcher::Config::default()).applied_objects().boxed();
        while seen.len() < N {
            match stream.next().await {
                Some(Ok(o)) => {
                    seen.insert(o.name_any());
                }
                Some(Err(e)) => panic!("watch error: {e}"),
                None => break,
            }
        }
        seen.len()
    });
    let creators: Vec<_> = (0..4)
        .map(|worker| {
            let api = api.clone();
            tokio::spawn(async move {
                for i in (worker..N).step_by(4) {
                    let cm = ConfigMap {
                        metadata: ObjectMeta { name: Some(format!("cm-{i:04}")), ..Default::default() },
                        data: Some(BTreeMap::from([("i".to_string(), i.to_string())])),
                        ..Default::default()
                    };
                    api.create(&PostParams::default(), &cm).await.unwrap();
                }
            })
        })
        .collect();
    for c in creators {
        c.await.unwrap();
    }
    let created = started.elapsed();
    let seen = tokio::time::timeout(Duration::from_secs(30), observer).await.expect("watcher saw everything").unwrap();
    let total = started.elapsed();
    assert_eq!(seen, N);
    assert_eq!(server.list::<ConfigMap>(Some("default")).len(), N);
    println!("created {N} ConfigMaps in {created:?}; watcher observed all of them after {total:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_objects_in_process() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(server.in_process_client());
    let started = Instant::now();
    for i in 0..N {
        let cm = ConfigMap {
            metadata: ObjectMeta { name: Some(format!("cm-{i:04}")), ..Default::default() },
            ..Default::default()
        };
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let listed = api.list(&Default::default()).await.unwrap().items.len();
    assert_eq!(listed, N);
    println!("in-process: created and listed {N} ConfigMaps in {:?}", started.elapsed());
}
