//! `ptp-operator render` as a user runs it: files and directories in, the ConfigMap out, exit
//! codes 0 (fine), 2 (PtpConfig problems, ConfigMap still printed), 1 (unreadable input).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::ConfigMap;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn render(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ptp-operator")).arg("render").args(args).current_dir(dir).output().expect("runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ptp-render-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const NODES: &str = r#"
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Node, metadata: {name: worker-0, labels: {node-role.kubernetes.io/worker: ""}}}
- {apiVersion: v1, kind: Node, metadata: {name: worker-1, labels: {ptp/tbc: ""}}}
- {apiVersion: v1, kind: Node, metadata: {name: master-0}}
"#;

#[test]
fn renders_the_samples_as_a_configmap() {
    let dir = temp_dir("ok");
    std::fs::write(dir.join("nodes.yaml"), NODES).unwrap();
    let samples = repo().join("config/samples");
    let out = render(&["-f", samples.to_str().unwrap(), "-f", "nodes.yaml"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let cm: ConfigMap = serde_saphyr::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(cm.metadata.name.as_deref(), Some("ptp-configmap"));
    assert_eq!(cm.metadata.namespace.as_deref(), Some("openshift-ptp"));
    let data = cm.data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["master-0", "worker-0", "worker-1"]);
    assert_eq!(data["master-0"], "[]");
    assert!(data["worker-0"].starts_with(r#"[{"name":"ordinary-clock-ptpconfig_profile1","interface":"ens1f0""#));
    assert!(data["worker-1"].contains(r#""controllingProfile":"tbc-config_01-tbc-tr""#), "{}", data["worker-1"]);

    let json = render(&["-f", samples.to_str().unwrap(), "-f", "nodes.yaml", "-o", "json", "--namespace", "ptp"], &dir);
    let cm_json: ConfigMap = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(cm_json.metadata.namespace.as_deref(), Some("ptp"));
    assert_eq!(cm_json.data.unwrap(), data, "YAML and JSON carry the same bytes");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn problems_go_to_stderr_with_exit_2_and_the_configmap_is_still_printed() {
    let dir = temp_dir("bad");
    std::fs::write(dir.join("nodes.yaml"), NODES).unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: bad}\nspec:\n  profile: [{name: p, ptp4lOpts: '-2'}]\n  recommend: [{profile: typo, priority: 1, match: [{nodeName: master-0}]}]\n",
    )
    .unwrap();
    let out = render(&["-f", "nodes.yaml", "-f", "bad.yaml"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PtpConfig bad: Valid=False (UnknownProfile)"), "{stderr}");
    assert!(stderr.contains("typo"), "{stderr}");
    let cm: ConfigMap = serde_saphyr::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(cm.data.unwrap()["master-0"], "[]");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unreadable_input_exits_1_naming_the_file() {
    let dir = temp_dir("unreadable");
    std::fs::write(dir.join("broken.yaml"), "kind: Node\nmetadata: {name: [\n").unwrap();
    let out = render(&["-f", "broken.yaml"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml"), "{stderr}");
    let missing = render(&["-f", "does-not-exist.yaml"], &dir);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does-not-exist.yaml"));
    std::fs::remove_dir_all(dir).unwrap();
}
