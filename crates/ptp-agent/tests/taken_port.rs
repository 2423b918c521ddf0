//! A taken `--metrics-addr` or `--health-addr` ends `ptp-agent run` at the start with an error
//! naming the address (as in the operator), before any process is started.

use std::process::Command;

#[test]
fn a_taken_metrics_or_health_address_ends_the_agent_naming_it() {
    let dir = std::env::temp_dir().join(format!("ptp-agent-taken-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("profile");
    std::fs::write(&profile, "[]").unwrap();
    ptp_testkit::probe::assert_taken_addresses_are_fatal(|flag, addr, other| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ptp-agent"));
        command
            .args(["run", "--node-name", "taken-port", "--profile"])
            .arg(&profile)
            .arg("--run-dir")
            .arg(dir.join("run"))
            .args([flag, addr, other, "none"]);
        command
    });
    let _ = std::fs::remove_dir_all(dir);
}
