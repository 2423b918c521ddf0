//! Every sample of `config/samples/` in the lab, on linuxptp 3.1 (Debian's) and 4.2 (built by
//! `scripts/linuxptp.sh`): `ptp-operator render` gives the node's profiles for a node the sample
//! selects, and `ptp-agent run --profile` runs them with the linuxptp of that version.
//!
//! The lab: a network namespace for the node, one for its neighbours, a veth pair per interface
//! the sample names (`ens1f0`, ...: the node side has the sample's name), and a software
//! grandmaster (clockClass 6) on the neighbour side of each port the sample follows upstream.
//! Its changes to what the samples say ([`for_the_lab`]): veth pairs have no PHC, so
//! `time_stamping hardware` becomes `software`; ptp4l's servo is `linreg`. Every linuxptp program runs in the node's namespace without CAP_SYS_TIME
//! (a wrapper per program in the agent's `--bin-dir`) with the lab's `LD_PRELOAD` shim
//! ([`no_adjtime`]): adjustments succeed without reaching the kernel, so the servos lock (linuxptp
//! 4.x resets its servo on a failed adjustment) and nothing adjusts this machine's clock.
//!
//! For each sample and version:
//! * the profiles documented as refused on that version are refused with their reason, and no
//!   other;
//! * every ptp4l runs (no restart), the ports the sample follows upstream reach SLAVE and its
//!   time-transmitter ports MASTER;
//! * phc2sys and ts2phc start and get past their option checks: they exit in the lab (no PHC,
//!   no GNSS receiver), never for an option they refuse;
//! * the T-BC sample: the time transmitter announces 248 while the time receiver is not in sync
//!   (the sample's 10 ns are out of reach of software timestamps); with the threshold raised, it
//!   announces the grandmaster's class 6; without the grandmaster, 135 (holdover), then 248.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ptp_e2e_local::binary;
use ptp_testkit::linuxptp::{Killed, Version, lab_bin, no_adjtime};
use ptp_testkit::netns::NetNs;
use ptp_testkit::probe::{free_port, http_get, kill_by_argument, wait_for};
use ptp_testkit::sys_time::WITHOUT_SYS_TIME;

const NODE: &str = "sample-node";

/// The programs the agent runs for the samples, and what timemaster starts.
const PROGRAMS: [&str; 5] = ["ptp4l", "phc2sys", "ts2phc", "timemaster", "chronyd"];

/// What a sample is expected to do in the lab.
struct Case {
    file: &'static str,
    /// Labels of a node the sample selects.
    labels: &'static [(&'static str, &'static str)],
    /// Ports (node side) with the grandmaster on the other side: SLAVE (or, for timemaster,
    /// whose ptp4l feeds chronyd and never locks its port, offsets in the metrics).
    upstream: &'static [&'static str],
    /// Ports that serve time downstream: MASTER.
    downstream: &'static [&'static str],
    /// Profiles refused on 3.1, and a part of the reason.
    refused_on_31: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        file: "boundary-clock.yaml",
        labels: &[("ptp/boundary-clock", "true")],
        upstream: &["ens1f0"],
        downstream: &["ens1f1"],
        refused_on_31: &[],
    },
    Case {
        file: "dual-nic-ha.yaml",
        labels: &[("ptp/dual-nic-ha", "")],
        upstream: &["ens1f0", "ens2f0"],
        downstream: &[],
        refused_on_31: &[("dual-nic-ha_ha-phc2sys", "needs linuxptp 4.2 or later; this node runs 3.1.1")],
    },
    Case {
        file: "grandmaster.yaml",
        labels: &[("ptp/grandmaster", "true")],
        upstream: &[],
        downstream: &["ens1f0", "ens1f1"],
        refused_on_31: &[],
    },
    Case {
        file: "ordinary-clock.yaml",
        labels: &[("node-role.kubernetes.io/worker", "")],
        upstream: &["ens1f0"],
        downstream: &[],
        refused_on_31: &[],
    },
    Case {
        file: "software-lab.yaml",
        labels: &[("ptp.example.com/lab", "")],
        upstream: &["veth-lab1"],
        downstream: &[],
        refused_on_31: &[],
    },
    Case {
        file: "timemaster.yaml",
        labels: &[("ptp.example.com/timemaster", "")],
        upstream: &["ens1f0"],
        downstream: &[],
        refused_on_31: &[],
    },
    Case {
        file: "t-bc.yaml",
        labels: &[("ptp/tbc", "")],
        upstream: &["ens1f0"],
        downstream: &["ens1f1", "ens1f2"],
        refused_on_31: &[],
    },
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_sample_has_a_case() {
    let files: BTreeSet<String> = std::fs::read_dir(repo().join("config/samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    let cases: BTreeSet<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    assert_eq!(files, cases, "each sample needs its lab case here");
}

#[test]
fn samples_run_in_the_lab_on_linuxptp_3_1() {
    run_all(Version::V31);
}

#[test]
fn samples_run_in_the_lab_on_linuxptp_4_2() {
    run_all(Version::V42);
}

fn run_all(version: Version) {
    let test = format!("samples_run_in_the_lab_on_linuxptp_{}", version.name());
    let Some(bin) = lab_bin(&test, version) else { return };
    // PTP_SAMPLES=t-bc.yaml,...: only these (while debugging one).
    let only = std::env::var("PTP_SAMPLES").unwrap_or_default();
    for case in CASES.iter().filter(|c| only.is_empty() || only.split(',').any(|o| o == c.file)) {
        eprintln!("== {} on linuxptp {}", case.file, version.name());
        Lab::new(case, version, &bin).check(case, version);
    }
}

/// `ptp-operator render` of one sample for a node with `labels`: the node's value.
fn render(file: &str, labels: &[(&str, &str)], dir: &Path) -> String {
    let labels: String = labels.iter().map(|(k, v)| format!("\n    {k}: {v:?}")).collect();
    let nodes = dir.join("nodes.yaml");
    std::fs::write(&nodes, format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE}\n  labels:{labels}\n"))
        .unwrap();
    let out = Command::new(binary("ptp-operator"))
        .args(["render", "-o", "json", "-f"])
        .arg(repo().join("config/samples").join(file))
        .arg("-f")
        .arg(&nodes)
        .output()
        .unwrap();
    assert!(out.status.success(), "render {file}: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["data"][NODE].as_str().unwrap_or_else(|| panic!("{file} selects no profile for the node: {json}")).to_string()
}

/// What the lab changes in a node's value: veth pairs have no PHC (`time_stamping software`);
/// ptp4l's servo is `linreg` (pi estimates the frequency from adjustments that, in the lab, do not
/// happen: it does not settle), and the frequency sanity check is off (`sanity_freq_limit 0`: the
/// clock never changes as the servo asks). The adjustments themselves succeed without reaching the
/// kernel ([`no_adjtime`]), and every program runs without CAP_SYS_TIME.
fn for_the_lab(value: &str, dir: &Path) -> String {
    const LAB: [&str; 2] = ["clock_servo linreg", "sanity_freq_limit 0"];
    let mut profiles: serde_json::Value = serde_json::from_str(value).unwrap();
    for p in profiles.as_array_mut().unwrap() {
        if let Some(conf) = p["timemasterConf"].as_str() {
            p["timemasterConf"] = serde_json::Value::String(chronyd_for_the_lab(conf, dir));
        }
        let Some(conf) = p["ptp4lConf"].as_str() else { continue };
        let mut lines: Vec<String> = conf
            .lines()
            .filter(|l| !["clock_servo", "sanity_freq_limit"].iter().any(|k| l.trim_start().starts_with(k)))
            .map(|l| l.replace("time_stamping hardware", "time_stamping software"))
            .collect();
        match lines.iter().position(|l| l.trim() == "[global]") {
            Some(at) => lines.splice(at + 1..at + 1, LAB.map(String::from)).for_each(drop),
            None => lines.extend(std::iter::once("[global]".to_string()).chain(LAB.map(String::from))),
        }
        p["ptp4lConf"] = serde_json::Value::String(lines.join("\n") + "\n");
    }
    profiles.to_string()
}

/// timemaster's chronyd in the lab: `-x` (it never steers a clock), as root (its files are in the
/// test's directory), no command port.
fn chronyd_for_the_lab(conf: &str, dir: &Path) -> String {
    // Its command socket in a directory of its own (mode 0700, as chronyd wants it), not in
    // /run/chrony, where another chronyd of the machine may be.
    let sock = dir.join("sock");
    std::fs::create_dir_all(&sock).unwrap();
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let chrony = [
        format!("pidfile {}", dir.join("chronyd.pid").display()),
        format!("driftfile {}", dir.join("chronyd.drift").display()),
        format!("bindcmdaddress {}", sock.join("chronyd.sock").display()),
        "cmdport 0".to_string(),
    ];
    let mut lines: Vec<String> = conf.lines().map(str::to_string).collect();
    match lines.iter().position(|l| l.trim() == "[chrony.conf]") {
        Some(at) => lines.splice(at + 1..at + 1, chrony).for_each(drop),
        None => lines.extend(std::iter::once("[chrony.conf]".to_string()).chain(chrony)),
    }
    lines.extend(["[chronyd]".to_string(), "options -x -u root".to_string()]);
    lines.join("\n") + "\n"
}

/// The interfaces of a node's value: `interface` fields and the port sections of `ptp4lConf`.
fn interfaces(value: &str) -> BTreeSet<String> {
    let profiles: serde_json::Value = serde_json::from_str(value).unwrap();
    let mut names = BTreeSet::new();
    for p in profiles.as_array().unwrap() {
        if let Some(i) = p["interface"].as_str().filter(|i| !i.is_empty()) {
            names.insert(i.to_string());
        }
        for line in p["ptp4lConf"].as_str().unwrap_or_default().lines() {
            if let Some(section) = line.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']'))
                && section != "global"
            {
                names.insert(section.to_string());
            }
        }
    }
    names
}

/// The `domainNumber` of the first ptp4l configuration that sets one.
fn domain(value: &str) -> u8 {
    let profiles: serde_json::Value = serde_json::from_str(value).unwrap();
    profiles
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["ptp4lConf"].as_str())
        .flat_map(str::lines)
        .find_map(|l| l.trim().strip_prefix("domainNumber").map(|d| d.trim().parse().unwrap()))
        .unwrap_or(0)
}

struct Lab {
    dir: PathBuf,
    profiles: PathBuf,
    value: String,
    port: u16,
    // Dropped in this order: the agent (it stops its children), the grandmaster, the namespaces.
    agent: Option<Killed>,
    grandmaster: Option<Killed>,
    _node: NetNs,
    _gm: NetNs,
}

impl Drop for Lab {
    /// Should a check fail: the agent is SIGKILLed (its children go with it: their parent-death
    /// signal), and what they started and no signal reaches (timemaster's chronyd) is killed by
    /// the test directory in its arguments.
    fn drop(&mut self) {
        drop(self.agent.take());
        kill_by_argument(&PROGRAMS, &self.dir.display().to_string());
    }
}

impl Lab {
    fn new(case: &Case, version: Version, bin: &Path) -> Lab {
        let dir = std::env::temp_dir().join(format!(
            "ptp-samples-{}-{}-{}",
            case.file.trim_end_matches(".yaml"),
            version.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let value = for_the_lab(&render(case.file, case.labels, &dir), &dir);
        let gm = NetNs::new("smpgm").unwrap();
        let node = NetNs::new("smpnode").unwrap();
        let mut gm_ports = Vec::new();
        for (i, iface) in interfaces(&value).iter().enumerate() {
            let peer = format!("gm{i}");
            gm.add_veth_pair(&peer, iface).unwrap();
            gm.ip(["link", "set", iface, "netns", node.name()]).unwrap();
            node.ip(["link", "set", iface, "up"]).unwrap();
            // Addresses for UDP/IPv4 (timemaster's ptp4l); layer 2 does not need them.
            gm.ip(["addr", "add", &format!("10.99.{i}.1/24"), "dev", &peer]).unwrap();
            node.ip(["addr", "add", &format!("10.99.{i}.2/24"), "dev", iface]).unwrap();
            if case.upstream.contains(&iface.as_str()) {
                gm_ports.push(peer);
            }
        }
        node.ip(["link", "set", "lo", "up"]).unwrap();
        // The samples' transport: layer 2 (`-2` or `network_transport L2`), else ptp4l's default.
        let transport = if value.contains("network_transport L2") || value.contains("\"-2") { "L2" } else { "UDPv4" };
        let grandmaster =
            (!gm_ports.is_empty()).then(|| spawn_grandmaster(&gm, bin, &dir, &gm_ports, (domain(&value), transport)));

        // Every program of the agent runs in the node's namespace without CAP_SYS_TIME.
        let wrappers = dir.join("bin");
        std::fs::create_dir_all(&wrappers).unwrap();
        let shim = no_adjtime();
        for program in ["ptp4l", "phc2sys", "ts2phc", "pmc", "timemaster"] {
            let script = format!(
                "#!/bin/sh\nexec ip netns exec {} env LD_PRELOAD={} {} {} \"$@\"\n",
                node.name(),
                shim.display(),
                WITHOUT_SYS_TIME.join(" "),
                bin.join(program).display()
            );
            let path = wrappers.join(program);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let profiles = dir.join("profiles.json");
        std::fs::write(&profiles, &value).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("agent.log")).unwrap();
        let agent = Command::new(WITHOUT_SYS_TIME[0])
            .args(&WITHOUT_SYS_TIME[1..])
            .arg(binary("ptp-agent"))
            .args(["run", "--node-name", NODE, "--health-addr", "none", "--metrics-addr"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--profile")
            .arg(&profiles)
            .arg("--run-dir")
            .arg(dir.join("run"))
            .arg("--bin-dir")
            .arg(&wrappers)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Lab { dir, profiles, value, port, agent: Some(Killed(agent)), grandmaster, _node: node, _gm: gm }
    }

    fn metrics(&self) -> String {
        http_get(self.port, "/metrics").map(|(_, body)| body).unwrap_or_default()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }

    /// Waits for `what` in the metrics; on a timeout, the metrics and the agent's log say why.
    fn wait_metrics(&self, what: &str, within: Duration, mut condition: impl FnMut(&str) -> bool) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let m = self.metrics();
            if condition(&m) {
                return;
            }
            if std::time::Instant::now() > deadline {
                let ours: Vec<&str> = m.lines().filter(|l| !l.starts_with('#')).collect();
                let log = self.log();
                let tail: Vec<&str> = log.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
                panic!(
                    "timed out after {within:?} waiting for {what}\nmetrics:\n{}\nagent log:\n{}",
                    ours.join("\n"),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn check(mut self, case: &Case, version: Version) {
        let refused: &[(&str, &str)] = if version == Version::V31 { case.refused_on_31 } else { &[] };
        self.wait_metrics("the profiles applied", Duration::from_secs(20), |m| {
            m.contains(&format!("ptp_agent_refused_profiles {}", refused.len()))
                && m.contains("ptp_agent_profile_source_valid 1")
        });
        for (profile, reason) in refused {
            let log = self.log();
            let line = log.lines().find(|l| l.contains("profile not applied") && l.contains(profile));
            assert!(line.is_some_and(|l| l.contains(reason)), "{profile} refused with {reason:?}:\n{log}");
        }
        let role = |iface: &str, value: u8| {
            format!("openshift_ptp_interface_role{{process=\"ptp4l\",node=\"{NODE}\",iface=\"{iface}\"}} {value}")
        };
        for iface in case.upstream {
            if case.file == "timemaster.yaml" {
                let offset = "openshift_ptp_offset_ns{from=\"master\",process=\"ptp4l\"";
                self.wait_metrics("offsets from timemaster's ptp4l", Duration::from_secs(60), |m| m.contains(offset));
                continue;
            }
            self.wait_metrics(&format!("{iface} SLAVE"), Duration::from_secs(60), |m| m.contains(&role(iface, 1)));
        }
        for iface in case.downstream {
            self.wait_metrics(&format!("{iface} MASTER"), Duration::from_secs(60), |m| m.contains(&role(iface, 2)));
        }
        let m = self.metrics();
        let status: Vec<&str> = m.lines().filter(|l| l.starts_with("openshift_ptp_process_status{")).collect();
        for line in status.iter().filter(|l| l.contains("process=\"ptp4l\"")) {
            assert!(line.ends_with(" 1"), "every ptp4l runs: {line}\n{m}");
        }
        for line in m.lines().filter(|l| l.starts_with("openshift_ptp_process_restart_count{process=\"ptp4l\"")) {
            assert!(line.ends_with(" 0"), "no ptp4l restarted: {line}");
        }
        // phc2sys and ts2phc: started, past their option checks.
        let profiles: serde_json::Value = serde_json::from_str(&self.value).unwrap();
        let runs = |field: &str| {
            profiles.as_array().unwrap().iter().any(|p| {
                let name = p["name"].as_str().unwrap_or_default();
                p[field].as_str().is_some_and(|o| !o.is_empty()) && !refused.iter().any(|(r, _)| *r == name)
            })
        };
        for (program, field) in [("phc2sys", "phc2sysOpts"), ("ts2phc", "ts2phcOpts"), ("timemaster", "timemasterOpts")]
        {
            if runs(field) {
                self.wait_metrics(&format!("{program} started"), Duration::from_secs(90), |m| {
                    m.contains(&format!("openshift_ptp_process_status{{process=\"{program}\""))
                });
            }
        }
        let log = self.log();
        // What phc2sys and ts2phc print for options they refuse (a missing PHC in the lab ends in
        // `usage:` too, after saying so: not counted).
        for usage in [
            "autoconfiguration or valid source clock must be selected",
            "must be specified",
            "needed with multiple domains",
            "invalid option",
            "unrecognized option",
            "requires an argument",
        ] {
            assert!(
                !log.contains(usage),
                "{} on {}: a program refused its options ({usage}):\n{log}",
                case.file,
                version.name()
            );
        }
        if case.file == "t-bc.yaml" {
            self.check_tbc();
        }
        // SIGTERM: the agent stops every child.
        if let Some(mut agent) = self.agent.take() {
            ptp_testkit::probe::stop_with_sigterm(&mut agent.0, Duration::from_secs(10));
        }
        let run_dir = self.dir.join("run").display().to_string();
        wait_for("no child of the agent left", Duration::from_secs(10), || {
            PROGRAMS.iter().all(|p| ptp_testkit::probe::pids_of(p, &run_dir).is_empty())
        });
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// The T-BC sample's time transmitter announces the class its time receiver's state gives.
    fn check_tbc(&mut self) {
        let class = |m: &str, config: &str| {
            let prefix = format!("openshift_ptp_clock_class{{process=\"ptp4l\",node=\"{NODE}\",config=\"{config}\"}} ");
            m.lines().find_map(|l| l.strip_prefix(&prefix)).map(str::to_string)
        };
        let ids: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("run/run-ids.json")).unwrap()).unwrap();
        let tt = format!("ptp4l.{}.config", ids["tbc-config_01-tbc-tt"]);
        self.wait_metrics(
            "the time transmitter announcing 248 (not in sync within 10 ns)",
            Duration::from_secs(30),
            |m| class(m, &tt).as_deref() == Some("248"),
        );
        // In sync within 1 ms: the grandmaster's class.
        let raised =
            self.value.replace("\"inSyncConditionThreshold\":\"10\"", "\"inSyncConditionThreshold\":\"1000000\"");
        assert_ne!(raised, self.value, "the sample sets inSyncConditionThreshold 10");
        std::fs::write(&self.profiles, &raised).unwrap();
        self.wait_metrics("the time transmitter announcing the grandmaster's class 6", Duration::from_secs(60), |m| {
            class(m, &tt).as_deref() == Some("6")
        });
        self.grandmaster = None;
        self.wait_metrics("holdover: 135", Duration::from_secs(30), |m| class(m, &tt).as_deref() == Some("135"));
        self.wait_metrics("free run after holdOverTimeout: 248", Duration::from_secs(30), |m| {
            class(m, &tt).as_deref() == Some("248")
        });
    }
}

fn spawn_grandmaster(ns: &NetNs, bin: &Path, dir: &Path, ports: &[String], (domain, transport): (u8, &str)) -> Killed {
    let conf = dir.join("gm.conf");
    let mut text = format!(
        "[global]\ndomainNumber {domain}\npriority1 10\nclockClass 6\nnetwork_transport {transport}\ntime_stamping software\nclock_servo nullf\nlogSyncInterval -2\nlogAnnounceInterval -2\nmasterOnly 1\nuds_address {}\n",
        dir.join("gm.socket").display()
    );
    if bin != Path::new(ptp_testkit::linuxptp::DEBIAN_BIN) {
        text.push_str(&format!("uds_ro_address {}\n", dir.join("gm.ro").display()));
    }
    std::fs::write(&conf, text).unwrap();
    let mut command = ns.command(WITHOUT_SYS_TIME[0]);
    command.args(&WITHOUT_SYS_TIME[1..]).arg(bin.join("ptp4l")).arg("-S");
    for port in ports {
        command.args(["-i", port]);
    }
    Killed(command.arg("-f").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
}
