//! A taken `--metrics-addr` or `--health-addr` ends `ptp-operator run` at the start with an error
//! naming the address (as in the agent), instead of a controller running without its endpoint.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use ptp_testkit::ApiServer;

#[tokio::test]
async fn a_taken_metrics_or_health_address_ends_the_operator_naming_it() {
    let server = ApiServer::start().await.unwrap();
    let mut ns = Namespace::default();
    ns.metadata.name = Some("ptp".into());
    server.seed(&ns).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (flag, other) in [("--metrics-addr", "--health-addr"), ("--health-addr", "--metrics-addr")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ptp-operator"))
            .args(["run", "--namespace", "ptp", "--identity", "taken-port"])
            .args([flag, addr.as_str(), other, "none"])
            .env("KUBECONFIG", server.kubeconfig_path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ptp-operator run {flag} {addr} (taken) still runs after 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
        assert_eq!(status.code(), Some(1), "{flag}: {stderr}");
        assert!(stderr.contains(&format!("listening on {addr}")), "{flag}: {stderr}");
    }
}
