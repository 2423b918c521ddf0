//! The real `ptp-operator run` binary against the real kube-apiserver, with the chart operator
//! ServiceAccount's kubeconfig (a TokenRequest token, the chart's RBAC): it renders the
//! ConfigMap, serves /healthz, /readyz and /metrics, and on SIGTERM releases its lease and exits.
//! Its own namespace and a Node label only it selects keep it apart from the other tests.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
use ptp_api::{PtpConfig, PtpProfile};
use ptp_testkit::cluster::{ControlPlane, eventually, wait_until};
use ptp_testkit::probe::{free_port, http_get};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn run_serves_health_and_metrics_and_releases_the_lease_on_sigterm() {
    let Some(cp) = ControlPlane::for_test("run_serves_health_and_metrics") else { return };
    let env = cp.env("op-binary").await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let operator = env.service_account("ptp-operator").await.unwrap();
    let selector = format!("ptp-test.example/env={}", env.ns);
    let node_name = env.node("worker-0", json!({"ptp": "yes", "ptp-test.example/env": env.ns})).await.unwrap();
    let config = ptp_testkit::fixtures::ptp_config("oc")
        .profile(PtpProfile { ptp4l_opts: Some("-2".into()), ..PtpProfile::named("p") })
        .recommend("p", 1, "ptp=yes")
        .build();
    Api::<PtpConfig>::namespaced(env.admin.clone(), &env.ns).create(&PostParams::default(), &config).await.unwrap();

    let (metrics, health) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptp-operator"))
        .args(["run", "--namespace", &env.ns, "--watch-namespace", &env.ns, "--identity", "bin-test"])
        .args(["--agent-node-selector", &selector])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}"), "--health-addr", &format!("127.0.0.1:{health}")])
        .env("KUBECONFIG", &operator.kubeconfig)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starts");

    let cms: Api<ConfigMap> = Api::namespaced(env.admin.clone(), &env.ns);
    let cm = wait_until(&cms, "ptp-configmap", WAIT, |cm| cm.data.as_ref().is_some_and(|d| d.contains_key(&node_name)))
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()[&node_name], r#"[{"name":"oc_p","ptp4lOpts":"-2"}]"#);
    let probe =
        |port: u16, path: &'static str| move || async move { http_get(port, path).is_some_and(|(c, _)| c == 200) };
    eventually("/healthz", WAIT, probe(health, "/healthz")).await.unwrap();
    eventually("/readyz", WAIT, probe(health, "/readyz")).await.unwrap();
    eventually("reconcile metrics", WAIT, || async {
        http_get(metrics, "/metrics").is_some_and(|(c, body)| {
            c == 200 && body.contains("ptp_operator_leader 1") && body.contains("ptp_operator_nodes 1")
        })
    })
    .await
    .unwrap();
    let leases: Api<Lease> = Api::namespaced(env.admin.clone(), &env.ns);
    let lease = leases.get("ptp-operator-leader").await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("bin-test"));

    let started = Instant::now();
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "exits within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");
    eprintln!("ptp-operator exited {} ms after SIGTERM", started.elapsed().as_millis());
    let lease = leases.get("ptp-operator-leader").await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity, None, "the lease was released");
}
