//! `--profile-source api` (the chart's default): the agent renders its own node's profiles from
//! a watch of every PtpConfig and of its own Node's metadata, with the operator's render engine
//! ([`ptp_api::render::render_node`]), so the value is byte for byte what the operator would
//! write into this node's `ptp-configmap` key, without that ConfigMap. An agent receives each
//! changed PtpConfig and its own Node's metadata only, not the whole fleet's ConfigMap, and no
//! ConfigMap size limit applies. The decisions are in [`state`]; this is the watch edge.

pub mod state;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Node;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Config as WatchConfig, Event};
use kube::{Api, Client};
use ptp_api::RawPtpConfig;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::source::SourceValue;
pub use state::OwnNode;

/// Where the PtpConfigs come from.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Namespaces whose PtpConfigs count (as the operator's `--watch-namespace`); empty: all.
    pub namespaces: Vec<String>,
}

/// PtpConfigs per page of the initial list.
const LIST_PAGE: u32 = 25;

enum Input {
    /// An event of the watch of one namespace (`None`: all).
    Config(Option<String>, Result<Event<RawPtpConfig>, watcher::Error>),
    Node(Result<Event<PartialObjectMeta<Node>>, watcher::Error>),
}

/// Sends this node's value each time it changes, until `values` closes.
pub async fn watch(client: Client, node: String, scope: Scope, values: mpsc::Sender<SourceValue>) {
    // One watch of every namespace, or one per namespace (what namespaced RBAC allows).
    let scopes: Vec<Option<String>> =
        if scope.namespaces.is_empty() { vec![None] } else { scope.namespaces.iter().cloned().map(Some).collect() };
    let configs = stream::select_all(scopes.iter().map(|namespace| {
        let api = match namespace {
            Some(n) => Api::<RawPtpConfig>::namespaced(client.clone(), n),
            None => Api::<RawPtpConfig>::all(client.clone()),
        };
        let namespace = namespace.clone();
        // Small pages: the first list of a large fleet's PtpConfigs (their statuses hold every
        // matched node) is parsed a page at a time, not all at once.
        watcher::watcher(api, WatchConfig::default().page_size(LIST_PAGE))
            .default_backoff()
            .map(move |event| Input::Config(namespace.clone(), event))
            .boxed()
    }));
    // Metadata only: the labels are all the render needs, and the kubelet's status updates
    // (conditions, images) are not sent.
    let own = watcher::watcher(
        Api::<PartialObjectMeta<Node>>::all(client),
        WatchConfig::default().fields(&format!("metadata.name={node}")),
    )
    .default_backoff()
    .map(Input::Node);
    let mut inputs = std::pin::pin!(stream::select(configs, own));
    let mut state = OwnNode::new(node.clone(), scopes.len());
    let mut last: Option<String> = None;
    // The state's revision last rendered: events that change nothing the render reads (status
    // writes, unchanged labels) render nothing.
    let mut rendered: Option<u64> = None;
    let mut node_seen = false;
    let mut waiting_logged = false;
    while let Some(input) = inputs.next().await {
        let settled = match input {
            Input::Config(namespace, Ok(event)) => match event {
                Event::Init => {
                    state.list_started(namespace.as_deref());
                    false
                }
                Event::InitApply(raw) => {
                    report(state.config_applied(&raw));
                    false
                }
                Event::InitDone => {
                    state.list_done(namespace.as_deref());
                    true
                }
                Event::Apply(raw) => {
                    report(state.config_applied(&raw));
                    true
                }
                Event::Delete(raw) => {
                    state.config_deleted(&raw);
                    true
                }
            },
            Input::Node(Ok(event)) => match event {
                Event::Apply(meta) | Event::InitApply(meta) => {
                    node_seen = true;
                    state.node_labels(Some(meta.metadata.labels.unwrap_or_default()));
                    true
                }
                Event::Delete(_) => {
                    warn!(node = %node, "this node's Node object was deleted; what runs keeps running");
                    state.node_labels(None);
                    false
                }
                Event::Init => false,
                Event::InitDone => {
                    if !node_seen {
                        warn!(node = %node, "no Node object of this name (check --node-name); waiting for it");
                    }
                    true
                }
            },
            Input::Config(_, Err(e)) => {
                warn!(error = %e, "PtpConfig watch error; retrying");
                false
            }
            Input::Node(Err(e)) => {
                warn!(error = %e, node = %node, "Node watch error; retrying");
                false
            }
        };
        if !settled || rendered == Some(state.revision()) {
            continue;
        }
        rendered = Some(state.revision());
        match state.value() {
            Some(value) if last.as_deref() != Some(value.as_str()) => {
                last = Some(value.clone());
                if values.send(Ok(value)).await.is_err() {
                    return;
                }
            }
            Some(_) => {}
            None if !waiting_logged => {
                info!(node = %node, "waiting for the PtpConfig list and this node's labels");
                waiting_logged = true;
            }
            None => {}
        }
    }
}

fn report(problem: Option<state::Undecodable>) {
    if let Some(p) = problem {
        let kept = if p.last_good_kept {
            "its last decoded version stays in the render"
        } else {
            "it is left out of the render"
        };
        warn!(ptpconfig = %p.key, error = %p.error, "PtpConfig cannot be decoded by this agent; {kept}");
    }
}
