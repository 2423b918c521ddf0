//! Performs a [`Plan`] against the API: the only place the controller writes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Error as KubeError};
use ptp_api::{NodePtpDevice, NodePtpDeviceSpec, RawPtpConfig};

use super::metrics::OperatorMetrics;
use super::own_writes::OwnWrites;
use super::plan::{ConfigMapAction, Plan};
use crate::render::ConfigKey;

/// Attempts at a ConfigMap write before giving up until the next reconcile.
const CONFLICT_RETRIES: usize = 5;

/// Where and how to write.
pub struct Writer {
    pub client: Client,
    pub namespace: String,
    pub configmap_name: String,
    pub recorder: Recorder,
    pub metrics: OperatorMetrics,
    /// Records what was written (its watch events then wake nothing).
    pub own: OwnWrites,
}

/// Outcome of applying a plan: how many writes failed.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub failures: usize,
}

impl Writer {
    /// Applies every part of the plan; a failing part does not stop the others. `configs` are the
    /// references of the PtpConfigs Events are about.
    pub async fn apply(
        &self,
        plan: &Plan,
        node_uids: &BTreeMap<String, String>,
        configs: &BTreeMap<ConfigKey, ObjectReference>,
    ) -> ApplyOutcome {
        let mut applied = ApplyOutcome::default();
        match &plan.configmap {
            ConfigMapAction::Keep => {}
            ConfigMapAction::Create(data) | ConfigMapAction::Update(data) => match self.write_configmap(data).await {
                Ok(true) => {
                    self.metrics.wrote("configmap", 1);
                    tracing::info!(
                        configmap = %self.configmap_name,
                        nodes = data.len(),
                        bytes = plan.data_bytes,
                        "wrote the ConfigMap"
                    );
                }
                Ok(false) => {}
                Err(e) => {
                    applied.failures += 1;
                    tracing::warn!(error = %e, configmap = %self.configmap_name, "ConfigMap write failed");
                }
            },
        }
        for (key, status) in &plan.statuses {
            // Through the raw type: the response of an undecodable PtpConfig must not fail the write.
            let api: Api<RawPtpConfig> = Api::namespaced(self.client.clone(), &key.namespace);
            let patch = serde_json::json!({ "status": status });
            self.own.wrote_status(key, status);
            match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => self.metrics.wrote("status", 1),
                Err(KubeError::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    applied.failures += 1;
                    tracing::warn!(error = %e, ptpconfig = %key, "status write failed");
                }
            }
        }
        let devices: Api<NodePtpDevice> = Api::namespaced(self.client.clone(), &self.namespace);
        for node in &plan.create_devices {
            let mut device = NodePtpDevice::new(node, NodePtpDeviceSpec {});
            device.metadata.namespace = Some(self.namespace.clone());
            if let Some(uid) = node_uids.get(node) {
                device.metadata.owner_references = Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.clone(),
                    uid: uid.clone(),
                    ..Default::default()
                }]);
            }
            match devices.create(&PostParams::default(), &device).await {
                Ok(_) => {
                    self.metrics.wrote("nodeptpdevice_create", 1);
                    tracing::info!(node = %node, "created NodePtpDevice");
                }
                Err(KubeError::Api(s)) if s.code == 409 => {}
                Err(e) => {
                    applied.failures += 1;
                    tracing::warn!(error = %e, node = %node, "NodePtpDevice create failed");
                }
            }
        }
        for name in &plan.delete_devices {
            match devices.delete(name, &DeleteParams::default()).await {
                Ok(_) => {
                    self.metrics.wrote("nodeptpdevice_delete", 1);
                    tracing::info!(node = %name, "deleted NodePtpDevice of a node that is gone");
                }
                Err(KubeError::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    applied.failures += 1;
                    tracing::warn!(error = %e, node = %name, "NodePtpDevice delete failed");
                }
            }
        }
        for event in &plan.events {
            let Some(reference) = configs.get(&event.config) else { continue };
            let ev = Event {
                type_: if event.warning { EventType::Warning } else { EventType::Normal },
                reason: event.reason.clone(),
                note: Some(ptp_api::util::truncate(&event.note, 1000)),
                action: "Render".into(),
                secondary: None,
            };
            match self.recorder.publish(&ev, reference).await {
                Ok(()) => self.metrics.wrote("event", 1),
                Err(e) => {
                    tracing::warn!(error = %e, ptpconfig = %event.config, reason = %event.reason, "event not recorded");
                }
            }
        }
        applied
    }

    /// Creates or updates the ConfigMap's data with optimistic concurrency. Returns whether it
    /// wrote (a fresh read may show the data is already right).
    async fn write_configmap(&self, data: &BTreeMap<String, String>) -> Result<bool, KubeError> {
        // Before the write: its watch event may arrive before the response.
        self.own.wrote_configmap(data);
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut last_error = None;
        for _ in 0..CONFLICT_RETRIES {
            let result = match api.get_opt(&self.configmap_name).await? {
                None => {
                    let cm = ConfigMap {
                        metadata: ObjectMeta {
                            name: Some(self.configmap_name.clone()),
                            namespace: Some(self.namespace.clone()),
                            ..Default::default()
                        },
                        data: Some(data.clone()),
                        ..Default::default()
                    };
                    api.create(&PostParams::default(), &cm).await
                }
                Some(current) if current.data.as_ref() == Some(data) => return Ok(false),
                Some(mut current) => {
                    current.data = Some(data.clone());
                    api.replace(&self.configmap_name, &PostParams::default(), &current).await
                }
            };
            match result {
                Ok(_) => return Ok(true),
                Err(KubeError::Api(s)) if s.code == 409 => last_error = Some(KubeError::Api(s)),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| KubeError::Service("ConfigMap write kept conflicting".into())))
    }
}
