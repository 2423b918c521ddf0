//! Golden tests of the profile renderer: each case renders a profile and compares the listing
//! (files with their content, then each process's scheduling and argv) with
//! `tests/golden/<case>.txt`. `UPDATE_GOLDEN=1 cargo test -p ptp-agent --test render` rewrites
//! the golden files instead of comparing.

use std::path::{Path, PathBuf};

use ptp_agent::render::{DEFAULT_RUN_DIR, RunIds, RunPlan, render_profile};
use ptp_api::{PtpProfile, SchedulingPolicy};

fn golden_path(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{case}.txt"))
}

fn check_golden(case: &str, rendered: &RunPlan) {
    let actual = rendered.to_string();
    let path = golden_path(case);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    assert!(
        actual == expected,
        "{case}: rendering differs from {} (UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn render(profile: &PtpProfile, run_id: u32) -> RunPlan {
    render_profile(profile, run_id, Path::new(DEFAULT_RUN_DIR)).unwrap()
}

use ptp_agent::linuxptp::{Linuxptp, Version};
use ptp_agent::render::{RenderEnv, render as render_with};

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// Ordinary clock on one interface with a ptp4lConf, phc2sys to the system clock, SCHED_FIFO.
#[test]
fn golden_ordinary_clock() {
    let profile = PtpProfile {
        name: "oc".into(),
        interface: s("ens1f0"),
        ptp4l_opts: s("-2 -s --summary_interval -4"),
        phc2sys_opts: s("-a -r -n 24"),
        ptp4l_conf: s("[global]\n#\n# Default Data Set\n#\ntwoStepFlag 1\nslaveOnly 1\npriority1 128\n\
             priority2 128\ndomainNumber 24\nclockClass 255\n\
             message_tag [ptp4l.0.config:{level}]\nlogging_level 6\ntx_timestamp_timeout 50\n"),
        ptp_scheduling_policy: Some(SchedulingPolicy::SchedFifo),
        ptp_scheduling_priority: Some(10),
        ..Default::default()
    };
    check_golden("ordinary_clock", &render(&profile, 0));
}

/// Boundary clock: no `interface`, the ports are sections of ptp4lConf.
#[test]
fn golden_boundary_clock() {
    let profile = PtpProfile {
        name: "bc".into(),
        ptp4l_opts: s("-2"),
        phc2sys_opts: s("-a -r -n 24 -m"),
        ptp4l_conf: s("[ens1f0]\nmasterOnly 0\n[ens1f1]\nmasterOnly 1\n[ens1f2]\nmasterOnly 1\n\
             [global]\ndomainNumber 24\nboundary_clock_jbod 0\nclock_type BC\n"),
        ptp_scheduling_policy: Some(SchedulingPolicy::SchedOther),
        ..Default::default()
    };
    check_golden("boundary_clock", &render(&profile, 1));
}

/// Telco grandmaster: ts2phc from GNSS, ptp4l as master, phc2sys with its own conf.
#[test]
fn golden_t_gm() {
    let profile = PtpProfile {
        name: "tgm".into(),
        ptp4l_opts: s("-2 --summary_interval -4"),
        ts2phc_opts: s(" "),
        phc2sys_opts: s("-r -u 0 -m -N 8 -R 16 -s ens2f0 -n 24"),
        ptp4l_conf: s("[ens2f0]\nmasterOnly 1\n[ens2f1]\nmasterOnly 1\n[global]\ndomainNumber 24\nclockClass 6\n"),
        ts2phc_conf: s("[nmea]\nts2phc.master 1\n[global]\nuse_syslog 0\nverbose 1\nlogging_level 7\n\
             ts2phc.pulsewidth 100000000\nts2phc.nmea_serialport /dev/gnss0\nleapfile /usr/share/zoneinfo/leap-seconds.list\n\
             [ens2f0]\nts2phc.extts_polarity rising\nts2phc.extts_correction 0\n"),
        phc2sys_conf: s("[global]\nfirst_step_threshold 0.00002\nstep_threshold 2.0\n"),
        ptp_scheduling_policy: Some(SchedulingPolicy::SchedFifo),
        ptp_scheduling_priority: Some(65),
        ..Default::default()
    };
    check_golden("t_gm", &render(&profile, 2));
}

/// Software timestamping in the lab: quoted options, no conf, a run directory of its own.
#[test]
fn golden_software_lab() {
    let profile = PtpProfile {
        name: "lab-sw".into(),
        interface: s("veth-slave"),
        ptp4l_opts: s(r#"-S -s  --step_threshold=1.0 --clock_servo "pi"  "#),
        phc2sys_opts: s("-s veth-slave -c CLOCK_REALTIME -O 0"),
        ..Default::default()
    };
    check_golden("software_lab", &render_profile(&profile, 4, Path::new("/run/ptp-lab")).unwrap());
}

/// Only phc2sys: `ptp4lOpts: ""` does not run ptp4l (its conf is not even parsed).
#[test]
fn golden_only_phc2sys() {
    let profile = PtpProfile {
        name: "only-phc2sys".into(),
        interface: s("ens1f0"),
        ptp4l_opts: s(""),
        ptp4l_conf: s("ignored because ptp4l does not run\n"),
        phc2sys_opts: s("-a -r -z /var/run/ptp4l.0.socket"),
        ..Default::default()
    };
    check_golden("only_phc2sys", &render(&profile, 3));
}

/// Ids from the allocator keep file names stable while profiles come and go.
#[test]
fn run_ids_keep_file_names_across_updates() {
    let profiles = |names: &[&str]| names.iter().map(|n| PtpProfile::named(*n)).collect::<Vec<_>>();
    let config_files = |run_ids: &mut RunIds, profiles: &[PtpProfile]| {
        run_ids
            .update(profiles.iter().map(|p| p.name.as_str()))
            .into_iter()
            .zip(profiles)
            .map(|((_, id), p)| {
                let rendered = render(p, id);
                (p.name.clone(), rendered.files[0].0.display().to_string())
            })
            .collect::<Vec<_>>()
    };
    let mut run_ids = RunIds::new();
    let first = config_files(&mut run_ids, &profiles(&["a", "b", "c"]));
    assert_eq!(first[1], ("b".to_string(), "/var/run/ptp4l.1.config".to_string()));
    let second = config_files(&mut run_ids, &profiles(&["c", "new", "b"]));
    assert_eq!(
        second,
        vec![
            ("c".to_string(), "/var/run/ptp4l.2.config".to_string()),
            ("new".to_string(), "/var/run/ptp4l.0.config".to_string()),
            ("b".to_string(), "/var/run/ptp4l.1.config".to_string()),
        ]
    );
}

/// chronyd alone (the Go API's NTP fallback): its configuration as written, `-d` added.
#[test]
fn golden_chronyd() {
    let profile = PtpProfile {
        name: "ntp-fallback".into(),
        ptp4l_opts: s(""),
        chronyd_opts: s("-x -u chrony"),
        chronyd_conf: s("server 10.0.0.1 iburst\nbindcmdaddress /var/run/chrony/chronyd.sock\ncmdport 0\n\
             driftfile /var/lib/chrony/drift\nmakestep 1.0 3"),
        ..Default::default()
    };
    check_golden("chronyd", &render(&profile, 5));
}

/// timemaster: the profile's interface into the `[ptp_domain 0]` without interfaces, the
/// agent's rundir and ptp4l options (the profile's `[ptp4l] options` kept), `-m`.
#[test]
fn golden_timemaster() {
    let profile = PtpProfile {
        name: "timemaster".into(),
        interface: s("ens1f0"),
        ptp4l_opts: s(""),
        timemaster_opts: s("-l 7"),
        timemaster_conf: s("# PTP first, NTP as a fallback\n[ntp_server 10.1.1.1]\nminpoll 4\nmaxpoll 4\n\n\
             [ptp_domain 0]\nptp4l_option delay_mechanism P2P\n\n[ptp_domain 24]\ninterfaces ens2f0 ens2f1\n\
             [timemaster]\nrundir /tmp/ignored\n[chronyd]\npath /usr/sbin/chronyd\noptions -u chrony\n\
             [chrony.conf]\nmakestep 1 3\n[ptp4l]\noptions -q\n[ptp4l.conf]\nlogging_level 6\n\
             >[unicast_master_table]\n"),
        ptp_scheduling_policy: Some(SchedulingPolicy::SchedFifo),
        ptp_scheduling_priority: Some(10),
        ..Default::default()
    };
    check_golden("timemaster", &render(&profile, 6));
}

/// timemaster with only `timemasterOpts` and `interface`: a `[ptp_domain 0]` is added, and
/// timemaster's ptp4l print at `-l 6` (its default `-l 5` hides offsets).
#[test]
fn golden_timemaster_minimal() {
    let profile = PtpProfile {
        name: "tm-min".into(),
        interface: s("eth0"),
        ptp4l_opts: s(""),
        timemaster_opts: s(" "),
        ..Default::default()
    };
    check_golden("timemaster_minimal", &render(&profile, 0));
}

/// Every profile of every sample in `config/samples/` renders (with `--run-dir` default).
#[test]
fn every_sample_profile_renders() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/samples");
    let mut rendered = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let config: ptp_api::PtpConfig =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A node with every profile of the sample, on linuxptp 4.2 (haProfiles needs it).
        let mut ids = RunIds::new();
        ids.update(config.spec.profile.iter().map(|p| p.name.as_str()));
        let linuxptp = Linuxptp::Known(Version::new(4, 2, 0));
        let env = RenderEnv { run_dir: Path::new(DEFAULT_RUN_DIR), linuxptp: &linuxptp, profiles: Some(&ids) };
        for profile in &config.spec.profile {
            let report = ptp_api::validate_profile(profile);
            assert!(report.is_valid(), "{}: {}", path.display(), report.error_summary());
            let id = ids.get(&profile.name).unwrap();
            let plan = render_with(profile, id, &env).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            rendered.extend(plan.processes.iter().map(|p| p.program.name()));
        }
    }
    assert!(rendered.contains(&"timemaster"), "the timemaster sample runs timemaster: {rendered:?}");
}
