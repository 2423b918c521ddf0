//! Admission of custom resources against their CRD's `openAPIV3Schema`, in the API server's
//! order: prune unknown fields (and `null`s of non-nullable fields), apply `default`s, validate
//! the OpenAPI constraints, then evaluate the `x-kubernetes-validations` CEL rules. Pure.

use serde_json::{Map, Value};

use crate::error::Cause;

/// Keys of `metadata` the API server keeps (everything else in `metadata` is dropped).
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// A compiled CRD version schema.
pub struct CrdSchema {
    schema: Value,
    validator: Option<jsonschema::Validator>,
    cel: kube_cel::CompiledSchema,
    cel_validator: kube_cel::Validator,
}

impl std::fmt::Debug for CrdSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrdSchema").finish_non_exhaustive()
    }
}

impl CrdSchema {
    /// Compiles the schema; a schema jsonschema cannot compile is used for pruning, defaulting
    /// and CEL only (logged).
    pub fn new(schema: Value) -> Self {
        let validator = match jsonschema::validator_for(&schema) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "openAPIV3Schema does not compile as JSON Schema; OpenAPI validation disabled");
                None
            }
        };
        let cel = kube_cel::compile_schema(&schema);
        for err in cel.compilation_errors() {
            tracing::warn!(error = ?err, "CEL rule does not compile");
        }
        CrdSchema { schema, validator, cel, cel_validator: kube_cel::Validator::new() }
    }

    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Prunes and defaults `object` (as decoding does in the API server).
    pub fn prune_and_default(&self, object: &mut Value) {
        prune_root(&self.schema, object);
        *object = kube_cel::apply_defaults(&self.schema, object);
    }

    /// Validates an already pruned and defaulted object; `old` enables transition rules.
    pub fn validate(&self, object: &Value, old: Option<&Value>) -> Vec<Cause> {
        let mut causes = Vec::new();
        if let Some(validator) = &self.validator {
            for error in validator.iter_errors(object) {
                causes.push(schema_cause(object, &error));
            }
        }
        if let Err(errors) = self.cel_validator.validate_compiled(&self.cel, object, old) {
            for e in errors.as_slice() {
                let reason = e.reason.clone().unwrap_or_else(|| "FieldValueInvalid".to_string());
                let field = e.field_path.trim_start_matches('.').to_string();
                let verb = match reason.as_str() {
                    "FieldValueRequired" => "Required value",
                    "FieldValueDuplicate" => "Duplicate value",
                    "FieldValueForbidden" => "Forbidden",
                    _ => "Invalid value",
                };
                let value = value_at_path(object, &field).map(type_name).unwrap_or("object");
                causes.push(Cause::new(reason, field, format!("{verb}: \"{value}\": {}", e.message)));
            }
        }
        causes
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The value at a field path like `spec.profile[0]`.
fn value_at_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = part.split_once('[').map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

/// JSON pointer (`/spec/recommend/0/priority`) to a field path (`spec.recommend[0].priority`).
pub fn field_path(object: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut current = Some(object);
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match current {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{segment}]"));
                current = segment.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&segment);
                current = other.and_then(|v| v.get(&segment));
            }
        }
    }
    out
}

fn schema_cause(object: &Value, error: &jsonschema::ValidationError<'_>) -> Cause {
    use jsonschema::error::ValidationErrorKind as K;
    let path = field_path(object, &error.instance_path().to_string());
    let instance = error.instance().to_string();
    let join =
        |parent: &str, child: &str| if parent.is_empty() { child.to_string() } else { format!("{parent}.{child}") };
    match error.kind() {
        K::Required { property } => {
            Cause::new("FieldValueRequired", join(&path, property.as_str().unwrap_or_default()), "Required value")
        }
        K::Enum { options } => {
            let supported: Vec<String> =
                options.as_array().map(|o| o.iter().map(Value::to_string).collect()).unwrap_or_default();
            Cause::new(
                "FieldValueNotSupported",
                path,
                format!("Unsupported value: {instance}: supported values: {}", supported.join(", ")),
            )
        }
        K::Type { .. } => Cause::new(
            "FieldValueTypeInvalid",
            path.clone(),
            format!("Invalid value: {instance}: {path} in body {error}"),
        ),
        K::MaxLength { limit } => {
            Cause::new("FieldValueTooLong", path, format!("Too long: may not be more than {limit} bytes"))
        }
        K::MaxItems { limit } => {
            let n = error.instance().as_array().map_or(0, Vec::len);
            Cause::new("FieldValueTooMany", path, format!("Too many: {n}: must have at most {limit} items"))
        }
        K::Minimum { limit } => Cause::new(
            "FieldValueInvalid",
            path.clone(),
            format!("Invalid value: {instance}: {path} in body should be greater than or equal to {limit}"),
        ),
        K::Maximum { limit } => Cause::new(
            "FieldValueInvalid",
            path.clone(),
            format!("Invalid value: {instance}: {path} in body should be less than or equal to {limit}"),
        ),
        K::Pattern { pattern } => Cause::new(
            "FieldValueInvalid",
            path.clone(),
            format!("Invalid value: {instance}: {path} in body should match '{pattern}'"),
        ),
        _ => {
            Cause::new("FieldValueInvalid", path.clone(), format!("Invalid value: {instance}: {path} in body: {error}"))
        }
    }
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Prunes the root of a custom resource: `apiVersion`, `kind` and `metadata` always survive,
/// `metadata` keeps only ObjectMeta fields.
pub fn prune_root(schema: &Value, object: &mut Value) {
    let Value::Object(map) = object else { return };
    let saved: Vec<(String, Value)> =
        ["apiVersion", "kind", "metadata"].iter().filter_map(|k| map.remove(*k).map(|v| (k.to_string(), v))).collect();
    prune(schema, object);
    if let Value::Object(map) = object {
        for (k, mut v) in saved {
            if let (true, Value::Object(meta)) = (k == "metadata", &mut v) {
                meta.retain(|key, _| OBJECT_META_FIELDS.contains(&key.as_str()));
            }
            map.insert(k, v);
        }
    }
}

/// Structural-schema pruning: drops properties not in `properties` (unless
/// `x-kubernetes-preserve-unknown-fields` or `additionalProperties`), and `null` values of
/// fields that are not `nullable`.
pub fn prune(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            let embedded = is_true(schema, "x-kubernetes-embedded-resource");
            let preserve = is_true(schema, "x-kubernetes-preserve-unknown-fields");
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let keep_unknown = preserve || matches!(additional, Some(Value::Bool(true)) | Some(Value::Object(_)));
            let mut kept = Map::new();
            for (key, mut child) in std::mem::take(map) {
                let child_schema = properties.and_then(|p| p.get(&key)).or(match additional {
                    Some(s @ Value::Object(_)) => Some(s),
                    _ => None,
                });
                let structural_meta = embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata");
                match child_schema {
                    Some(s) => {
                        if child.is_null() && !is_true(s, "nullable") {
                            continue;
                        }
                        prune(s, &mut child);
                        kept.insert(key, child);
                    }
                    None if keep_unknown || structural_meta => {
                        kept.insert(key, child);
                    }
                    None => {}
                }
            }
            *map = kept;
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                items.iter_mut().for_each(|item| prune(item_schema, item));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ptp_config_schema() -> CrdSchema {
        let crds = ptp_api::crd::crds();
        let crd = crds.iter().find(|c| c.spec.names.kind == "PtpConfig").unwrap();
        CrdSchema::new(ptp_api::crd::openapi_schema(crd))
    }

    fn object(spec: Value) -> Value {
        json!({"apiVersion": "ptp.openshift.io/v1", "kind": "PtpConfig", "metadata": {"name": "c", "namespace": "ns", "junk": 1}, "spec": spec})
    }

    #[test]
    fn prunes_unknown_fields_but_keeps_root_and_preserved_maps() {
        let schema = ptp_config_schema();
        let mut o = object(json!({
            "profile": [{"name": "a", "bogus": true, "plugins": {"e810": {"anything": [1, 2]}}}],
            "recommend": [],
            "extra": "x"
        }));
        o["top"] = json!(1);
        schema.prune_and_default(&mut o);
        assert_eq!(o["spec"]["profile"][0].get("bogus"), None);
        assert_eq!(o["spec"].get("extra"), None);
        assert_eq!(o.get("top"), None);
        assert_eq!(o["spec"]["profile"][0]["plugins"]["e810"]["anything"], json!([1, 2]));
        assert_eq!(o["apiVersion"], "ptp.openshift.io/v1");
        assert_eq!(o["metadata"]["name"], "c");
        assert_eq!(o["metadata"].get("junk"), None);
    }

    #[test]
    fn prunes_nulls_then_defaults() {
        let schema = ptp_config_schema();
        let mut o = object(json!({
            "profile": [{"name": "a", "interface": null, "ptpClockThreshold": {"holdOverTimeout": null}}],
            "recommend": []
        }));
        schema.prune_and_default(&mut o);
        assert_eq!(o["spec"]["profile"][0].get("interface"), None);
        assert_eq!(o["spec"]["profile"][0]["ptpClockThreshold"]["holdOverTimeout"], 5);
        assert_eq!(o["spec"]["profile"][0]["ptpClockThreshold"]["maxOffsetThreshold"], 100);
    }

    #[test]
    fn schema_errors_name_the_field() {
        let schema = ptp_config_schema();
        let o = object(json!({"profile": [{"name": "a"}], "recommend": [{"profile": "a", "priority": -1}]}));
        let causes = schema.validate(&o, None);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert_eq!(causes[0].field, "spec.recommend[0].priority");
        assert_eq!(causes[0].reason, "FieldValueInvalid");
        assert!(causes[0].message.contains("greater than or equal to 0"), "{}", causes[0].message);
    }

    #[test]
    fn enum_and_required() {
        let schema = ptp_config_schema();
        let o = object(json!({"profile": [{"ptpSchedulingPolicy": "SCHED_RR"}], "recommend": []}));
        let causes = schema.validate(&o, None);
        assert!(
            causes.iter().any(|c| c.reason == "FieldValueRequired" && c.field == "spec.profile[0].name"),
            "{causes:?}"
        );
        assert!(
            causes
                .iter()
                .any(|c| c.reason == "FieldValueNotSupported" && c.field == "spec.profile[0].ptpSchedulingPolicy")
        );
    }

    #[test]
    fn cel_rule_errors() {
        let schema = ptp_config_schema();
        let o = object(json!({"profile": [{"name": "a"}, {"name": "a"}], "recommend": []}));
        let causes = schema.validate(&o, None);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert_eq!(causes[0].reason, "FieldValueDuplicate");
        assert_eq!(causes[0].field, "spec");
        assert!(causes[0].message.contains("profile names must be unique"));
    }

    #[test]
    fn valid_object_passes() {
        let schema = ptp_config_schema();
        let o = object(
            json!({"profile": [{"name": "a"}], "recommend": [{"profile": "a", "priority": 0, "match": [{"nodeLabel": "x"}]}]}),
        );
        assert_eq!(schema.validate(&o, None), vec![]);
    }

    #[test]
    fn pointer_to_field_path() {
        let o = json!({"spec": {"a": [{"b": 1}]}});
        assert_eq!(field_path(&o, "/spec/a/0/b"), "spec.a[0].b");
        assert_eq!(field_path(&o, ""), "");
    }
}
