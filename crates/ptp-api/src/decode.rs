//! Decoding one PtpConfig at a time from untyped JSON, so that one object the types cannot read
//! (a newer CRD's enum value, a wrong type past a relaxed schema) is isolated instead of failing
//! a whole watch or file, and so that fields the types do not know are reported instead of being
//! dropped silently.
//!
//! [`RawPtpConfig`] is the lenient form the operator watches: typed metadata (the API server
//! guarantees its shape), `spec` and `status` as JSON. [`decode_spec`] turns a spec into
//! [`PtpConfigSpec`], naming the field of the first error and every unknown field by its path
//! (`spec.profile[0].ptpSchedulingPolicy`).

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ApiError;
use crate::ptp_config::{PtpConfig, PtpConfigSpec, PtpConfigStatus};

/// A PtpConfig as stored, with `spec` and `status` left undecoded. Always deserializes from what
/// the API server sends, whatever the spec holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RawPtpConfig {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub spec: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub status: Value,
}

impl Resource for RawPtpConfig {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        PtpConfig::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        PtpConfig::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        PtpConfig::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        PtpConfig::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl RawPtpConfig {
    /// The raw form of a typed PtpConfig (tests, and writing objects through the raw API).
    pub fn from_typed(config: &PtpConfig) -> Result<Self, ApiError> {
        let value = serde_json::to_value(config)
            .map_err(|e| ApiError::Serialize { what: "PtpConfig".into(), message: e.to_string() })?;
        serde_json::from_value(value)
            .map_err(|e| ApiError::Serialize { what: "PtpConfig".into(), message: e.to_string() })
    }

    /// The status, if it decodes (a status this operator cannot read counts as none: the next
    /// write replaces it).
    pub fn status(&self) -> Option<PtpConfigStatus> {
        if self.status.is_null() {
            return None;
        }
        PtpConfigStatus::deserialize(&self.status).ok()
    }

    /// The typed PtpConfig, or the decode error of its spec naming the field.
    pub fn decode(&self) -> Result<Decoded, ApiError> {
        let DecodedSpec { spec, unknown_fields } = decode_spec(&self.spec)?;
        let config = PtpConfig { metadata: self.metadata.clone(), spec, status: self.status() };
        Ok(Decoded { config, unknown_fields })
    }
}

/// A PtpConfig that decoded, and the paths of the fields its types do not know (dropped).
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub config: PtpConfig,
    pub unknown_fields: Vec<String>,
}

/// A spec that decoded, and the paths of the fields its types do not know (dropped).
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedSpec {
    pub spec: PtpConfigSpec,
    /// `spec.profile[0].interfce`, in the order the decoder meets them (JSON object keys sorted).
    pub unknown_fields: Vec<String>,
}

/// Decodes a PtpConfig's `spec`. The error is [`ApiError::Decode`] with the path of the field that
/// failed (`spec.profile[0].ptpSchedulingPolicy`) and serde's message.
pub fn decode_spec(spec: &Value) -> Result<DecodedSpec, ApiError> {
    let mut unknown_fields = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| unknown_fields.push(ignored_path(&path));
    let ignoring = serde_ignored::Deserializer::new(spec, &mut record);
    match serde_path_to_error::deserialize::<_, PtpConfigSpec>(ignoring) {
        Ok(spec) => Ok(DecodedSpec { spec, unknown_fields }),
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { "spec".to_string() } else { format!("spec.{path}") };
            Err(ApiError::Decode { path, message: e.into_inner().to_string() })
        }
    }
}

/// `spec.a[0].b` for a path below `spec`.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => "spec".to_string(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => format!("{}.{key}", ignored_path(parent)),
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::SchedulingPolicy;

    fn profile(extra: Value) -> Value {
        let mut p = json!({"name": "p", "interface": "ens1f0", "ptp4lOpts": "-2"});
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"profile": [p], "recommend": [{"profile": "p", "priority": 4, "match": [{"nodeLabel": "ptp"}]}]})
    }

    #[test]
    fn a_good_spec_decodes_without_unknown_fields() {
        let decoded = decode_spec(&profile(json!({"ptpSchedulingPolicy": "SCHED_FIFO",
            "ptpSettings": {"anything": "goes"}, "plugins": {"e810": {"free": ["form"]}}})))
        .unwrap();
        assert_eq!(decoded.spec.profile[0].ptp_scheduling_policy, Some(SchedulingPolicy::SchedFifo));
        assert!(decoded.unknown_fields.is_empty(), "{:?}", decoded.unknown_fields);
    }

    #[test]
    fn unknown_fields_are_named_by_path() {
        let mut spec = profile(json!({"interfce": "ens2f0"}));
        spec["recommend"][0]["match"][0]["nodeLable"] = json!("x");
        spec["extra"] = json!({"deep": [1]});
        let decoded = decode_spec(&spec).unwrap();
        assert_eq!(
            decoded.unknown_fields,
            ["spec.extra", "spec.profile[0].interfce", "spec.recommend[0].match[0].nodeLable"]
        );
        assert_eq!(decoded.spec.profile[0].interface.as_deref(), Some("ens1f0"));
    }

    #[test]
    fn decode_errors_name_the_field() {
        let err = decode_spec(&profile(json!({"ptpSchedulingPolicy": "SCHED_RR"}))).unwrap_err();
        let ApiError::Decode { path, message } = &err else { panic!("{err:?}") };
        assert_eq!(path, "spec.profile[0].ptpSchedulingPolicy");
        assert!(message.contains("unknown variant `SCHED_RR`"), "{message}");
        assert!(err.to_string().starts_with("spec.profile[0].ptpSchedulingPolicy: unknown variant"), "{err}");

        let mut wrong_type = profile(json!({}));
        wrong_type["recommend"][0]["priority"] = json!("high");
        let err = decode_spec(&wrong_type).unwrap_err().to_string();
        assert!(err.starts_with("spec.recommend[0].priority: invalid type: string \"high\""), "{err}");

        let err = decode_spec(&json!({"recommend": []})).unwrap_err().to_string();
        assert!(err.starts_with("spec: missing field `profile`"), "{err}");
        assert!(decode_spec(&Value::Null).unwrap_err().to_string().starts_with("spec: invalid type: null"));
    }

    #[test]
    fn raw_objects_decode_with_their_metadata_and_status() {
        let mut config = PtpConfig::new("c", decode_spec(&profile(json!({}))).unwrap().spec);
        config.metadata.namespace = Some("ns".into());
        config.metadata.generation = Some(3);
        config.status = Some(PtpConfigStatus { node_count: Some(2), ..Default::default() });
        let raw = RawPtpConfig::from_typed(&config).unwrap();
        assert_eq!(raw.decode().unwrap().config, config);

        let mut broken = raw.clone();
        broken.spec["profile"][0]["ptpSchedulingPolicy"] = json!("SCHED_RR");
        assert!(broken.decode().is_err());
        assert_eq!(broken.status().unwrap().node_count, Some(2), "the status still reads");
        broken.status = json!({"nodeCount": "many"});
        assert_eq!(broken.status(), None);
    }
}
