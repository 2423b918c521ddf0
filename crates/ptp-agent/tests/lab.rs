//! The local lab with real ptp4l, linuxptp 3.1 and 4.2: a software-timestamping grandmaster in
//! one network namespace, the agent (standalone, `run --profile`) with two profiles in another,
//! over veth pairs. Nothing can adjust this machine's clock: every process runs without
//! CAP_SYS_TIME (setpriv drops it from the inheritable and bounding sets; checked first), and the
//! agent's ptp4l with the lab's shim, whose adjustments succeed without reaching the kernel; the
//! profiles never step (no step thresholds). The linreg servo locks, so the ports reach SLAVE and
//! the clock LOCKED. Needs root.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use ptp_agent::nic::netns::in_netns;
use ptp_testkit::linuxptp::{Version, lab_bin, no_adjtime};
use ptp_testkit::netns::NetNs;
use ptp_testkit::probe::{http_get, pids_of};
use ptp_testkit::sys_time::{WITHOUT_SYS_TIME, check_without_sys_time};

const METRICS_PORT: u16 = 9091;

fn profile(name: &str, iface: &str, extra: &str) -> String {
    let conf = "[global]\nslaveOnly 1\ndomainNumber 0\nnetwork_transport L2\ntime_stamping software\nclock_servo linreg\nfirst_step_threshold 0.0\nstep_threshold 0.0\nlogSyncInterval 0\nsummary_interval 0\n";
    let threshold =
        serde_json::json!({"holdOverTimeout": 3, "maxOffsetThreshold": 1_000_000, "minOffsetThreshold": -1_000_000});
    serde_json::json!({"name": name, "interface": iface, "ptp4lOpts": format!("-S{extra}"), "ptp4lConf": conf, "ptpClockThreshold": threshold})
        .to_string()
}

fn write_profiles(path: &Path, items: &[String]) {
    std::fs::write(path, format!("[{}]", items.join(","))).unwrap();
}

/// `/metrics` of the agent, fetched from inside its namespace.
fn metrics(ns: &NetNs) -> String {
    in_netns(&ns.path(), || Ok(http_get(METRICS_PORT, "/metrics").map(|(_, body)| body).unwrap_or_default()))
        .unwrap_or_default()
}

fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn agent_runs_ptp4l_3_1_against_a_software_grandmaster() {
    lab(Version::V31);
}

#[test]
fn agent_runs_ptp4l_4_2_against_a_software_grandmaster() {
    lab(Version::V42);
}

/// The agent's `--bin-dir` for the lab: a `ptp4l` that runs linuxptp `bin`'s with the lab's shim
/// ([`no_adjtime`]: adjustments succeed without reaching the kernel; 4.2 resets its servo when
/// one fails).
fn wrappers(dir: &Path, bin: &Path) -> PathBuf {
    let wrappers = dir.join("bin");
    std::fs::create_dir_all(&wrappers).unwrap();
    let script =
        format!("#!/bin/sh\nexec env LD_PRELOAD={} {} \"$@\"\n", no_adjtime().display(), bin.join("ptp4l").display());
    std::fs::write(wrappers.join("ptp4l"), script).unwrap();
    std::fs::set_permissions(wrappers.join("ptp4l"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    wrappers
}

fn lab(version: Version) {
    let test = format!("agent_runs_ptp4l_{}_against_a_software_grandmaster", version.name().replace('.', "_"));
    let Some(bin) = lab_bin(&test, version) else { return };
    let dir = std::env::temp_dir().join(format!("ptp-lab-test-{}-{}", version.name(), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gm = NetNs::new("ptplabgm").unwrap();
    let node = NetNs::new("ptplabnode").unwrap();
    for (g, n) in [("labgm1", "labnode1"), ("labgm2", "labnode2")] {
        gm.add_veth_pair(g, n).unwrap();
        gm.ip(["link", "set", n, "netns", node.name()]).unwrap();
        node.ip(["link", "set", n, "up"]).unwrap();
    }
    let gm_conf = dir.join("gm.conf");
    std::fs::write(&gm_conf, "[global]\npriority1 10\ndomainNumber 0\nnetwork_transport L2\ntime_stamping software\nlogSyncInterval 0\nmasterOnly 1\n").unwrap();
    let no_systime = WITHOUT_SYS_TIME;
    check_without_sys_time().unwrap();
    let grandmaster = Killed(
        gm.command(no_systime[0])
            .args(&no_systime[1..])
            .arg(bin.join("ptp4l"))
            .args(["-S", "-m", "-i", "labgm1", "-i", "labgm2", "-f"])
            .arg(&gm_conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let profiles = dir.join("profiles.json");
    let a = profile("lab-a", "labnode1", "");
    write_profiles(&profiles, &[a.clone(), profile("lab-b", "labnode2", "")]);
    let run_dir: PathBuf = dir.join("run");
    // This agent's ptp4l of run id `id`: by the path of its configuration in this test's run
    // directory (other agents on the machine run `ptp4l.0.config` too).
    let ptp4l_of = |id: u32| pids_of("ptp4l", &run_dir.join(format!("ptp4l.{id}.config")).display().to_string());
    let mut agent = Killed(
        node.command(no_systime[0])
            .args(&no_systime[1..])
            .arg(env!("CARGO_BIN_EXE_ptp-agent"))
            .args(["run", "--node-name", "lab-node", "--health-addr", "none"])
            .args(["--metrics-addr", &format!("127.0.0.1:{METRICS_PORT}"), "--profile"])
            .arg(&profiles)
            .arg("--run-dir")
            .arg(&run_dir)
            .arg("--bin-dir")
            .arg(wrappers(&dir, &bin))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("agent.log")).unwrap())
            .spawn()
            .unwrap(),
    );

    // Within 60 s: offsets from the grandmaster, both processes up.
    let started = Instant::now();
    wait_until("offsets in the metrics", Duration::from_secs(60), || {
        let m = metrics(&node);
        m.contains("openshift_ptp_offset_ns{from=\"master\",process=\"ptp4l\",node=\"lab-node\"")
            && m.contains("openshift_ptp_delay_ns{")
            && m.contains(r#"openshift_ptp_process_status{process="ptp4l",node="lab-node",config="ptp4l.0.config"} 1"#)
            && m.contains(r#"openshift_ptp_process_status{process="ptp4l",node="lab-node",config="ptp4l.1.config"} 1"#)
    });
    eprintln!("offsets in the metrics after {} ms", started.elapsed().as_millis());
    let mut polls = 0;
    wait_until("role SLAVE and clock LOCKED", Duration::from_secs(60), || {
        let m = metrics(&node);
        polls += 1;
        if polls % 25 == 0 {
            eprintln!("{}", m.lines().filter(|l| l.starts_with("openshift")).collect::<Vec<_>>().join("\n"));
        }
        m.contains(r#"openshift_ptp_interface_role{process="ptp4l",node="lab-node",iface="labnode1"} 1"#)
            && m.contains(r#"openshift_ptp_clock_state{process="ptp4l",node="lab-node",iface="labnode1"} 1"#)
            && m.contains(r#"openshift_ptp_offset_ns{from="master",process="ptp4l",node="lab-node",iface="labnode1"}"#)
    });
    eprintln!("SLAVE and LOCKED after {} ms", started.elapsed().as_millis());
    wait_until("no placeholder `master` series once the slave ports are known", Duration::from_secs(30), || {
        let m = metrics(&node);
        !m.contains(r#"iface="master""#)
            && m.contains(r#"openshift_ptp_interface_role{process="ptp4l",node="lab-node",iface="labnode2"} 1"#)
    });

    let pid_a = ptp4l_of(0);
    let pid_b = ptp4l_of(1);
    assert_eq!((pid_a.len(), pid_b.len()), (1, 1), "one ptp4l per profile");

    // Editing one of two profiles restarts only that one.
    write_profiles(&profiles, &[a.clone(), profile("lab-b", "labnode2", " -l 6")]);
    wait_until("lab-b restarted", Duration::from_secs(15), || {
        let now = ptp4l_of(1);
        now.len() == 1 && now != pid_b
    });
    assert_eq!(ptp4l_of(0), pid_a, "the unchanged profile keeps its process");
    let pid_b = ptp4l_of(1);

    // A malformed update, and an update with one invalid profile, leave everything running.
    std::fs::write(&profiles, "[{\"name\":").unwrap();
    wait_until("the malformed value seen", Duration::from_secs(15), || {
        let m = metrics(&node);
        m.contains("ptp_agent_profile_source_valid 0") && m.contains("ptp_agent_profile_source_errors_total 1")
    });
    assert_eq!(ptp4l_of(0), pid_a);
    assert_eq!(ptp4l_of(1), pid_b, "a malformed value keeps what runs");
    let bad_conf = serde_json::json!({"name": "lab-b", "interface": "labnode2", "ptp4lOpts": "-S", "ptp4lConf": "[global]\nslaveOnly\n"});
    write_profiles(&profiles, &[a, bad_conf.to_string()]);
    wait_until("the invalid lab-b refused", Duration::from_secs(15), || {
        let m = metrics(&node);
        m.contains("ptp_agent_profile_source_valid 1") && m.contains("ptp_agent_refused_profiles 1")
    });
    assert_eq!(ptp4l_of(0), pid_a);
    assert_eq!(ptp4l_of(1), pid_b, "the invalid update of lab-b keeps the running version");

    // Losing the grandmaster: samples stop, the clock holds over, then runs free; the port leaves
    // SLAVE on the announce timeout.
    wait_until("lab-a locked again", Duration::from_secs(30), || {
        metrics(&node).contains(r#"openshift_ptp_clock_state{process="ptp4l",node="lab-node",iface="labnode1"} 1"#)
    });
    drop(grandmaster);
    wait_until("HOLDOVER", Duration::from_secs(15), || {
        metrics(&node).contains(r#"openshift_ptp_clock_state{process="ptp4l",node="lab-node",iface="labnode1"} 2"#)
    });
    wait_until("FREERUN after holdOverTimeout", Duration::from_secs(15), || {
        metrics(&node).contains(r#"openshift_ptp_clock_state{process="ptp4l",node="lab-node",iface="labnode1"} 0"#)
    });
    wait_until("port no longer SLAVE", Duration::from_secs(30), || {
        !metrics(&node).contains(r#"openshift_ptp_interface_role{process="ptp4l",node="lab-node",iface="labnode1"} 1"#)
    });

    // SIGTERM to the agent stops every child and exits within 10 s; nothing is left behind.
    let _ = std::process::Command::new("kill").args(["-TERM", &agent.0.id().to_string()]).status();
    let stopping = Instant::now();
    loop {
        if agent.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(stopping.elapsed() < Duration::from_secs(10), "the agent exits within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_until("no ptp4l left", Duration::from_secs(5), || ptp4l_of(0).is_empty() && ptp4l_of(1).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
