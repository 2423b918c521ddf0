//! Reading PtpConfig and Node objects from files, directories or stdin (YAML or JSON, several
//! documents per file, `List` kinds flattened) for `ptp-operator render`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use ptp_api::PtpConfig;
use serde_json::Value;

use crate::OperatorError;
use crate::render::NodeInfo;

/// The objects the render needs; everything else in the input is ignored.
#[derive(Debug, Default)]
pub struct Inputs {
    pub configs: Vec<PtpConfig>,
    pub nodes: Vec<NodeInfo>,
    /// Other kinds seen, as `Kind/name`, so the CLI can mention them.
    pub ignored: Vec<String>,
}

/// Reads every path (`-` is stdin; a directory contributes its `.yaml`, `.yml` and `.json` files in
/// name order, not recursively).
pub fn read_paths(paths: &[PathBuf]) -> Result<Inputs, OperatorError> {
    let mut inputs = Inputs::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| input_error(path, e.to_string()))?;
            add_text(&mut inputs, path, &text)?;
        } else if path.is_dir() {
            for file in manifest_files(path)? {
                add_text(&mut inputs, &file, &read(&file)?)?;
            }
        } else {
            add_text(&mut inputs, path, &read(path)?)?;
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

fn read(path: &Path) -> Result<String, OperatorError> {
    std::fs::read_to_string(path).map_err(|e| input_error(path, e.to_string()))
}

fn input_error(path: &Path, message: String) -> OperatorError {
    OperatorError::Input { path: path.display().to_string(), message }
}

/// Parses one file's text (YAML documents or JSON) and adds its objects.
pub fn add_text(inputs: &mut Inputs, path: &Path, text: &str) -> Result<(), OperatorError> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| input_error(path, e.to_string()))?;
    for (index, document) in documents.into_iter().enumerate() {
        add_object(inputs, path, index, document)?;
    }
    Ok(())
}

fn add_object(inputs: &mut Inputs, path: &Path, doc: usize, object: Value) -> Result<(), OperatorError> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let at = |what: String| input_error(path, format!("document {}: {what}", doc + 1));
    match (api_version, kind.as_str()) {
        (_, k) if k.ends_with("List") && object.get("items").is_some_and(Value::is_array) => {
            let items = object.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            for item in items {
                add_object(inputs, path, doc, item)?;
            }
        }
        ("ptp.openshift.io/v1", "PtpConfig") => {
            let mut config: PtpConfig =
                serde_json::from_value(object).map_err(|e| at(format!("PtpConfig {name:?}: {e}")))?;
            if config.metadata.name.as_deref().unwrap_or_default().is_empty() {
                return Err(at("PtpConfig without metadata.name".into()));
            }
            // What the API server would do on admission.
            config.spec.apply_defaults();
            inputs.configs.push(config);
        }
        ("v1", "Node") => {
            if name.is_empty() {
                return Err(at("Node without metadata.name".into()));
            }
            let labels = object
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default();
            inputs.nodes.push(NodeInfo { name, labels });
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
        let threshold = inputs.configs[0].spec.profile[0].ptp_clock_threshold.clone().unwrap();
        assert_eq!(threshold.hold_over_timeout, Some(5), "schema defaults applied");
        assert_eq!(inputs.ignored, vec!["Deployment/other"]);

        let json = parse(r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}}"#).unwrap();
        assert_eq!(json.nodes[0].name, "n");
    }

    #[test]
    fn unreadable_input_names_file_and_position() {
        let err = parse("apiVersion: v1\nkind: Node\nmetadata: {name: [\n").unwrap_err().to_string();
        assert!(err.starts_with("test.yaml: "), "{err}");
        assert!(err.contains("line"), "{err}");
        let err = parse("---\nfoo: 1\n---\napiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: c}\nspec: {profile: [{name: p}], recommend: [{profile: p, priority: high}]}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("document 1: not a Kubernetes object"), "{err}");
        let err = parse("apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: c}\nspec: {profile: [{name: p}], recommend: [{profile: p, priority: high}]}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("document 1: PtpConfig \"c\": invalid type"), "{err}");
    }
}
