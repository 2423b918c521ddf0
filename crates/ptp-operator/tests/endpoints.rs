//! `ptp-operator run` with its metrics endpoint secured: HTTPS with a self-signed certificate and
//! the bearer-token guard in front of /metrics, the probes plain HTTP; metrics flags that do not
//! fit together exit 64 (a usage error) naming them.
//!
//! The API server double serves neither tokenreviews nor subjectaccessreviews, so a token gets
//! 503 here (the reviews could not be made); 200 and 403 with real reviews are tested in
//! ptp-serve against a stub of the two APIs, and against the real kube-apiserver in
//! real_server.rs (`operator_metrics_need_a_token_the_api_server_accepts_and_allows`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use ptp_testkit::ApiServer;
use ptp_testkit::https::{Answer, Trust, https_get};
use ptp_testkit::probe::{free_port, http_get};

async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fetch(port: u16, token: Option<&'static str>) -> Result<Answer, String> {
    tokio::task::spawn_blocking(move || https_get(port, "/metrics", token, Trust::Any)).await.unwrap()
}

#[tokio::test]
async fn metrics_over_https_behind_the_token_guard() {
    let server = ApiServer::start().await.unwrap();
    let mut ns = Namespace::default();
    ns.metadata.name = Some("ptp".into());
    server.seed(&ns).unwrap();
    let (metrics, health) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptp-operator"))
        .args(["run", "--namespace", "ptp", "--identity", "tls-test"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}"), "--health-addr", &format!("127.0.0.1:{health}")])
        .args(["--metrics-tls", "self-signed", "--metrics-auth", "tokenreview"])
        .env("KUBECONFIG", server.kubeconfig_path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starts");

    eventually("plain HTTP /healthz", || http_get(health, "/healthz").filter(|(c, _)| *c == 200)).await;
    // the metrics server starts after the client: retry until it answers
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        match fetch(metrics, None).await {
            Ok(answer) => break answer,
            Err(e) => assert!(Instant::now() < deadline, "HTTPS /metrics never answered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(refused.head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{}", refused.head);
    assert!(!refused.body.contains("ptp_operator_"), "no metrics without a token");
    let unverifiable = fetch(metrics, Some("some-token")).await.expect("HTTPS GET");
    assert_eq!(unverifiable.status, 503, "the double cannot review tokens: {unverifiable:?}");
    assert!(!unverifiable.body.contains("ptp_operator_"));
    let plain = http_get(metrics, "/metrics");
    assert!(plain.as_ref().is_none_or(|(c, body)| *c != 200 && !body.contains("ptp_operator_")), "{plain:?}");

    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn metrics_flags_that_do_not_fit_exit_as_usage_errors_naming_them() {
    for (args, message) in [
        (&["--metrics-tls", "files"][..], "--metrics-tls files needs --metrics-tls-cert and --metrics-tls-key"),
        (&["--metrics-tls", "self-signed", "--metrics-tls-key", "/k"], "only with --metrics-tls files"),
        (&["--metrics-addr", "localhost:8080"], "--metrics-addr \"localhost:8080\""),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ptp-operator"))
            .arg("run")
            .args(args)
            .env_remove("METRICS_TLS")
            .env_remove("METRICS_AUTH")
            .env("KUBECONFIG", "/nonexistent")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(i32::from(ptp_operator::cli::EXIT_USAGE)), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
