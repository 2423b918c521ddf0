//! `ptp-agent run --profile FILE` with a fake ptp4l (a shell script): an update whose options
//! would override what the agent owns (`--uds_address=/tmp/x`) is refused, naming the profile and
//! the option, and the running version of the profile keeps running (same PID).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ptp_testkit::probe::{free_port, http_get, pids_of};

fn metrics(port: u16) -> String {
    http_get(port, "/metrics").map(|(_, text)| text).unwrap_or_default()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_update_overriding_the_socket_is_refused_and_the_running_profile_keeps_its_pid() {
    let dir = std::env::temp_dir().join(format!("ptp-owned-{}", std::process::id()));
    let bin = dir.join("bin");
    ptp_testkit::fixtures::install_fake(&bin, "ptp4l", &ptp_testkit::fixtures::locked_ptp4l_body("0.2")).unwrap();
    let profile = dir.join("node-1");
    std::fs::write(&profile, r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"}]"#).unwrap();
    let log = dir.join("agent.log");
    let run = dir.join("run");
    let port = free_port();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
        .args(["run", "--node-name", "node-1", "--health-addr", "none", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .arg("--profile")
        .arg(&profile)
        .arg("--run-dir")
        .arg(&run)
        .arg("--bin-dir")
        .arg(&bin)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let config = run.join("ptp4l.0.config").display().to_string();
    let ptp4l = || pids_of("sh", &config);
    wait_for("the profile's ptp4l runs", || ptp4l().len() == 1);
    let pid = ptp4l();

    std::fs::write(&profile, r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S --uds_address=/tmp/x"}]"#).unwrap();
    wait_for("the update is refused", || metrics(port).contains("ptp_agent_refused_profiles 1"));
    assert_eq!(ptp4l(), pid, "the running version keeps its process");
    let text = std::fs::read_to_string(&log).unwrap();
    let refusal = text.lines().find(|l| l.contains("profile not applied")).unwrap_or_else(|| panic!("{text}"));
    assert!(refusal.contains("profile=\"p\"") && refusal.contains("--uds_address=/tmp/x"), "{refusal}");
    assert!(refusal.contains("sets uds_address, which the agent owns"), "{refusal}");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains(&format!("uds_address {}", run.join("ptp4l.0.socket").display())), "{written}");

    let _ = Command::new("kill").args(["-TERM", &agent.id().to_string()]).status();
    wait_for("the agent exits on SIGTERM", || agent.try_wait().unwrap().is_some());
    wait_for("its ptp4l stopped", || ptp4l().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
