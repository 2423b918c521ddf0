//! The chart, as the Helm v4 SDK renders it, installs on a real kube-apiserver: every object of the
//! plain manifests in `config/` (rendered from `charts/ptp-operator` by the Helm v4 SDK and kept
//! equal to the chart by `scripts/check-chart.sh`'s drift check) is created by a server-side apply,
//! with the server's own validation of built-in kinds (Deployment, DaemonSet, RBAC, admission
//! policies), which neither the API double nor an offline schema check has.
//!
//! The chart installs into `openshift-ptp`; here every object moves into the test's namespace and
//! every cluster-scoped object gets the test's name (references follow), so that tests sharing a
//! control plane do not meet, and cluster-scoped objects are removed at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use ptp_testkit::cluster::{ControlPlane, TestEnv, apply, documents, eventually, repo_root};
use serde_json::{Value, json};

/// The chart's namespace in the rendered manifests.
const CHART_NAMESPACE: &str = "openshift-ptp";

/// Every document of the plain manifests, in install order (namespace first, RBAC before workloads).
fn chart_documents() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for dir in ["manager", "rbac", "agent", "admission"] {
        let dir = repo_root().join("config").join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<_> = entries.map(|e| e.expect("dir entry").path()).collect();
        files.sort();
        for file in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "yaml")) {
            let text = std::fs::read_to_string(&file).expect("manifest readable");
            for doc in documents(&text).expect("manifest parses") {
                docs.push((file.display().to_string(), doc));
            }
        }
    }
    docs
}

/// Kinds that are cluster-scoped in the manifests, with the field that refers to another such object.
fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "ClusterRole" | "ClusterRoleBinding" | "ValidatingAdmissionPolicy" | "ValidatingAdmissionPolicyBinding"
    )
}

/// Moves a document into the test: namespace, cluster-scoped names and the references to them, and
/// every mention of the chart's namespace in strings (subjects, CEL expressions, service-account
/// usernames).
fn for_test(env: &TestEnv, doc: Value) -> Value {
    let mut text = serde_json::to_string(&doc).expect("serialises");
    text = text.replace(&format!("\"{CHART_NAMESPACE}\""), &format!("\"{}\"", env.ns));
    text = text.replace(&format!(":{CHART_NAMESPACE}:"), &format!(":{}:", env.ns));
    let mut doc: Value = serde_json::from_str(&text).expect("parses back");
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    if cluster_scoped(&kind) {
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        doc["metadata"]["name"] = json!(env.name(name));
    }
    if doc["roleRef"]["kind"] == "ClusterRole" {
        let name = doc["roleRef"]["name"].as_str().unwrap_or_default();
        doc["roleRef"]["name"] = json!(env.name(name));
    }
    if kind == "ValidatingAdmissionPolicyBinding" {
        let name = doc["spec"]["policyName"].as_str().unwrap_or_default();
        doc["spec"]["policyName"] = json!(env.name(name));
    }
    doc
}

async fn dynamic_api(env: &TestEnv, doc: &Value) -> (Api<DynamicObject>, String) {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap_or_default());
    let (ar, caps) = kube::discovery::pinned_kind(&env.admin, &gvk).await.expect("the server serves the kind");
    let api = match (caps.scope, doc["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(env.admin.clone(), ns, &ar),
        (Scope::Namespaced, None) => Api::namespaced_with(env.admin.clone(), &env.ns, &ar),
        (Scope::Cluster, _) => Api::all_with(env.admin.clone(), &ar),
    };
    (api, doc["metadata"]["name"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn every_object_of_the_chart_is_created_by_the_real_server() {
    let Some(cp) = ControlPlane::for_test("every_object_of_the_chart_is_created") else { return };
    let env = cp.env("chart").await.unwrap();
    let docs = chart_documents();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (_, doc) in &docs {
        *kinds.entry(doc["kind"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    for kind in ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "DaemonSet"] {
        assert!(kinds.contains_key(kind), "the chart has a {kind}: {kinds:?}");
    }

    let mut created = Vec::new();
    for (file, doc) in docs {
        if doc["kind"] == "Namespace" {
            // The test's namespace stands in for it (created by `env`).
            continue;
        }
        let doc = for_test(&env, doc);
        let what = format!("{file}: {} {}", doc["kind"], doc["metadata"]["name"]);
        let applied = apply(&env.admin, doc.clone()).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(applied["metadata"]["uid"].is_string(), "{what}: created");
        created.push(doc);
    }

    // The server validates built-in kinds field by field: a misspelt field is refused, naming it.
    let daemonset = created.iter().find(|d| d["kind"] == "DaemonSet").expect("a DaemonSet").clone();
    let mut typo = daemonset.clone();
    typo["spec"]["template"]["spec"]["hostNetwrok"] = json!(true);
    let refused = apply(&env.admin, typo).await.expect_err("a misspelt field is refused");
    assert!(refused.to_string().contains("hostNetwrok"), "{refused}");

    // Read back: every object exists with the server's defaults filled in where it has them.
    for doc in &created {
        let (api, name) = dynamic_api(&env, doc).await;
        let got = api.get(&name).await.unwrap_or_else(|e| panic!("{} {name}: {e}", doc["kind"]));
        let got = serde_json::to_value(got).expect("serialises");
        if doc["kind"] == "DaemonSet" || doc["kind"] == "Deployment" {
            let spec = &got["spec"]["template"]["spec"];
            assert_eq!(spec["serviceAccountName"], doc["spec"]["template"]["spec"]["serviceAccountName"]);
            assert!(spec["containers"][0]["image"].is_string(), "{name}: image");
            // Filled in by the server's defaulting: proof it went through the built-in kind's path.
            assert!(spec["restartPolicy"].is_string(), "{name}: {spec}");
        }
    }

    // An admission policy is only useful when the server has type-checked it: wait for its status.
    for doc in created.iter().filter(|d| d["kind"] == "ValidatingAdmissionPolicy") {
        let (api, name) = dynamic_api(&env, doc).await;
        eventually(&format!("{name}: type checked"), Duration::from_secs(30), || async {
            api.get(&name).await.is_ok_and(|p| p.data["status"]["typeChecking"].is_object())
        })
        .await
        .unwrap();
        let policy = serde_json::to_value(api.get(&name).await.unwrap()).unwrap();
        let warnings = &policy["status"]["typeChecking"]["expressionWarnings"];
        assert!(warnings.as_array().is_none_or(Vec::is_empty), "{name}: {warnings}");
    }

    // Cluster-scoped objects outlive the namespace: remove them.
    for doc in created.iter().filter(|d| cluster_scoped(d["kind"].as_str().unwrap_or_default())) {
        let (api, name) = dynamic_api(&env, doc).await;
        api.delete(&name, &DeleteParams::default()).await.unwrap_or_else(|e| panic!("delete {name}: {e}"));
    }
}
