//! Reading PtpConfig and Node objects from files, directories or stdin (YAML or JSON, several
//! documents per file, `List` kinds flattened) for `ptp-operator render`.
//!
//! Files are streamed, document by document, into [`Manifest`], which keeps only what the render
//! needs: a Node's name and labels, a PtpConfig's metadata and spec. A Node's `status` and
//! `managedFields` (most of `kubectl get nodes -o yaml`) are skipped while parsing, so 50,000
//! realistic Nodes fit in the reader's limits ([`yaml_options`]) and in little memory. The limits
//! that stop a YAML bomb stay: alias expansion and nesting depth.
//!
//! Each PtpConfig's spec is decoded on its own ([`ptp_api::decode_spec`]): one that does not
//! decode is reported and left out, as the operator does, and fields the types do not know are
//! reported by path instead of being dropped silently.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use ptp_api::{DecodedSpec, PtpConfig, decode_spec};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_saphyr::budget::BudgetBreach;

use crate::OperatorError;
use crate::render::{ConfigKey, NodeInfo};

/// YAML nodes (scalars, mappings, sequences) one document may hold: 50,000 realistic Nodes
/// (labels, annotations, managedFields, ~50 images, conditions: about 1,100 each) with room to
/// spare.
pub const MAX_YAML_NODES: usize = 200_000_000;
/// Parser events one document may produce (nodes plus mapping and sequence ends).
pub const MAX_YAML_EVENTS: usize = 2 * MAX_YAML_NODES;
/// Bytes of scalar text one document may hold (4 GiB).
pub const MAX_SCALAR_BYTES: u64 = 4 << 30;
/// Nesting depth (kubectl output of a Node reaches about 12).
pub const MAX_YAML_DEPTH: usize = 64;
/// Events all aliases of a document may replay (the defence against "billion laughs").
pub const MAX_ALIAS_REPLAY_EVENTS: usize = 100_000;

/// The objects the render needs; everything else in the input is ignored.
#[derive(Debug, Default)]
pub struct Inputs {
    pub configs: Vec<PtpConfig>,
    pub nodes: Vec<NodeInfo>,
    /// Other kinds seen, as `Kind/name`, so the CLI can mention them.
    pub ignored: Vec<String>,
    /// PtpConfigs whose spec does not decode; left out of the render.
    pub undecodable: Vec<UndecodableInput>,
    /// Fields of PtpConfigs that the types do not know (dropped, as the API server prunes them).
    pub unknown_fields: Vec<UnknownField>,
}

/// A PtpConfig left out of the render because its spec does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndecodableInput {
    pub key: ConfigKey,
    /// `file: document N`.
    pub source: String,
    /// The decode error naming the field.
    pub error: String,
}

/// A field of a PtpConfig that the types do not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownField {
    pub key: ConfigKey,
    /// `spec.profile[0].interfce`.
    pub path: String,
}

/// One object as read: only what the render uses is kept; `status` and unknown metadata (such as
/// `managedFields`) are skipped while parsing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<Meta>,
    #[serde(default)]
    spec: Option<Value>,
    #[serde(default)]
    items: Option<Vec<Manifest>>,
    /// Skipped while parsing (named, so that it is not buffered as an unknown key).
    #[serde(default, rename = "status")]
    _status: Option<IgnoredAny>,
    /// Other top-level keys (only their names).
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    generation: Option<i64>,
}

/// The reader's options: limits lifted to what 50,000 realistic Nodes need in one document,
/// alias expansion and depth limited as before.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = None;
    budget.max_nodes = MAX_YAML_NODES;
    budget.max_events = MAX_YAML_EVENTS;
    budget.max_total_scalar_bytes = usize::try_from(MAX_SCALAR_BYTES).unwrap_or(usize::MAX);
    budget.max_depth = MAX_YAML_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAY_EVENTS;
    options
}

/// Reads every path (`-` is stdin; a directory contributes its `.yaml`, `.yml` and `.json` files in
/// name order, not recursively).
pub fn read_paths(paths: &[PathBuf]) -> Result<Inputs, OperatorError> {
    let mut inputs = Inputs::default();
    for path in paths {
        if path.as_os_str() == "-" {
            add_reader(&mut inputs, path, std::io::stdin().lock())?;
        } else if path.is_dir() {
            for file in manifest_files(path)? {
                add_reader(&mut inputs, &file, open(&file)?)?;
            }
        } else {
            add_reader(&mut inputs, path, open(path)?)?;
        }
    }
    Ok(inputs)
}

fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, OperatorError> {
    let entries = std::fs::read_dir(dir).map_err(|e| input_error(dir, e.to_string()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| input_error(dir, e.to_string()))?.path();
        let is_manifest =
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if path.is_file() && is_manifest {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn open(path: &Path) -> Result<BufReader<std::fs::File>, OperatorError> {
    std::fs::File::open(path)
        .map(|f| BufReader::with_capacity(1 << 16, f))
        .map_err(|e| input_error(path, e.to_string()))
}

fn input_error(path: &Path, message: String) -> OperatorError {
    OperatorError::Input { path: path.display().to_string(), message }
}

/// Parses one file's text (YAML documents or JSON) and adds its objects.
pub fn add_text(inputs: &mut Inputs, path: &Path, text: &str) -> Result<(), OperatorError> {
    add_reader(inputs, path, text.as_bytes())
}

/// Streams one file's documents and adds their objects; stops at the first unreadable one.
pub fn add_reader(inputs: &mut Inputs, path: &Path, mut reader: impl Read) -> Result<(), OperatorError> {
    let documents = serde_saphyr::read_with_options::<_, Manifest>(&mut reader, yaml_options());
    for (index, document) in documents.enumerate() {
        let document = document.map_err(|e| input_error(path, describe(&e)))?;
        add_object(inputs, path, index, document)?;
    }
    Ok(())
}

/// The parser's message, with what to do when a limit was hit.
fn describe(error: &serde_saphyr::Error) -> String {
    let mut inner = error;
    while let serde_saphyr::Error::AliasError { error, .. } | serde_saphyr::Error::WithSnippet { error, .. } = inner {
        inner = error;
    }
    let alias_bomb = "refused: YAML aliases expand to more than the reader allows (a \"billion laughs\" document?)";
    match inner {
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => format!("{alias_bomb}: {error}"),
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Aliases { .. }
            | BudgetBreach::Anchors { .. }
            | BudgetBreach::AliasAnchorRatio { .. }
            | BudgetBreach::RecordedAnchorEvents { .. }
            | BudgetBreach::RecordedAnchorBytes { .. }
            | BudgetBreach::MergeKeys { .. } => format!("{alias_bomb}: {error}"),
            BudgetBreach::Depth { .. } => {
                format!("refused: YAML nested deeper than {MAX_YAML_DEPTH} levels: {error}")
            }
            _ => format!(
                "refused: one YAML document is larger than the reader allows ({MAX_YAML_NODES} nodes, \
                 {MAX_SCALAR_BYTES} bytes of text); split it into several files: {error}"
            ),
        },
        _ => error.to_string(),
    }
}

fn add_object(inputs: &mut Inputs, path: &Path, doc: usize, object: Manifest) -> Result<(), OperatorError> {
    let Manifest { api_version, kind, metadata, spec, items, _status, other } = object;
    let kind = kind.unwrap_or_default();
    let api_version = api_version.unwrap_or_default();
    let metadata = metadata.unwrap_or_default();
    let name = metadata.name.clone().unwrap_or_default();
    let at = |what: String| input_error(path, format!("document {}: {what}", doc + 1));
    match (api_version.as_str(), kind.as_str()) {
        (_, k) if k.ends_with("List") && items.is_some() => {
            for item in items.unwrap_or_default() {
                add_object(inputs, path, doc, item)?;
            }
        }
        ("ptp.openshift.io/v1", "PtpConfig") => {
            if name.is_empty() {
                return Err(at("PtpConfig without metadata.name".into()));
            }
            let key = ConfigKey { name, namespace: metadata.namespace.clone().unwrap_or_default() };
            let top_level = other.into_keys().filter(|k| k != "kind" && k != "apiVersion");
            let mut unknown: Vec<String> = top_level.chain(items.map(|_| "items".to_string())).collect();
            match decode_spec(&spec.unwrap_or_default()) {
                Ok(DecodedSpec { mut spec, unknown_fields }) => {
                    unknown.extend(unknown_fields);
                    // What the API server would do on admission.
                    spec.apply_defaults();
                    let mut config = PtpConfig::new(&key.name, spec);
                    config.metadata = ObjectMeta {
                        name: Some(key.name.clone()),
                        namespace: metadata.namespace,
                        labels: metadata.labels,
                        generation: metadata.generation,
                        ..Default::default()
                    };
                    inputs.configs.push(config);
                }
                Err(e) => inputs.undecodable.push(UndecodableInput {
                    key: key.clone(),
                    source: format!("{}: document {}", path.display(), doc + 1),
                    error: e.to_string(),
                }),
            }
            inputs.unknown_fields.extend(unknown.into_iter().map(|path| UnknownField { key: key.clone(), path }));
        }
        ("v1", "Node") => {
            if name.is_empty() {
                return Err(at("Node without metadata.name".into()));
            }
            inputs.nodes.push(NodeInfo { name, labels: metadata.labels.unwrap_or_default() });
        }
        ("", "") => return Err(at("not a Kubernetes object (no apiVersion/kind)".into())),
        _ => inputs.ignored.push(format!("{kind}/{name}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Inputs, OperatorError> {
        let mut inputs = Inputs::default();
        add_text(&mut inputs, Path::new("test.yaml"), text).map(|_| inputs)
    }

    #[test]
    fn reads_multi_document_yaml_lists_and_json() {
        let text = r#"
apiVersion: v1
kind: NodeList
items:
- apiVersion: v1
  kind: Node
  metadata: {name: worker-0, labels: {node-role.kubernetes.io/worker: ""}}
- apiVersion: v1
  kind: Node
  metadata: {name: master-0}
---
apiVersion: ptp.openshift.io/v1
kind: PtpConfig
metadata: {name: c, namespace: ptp}
spec:
  profile: [{name: p, ptp4lOpts: "", ptpClockThreshold: {}}]
  recommend: []
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other}
"#;
        let inputs = parse(text).unwrap();
        assert_eq!(inputs.nodes.len(), 2);
        assert_eq!(inputs.nodes[0].labels.get("node-role.kubernetes.io/worker").map(String::as_str), Some(""));
        assert_eq!(inputs.configs.len(), 1);
        assert_eq!(inputs.configs[0].spec.profile[0].ptp4l_opts.as_deref(), Some(""));
        assert_eq!(inputs.configs[0].metadata.namespace.as_deref(), Some("ptp"));
        let threshold = inputs.configs[0].spec.profile[0].ptp_clock_threshold.clone().unwrap();
        assert_eq!(threshold.hold_over_timeout, Some(5), "schema defaults applied");
        assert_eq!(inputs.ignored, vec!["Deployment/other"]);
        assert!(inputs.unknown_fields.is_empty() && inputs.undecodable.is_empty());

        let json = parse(r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}}"#).unwrap();
        assert_eq!(json.nodes[0].name, "n");
    }

    #[test]
    fn unreadable_input_names_file_and_position() {
        let err = parse("apiVersion: v1\nkind: Node\nmetadata: {name: [\n").unwrap_err().to_string();
        assert!(err.starts_with("test.yaml: "), "{err}");
        assert!(err.contains("line"), "{err}");
        let err = parse("---\nfoo: 1\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n}\n").unwrap_err().to_string();
        assert!(err.contains("document 1: not a Kubernetes object"), "{err}");
    }

    #[test]
    fn an_undecodable_ptpconfig_is_reported_and_left_out() {
        let inputs = parse(
            "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: c}\nspec: {profile: [{name: p}], recommend: [{profile: p, priority: high}]}\n---\napiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: d}\nspec: {profile: [{name: p}], recommend: []}\n",
        )
        .unwrap();
        assert_eq!(inputs.configs.len(), 1, "the other PtpConfig is still read");
        let [u] = inputs.undecodable.as_slice() else { panic!("{:?}", inputs.undecodable) };
        assert_eq!(u.key.name, "c");
        assert_eq!(u.source, "test.yaml: document 1");
        assert!(u.error.starts_with("spec.recommend[0].priority: invalid type: string \"high\""), "{}", u.error);
    }

    #[test]
    fn unknown_fields_are_reported_by_path() {
        let inputs = parse(
            "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: foo, namespace: openshift-ptp}\nspc: {}\nspec:\n  profile: [{name: p, interfce: ens1}]\n  recommend: []\n",
        )
        .unwrap();
        let paths: Vec<&str> = inputs.unknown_fields.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(paths, ["spc", "spec.profile[0].interfce"]);
        assert_eq!(inputs.unknown_fields[0].key.to_string(), "openshift-ptp/foo");
        assert_eq!(inputs.configs.len(), 1);
    }

    #[test]
    fn node_status_and_managed_fields_are_skipped() {
        let inputs = parse(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n  labels: {a: 'true', b: 1}\n  managedFields: [{manager: kubelet, fieldsV1: {f:status: {}}}]\nstatus:\n  images: [{names: [x], sizeBytes: 1}]\n",
        )
        .unwrap();
        assert_eq!(inputs.nodes[0].labels["a"], "true");
        assert_eq!(inputs.nodes[0].labels["b"], "1");
    }

    #[test]
    fn a_billion_laughs_document_is_refused() {
        let mut bomb =
            String::from("apiVersion: v1\nkind: List\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        bomb.push_str("items:\n- apiVersion: ptp.openshift.io/v1\n  kind: PtpConfig\n  metadata: {name: bomb}\n  spec: {profile: *l9}\n");
        let err = parse(&bomb).unwrap_err().to_string();
        assert!(err.starts_with("test.yaml: refused: YAML aliases expand"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: n}}\nspec: {}{}\n",
            "[".repeat(200),
            "]".repeat(200)
        );
        let err = parse(&deep).unwrap_err().to_string();
        assert!(err.starts_with("test.yaml: refused: YAML nested deeper than 64 levels"), "{err}");
    }
}
