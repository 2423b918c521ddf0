//! The real `ptp-operator run` binary against the API-server double over HTTP: it renders the
//! ConfigMap, serves /healthz, /readyz and /metrics, and on SIGTERM releases its lease and exits.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ptp_testkit::probe::{free_port, http_get};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node};
use ptp_api::{MatchRule, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};
use ptp_testkit::ApiServer;

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn run_serves_health_and_metrics_and_releases_the_lease_on_sigterm() {
    let server = ApiServer::start().await.unwrap();
    let mut ns = Namespace::default();
    ns.metadata.name = Some("ptp".into());
    server.seed(&ns).unwrap();
    let mut node = Node::default();
    node.metadata.name = Some("worker-0".into());
    node.metadata.labels =
        Some([("ptp".to_string(), "yes".to_string()), ("kubernetes.io/os".into(), "linux".into())].into());
    server.seed(&node).unwrap();
    let mut config = PtpConfig::new(
        "oc",
        PtpConfigSpec {
            profile: vec![PtpProfile { ptp4l_opts: Some("-2".into()), ..PtpProfile::named("p") }],
            recommend: vec![PtpRecommend {
                profile: "p".into(),
                priority: 1,
                r#match: Some(vec![MatchRule::node_label("ptp=yes")]),
            }],
        },
    );
    config.metadata.namespace = Some("ptp".into());
    server.seed(&config).unwrap();

    let (metrics, health) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptp-operator"))
        .args(["run", "--namespace", "ptp", "--identity", "bin-test"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}"), "--health-addr", &format!("127.0.0.1:{health}")])
        .env("KUBECONFIG", server.kubeconfig_path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starts");

    let value = server.wait_configmap_key("ptp", "ptp-configmap", "worker-0", Duration::from_secs(20)).await.unwrap();
    assert_eq!(value, r#"[{"name":"oc_p","ptp4lOpts":"-2"}]"#);
    eventually("/healthz", || http_get(health, "/healthz").is_some_and(|(c, _)| c == 200)).await;
    eventually("/readyz", || http_get(health, "/readyz").is_some_and(|(c, _)| c == 200)).await;
    eventually("reconcile metrics", || {
        http_get(metrics, "/metrics").is_some_and(|(c, body)| {
            c == 200 && body.contains("ptp_operator_leader 1") && body.contains("ptp_operator_nodes 1")
        })
    })
    .await;
    let lease: Lease = server.get("ptp", "ptp-operator-leader").unwrap();
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
    let lease: Lease = server.get("ptp", "ptp-operator-leader").unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity, None, "the lease was released");
}
