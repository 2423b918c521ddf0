//! `ptp-agent run --profile FILE` with a fake ptp4l (a shell script): an update whose options
//! would override what the agent owns (`--uds_address=/tmp/x`) is refused, naming the profile and
//! the option, and the running version of the profile keeps running (same PID).

use std::time::Duration;

use ptp_testkit::probe::{agent_run, free_port, http_get, pids_of, stop_with_sigterm};

fn metrics(port: u16) -> String {
    http_get(port, "/metrics").map(|(_, text)| text).unwrap_or_default()
}

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    ptp_testkit::probe::wait_for(what, Duration::from_secs(10), done);
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
    let mut agent = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "node-1", &profile, &run)
        .args(["--health-addr", "none", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .arg("--bin-dir")
        .arg(&bin)
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

    stop_with_sigterm(&mut agent, Duration::from_secs(10));
    wait_for("its ptp4l stopped", || ptp4l().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
