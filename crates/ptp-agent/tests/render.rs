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
