//! The operator as a process against a real kube-apiserver, authenticated as the chart's operator
//! ServiceAccount: its /metrics is guarded by the real TokenReview and SubjectAccessReview. (The
//! controller's own real-server tests are in controller.rs.)

use std::time::Duration;

use ptp_testkit::cluster::{ControlPlane, eventually};

const WAIT: Duration = Duration::from_secs(30);
const TEST_LABEL: &str = "ptp-test.example/env";

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
