//! The node's key of the operator's ConfigMap as the profile source
//! (`ptp-agent run --profile-source configmap`).

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Config as WatchConfig, Event};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::SourceValue;

/// Sends this node's value of the ConfigMap `name` each time it changes; a missing key changes
/// nothing (what runs keeps running).
pub async fn watch(api: Api<ConfigMap>, name: String, node: String, texts: mpsc::Sender<SourceValue>) {
    let config = WatchConfig::default().fields(&format!("metadata.name={name}"));
    let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    let mut last: Option<String> = None;
    let mut missing_logged = false;
    while let Some(event) = events.next().await {
        let cm = match event {
            Ok(Event::Apply(cm) | Event::InitApply(cm)) => cm,
            Ok(_) => continue,
            Err(e) => {
                warn!(error = %e, configmap = %name, "ConfigMap watch error; retrying");
                continue;
            }
        };
        match cm.data.as_ref().and_then(|d| d.get(&node)) {
            Some(value) if last.as_deref() != Some(value.as_str()) => {
                last = Some(value.clone());
                missing_logged = false;
                if texts.send(Ok(value.clone())).await.is_err() {
                    return;
                }
            }
            Some(_) => {}
            None if !missing_logged => {
                info!(configmap = %name, node = %node, "no key for this node yet; what runs keeps running");
                missing_logged = true;
            }
            None => {}
        }
    }
}
