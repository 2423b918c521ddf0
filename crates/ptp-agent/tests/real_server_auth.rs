//! The agent's ServiceAccount against the real kube-apiserver (`ptp_testkit::cluster`): who may
//! read its /metrics (a real TokenReview and SubjectAccessReview, with the chart's RBAC), and the
//! chart's own-node ValidatingAdmissionPolicy (config/admission, generated from the chart) keeping
//! it from writing another node's NodePtpDevice status. Skipped loudly without a control plane.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::BoundObjectReference;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use ptp_agent::report::status::{DEVICES_MANAGER, devices_status};
use ptp_api::{NodePtpDeviceStatus, PtpDevice};
use ptp_testkit::cluster::{ControlPlane, TestEnv, documents, eventually, repo_root};
use ptp_testkit::probe::{free_port, http_get};
use serde_json::{Value, json};

/// The chart's agent ServiceAccount (config/rbac/agent.yaml).
const AGENT_SA: &str = "ptp-operator-agent";
const WAIT: Duration = Duration::from_secs(30);

/// An agent process, killed when dropped.
struct Agent(Child, std::path::PathBuf);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_metrics_need_a_token_the_api_server_accepts_and_allows() {
    let Some(cp) = ControlPlane::for_test("agent_metrics_need_a_token_the_api_server_accepts_and_allows") else {
        return;
    };
    let env = cp.env("agent-metrics-auth").await.unwrap();
    // The chart's RBAC: the agent may create TokenReviews and SubjectAccessReviews; the
    // ClusterRole ptp-operator-metrics-reader allows `get` on /metrics.
    env.install_chart_rbac().await.unwrap();
    let agent = env.service_account(AGENT_SA).await.unwrap();

    let dir = std::env::temp_dir().join(format!("ptp-real-auth-{}", env.ns));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("node-1"), "[]").unwrap();
    let (metrics, health) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
        .args(["run", "--node-name", "node-1", "--metrics-auth", "tokenreview", "--metrics-tls", "self-signed"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}"), "--health-addr", &format!("127.0.0.1:{health}")])
        .arg("--profile")
        .arg(dir.join("node-1"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .env("KUBECONFIG", &agent.kubeconfig)
        .env_remove("METRICS_AUTH")
        .env_remove("METRICS_TLS")
        .env_remove("METRICS_TLS_CERT")
        .env_remove("METRICS_TLS_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut agent_process = Agent(child, dir);
    eventually("the agent is ready", WAIT, || async {
        tokio::task::spawn_blocking(move || http_get(health, "/readyz")).await.unwrap().is_some_and(|(c, _)| c == 200)
    })
    .await
    .unwrap();

    // 401 without a token or with one the API server does not accept, 403 for a ServiceAccount
    // without the metrics-reader binding, 200 with it.
    ptp_testkit::metrics_guard::assert_guarded(&env, metrics, "ptp_agent_refused_profiles").await;
    assert!(agent_process.0.try_wait().unwrap().is_none(), "the agent keeps running");

    drop(agent_process);
}

/// A Node object (no kubelet behind it) and a NodePtpDevice for it in the test namespace.
async fn node_with_device(env: &TestEnv, suffix: &str) -> String {
    let name = env.name(suffix);
    let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Node>::all(env.admin.clone()).create(&PostParams::default(), &node).await.unwrap();
    env.apply(json!({
        "apiVersion": "ptp.openshift.io/v1",
        "kind": "NodePtpDevice",
        "metadata": {"name": name, "namespace": env.ns},
        "spec": {},
    }))
    .await
    .unwrap();
    name
}

/// The agent's status write (report/mod.rs: a server-side apply of the status subresource built
/// by `devices_status`) with `client`.
async fn write_status(client: &kube::Client, ns: &str, node: &str) -> Result<(), kube::Error> {
    let api: Api<ptp_api::NodePtpDevice> = Api::namespaced(client.clone(), ns);
    let device = PtpDevice { name: "ens1f0".into(), ..Default::default() };
    let status = devices_status(&NodePtpDeviceStatus::default(), &[device]).expect("a change");
    let body = ptp_api::node_ptp_device::status_apply_body(node, &status);
    api.patch_status(node, &PatchParams::apply(DEVICES_MANAGER).force(), &Patch::Apply(&body)).await.map(|_| ())
}

fn refused_by_policy(result: &Result<(), kube::Error>, message: &str) -> bool {
    matches!(result, Err(kube::Error::Api(e)) if e.code == 403 && e.message.contains(message))
}

/// The own-node policy of config/admission (generated from the chart with the namespace
/// openshift-ptp), rewritten for the test namespace: its name, namespaceSelector, the agent's
/// username it matches and its message.
fn admission_policy(env: &TestEnv) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join("config/admission/agent-own-node.yaml")).unwrap();
    documents(&text.replace("openshift-ptp", &env.ns)).unwrap()
}

// How the agent's node reaches the policy: its expression compares the NodePtpDevice's name with
// request.userInfo.extra["authentication.kubernetes.io/node-name"]. The API server puts that extra
// on the user of a service account token whose claims name a node. In a cluster the agent's token
// is the kubelet's projected token, which the kubelet requests bound to the agent's Pod; for a
// Pod-bound TokenRequest the API server adds the Pod's spec.nodeName (and the Node's uid) to the
// token (ServiceAccountTokenPodNodeInfo, GA in 1.32). A plain TokenRequest (no bound object)
// carries no node and is refused for every NodePtpDevice. So the test does what the kubelet does:
// it creates a Pod of the agent's ServiceAccount with spec.nodeName = node A (nothing runs it:
// there is no kubelet) and asks for a token bound to it. (A token bound to the Node object itself,
// kind Node since 1.33, would carry the node too; Pod binding is what the agent really gets.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_token_may_write_only_its_own_nodes_status() {
    let Some(cp) = ControlPlane::for_test("agent_token_may_write_only_its_own_nodes_status") else {
        return;
    };
    let env = cp.env("agent-own-node").await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let (node_a, node_b) = (node_with_device(&env, "node-a").await, node_with_device(&env, "node-b").await);
    // Without a bound object: the agent's username, but no node.
    let unbound = env.service_account(AGENT_SA).await.unwrap();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "ptp-agent-a"},
        "spec": {
            "nodeName": node_a,
            "serviceAccountName": AGENT_SA,
            "containers": [{"name": "agent", "image": "ptp-agent.invalid/not-run"}],
        },
    }))
    .unwrap();
    let pod = Api::<Pod>::namespaced(env.admin.clone(), &env.ns).create(&PostParams::default(), &pod).await.unwrap();
    let bound = BoundObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
    };
    let agent_a = env.bound_service_account(AGENT_SA, bound).await.unwrap();
    assert_eq!(agent_a.username, unbound.username);

    let policy = admission_policy(&env);
    assert_eq!(policy.len(), 2, "a ValidatingAdmissionPolicy and its binding");
    for doc in &policy {
        env.apply(doc.clone()).await.unwrap();
    }
    let message = format!("{} may only update the NodePtpDevice of its own node, not {node_b}", agent_a.username);
    // A new policy takes a moment to be enforced (the API server's policy informer); until then
    // RBAC alone decides and allows the write.
    let last = std::sync::Mutex::new(None);
    let enforced = eventually("the policy refuses node A's agent writing node B", WAIT, || {
        let (client, ns, node_b, message, last) =
            (agent_a.client.clone(), env.ns.clone(), node_b.clone(), message.clone(), &last);
        async move {
            let result = write_status(&client, &ns, &node_b).await;
            let refused = refused_by_policy(&result, &message);
            *last.lock().unwrap() = Some(result);
            refused
        }
    })
    .await;
    let last = last.into_inner().unwrap();
    assert!(enforced.is_ok(), "{enforced:?}: last answer {last:?}");

    // Its own node: allowed.
    write_status(&agent_a.client, &env.ns, &node_a).await.expect("node A's agent writes node A's status");
    // A token without a node: refused even for node A.
    let result = write_status(&unbound.client, &env.ns, &node_a).await;
    assert!(refused_by_policy(&result, "may only update the NodePtpDevice of its own node"), "{result:?}");
    // The admin (not the agent) is not matched by the policy.
    write_status(&env.admin, &env.ns, &node_b).await.expect("the policy matches the agent's user only");

    for doc in policy.iter().rev() {
        let ar = if doc["kind"] == "ValidatingAdmissionPolicy" {
            ApiResource::erase::<k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy>(&())
        } else {
            ApiResource::erase::<k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding>(&())
        };
        let api: Api<DynamicObject> = Api::all_with(env.admin.clone(), &ar);
        let _ = api.delete(doc["metadata"]["name"].as_str().unwrap_or_default(), &DeleteParams::default()).await;
    }
    for node in [&node_a, &node_b] {
        let _ = Api::<Node>::all(env.admin.clone()).delete(node, &DeleteParams::default()).await;
    }
}
