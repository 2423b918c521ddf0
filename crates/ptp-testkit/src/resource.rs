//! The resource types the server knows: built-in kinds and kinds registered from
//! `CustomResourceDefinition` objects.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// One resource type at one version.
#[derive(Debug)]
pub struct ResourceType {
    /// API group, `""` for the core group.
    pub group: String,
    pub version: String,
    /// Plural, lower case: `configmaps`.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    /// Whether `/status` is a subresource (status writes and spec writes are separated).
    pub status_subresource: bool,
    /// Whether the kind is a custom resource (generation tracking; custom resources are admitted
    /// without validation).
    pub custom: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Allows `PUT` to create a missing object.
    pub create_on_update: bool,
}

impl ResourceType {
    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `configmaps` or `ptpconfigs.ptp.openshift.io`, as in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    fn builtin(group: &str, version: &str, plural: &str, kind: &str, namespaced: bool, status: bool) -> Self {
        ResourceType {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            status_subresource: status,
            custom: false,
            short_names: vec![],
            categories: vec![],
            create_on_update: matches!(plural, "leases" | "events"),
        }
    }

    /// The resource types of every served version of a CRD.
    pub fn from_crd(crd: &CustomResourceDefinition) -> Vec<ResourceType> {
        let spec = &crd.spec;
        spec.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| ResourceType {
                group: spec.group.clone(),
                version: v.name.clone(),
                plural: spec.names.plural.clone(),
                singular: spec.names.singular.clone().unwrap_or_else(|| spec.names.kind.to_lowercase()),
                kind: spec.names.kind.clone(),
                namespaced: spec.scope == "Namespaced",
                status_subresource: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
                custom: true,
                short_names: spec.names.short_names.clone().unwrap_or_default(),
                categories: spec.names.categories.clone().unwrap_or_default(),
                create_on_update: false,
            })
            .collect()
    }
}

/// Every known resource type, by (group, version, plural).
#[derive(Debug, Default)]
pub struct Registry {
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
}

impl Registry {
    /// The built-in kinds: core namespaces, nodes, configmaps, events, pods, secrets, services;
    /// coordination.k8s.io leases; events.k8s.io events.
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        for t in [
            ResourceType::builtin("", "v1", "namespaces", "Namespace", false, true),
            ResourceType::builtin("", "v1", "nodes", "Node", false, true),
            ResourceType::builtin("", "v1", "configmaps", "ConfigMap", true, false),
            ResourceType::builtin("", "v1", "secrets", "Secret", true, false),
            ResourceType::builtin("", "v1", "events", "Event", true, false),
            ResourceType::builtin("", "v1", "pods", "Pod", true, true),
            ResourceType::builtin("", "v1", "services", "Service", true, true),
            ResourceType::builtin("", "v1", "serviceaccounts", "ServiceAccount", true, false),
            ResourceType::builtin("apps", "v1", "daemonsets", "DaemonSet", true, true),
            ResourceType::builtin("apps", "v1", "deployments", "Deployment", true, true),
            ResourceType::builtin("coordination.k8s.io", "v1", "leases", "Lease", true, false),
            ResourceType::builtin("events.k8s.io", "v1", "events", "Event", true, false),
        ] {
            r.insert(t);
        }
        r
    }

    pub fn insert(&mut self, t: ResourceType) {
        self.types.insert((t.group.clone(), t.version.clone(), t.plural.clone()), Arc::new(t));
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types.get(&(group.to_string(), version.to_string(), plural.to_string())).cloned()
    }

    /// Any version of a group and plural.
    pub fn any_version(&self, group: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types.values().find(|t| t.group == group && t.plural == plural).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }
}
