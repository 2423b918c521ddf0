//! A taken `--metrics-addr` or `--health-addr` ends `ptp-operator run` at the start with an error
//! naming the address (as in the agent), instead of a controller running without its endpoint.
//! The addresses are bound before the operator talks to the API server: its kubeconfig points at
//! an address where nothing listens.

use std::process::Command;

#[test]
fn a_taken_metrics_or_health_address_ends_the_operator_naming_it() {
    let dir = std::env::temp_dir().join(format!("ptp-operator-taken-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"http://{nowhere}\"}}}}]\n\
             users: [{{name: u, user: {{}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n\
             current-context: x\n"
        ),
    )
    .unwrap();
    ptp_testkit::probe::assert_taken_addresses_are_fatal(|flag, addr, other| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ptp-operator"));
        command
            .args(["run", "--namespace", "ptp", "--identity", "taken-port"])
            .args([flag, addr, other, "none"])
            .env("KUBECONFIG", &kubeconfig);
        command
    });
    let _ = std::fs::remove_dir_all(dir);
}
