//! What only a real kube-apiserver can tell (the API double accepts all of these): the CRDs are
//! admitted (structural schema, CEL cost budget), their rules and patterns accept and reject
//! what `ptp-api` says, `kubectl --validate=strict` refuses misspelled fields, printer columns come
//! from the server, the chart's RBAC lets each ServiceAccount do its job and nothing more, the
//! garbage collector removes a deleted Node's NodePtpDevice, and a ConfigMap over 1 MiB is refused.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use ptp_api::NodePtpDevice;
use ptp_testkit::cluster::{ControlPlane, TestEnv, eventually, repo_root};
use serde_json::{Value, json};

fn kubectl(env: &TestEnv, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut cmd: Command = env.cp.kubectl();
    cmd.args(args).arg("-n").arg(&env.ns);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl runs");
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn samples_are_admitted_strictly_and_a_misspelled_field_is_refused() {
    let Some(cp) = ControlPlane::for_test("samples_are_admitted_strictly") else { return };
    let env = cp.env("samples").await.unwrap();
    let samples = repo_root().join("config/samples");
    let mut names: Vec<_> = std::fs::read_dir(&samples).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 6, "samples: {names:?}");
    for path in &names {
        let (ok, out) = kubectl(&env, &["apply", "--validate=strict", "-f", &path.to_string_lossy()], None);
        assert!(ok, "{}: {out}", path.display());
    }
    let text = std::fs::read_to_string(samples.join("ordinary-clock.yaml")).unwrap().replace("interface:", "interfce:");
    let text = text.replace("name: ordinary-clock-ptpconfig", "name: typo");
    let (ok, out) = kubectl(&env, &["apply", "--validate=strict", "-f", "-"], Some(&text));
    assert!(!ok, "a misspelled field must be refused: {out}");
    assert!(out.contains("unknown field \"spec.profile[0].interfce\""), "{out}");

    // Printer columns as the real server's table converter fills them.
    let (ok, out) = kubectl(&env, &["get", "ptpcfg", "ordinary-clock-ptpconfig"], None);
    assert!(ok, "{out}");
    let header: Vec<&str> = out.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "PROFILES", "NODES", "VALID", "AGE"], "{out}");
    assert!(out.lines().nth(1).is_some_and(|l| l.split_whitespace().nth(1) == Some("profile1")), "{out}");
}

fn ptp_config(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "ptp.openshift.io/v1", "kind": "PtpConfig", "metadata": {"name": name}, "spec": spec})
}

#[tokio::test]
async fn crd_rules_and_patterns_accept_and_reject_like_ptp_api() {
    let Some(cp) = ControlPlane::for_test("crd_rules_and_patterns") else { return };
    let env = cp.env("rules").await.unwrap();
    let profile = |name: &str| json!({"name": name, "interface": "eth0", "ptp4lOpts": "-2"});
    let recommend = |p: &str, m: Value| json!({"profile": p, "priority": 4, "match": m});
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("minimal", json!({"profile": [profile("a")], "recommend": []}), None),
        (
            "label key=value",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "feature.node.kubernetes.io/ptp=true"}]))]}),
            None,
        ),
        (
            "duplicate profile names",
            json!({"profile": [profile("a"), profile("a")], "recommend": []}),
            // The real server drops a FieldValueDuplicate rule's message (the double keeps it).
            Some("spec: Duplicate value"),
        ),
        (
            "recommend of a missing profile",
            json!({"profile": [profile("a")], "recommend": [recommend("b", json!([{"nodeName": "n"}]))]}),
            Some("must name a profile of the same PtpConfig"),
        ),
        (
            "empty match entry",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{}]))]}),
            Some("must set nodeLabel or nodeName"),
        ),
        (
            "label with two equals",
            json!({"profile": [profile("a")], "recommend": [recommend("a", json!([{"nodeLabel": "a=b=c"}]))]}),
            Some("spec.recommend[0].match[0].nodeLabel"),
        ),
        (
            "SCHED_FIFO without a priority",
            json!({"profile": [{"name": "a", "ptpSchedulingPolicy": "SCHED_FIFO"}], "recommend": []}),
            Some("ptpSchedulingPriority must be set"),
        ),
    ];
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        env.admin.clone(),
        &env.ns,
        &kube::discovery::ApiResource::erase::<ptp_api::PtpConfig>(&()),
    );
    for (i, (case, spec, expected)) in cases.into_iter().enumerate() {
        let object: kube::api::DynamicObject =
            serde_json::from_value(ptp_config(&format!("c{i}"), spec.clone())).unwrap();
        let result = api.create(&PostParams::default(), &object).await;
        // ptp-api's pure validation agrees with the server.
        let parsed: Result<ptp_api::PtpConfigSpec, _> = serde_json::from_value(spec);
        let rust_valid = parsed.map(|s| ptp_api::validate_spec(&s).is_valid()).unwrap_or(false);
        match expected {
            None => {
                assert!(result.is_ok(), "{case}: {result:?}");
                assert!(rust_valid, "{case}: ptp-api rejects what the server admits");
            }
            Some(needle) => {
                let err = result.expect_err(case).to_string();
                assert!(err.contains(needle), "{case}: expected {needle:?} in {err}");
                assert!(!rust_valid, "{case}: ptp-api admits what the server rejects");
            }
        }
    }
}

async fn allowed(
    client: &Client,
    ns: &str,
    verb: &str,
    group: &str,
    resource: &str,
    sub: Option<&str>,
    name: Option<&str>,
) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.into()),
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource: sub.map(Into::into),
                name: name.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = api.create(&PostParams::default(), &review).await.expect("SelfSubjectAccessReview");
    answer.status.is_some_and(|s| s.allowed)
}

#[tokio::test]
async fn chart_rbac_grants_each_service_account_its_job_and_no_more() {
    let Some(cp) = ControlPlane::for_test("chart_rbac") else { return };
    let env = cp.env("rbac").await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let operator = env.service_account("ptp-operator").await.unwrap();
    let agent = env.service_account("ptp-operator-agent").await.unwrap();
    let ns = env.ns.as_str();
    let g = "ptp.openshift.io";
    // The operator's whole job.
    for (verb, group, resource, sub, name) in [
        ("watch", g, "ptpconfigs", None, None),
        ("patch", g, "ptpconfigs", Some("status"), None),
        ("watch", "", "nodes", None, None),
        ("create", "", "configmaps", None, None),
        ("update", "", "configmaps", None, Some("ptp-configmap")),
        ("create", g, "nodeptpdevices", None, None),
        ("delete", g, "nodeptpdevices", None, None),
        ("create", "coordination.k8s.io", "leases", None, None),
        ("create", "events.k8s.io", "events", None, None),
    ] {
        assert!(allowed(&operator.client, ns, verb, group, resource, sub, name).await, "operator: {verb} {resource}");
    }
    assert!(
        !allowed(&operator.client, ns, "update", "", "configmaps", None, Some("other")).await,
        "the operator writes only ptp-configmap"
    );
    // The agent's whole job (the chart's default `agent.profileSource: api`: it renders its node
    // from the PtpConfigs and its Node), and what it must not do.
    for (verb, group, resource, sub, name) in [
        ("watch", g, "ptpconfigs", None, None),
        ("watch", "", "nodes", None, None),
        ("get", g, "nodeptpdevices", None, None),
        ("patch", g, "nodeptpdevices", Some("status"), None),
        ("create", "events.k8s.io", "events", None, None),
    ] {
        assert!(allowed(&agent.client, ns, verb, group, resource, sub, name).await, "agent: {verb} {resource}");
    }
    for (verb, group, resource, sub) in [
        ("get", "", "configmaps", None),
        ("watch", "", "configmaps", None),
        ("update", "", "configmaps", None),
        ("patch", "", "configmaps", None),
        ("patch", "", "nodes", None),
        ("get", "", "secrets", None),
        ("list", "", "secrets", None),
        ("delete", g, "nodeptpdevices", None),
        ("update", g, "ptpconfigs", None),
    ] {
        assert!(
            !allowed(&agent.client, ns, verb, group, resource, sub, None).await,
            "agent must not {verb} {resource}"
        );
    }
    assert!(!allowed(&operator.client, ns, "get", "", "secrets", None, None).await, "operator must not read Secrets");
    // And a real request with the token is refused as the review says.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(agent.client.clone(), ns);
    let err = secrets.list(&Default::default()).await.expect_err("agent lists Secrets");
    assert!(err.to_string().contains("forbidden"), "{err}");
}

#[tokio::test]
async fn garbage_collector_removes_a_deleted_nodes_device() {
    let Some(cp) = ControlPlane::for_test("garbage_collector") else { return };
    let env = cp.env("gc").await.unwrap();
    let nodes: Api<Node> = Api::all(env.admin.clone());
    let name = env.name("node");
    let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    let node = nodes.create(&PostParams::default(), &node).await.unwrap();
    let devices: Api<NodePtpDevice> = Api::namespaced(env.admin.clone(), &env.ns);
    let device: NodePtpDevice = serde_json::from_value(json!({
        "apiVersion": "ptp.openshift.io/v1", "kind": "NodePtpDevice",
        "metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "Node", "name": name, "uid": node.metadata.uid.clone().unwrap()
        }]},
        "spec": {}
    }))
    .unwrap();
    devices.create(&PostParams::default(), &device).await.unwrap();
    nodes.delete(&name, &DeleteParams::default()).await.unwrap();
    eventually("the garbage collector deletes the NodePtpDevice", Duration::from_secs(60), || async {
        devices.get_opt(&name).await.is_ok_and(|d| d.is_none())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_configmap_over_one_mebibyte_is_refused() {
    let Some(cp) = ControlPlane::for_test("configmap_over_limit") else { return };
    let env = cp.env("limit").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(env.admin.clone(), &env.ns);
    let mut data = BTreeMap::new();
    data.insert("big".to_string(), "x".repeat(1024 * 1024 + 1));
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta { name: Some("big".into()), ..Default::default() },
        data: Some(data),
        ..Default::default()
    };
    let err = cms.create(&PostParams::default(), &cm).await.expect_err("over 1 MiB");
    let text = err.to_string();
    assert!(text.contains("1048576") || text.contains("Too long") || text.contains("too large"), "{text}");
}
