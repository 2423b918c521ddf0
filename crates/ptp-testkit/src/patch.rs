//! Patch application: JSON merge patch (RFC 7386), JSON patch (RFC 6902), the strategic merge
//! patch approximated as a merge patch, and server-side apply approximated as a merge of the
//! applied configuration. Pure.

use serde_json::Value;

use crate::error::{Error, Result};

/// The patch flavours, by request `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    StrategicMerge,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Result<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/strategic-merge-patch+json" => Ok(PatchKind::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchKind::Apply),
            other => Err(Error::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
            ))),
        }
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.remove(key);
            } else {
                merge(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Parses a request body that may be JSON or YAML (apply patches may be either).
pub fn parse_body(body: &[u8], yaml_allowed: bool) -> Result<Value> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(json_err) if yaml_allowed => {
            let text = std::str::from_utf8(body).map_err(|e| Error::BadRequest(e.to_string()))?;
            serde_saphyr::from_str(text)
                .map_err(|e| Error::BadRequest(format!("error decoding YAML: {e} (as JSON: {json_err})")))
        }
        Err(e) => Err(Error::BadRequest(format!("error decoding patch: {e}"))),
    }
}

/// Applies a patch body of the given kind to `current`, returning the patched object.
pub fn apply_patch(current: &Value, kind: PatchKind, patch: &Value) -> Result<Value> {
    let mut out = current.clone();
    match kind {
        PatchKind::Merge | PatchKind::StrategicMerge | PatchKind::Apply => {
            if !patch.is_object() {
                return Err(Error::BadRequest("patch body must be a JSON object".into()));
            }
            merge(&mut out, patch);
        }
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| Error::BadRequest(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut out, &ops).map_err(|e| {
                let message = match e.kind {
                    json_patch::PatchErrorKind::TestFailed => {
                        "the test operation failed: value did not match".to_string()
                    }
                    other => other.to_string(),
                };
                Error::Invalid {
                    kind: String::new(),
                    group: String::new(),
                    name: String::new(),
                    causes: vec![crate::error::Cause::new("FieldValueInvalid", e.path.to_string(), message)],
                }
            })?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge(&mut t, &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}}));
    }

    #[test]
    fn json_patch_ops_and_failed_test() {
        let cur = json!({"metadata": {"finalizers": ["a", "b"]}});
        let patched = apply_patch(
            &cur,
            PatchKind::Json,
            &json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "a"}, {"op": "remove", "path": "/metadata/finalizers/0"}]),
        )
        .unwrap();
        assert_eq!(patched, json!({"metadata": {"finalizers": ["b"]}}));
        let err = apply_patch(
            &cur,
            PatchKind::Json,
            &json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(err.code(), 422);
    }

    #[test]
    fn content_types() {
        assert_eq!(PatchKind::from_content_type("application/merge-patch+json").unwrap(), PatchKind::Merge);
        assert_eq!(
            PatchKind::from_content_type("application/apply-patch+yaml; charset=utf-8").unwrap(),
            PatchKind::Apply
        );
        assert_eq!(PatchKind::from_content_type("text/plain").unwrap_err().code(), 415);
    }

    #[test]
    fn yaml_bodies_for_apply() {
        let v = parse_body(b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n", true).unwrap();
        assert_eq!(v, json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}));
        assert!(parse_body(b"a: b", false).is_err());
    }
}
