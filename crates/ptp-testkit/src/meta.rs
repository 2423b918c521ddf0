//! Object metadata decisions: names, uids, timestamps, generation, status separation, no-op
//! detection. Pure apart from the clock and the id generator passed in.

use serde_json::{Map, Value, json};

use crate::error::Cause;
use crate::resource::ResourceType;

/// A small deterministic generator for uids and `generateName` suffixes (splitmix64).
#[derive(Debug, Clone)]
pub struct IdGen(u64);

impl IdGen {
    pub fn new(seed: u64) -> Self {
        IdGen(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A version-4-shaped UUID.
    pub fn uid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// Five characters from the alphabet the API server uses for `generateName`.
    pub fn suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = self.next_u64();
        (0..5)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }
}

/// RFC 3339 with second precision, as `metav1.Time` serialises.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 1123 subdomain (most names) or RFC 1123 label (namespaces).
pub fn validate_name(name: &str, dns_label: bool) -> Option<Cause> {
    let max = if dns_label { 63 } else { 253 };
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (!dns_label && c == '.');
    let edges_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if name.len() <= max && name.chars().all(ok_char) && edges_ok {
        return None;
    }
    let what = if dns_label {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    } else {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    };
    Some(Cause::new("FieldValueInvalid", "metadata.name", format!("Invalid value: \"{name}\": {what}")))
}

pub fn str_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    match object.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// Whether the kind tracks `metadata.generation`.
pub fn tracks_generation(t: &ResourceType) -> bool {
    t.custom || t.group == "apps"
}

/// The part of the object whose change bumps `metadata.generation`: everything but `metadata`
/// (and `status` when status is a subresource).
fn spec_part<'a>(t: &ResourceType, object: &'a Value) -> Vec<(&'a String, &'a Value)> {
    object
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    let server_side = matches!(k.as_str(), "metadata" | "apiVersion" | "kind");
                    let status = t.status_subresource && k.as_str() == "status";
                    !(server_side || status)
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn spec_changed(t: &ResourceType, old: &Value, new: &Value) -> bool {
    spec_part(t, old) != spec_part(t, new)
}

/// Status handling on create: custom resources with a status subresource drop `status`, pods
/// start `Pending`, namespaces `Active`; other kinds keep what was sent.
pub fn status_on_create(t: &ResourceType, object: &mut Value) {
    let Some(map) = object.as_object_mut() else { return };
    if t.custom && t.status_subresource {
        map.remove("status");
    } else if !t.custom && t.group.is_empty() && t.plural == "pods" {
        map.insert("status".into(), json!({"phase": "Pending"}));
    } else if !t.custom && t.group.is_empty() && t.plural == "namespaces" {
        map.insert("status".into(), json!({"phase": "Active"}));
    }
}

/// The object an update stores, from the old object and the sent one. Writes to the main
/// resource keep the old status (when status is a subresource); writes to `/status` keep
/// everything but the status. Server-owned metadata always comes from the old object.
pub fn merge_for_update(t: &ResourceType, old: &Value, sent: Value, status_write: bool) -> Value {
    let mut new = if status_write {
        let mut new = old.clone();
        match sent.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        new
    } else {
        let mut new = sent;
        if t.status_subresource {
            match old.get("status") {
                Some(status) => new["status"] = status.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        new
    };
    let old_meta = old.get("metadata").cloned().unwrap_or_default();
    let meta = metadata_mut(&mut new);
    for key in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match old_meta.get(key) {
            Some(v) => {
                meta.insert(key.into(), v.clone());
            }
            None => {
                meta.remove(key);
            }
        }
    }
    meta.remove("managedFields");
    meta.remove("selfLink");
    new
}

/// Whether an update changes nothing but the resourceVersion (the real server then writes
/// nothing and sends no watch event).
pub fn is_noop(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            for key in ["labels", "annotations", "finalizers", "ownerReferences"] {
                if m.get(key).is_some_and(|x| {
                    x.as_object().is_some_and(Map::is_empty) || x.as_array().is_some_and(Vec::is_empty)
                }) {
                    m.remove(key);
                }
            }
        }
        v
    };
    strip(old) == strip(new)
}

pub fn has_finalizers(object: &Value) -> bool {
    object.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Registry;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut g = IdGen::new(1);
        let a = g.uid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, g.uid());
        assert_eq!(g.suffix().len(), 5);
    }

    #[test]
    fn names() {
        assert!(validate_name("ptp-config.x", false).is_none());
        assert!(validate_name("Upper", false).is_some());
        assert!(validate_name("a.b", true).is_some());
        assert!(validate_name("-a", false).is_some());
        assert!(validate_name("", false).is_some());
    }

    fn custom_type() -> std::sync::Arc<ResourceType> {
        let mut r = Registry::default();
        for t in ptp_api::crd::crds().iter().flat_map(ResourceType::from_crd) {
            r.insert(t);
        }
        r.get("ptp.openshift.io", "v1", "ptpconfigs").unwrap()
    }

    #[test]
    fn status_and_spec_separation() {
        let t = custom_type();
        let old =
            json!({"metadata": {"name": "a", "uid": "u1", "generation": 1}, "spec": {"x": 1}, "status": {"s": 1}});
        let sent = json!({"metadata": {"name": "a", "uid": "forged"}, "spec": {"x": 2}, "status": {"s": 2}});
        let main = merge_for_update(&t, &old, sent.clone(), false);
        assert_eq!(main["spec"]["x"], 2);
        assert_eq!(main["status"]["s"], 1);
        assert_eq!(main["metadata"]["uid"], "u1");
        let status = merge_for_update(&t, &old, sent, true);
        assert_eq!(status["spec"]["x"], 1);
        assert_eq!(status["status"]["s"], 2);
        assert!(spec_changed(&t, &old, &main));
        assert!(!spec_changed(&t, &old, &status));
    }

    #[test]
    fn noop_ignores_resource_version_and_empty_maps() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "data": {"k": "v"}});
        let b = json!({"metadata": {"name": "a", "resourceVersion": "7", "labels": {}}, "data": {"k": "v"}});
        assert!(is_noop(&a, &b));
        let c = json!({"metadata": {"name": "a"}, "data": {"k": "w"}});
        assert!(!is_noop(&a, &c));
    }
}
