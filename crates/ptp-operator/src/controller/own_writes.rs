//! What the operator last wrote, so that the watch events its own writes cause do not wake
//! another reconcile: a ConfigMap event whose data is what was written, a PtpConfig event whose
//! status is what was written (for its current generation).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::ConfigMap;
use ptp_api::{PtpConfigStatus, RawPtpConfig};

use crate::render::ConfigKey;

#[derive(Clone, Debug, Default)]
pub struct OwnWrites {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    configmap: Option<BTreeMap<String, String>>,
    statuses: HashMap<ConfigKey, PtpConfigStatus>,
}

impl OwnWrites {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn wrote_configmap(&self, data: &BTreeMap<String, String>) {
        self.lock().configmap = Some(data.clone());
    }

    pub fn wrote_status(&self, key: &ConfigKey, status: &PtpConfigStatus) {
        self.lock().statuses.insert(key.clone(), status.clone());
    }

    /// Whether this ConfigMap holds exactly the data last written.
    pub fn is_own_configmap(&self, cm: &ConfigMap) -> bool {
        let empty = BTreeMap::new();
        self.lock().configmap.as_ref().is_some_and(|d| d == cm.data.as_ref().unwrap_or(&empty))
    }

    /// Whether this PtpConfig holds the status last written, for its current generation (a spec
    /// change bumps the generation past the status's `observedGeneration`).
    pub fn is_own_status(&self, raw: &RawPtpConfig) -> bool {
        let Some(status) = raw.status() else { return false };
        if status.observed_generation != raw.metadata.generation {
            return false;
        }
        self.lock().statuses.get(&ConfigKey::of_raw(raw)) == Some(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_status_only_for_the_generation_it_observed() {
        let own = OwnWrites::default();
        let key = ConfigKey { name: "c".into(), namespace: "ns".into() };
        let status = PtpConfigStatus { node_count: Some(2), observed_generation: Some(3), ..Default::default() };
        let mut raw = RawPtpConfig::default();
        raw.metadata.name = Some("c".into());
        raw.metadata.namespace = Some("ns".into());
        raw.metadata.generation = Some(3);
        raw.status = serde_json::to_value(&status).unwrap_or_default();
        assert!(!own.is_own_status(&raw), "nothing written yet");
        own.wrote_status(&key, &status);
        assert!(own.is_own_status(&raw));
        raw.metadata.generation = Some(4);
        assert!(!own.is_own_status(&raw), "the spec changed since");
        raw.metadata.generation = Some(3);
        raw.status["nodeCount"] = 1.into();
        assert!(!own.is_own_status(&raw), "someone else's status");
    }

    #[test]
    fn own_configmap_is_the_data_last_written() {
        let own = OwnWrites::default();
        let data: BTreeMap<String, String> = [("n".to_string(), "[]".to_string())].into();
        let cm = ConfigMap { data: Some(data.clone()), ..Default::default() };
        assert!(!own.is_own_configmap(&cm));
        own.wrote_configmap(&data);
        assert!(own.is_own_configmap(&cm));
        assert!(!own.is_own_configmap(&ConfigMap::default()));
    }
}
