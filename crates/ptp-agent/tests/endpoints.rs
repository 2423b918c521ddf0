//! `ptp-agent run`'s endpoints as a process: /metrics over HTTPS with a self-signed certificate
//! on a loopback address while the probes stay plain HTTP, and metrics flags that do not fit
//! together (or an address that is not IP:PORT) failing the start with their names. The
//! bearer-token check is tested in ptp-serve (a fake reviewer, and the real reviewer against a
//! stub of the review APIs: the API server double serves neither tokenreviews nor
//! subjectaccessreviews) and against the real kube-apiserver in real_server_auth.rs.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use ptp_testkit::https::{Trust, https_get};
use ptp_testkit::probe::{agent_run, free_port, http_get, stop_with_sigterm, wait_for};

#[test]
fn metrics_over_https_with_a_self_signed_certificate_and_plain_probes() {
    let dir = tempfile_dir("tls");
    let profile = dir.join("node-1");
    std::fs::write(&profile, "[]").unwrap();
    let (metrics, health) = (free_port(), free_port());
    let mut agent = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "node-1", &profile, &dir.join("run"))
        .args(["--metrics-tls", "self-signed"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics}"), "--health-addr", &format!("127.0.0.1:{health}")])
        .spawn()
        .unwrap();
    wait_for("ready over plain HTTP", Duration::from_secs(15), || {
        http_get(health, "/readyz").is_some_and(|(code, _)| code == 200)
    });
    let answer = https_get(metrics, "/metrics", None, Trust::Any).expect("HTTPS GET /metrics");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("ptp_agent_refused_profiles"), "{}", answer.body);
    assert!(!answer.server_cert.is_empty());
    let plain = http_get(metrics, "/metrics");
    assert!(plain.as_ref().is_none_or(|(code, body)| *code != 200 && !body.contains("ptp_agent")), "{plain:?}");
    assert!(agent.try_wait().unwrap().is_none(), "a plain HTTP request does not stop the agent");
    stop_with_sigterm(&mut agent, Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ptp-endpoints-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_agent(args: &[&str]) -> Output {
    let dir = tempfile_dir("flags");
    let mut child = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "node-1", &dir.join("node-1"), &dir.join("run"))
        .args(["--health-addr", "none"])
        .args(args)
        .env_remove("METRICS_TLS")
        .env_remove("METRICS_AUTH")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("ptp-agent run {args:?} did not exit at start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(dir);
    child.wait_with_output().unwrap()
}

#[test]
fn metrics_flags_that_do_not_fit_fail_the_start_naming_them() {
    let cases: [(&[&str], &str); 4] = [
        (&["--metrics-tls", "files"], "--metrics-tls files needs --metrics-tls-cert and --metrics-tls-key"),
        (&["--metrics-tls-cert", "/tmp/x.crt"], "only with --metrics-tls files"),
        (
            &[
                "--metrics-tls",
                "files",
                "--metrics-tls-cert",
                "/nonexistent/tls.crt",
                "--metrics-tls-key",
                "/nonexistent/tls.key",
            ],
            "/nonexistent/tls.crt",
        ),
        (&["--metrics-addr", "localhost:9091"], "--metrics-addr \"localhost:9091\""),
    ];
    for (args, message) in cases {
        let out = run_agent(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
