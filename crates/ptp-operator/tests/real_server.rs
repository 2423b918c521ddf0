//! The controller against a real kube-apiserver, authenticated as the chart's operator
//! ServiceAccount (a TokenRequest token, the chart's RBAC): PtpConfigs and Nodes in; the
//! ConfigMap, statuses and NodePtpDevices out; a label change re-renders; a deleted Node's
//! NodePtpDevice is removed by the real garbage collector and its key leaves the ConfigMap.
//! Tests share one control plane, so each uses its own namespace and Nodes labelled for it.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use ptp_api::{MatchRule, NodePtpDevice, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};
use ptp_operator::controller::leader::LeaseTiming;
use ptp_operator::controller::run::{Controller, Settings};
use ptp_operator::controller::selector::LabelSelector;
use ptp_testkit::cluster::{ControlPlane, TestEnv, eventually};
use serde_json::json;
use tokio::sync::watch;

const CM: &str = "ptp-configmap";
const WAIT: Duration = Duration::from_secs(30);
const TEST_LABEL: &str = "ptp-test.example/env";

fn settings(env: &TestEnv) -> Settings {
    Settings {
        namespace: env.ns.clone(),
        watch_namespaces: vec![env.ns.clone()],
        configmap_name: CM.into(),
        agent_selector: LabelSelector::parse(&format!("{TEST_LABEL}={}", env.ns)).unwrap(),
        leader_election: true,
        lease_name: "ptp-operator-leader".into(),
        identity: "op-a".into(),
        lease_timing: LeaseTiming {
            duration: Duration::from_secs(3),
            retry: Duration::from_millis(200),
            renew_deadline: Duration::from_secs(2),
        },
        debounce: Duration::from_millis(100),
        resync: Duration::from_secs(30),
        metrics_addr: None,
        health_addr: None,
        metrics_security: Default::default(),
    }
}

async fn node(env: &TestEnv, suffix: &str, labels: serde_json::Value) -> String {
    let name = env.name(suffix);
    let mut l = labels;
    l[TEST_LABEL] = json!(env.ns);
    let node: Node = serde_json::from_value(json!({"metadata": {"name": name, "labels": l}})).unwrap();
    Api::<Node>::all(env.admin.clone()).create(&PostParams::default(), &node).await.unwrap();
    name
}

fn ordinary_clock() -> PtpConfig {
    PtpConfig::new(
        "ordinary-clock-ptpconfig",
        PtpConfigSpec {
            profile: vec![PtpProfile {
                interface: Some("enp134s0f0".into()),
                ptp4l_opts: Some("-s -2".into()),
                phc2sys_opts: Some("-a -r".into()),
                ..PtpProfile::named("profile1")
            }],
            recommend: vec![PtpRecommend {
                profile: "profile1".into(),
                priority: 4,
                r#match: Some(vec![MatchRule::node_label("node-role.kubernetes.io/worker")]),
            }],
        },
    )
}

const WORKER_VALUE: &str = r#"[{"name":"ordinary-clock-ptpconfig_profile1","interface":"enp134s0f0","ptp4lOpts":"-s -2","phc2sysOpts":"-a -r"}]"#;

async fn key(cms: &Api<ConfigMap>, node: &str) -> Option<String> {
    cms.get_opt(CM).await.ok().flatten().and_then(|cm| cm.data).and_then(|d| d.get(node).cloned())
}

#[tokio::test]
async fn operator_with_its_service_account_renders_rerenders_and_cleans_up() {
    let Some(cp) = ControlPlane::for_test("operator_with_its_service_account") else { return };
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("ptp_operator=debug").try_init();
    let env = cp.env("operator").await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let operator = env.service_account("ptp-operator").await.unwrap();
    let worker = node(&env, "worker-0", json!({"node-role.kubernetes.io/worker": ""})).await;
    let master = node(&env, "master-0", json!({"node-role.kubernetes.io/master": ""})).await;
    Api::<PtpConfig>::namespaced(env.admin.clone(), &env.ns)
        .create(&PostParams::default(), &ordinary_clock())
        .await
        .unwrap();

    let controller = Controller::new(operator.client.clone(), settings(&env));
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(async move { controller.run(shutdown).await });

    let admin: Client = env.admin.clone();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &env.ns);
    eventually("worker key rendered", WAIT, || async { key(&cms, &worker).await.as_deref() == Some(WORKER_VALUE) })
        .await
        .unwrap();
    assert_eq!(key(&cms, &master).await.as_deref(), Some("[]"));

    let configs: Api<PtpConfig> = Api::namespaced(admin.clone(), &env.ns);
    eventually("PtpConfig status written", WAIT, || async {
        configs
            .get("ordinary-clock-ptpconfig")
            .await
            .ok()
            .and_then(|c| c.status)
            .is_some_and(|s| s.node_count == Some(1) && s.match_list.first().is_some_and(|m| m.node_name == worker))
    })
    .await
    .unwrap();

    let devices: Api<NodePtpDevice> = Api::namespaced(admin.clone(), &env.ns);
    for name in [&worker, &master] {
        eventually("NodePtpDevice created", WAIT, || async { devices.get_opt(name).await.is_ok_and(|d| d.is_some()) })
            .await
            .unwrap();
        let device = devices.get(name).await.unwrap();
        let owner = &device.metadata.owner_references.unwrap()[0];
        let node = Api::<Node>::all(admin.clone()).get(name).await.unwrap();
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", name.as_str()));
        assert_eq!(Some(owner.uid.clone()), node.metadata.uid);
    }

    // A label change re-renders that node.
    let patch = json!({"metadata": {"labels": {"node-role.kubernetes.io/worker": ""}}});
    Api::<Node>::all(admin.clone()).patch(&master, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually("master key re-rendered", WAIT, || async { key(&cms, &master).await.as_deref() == Some(WORKER_VALUE) })
        .await
        .unwrap();

    // A deleted Node: the garbage collector removes its NodePtpDevice, the operator its key.
    Api::<Node>::all(admin.clone()).delete(&worker, &Default::default()).await.unwrap();
    eventually("worker key removed", WAIT, || async {
        cms.get_opt(CM).await.ok().flatten().and_then(|c| c.data).is_some_and(|d| !d.contains_key(&worker))
    })
    .await
    .unwrap();
    eventually("worker NodePtpDevice collected", Duration::from_secs(60), || async {
        devices.get_opt(&worker).await.is_ok_and(|d| d.is_none())
    })
    .await
    .unwrap();

    let _ = stop.send(true);
    let result = tokio::time::timeout(Duration::from_secs(10), task).await.expect("stops in time").expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    Api::<Node>::all(admin).delete(&master, &Default::default()).await.unwrap();
}

/// `ptp-operator run` as a process with its ServiceAccount's kubeconfig, its /metrics behind
/// `--metrics-auth tokenreview --metrics-tls self-signed` (what the chart's `metrics.secure`
/// sets): the chart's RBAC lets it create TokenReviews and SubjectAccessReviews, and the real
/// reviews decide: 401 without a token, 403 without the metrics-reader binding, 200 with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_metrics_need_a_token_the_api_server_accepts_and_allows() {
    let Some(cp) = ControlPlane::for_test("operator_metrics_need_a_token_the_api_server_accepts_and_allows") else {
        return;
    };
    let env = cp.env("operator-metrics-auth").await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let operator = env.service_account("ptp-operator").await.unwrap();
    let (metrics, health) = (ptp_testkit::probe::free_port(), ptp_testkit::probe::free_port());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ptp-operator"))
        .args(["run", "--namespace", &env.ns, "--watch-namespace", &env.ns, "--identity", "metrics-auth"])
        .args(["--agent-node-selector", &format!("{TEST_LABEL}={}", env.ns)])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}"), "--health-addr", &format!("127.0.0.1:{health}")])
        .args(["--metrics-auth", "tokenreview", "--metrics-tls", "self-signed"])
        .env("KUBECONFIG", &operator.kubeconfig)
        .env_remove("METRICS_AUTH")
        .env_remove("METRICS_TLS")
        .env_remove("METRICS_TLS_CERT")
        .env_remove("METRICS_TLS_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut process = Kill(child);
    eventually("the operator is ready", WAIT, || async {
        tokio::task::spawn_blocking(move || ptp_testkit::probe::http_get(health, "/readyz"))
            .await
            .unwrap()
            .is_some_and(|(c, _)| c == 200)
    })
    .await
    .unwrap();
    ptp_testkit::metrics_guard::assert_guarded(&env, metrics, "ptp_operator_").await;
    assert!(process.0.try_wait().unwrap().is_none(), "the operator keeps running");
}
