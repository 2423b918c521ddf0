//! `ptp-operator render` as a user runs it: files and directories in, the ConfigMap out, exit
//! codes 0 (fine), 1 (unreadable input), 2 (PtpConfig problems, ConfigMap still printed), 3
//! (unknown fields with `--strict`, ConfigMap still printed), 64 (usage error).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use k8s_openapi::api::core::v1::ConfigMap;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn render(args: &[&str], dir: &Path) -> Output {
    operator(&[&["render"], args].concat(), dir)
}

fn operator(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ptp-operator")).args(args).current_dir(dir).output().expect("runs")
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

#[test]
fn a_pt_config_that_does_not_decode_exits_2_and_the_others_still_render() {
    let dir = temp_dir("undecodable");
    std::fs::write(dir.join("nodes.yaml"), NODES).unwrap();
    std::fs::write(
        dir.join("configs.yaml"),
        "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: rr, namespace: openshift-ptp}\nspec:\n  profile: [{name: p, ptp4lOpts: '-2', ptpSchedulingPolicy: SCHED_RR}]\n  recommend: [{profile: p, priority: 1, match: [{nodeName: master-0}]}]\n---\napiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: good, namespace: openshift-ptp}\nspec:\n  profile: [{name: p, ptp4lOpts: '-2'}]\n  recommend: [{profile: p, priority: 1, match: [{nodeName: master-0}]}]\n",
    )
    .unwrap();
    let out = render(&["-f", "nodes.yaml", "-f", "configs.yaml"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PtpConfig openshift-ptp/rr: Valid=False (DecodeError): configs.yaml: document 1: spec.profile[0].ptpSchedulingPolicy: unknown variant `SCHED_RR`"),
        "{stderr}"
    );
    let cm: ConfigMap = serde_saphyr::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(cm.data.unwrap()["master-0"], r#"[{"name":"good_p","ptp4lOpts":"-2"}]"#);
    std::fs::remove_dir_all(dir).unwrap();
}

const TYPO: &str = "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: foo, namespace: openshift-ptp}\nspec:\n  profile: [{name: p, interfce: ens1f0, ptp4lOpts: '-2'}]\n  recommend: [{profile: p, priority: 1, match: [{nodeName: worker-0}]}]\n";

#[test]
fn unknown_fields_warn_and_strict_makes_them_exit_3() {
    let dir = temp_dir("unknown");
    std::fs::write(dir.join("nodes.yaml"), NODES).unwrap();
    std::fs::write(dir.join("typo.yaml"), TYPO).unwrap();
    let out = render(&["-f", "nodes.yaml", "-f", "typo.yaml"], &dir);
    assert_eq!(out.status.code(), Some(0), "a warning only");
    let line = r#"PtpConfig openshift-ptp/foo: unknown field "spec.profile[0].interfce""#;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().any(|l| l == format!("warning: {line}")), "{stderr}");
    assert!(!out.stdout.is_empty());

    let strict = render(&["-f", "nodes.yaml", "-f", "typo.yaml", "--strict"], &dir);
    assert_eq!(strict.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(stderr.lines().any(|l| l == format!("error: {line}")), "{stderr}");
    assert_eq!(strict.stdout, out.stdout, "the ConfigMap is still printed");

    // A PtpConfig problem outranks unknown fields.
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: bad}\nspec:\n  profile: [{name: p}]\n  recommend: [{profile: typo, priority: 1}]\n",
    )
    .unwrap();
    let both = render(&["-f", "nodes.yaml", "-f", "typo.yaml", "-f", "bad.yaml", "--strict"], &dir);
    assert_eq!(both.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn usage_errors_exit_64_not_2() {
    let dir = temp_dir("usage");
    for args in [
        &["render"][..],
        &["render", "-f", "x.yaml", "--no-such-flag"],
        &["render", "-f", "x.yaml", "-o", "xml"],
        &[],
        &["no-such-command"],
        &["run", "--metrics-addr", "not-an-address"],
    ] {
        let out = operator(args, &dir);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    for args in [&["--help"][..], &["render", "--help"], &["--version"]] {
        let out = operator(args, &dir);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_yaml_bomb_is_refused_with_exit_1() {
    let dir = temp_dir("bomb");
    let mut bomb =
        String::from("apiVersion: v1\nkind: List\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut previous = 'a';
    for name in "bcdefghi".chars() {
        bomb.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{previous}"); 10].join(", ")));
        previous = name;
    }
    bomb.push_str("items:\n- {apiVersion: v1, kind: Node, metadata: {name: n, labels: *i}}\n");
    std::fs::write(dir.join("bomb.yaml"), bomb).unwrap();
    let started = Instant::now();
    let out = render(&["-f", "bomb.yaml"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .starts_with("ptp-operator render: bomb.yaml: refused: YAML aliases expand to more than the reader allows"),
        "{stderr}"
    );
    eprintln!("bomb refused in {} ms", started.elapsed().as_millis());
    std::fs::remove_dir_all(dir).unwrap();
}

/// `kubectl get nodes -o yaml` of 2,000 realistic Nodes (the old reader's budget stopped at about
/// 250 of these). `cargo bench --bench render_input` runs 50,000 and reports time and peak RSS.
#[test]
fn a_realistic_kubectl_node_list_of_2000_nodes_renders() {
    let dir = temp_dir("nodes2000");
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("nodes.yaml")).unwrap());
    support::nodes::write_node_list(&mut file, 2000).unwrap();
    drop(file);
    std::fs::write(
        dir.join("ptp.yaml"),
        "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: oc, namespace: openshift-ptp}\nspec:\n  profile: [{name: p, interface: ens1f0, ptp4lOpts: '-2 -s'}]\n  recommend: [{profile: p, priority: 4, match: [{nodeLabel: ptp}]}]\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = render(&["-f", "nodes.yaml", "-f", "ptp.yaml", "-o", "json"], &dir);
    let size = std::fs::metadata(dir.join("nodes.yaml")).unwrap().len();
    eprintln!("2,000 nodes ({} MB of YAML) rendered in {} ms", size / 1_000_000, started.elapsed().as_millis());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let cm: ConfigMap = serde_json::from_slice(&out.stdout).unwrap();
    let data = cm.data.unwrap();
    assert_eq!(data.len(), 2000);
    assert_eq!(data.values().filter(|v| v.contains("oc_p")).count(), 200, "every tenth node is labelled ptp");
    assert_eq!(data["worker-00010"], r#"[{"name":"oc_p","interface":"ens1f0","ptp4lOpts":"-2 -s"}]"#);
    assert_eq!(data["worker-00011"], "[]");
    std::fs::remove_dir_all(dir).unwrap();
}
