//! A taken `--metrics-addr` or `--health-addr` ends `ptp-agent run` at the start with an error
//! naming the address (as in the operator), before any process is started.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_taken_metrics_or_health_address_ends_the_agent_naming_it() {
    let dir = std::env::temp_dir().join(format!("ptp-agent-taken-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("profile");
    std::fs::write(&profile, "[]").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (flag, other) in [("--metrics-addr", "--health-addr"), ("--health-addr", "--metrics-addr")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
            .args(["run", "--node-name", "taken-port", "--profile"])
            .arg(&profile)
            .arg("--run-dir")
            .arg(dir.join("run"))
            .args([flag, addr.as_str(), other, "none"])
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
                panic!("ptp-agent run {flag} {addr} (taken) still runs after 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
        assert_eq!(status.code(), Some(1), "{flag}: {stderr}");
        assert!(stderr.contains(&format!("listening on {addr}")), "{flag}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
