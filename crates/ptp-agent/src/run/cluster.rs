//! Cluster mode: `ptp-agent run` in a cluster. The node's profiles come from the API (the agent's
//! own render of the PtpConfigs and its Node, [`crate::source::own_node`]; or the node's key of
//! `ptp-configmap`, [`crate::source::configmap`]; or a mounted file when `--profile` is given);
//! the runtime's state goes into the node's NodePtpDevice status ([`crate::status`]) and the NIC
//! report loop keeps `status.devices` up to date beside it ([`crate::report`]).

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, info_span};

use super::{RunSettings, run_loop};
use crate::Error;
use crate::status::writer::StatusWriter;

/// Settings of the cluster mode.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub run: RunSettings,
    /// Namespace of the ConfigMap and the NodePtpDevice.
    pub namespace: String,
    /// Where the profiles come from when `run.profile` (a file) is not given.
    pub source: ProfileSource,
    /// Least time between two status writes that change only offsets (any other change is
    /// written at once).
    pub offset_interval: Duration,
    /// The NIC report loop's settings; `None` to leave `status.devices` alone.
    pub report: Option<crate::report::ReportSettings>,
}

/// Where an agent in a cluster gets its node's profiles (a `--profile` file comes first).
#[derive(Clone, Debug)]
pub enum ProfileSource {
    /// Rendered by the agent from the PtpConfigs and its Node (`--profile-source api`).
    Render(crate::source::own_node::Scope),
    /// The node's key of this ConfigMap in the agent's namespace, as the operator writes it
    /// (`--profile-source configmap`).
    ConfigMap(String),
}

/// Runs until `shutdown` turns true.
pub async fn run(client: Client, settings: ClusterSettings, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
    let node = settings.run.runtime.node.clone();
    let (texts_tx, texts) = mpsc::channel(4);
    // The profiles come from the mounted file when one is given, else from the API.
    let (intake, source) = match (settings.run.profile.clone(), &settings.source) {
        (Some(path), _) => {
            let source = format!("profile file {}", path.display());
            (tokio::spawn(crate::source::file::watch(path, texts_tx).instrument(info_span!("profile_file"))), source)
        }
        (None, ProfileSource::Render(scope)) => (
            tokio::spawn(
                crate::source::own_node::watch(client.clone(), node.clone(), scope.clone(), texts_tx)
                    .instrument(info_span!("own_render")),
            ),
            format!("profiles rendered for node {node}"),
        ),
        (None, ProfileSource::ConfigMap(name)) => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &settings.namespace);
            let source = format!("{name} key {node}");
            let watch = crate::source::configmap::watch(api, name.clone(), node.clone(), texts_tx);
            (tokio::spawn(watch.instrument(info_span!("configmap_source"))), source)
        }
    };
    let report = settings.report.clone().map(|r| {
        tokio::spawn(crate::report::run(client.clone(), r, shutdown.clone()).instrument(info_span!("nic_report")))
    });
    let writer =
        StatusWriter { client, namespace: settings.namespace.clone(), node, offset_interval: settings.offset_interval };
    let mut status = None;
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let result =
        run_loop(settings.run, source, texts, |state| status = Some(tokio::spawn(writer.run(state))), stop).await;
    intake.abort();
    if let Some(s) = status {
        s.abort();
    }
    if let Some(r) = report {
        if result.is_err() {
            // The loop failed (e.g. a port taken): stop the NIC report too, so the error reaches
            // the caller and the process exits instead of reporting devices while running nothing.
            r.abort();
        }
        let _ = r.await;
    }
    result
}
