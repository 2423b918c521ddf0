//! chronyd and timemaster run by the agent in the netns lab (root). Nothing can adjust this
//! machine's clock: the agent and everything it starts run without CAP_SYS_TIME (setpriv drops it
//! from the inheritable and bounding sets; checked first), chronyd always runs with `-x` (it never
//! touches the clock) and `-u root` (no privilege drop, so that its files may live in the test's
//! directory), and its command socket, pidfile and driftfile are in the test's directory, away
//! from any chronyd of the machine.
//!
//! * A chronyd-only profile: chronyd runs under the supervisor (the agent's child), its
//!   `openshift_ptp_process_status` is 1, and removing the profile stops it and its series.
//! * A timemaster profile with one `[ptp_domain 0]` on a veth to a software ptp4l grandmaster:
//!   timemaster runs its ptp4l (software timestamping, `-S`) and chronyd (`-x`) as its children;
//!   the ptp4l lines carry the profile's tag, so their offsets reach the metrics; removing the
//!   profile leaves no process. On Debian's linuxptp 3.1.1 and on 4.2 (the agent's `--bin-dir`:
//!   timemaster then starts 4.2's ptp4l too).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ptp_agent::nic::netns::in_netns;
use ptp_agent::supervise::tree::stat;
use ptp_testkit::linuxptp::{Killed, Version, grandmaster, lab_bin};
use ptp_testkit::netns::NetNs;
use ptp_testkit::probe::{agent_run, http_get, kill_by_argument, pids_of, stop_with_sigterm, wait_for};
use ptp_testkit::sys_time::WITHOUT_SYS_TIME;

const METRICS_PORT: u16 = 9091;

fn metrics(ns: &NetNs) -> String {
    in_netns(&ns.path(), || Ok(http_get(METRICS_PORT, "/metrics").map(|(_, body)| body).unwrap_or_default()))
        .unwrap_or_default()
}

/// A fresh directory for one test, with `sock/` (mode 0700, as chronyd wants for its socket).
fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ptp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sock")).unwrap();
    std::fs::set_permissions(dir.join("sock"), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    dir
}

/// chronyd's configuration for the lab: no time source, its files in `dir`.
fn chrony_conf(dir: &Path) -> String {
    let d = dir.display();
    format!("cmdport 0\nbindcmdaddress {d}/sock/chronyd.sock\npidfile {d}/chronyd.pid\ndriftfile {d}/chronyd.drift\n")
}

/// The agent in `ns`, without CAP_SYS_TIME, its log in `dir/agent.log`.
fn spawn_agent(ns: &NetNs, dir: &Path, profiles: &Path, run_dir: &Path, bin_dir: Option<&Path>) -> Killed {
    let plain = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "lab-node", profiles, run_dir);
    let mut command = ns.command(WITHOUT_SYS_TIME[0]);
    command.args(&WITHOUT_SYS_TIME[1..]).arg(plain.get_program()).args(plain.get_args());
    command.args(["--health-addr", "none", "--metrics-addr", &format!("127.0.0.1:{METRICS_PORT}")]);
    if let Some(bin) = bin_dir {
        command.arg("--bin-dir").arg(bin);
    }
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    Killed(command.stdout(Stdio::null()).stderr(log).spawn().unwrap())
}

/// Ends (SIGKILL) every chronyd, ptp4l and timemaster whose arguments name `dir` when dropped,
/// after the agent (declare it first): a test that fails kills the agent with SIGKILL, and
/// timemaster's children outlive a timemaster killed that way.
struct Leftovers(PathBuf);

impl Drop for Leftovers {
    fn drop(&mut self) {
        kill_by_argument(&["timemaster", "ptp4l", "chronyd"], &self.0.display().to_string());
    }
}

fn parent_of(pid: u32) -> Option<u32> {
    stat(i32::try_from(pid).ok()?).and_then(|s| u32::try_from(s.ppid).ok())
}

fn agent_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
}

#[test]
fn chronyd_runs_under_the_supervisor_without_touching_the_clock() {
    if lab_bin("chronyd_runs_under_the_supervisor_without_touching_the_clock", Version::V31).is_none() {
        return;
    }
    let dir = test_dir("chronyd-lab");
    let _leftovers = Leftovers(dir.clone());
    let node = NetNs::new("ptpchrony").unwrap();
    let run_dir = dir.join("run");
    let profiles = dir.join("profiles.json");
    let profile = serde_json::json!({
        "name": "ntp", "ptp4lOpts": "", "chronydOpts": "-x -u root", "chronydConf": chrony_conf(&dir),
    });
    std::fs::write(&profiles, format!("[{profile}]")).unwrap();
    let mut agent = spawn_agent(&node, &dir, &profiles, &run_dir, None);
    let config = run_dir.join("chronyd.0.config").display().to_string();
    let status = r#"openshift_ptp_process_status{process="chronyd",node="lab-node",config="chronyd.0.config"}"#;

    wait_for("chronyd running, status 1", Duration::from_secs(30), || {
        metrics(&node).contains(&format!("{status} 1")) && pids_of("chronyd", &config).len() == 1
    });
    let chronyd = pids_of("chronyd", &config)[0];
    assert_eq!(parent_of(chronyd), Some(agent.0.id()), "chronyd stays the agent's child (-d: no daemonizing)");
    let cmdline = std::fs::read(format!("/proc/{chronyd}/cmdline")).unwrap();
    let args: Vec<_> = cmdline.split(|b| *b == 0).map(String::from_utf8_lossy).collect();
    assert_eq!(args[1..6], ["-f", config.as_str(), "-d", "-x", "-u"], "{args:?}");
    // Its stderr lines reach the agent's log.
    wait_for("chronyd's lines in the agent's log", Duration::from_secs(10), || {
        agent_log(&dir).contains("Disabled control of system clock")
    });

    // Removing the profile stops chronyd and forgets its series.
    std::fs::write(&profiles, "[]").unwrap();
    wait_for("chronyd stopped with its profile", Duration::from_secs(15), || {
        pids_of("chronyd", &config).is_empty() && !metrics(&node).contains(status)
    });
    stop_with_sigterm(&mut agent.0, Duration::from_secs(10));
    assert!(pids_of("chronyd", &dir.display().to_string()).is_empty(), "nothing left");
    let _ = std::fs::remove_dir_all(&dir);
}

fn timemaster_lab(version: Version) {
    let test = format!("timemaster_runs_ptp4l_and_chronyd_in_its_tree_{}", version.name());
    let Some(bin) = lab_bin(&test, version) else { return };
    let dir = test_dir(&format!("timemaster-lab-{}", version.name()));
    let _leftovers = Leftovers(dir.clone());
    let gm = NetNs::new("ptptmgm").unwrap();
    let node = NetNs::new("ptptmnode").unwrap();
    let (gm_if, node_if) =
        (format!("tmg{}", version.name().replace('.', "")), format!("tmn{}", version.name().replace('.', "")));
    gm.add_veth_pair(&gm_if, &node_if).unwrap();
    gm.ip(["link", "set", node_if.as_str(), "netns", node.name()]).unwrap();
    node.ip(["link", "set", node_if.as_str(), "up"]).unwrap();
    let _grandmaster = grandmaster(&gm, &bin, &dir, "gm", &gm_if, 0, "priority1 10\nmasterOnly 1\n");

    let timemaster_conf = format!(
        "[ptp_domain 0]\nptp4l_option network_transport L2\nptp4l_option logSyncInterval -2\n\
         ptp4l_option logAnnounceInterval -2\nptp4l_option summary_interval 0\n\n\
         [chronyd]\npath /usr/sbin/chronyd\noptions -x -u root\n\n[chrony.conf]\n{}",
        chrony_conf(&dir)
    );
    let threshold =
        serde_json::json!({"holdOverTimeout": 5, "maxOffsetThreshold": 1_000_000, "minOffsetThreshold": -1_000_000});
    let profile = serde_json::json!({
        "name": "tm", "interface": node_if, "ptp4lOpts": "", "timemasterOpts": " ",
        "timemasterConf": timemaster_conf, "ptpClockThreshold": threshold,
    });
    let profiles = dir.join("profiles.json");
    std::fs::write(&profiles, format!("[{profile}]")).unwrap();
    let run_dir = dir.join("run");
    let bin_dir = (version == Version::V42).then_some(bin.as_path());
    let mut agent = spawn_agent(&node, &dir, &profiles, &run_dir, bin_dir);

    let config = run_dir.join("timemaster.0.config").display().to_string();
    let rundir = run_dir.join("timemaster.0").display().to_string();
    let status = r#"openshift_ptp_process_status{process="timemaster",node="lab-node",config="timemaster.0.config"}"#;
    let offset = r#"openshift_ptp_offset_ns{from="master",process="ptp4l",node="lab-node""#;
    wait_for("timemaster up and its ptp4l's offsets in the metrics", Duration::from_secs(60), || {
        let m = metrics(&node);
        m.contains(&format!("{status} 1")) && m.contains(offset)
    });
    let timemaster = pids_of("timemaster", &config);
    assert_eq!(timemaster.len(), 1, "{timemaster:?}");
    assert_eq!(parent_of(timemaster[0]), Some(agent.0.id()), "timemaster is the agent's child");
    let ptp4l = pids_of("ptp4l", &rundir);
    let chronyd = pids_of("chronyd", &rundir);
    assert_eq!((ptp4l.len(), chronyd.len()), (1, 1), "one ptp4l and one chronyd of timemaster");
    assert_eq!(parent_of(ptp4l[0]), Some(timemaster[0]), "ptp4l in timemaster's tree");
    assert_eq!(parent_of(chronyd[0]), Some(timemaster[0]), "chronyd in timemaster's tree");
    let exe = std::fs::read_link(format!("/proc/{}/exe", ptp4l[0])).unwrap();
    assert_eq!(exe, bin.join("ptp4l").canonicalize().unwrap(), "timemaster's ptp4l is linuxptp {}", version.name());
    let m = metrics(&node);
    let line = m.lines().find(|l| l.starts_with(offset)).unwrap_or_default();
    eprintln!("linuxptp {}: {line}", version.name());

    // Removing the profile stops timemaster and its children; no series of it stays.
    std::fs::write(&profiles, "[]").unwrap();
    wait_for("timemaster and its children stopped with the profile", Duration::from_secs(20), || {
        pids_of("timemaster", &config).is_empty()
            && pids_of("ptp4l", &rundir).is_empty()
            && pids_of("chronyd", &rundir).is_empty()
    });
    wait_for("its series gone", Duration::from_secs(10), || {
        let m = metrics(&node);
        !m.contains(status) && !m.contains(offset)
    });
    stop_with_sigterm(&mut agent.0, Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn timemaster_runs_ptp4l_and_chronyd_in_its_tree_31() {
    timemaster_lab(Version::V31);
}

#[test]
fn timemaster_runs_ptp4l_and_chronyd_in_its_tree_42() {
    timemaster_lab(Version::V42);
}
