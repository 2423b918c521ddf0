use std::path::Path;
use std::time::Duration;

use ptp_api::PtpProfile;

use super::*;
use crate::render::render_profile;

fn plan(conf: &str, phc2sys: Option<&str>) -> RunPlan {
    let profile = PtpProfile {
        name: "p".into(),
        ptp4l_opts: Some("-2".into()),
        ptp4l_conf: Some(conf.into()),
        phc2sys_opts: phc2sys.map(str::to_string),
        ..PtpProfile::default()
    };
    render_profile(&profile, 0, Path::new("/run")).unwrap()
}

fn opened(conf: &str) -> LineObserver {
    let mut o = LineObserver::default();
    o.open(&plan(conf, Some("-a -r")), Thresholds::default());
    o
}

fn clock(config: &str, process: &str, iface: &str) -> ClockKey {
    ClockKey::new(config, process, iface)
}

fn see(o: &mut LineObserver, line: &str, now: Instant) -> Vec<Effect> {
    o.observe(&parse(line), now)
}

const CFG: &str = "ptp4l.0.config";

#[test]
fn a_sample_sets_its_series_and_clock_and_opens_the_gate_within_a_second() {
    let mut o = opened("[global]\n[ens1f0]\n");
    let now = Instant::now();
    let effects = see(&mut o, "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", now);
    let master = clock(CFG, "ptp4l", "master");
    assert_eq!(
        effects,
        [
            Effect::Sample {
                clock: master.clone(),
                from: "master",
                sample: Sample { offset: 5, max_offset: 5, freq: -3, delay: 10 }
            },
            Effect::Clock { clock: master.clone(), state: ClockState::Locked },
            Effect::OpenGate { config: CFG.into() },
        ]
    );
    let far = see(&mut o, "ptp4l[2.0]: [ptp4l.0.config] master offset 1000000000 s2 freq -3 path delay 10", now);
    assert!(!far.iter().any(|e| matches!(e, Effect::OpenGate { .. })), "a second or more keeps the gate: {far:?}");
    assert_eq!(o.clock_of(ProcessKey::new(ptp_api::Program::Ptp4l, 0)).map(|c| c.iface), Some("master".into()));
}

#[test]
fn summaries_count_for_ptp4l_and_phc2sys_clock_realtime_only() {
    let mut o = opened("[global]\n");
    let now = Instant::now();
    let ptp4l = see(&mut o, "ptp4l[1.0]: [ptp4l.0.config] rms 21 max 40 freq -5 +/- 2 delay 9 +/- 0", now);
    assert!(ptp4l.contains(&Effect::Sample {
        clock: clock(CFG, "ptp4l", "master"),
        from: "master",
        sample: Sample { offset: 21, max_offset: 40, freq: -5, delay: 9 }
    }));
    let realtime =
        see(&mut o, "phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME rms 4 max 4 freq -7 +/- 0 delay 1085 +/- 0", now);
    assert!(realtime.iter().any(|e| matches!(e, Effect::Clock { clock, .. } if clock.iface == "CLOCK_REALTIME")));
    assert!(!realtime.iter().any(|e| matches!(e, Effect::OpenGate { .. })), "phc2sys opens no gate");
    let other = see(&mut o, "phc2sys[1.0]: [ptp4l.0.config] /dev/ptp1 rms 4 max 4 freq -7 +/- 0 delay 10 +/- 0", now);
    assert_eq!(other, [], "a phc2sys summary of another clock is not a metric (as the Go daemon)");
}

#[test]
fn the_slave_port_replaces_the_master_placeholder_and_a_faulty_locked_slave_holds_over() {
    let mut o = opened("[global]\n[ens1f0]\n[ens1f1]\n");
    let now = Instant::now();
    see(&mut o, "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", now);
    let slave = see(&mut o, "ptp4l[1.1]: [ptp4l.0.config] port 2: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED", now);
    let port = clock(CFG, "ptp4l", "ens1f1");
    assert_eq!(
        slave,
        [Effect::Role { clock: port.clone(), role: Role::Slave }, Effect::ForgetIface(clock(CFG, "ptp4l", "master")),],
        "port 2 is the second section: numbered before any line named it"
    );
    let sample = see(&mut o, "ptp4l[2.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", now);
    assert!(sample.contains(&Effect::Clock { clock: port.clone(), state: ClockState::Locked }));
    let faulty =
        see(&mut o, "ptp4l[3.0]: [ptp4l.0.config] port 2: SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)", now);
    assert_eq!(
        faulty,
        [
            Effect::Role { clock: port.clone(), role: Role::Faulty },
            Effect::Clock { clock: port, state: ClockState::Holdover }
        ]
    );
}

#[test]
fn lines_of_a_closed_or_unknown_config_change_nothing_and_are_counted_once_warned() {
    let mut o = opened("[global]\n");
    let p = plan("[global]\n", Some("-a -r"));
    let now = Instant::now();
    let closed = o.close(&p);
    assert!(closed.contains(CFG) && closed.contains("phc2sys.0.config"));
    assert_eq!(see(&mut o, "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", now), []);
    assert_eq!(o.transitions(), (0, 0), "no clock made");
    assert_eq!(
        see(&mut o, "ptp4l[1.0]: [other.config] master offset 5 s2 freq -3 path delay 10", now),
        [],
        "not counted"
    );

    let mut o = opened("[global]\n");
    let long = format!("phc2sys[1.0]: [ptp4l.0.config] {} phc offset 5 s2 freq 1 delay 10", "x".repeat(300));
    let first = see(&mut o, &long, now);
    assert_eq!(first, [Effect::Ignored { config: CFG.into(), reason: "label_too_long", first: true }]);
    assert_eq!(
        see(&mut o, &long, now),
        [Effect::Ignored { config: CFG.into(), reason: "label_too_long", first: false }]
    );
}

#[test]
fn time_and_a_process_down_move_clocks_and_the_deadline_follows_the_lines() {
    let mut o = opened("[global]\n");
    let t0 = Instant::now();
    assert_eq!(o.next_deadline(), None, "no clock, no deadline");
    see(&mut o, "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", t0);
    let deadline = o.next_deadline().unwrap();
    assert!(deadline > t0);
    let before = o.transitions();
    assert_eq!(o.on_time(t0), [Effect::Clock { clock: clock(CFG, "ptp4l", "master"), state: ClockState::Locked }]);
    assert_eq!(o.transitions(), before, "nothing happens before the deadline");
    let late = o.on_time(deadline + Duration::from_millis(1));
    assert!(matches!(late.as_slice(), [Effect::Clock { state, .. }] if *state != ClockState::Locked), "{late:?}");
    assert_ne!(o.transitions(), before);

    let mut o = opened("[global]\n");
    see(&mut o, "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", t0);
    assert_eq!(o.process_down(ProcessKey::new(ptp_api::Program::Phc2sys, 0)), [], "phc2sys had no clock");
    assert_eq!(
        o.process_down(ProcessKey::new(ptp_api::Program::Ptp4l, 0)),
        [Effect::Clock { clock: clock(CFG, "ptp4l", "master"), state: ClockState::Freerun }]
    );
    assert_eq!(o.summary(), (Some(ClockState::Freerun), Some(5)));
}

#[test]
fn the_worst_clock_is_the_summary_and_each_process_reports_its_own() {
    let mut o = opened("[global]\n");
    let now = Instant::now();
    see(&mut o, "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", now);
    see(&mut o, "phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME phc offset 900 s0 freq -1 delay 480", now);
    assert_eq!(o.summary(), (Some(ClockState::Freerun), Some(5)), "worst state; the offset is ptp4l's");
    let phc2sys = o.clock_of(ProcessKey::new(ptp_api::Program::Phc2sys, 0)).unwrap();
    assert_eq!(
        (phc2sys.iface.as_str(), phc2sys.state, phc2sys.offset_ns),
        ("CLOCK_REALTIME", ClockState::Freerun, Some(900))
    );
    assert_eq!(o.clock_of(ProcessKey::new(ptp_api::Program::Ptp4l, 0)).map(|c| c.state), Some(ClockState::Locked));
    assert_eq!(o.clock_of(ProcessKey::new(ptp_api::Program::Ptp4l, 1)), None, "another profile");
}

#[test]
fn a_profile_owns_its_tags_keys_and_the_tags_its_options_set() {
    use crate::render::ProcessPlan;
    let process = |program, args: &[&str]| ProcessPlan {
        program,
        args: args.iter().map(std::string::ToString::to_string).collect(),
        sched: None,
        config_file: None,
    };
    let owned = |phc2sys: &[&str]| {
        let plan = RunPlan {
            profile: "p".into(),
            run_id: 3,
            files: Vec::new(),
            processes: vec![
                process(ptp_api::Program::Ptp4l, &["-f", "/run/ptp4l.3.config", "-m"]),
                process(ptp_api::Program::Phc2sys, phc2sys),
            ],
            ptp4l_ports: Vec::new(),
            ptp4l_domain: 0,
            ha_profiles: Vec::new(),
            controlled_by: None,
        };
        owned_configs(&plan).into_iter().collect::<Vec<_>>()
    };
    assert_eq!(owned(&["-a", "-r", "-t", "[ptp4l.3.config]"]), ["phc2sys.3.config", "ptp4l.3.config"]);
    assert_eq!(owned(&["-t", "[mine]"]), ["mine", "phc2sys.3.config", "ptp4l.3.config"]);
    assert_eq!(owned(&["-t[mine:{level}]"]), ["mine", "phc2sys.3.config", "ptp4l.3.config"]);
    // No tag the parser would read: nothing more.
    assert_eq!(owned(&["-t", "bare"]), ["phc2sys.3.config", "ptp4l.3.config"]);
    assert_eq!(owned(&["-t"]), ["phc2sys.3.config", "ptp4l.3.config"]);
}

/// Management data moves the clock as a port line would, at once: a locked slave that goes
/// FAULTY or back to LISTENING holds over; port 0 and closed configs change nothing.
#[test]
fn a_port_state_from_management_acts_like_its_port_line() {
    let mut o = opened("[global]\n[ens1f0]\n[ens1f1]\n");
    let now = Instant::now();
    let port = clock(CFG, "ptp4l", "ens1f1");
    let slave = o.observe_port_state(CFG, 2, Role::Slave, now);
    assert_eq!(
        slave,
        [Effect::Role { clock: port.clone(), role: Role::Slave }, Effect::ForgetIface(clock(CFG, "ptp4l", "master"))],
        "named after the config's second port section"
    );
    let sample = see(&mut o, "ptp4l[2.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", now);
    assert!(
        sample.contains(&Effect::Clock { clock: port.clone(), state: ClockState::Locked }),
        "samples name the slave port"
    );
    let listening = o.observe_port_state(CFG, 2, Role::Listening, now);
    assert_eq!(
        listening,
        [
            Effect::Role { clock: port.clone(), role: Role::Listening },
            Effect::Clock { clock: port.clone(), state: ClockState::Holdover }
        ]
    );
    assert_eq!(o.clock_of(ProcessKey::new(ptp_api::Program::Ptp4l, 0)).map(|c| c.state), Some(ClockState::Holdover));

    let mut o = opened("[global]\n[ens1f0]\n");
    o.observe_port_state(CFG, 1, Role::Slave, now);
    see(&mut o, "ptp4l[2.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10", now);
    let faulty = o.observe_port_state(CFG, 1, Role::Faulty, now);
    assert!(faulty.contains(&Effect::Clock { clock: clock(CFG, "ptp4l", "ens1f0"), state: ClockState::Holdover }));
    let master = o.observe_port_state(CFG, 1, Role::Master, now);
    assert_eq!(
        master,
        [Effect::Role { clock: clock(CFG, "ptp4l", "ens1f0"), role: Role::Master }],
        "not a lost master"
    );

    assert_eq!(o.observe_port_state(CFG, 0, Role::Slave, now), [], "port 0 is the UDS port");
    o.close(&plan("[global]\n[ens1f0]\n", Some("-a -r")));
    assert_eq!(o.observe_port_state(CFG, 1, Role::Slave, now), [], "a closed config");
}

#[test]
fn only_phc2sys_system_clock_waits_for_sys_offset_samples() {
    let mut o = LineObserver::default();
    let threshold = ptp_api::PtpClockThreshold { sys_offset_samples: Some(2), ..Default::default() };
    o.open(&plan("[global]\n", Some("-a -r")), Thresholds::from_profile(Some(&threshold)));
    let now = Instant::now();
    let state = |effects: Vec<Effect>| {
        effects.into_iter().find_map(|e| match e {
            Effect::Clock { state, .. } => Some(state),
            _ => None,
        })
    };
    let ptp4l = "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq -3 path delay 10";
    assert_eq!(state(see(&mut o, ptp4l, now)), Some(ClockState::Locked), "ptp4l: one sample");
    let phc = "phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME phc offset 7 s2 freq -3 delay 900";
    assert_eq!(state(see(&mut o, phc, now)), Some(ClockState::Freerun), "the system clock: one of two samples");
    assert_eq!(state(see(&mut o, phc, now)), Some(ClockState::Locked));
}

#[test]
fn ha_phc2sys_follows_the_profile_whose_ptp4l_has_the_selected_interface() {
    use crate::linuxptp::{Linuxptp, Version};
    use crate::render::{RenderEnv, RunIds, render};
    let member = |name: &str, iface: &str| PtpProfile {
        name: name.into(),
        interface: Some(iface.into()),
        phc2sys_opts: Some(String::new()),
        ..PtpProfile::default()
    };
    let ha = PtpProfile {
        name: "ha".into(),
        ptp4l_opts: Some(String::new()),
        phc2sys_opts: Some("-r -n 24".into()),
        ptp_settings: Some([("haProfiles".to_string(), "nic1,nic2".to_string())].into()),
        ..PtpProfile::default()
    };
    let mut ids = RunIds::new();
    ids.update(["nic1", "nic2", "ha"]);
    let v42 = Linuxptp::Known(Version::new(4, 2, 0));
    let env = RenderEnv { run_dir: Path::new("/run"), linuxptp: &v42, profiles: Some(&ids) };
    let plans: Vec<RunPlan> = [member("nic1", "ens1f0"), member("nic2", "ens2f0"), ha]
        .iter()
        .map(|p| render(p, ids.get(&p.name).unwrap(), &env).unwrap())
        .collect();
    let ha_config = format!("ptp4l.{}.config", plans[2].run_id);
    let mut o = LineObserver::default();
    for plan in &plans {
        o.open(plan, Thresholds::default());
    }
    let statuses = |effects: Vec<Effect>| {
        effects.into_iter().find_map(|e| match e {
            Effect::Ha { config, statuses } => Some((config, statuses)),
            _ => None,
        })
    };
    let pair = |a: bool, b: bool| vec![("nic1".to_string(), a), ("nic2".to_string(), b)];
    assert_eq!(o.ha_opened(&plans[2]).map(|e| statuses(vec![e])), Some(Some((ha_config.clone(), pair(false, false)))));
    assert_eq!(o.ha_opened(&plans[0]), None, "a member has no HA status of its own");
    let now = Instant::now();
    let line = |text: &str| format!("phc2sys[9.0]: [{ha_config}] {text}");
    assert_eq!(
        statuses(see(&mut o, &line("selecting ens2f0 as out-of-domain source clock"), now)),
        Some((ha_config.clone(), pair(false, true)))
    );
    assert_eq!(
        statuses(see(&mut o, &line("selecting ens1f0 as out-of-domain source clock"), now)),
        Some((ha_config.clone(), pair(true, false)))
    );
    assert_eq!(statuses(see(&mut o, &line("selecting ens1f0 as domain source clock"), now)), None, "two members");
    assert_eq!(statuses(see(&mut o, &line("selecting eth9 as out-of-domain source clock"), now)), None, "no member's");
    let member_line =
        format!("phc2sys[9.0]: [ptp4l.{}.config] selecting ens1f0 as out-of-domain source clock", plans[0].run_id);
    assert_eq!(statuses(see(&mut o, &member_line, now)), None, "not an HA profile's phc2sys");
    o.close(&plans[2]);
    assert_eq!(statuses(see(&mut o, &line("selecting ens2f0 as out-of-domain source clock"), now)), None, "closed");
}

#[test]
fn a_tbc_follows_its_time_receivers_upstream_port_and_samples() {
    use crate::tbc::TbcSettings;
    let mut o = opened("[global]\n[ens1f0]\n[ens1f1]\n");
    let settings = TbcSettings {
        upstream_ports: vec!["ens1f0".into()],
        in_sync_threshold_ns: 10,
        in_sync_times: 2,
        holdover: Duration::from_secs(5),
        stale_after: Duration::from_secs(3),
    };
    let tbc = |effects: &[Effect]| {
        effects.iter().find_map(|e| match e {
            Effect::Tbc { tr_config, tt_run_id, state } => Some((tr_config.clone(), *tt_run_id, *state)),
            _ => None,
        })
    };
    let now = Instant::now();
    let linked = o.link_tbc(vec![(CFG.to_string(), 7, settings.clone())], now);
    assert_eq!(tbc(&linked), Some((CFG.to_string(), 7, ClockState::Freerun)), "a new link announces FREERUN");
    assert!(o.link_tbc(vec![(CFG.to_string(), 7, settings.clone())], now).is_empty(), "the same link: nothing new");
    let slave = see(
        &mut o,
        "ptp4l[1.0]: [ptp4l.0.config] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
        now,
    );
    assert_eq!(tbc(&slave), None);
    let sample = "ptp4l[1.0]: [ptp4l.0.config] master offset 3 s2 freq -3 path delay 10";
    assert_eq!(tbc(&see(&mut o, sample, now)), None, "one of two samples");
    assert_eq!(tbc(&see(&mut o, sample, now)), Some((CFG.to_string(), 7, ClockState::Locked)));
    assert_eq!(o.tbc_state(CFG), Some((7, ClockState::Locked)));
    let lost = see(
        &mut o,
        "ptp4l[2.0]: [ptp4l.0.config] port 1 (ens1f0): SLAVE to LISTENING on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES",
        now,
    );
    assert_eq!(tbc(&lost), Some((CFG.to_string(), 7, ClockState::Holdover)));
    assert_eq!(tbc(&o.on_time(now + Duration::from_secs(5))), Some((CFG.to_string(), 7, ClockState::Freerun)));
    // New settings for a time receiver that is SLAVE already (no new port line will come).
    see(&mut o, "ptp4l[3.0]: [ptp4l.0.config] port 1 (ens1f0): LISTENING to SLAVE on MASTER_CLOCK_SELECTED", now);
    let relaxed = TbcSettings { in_sync_times: 1, ..settings.clone() };
    assert_eq!(
        tbc(&o.link_tbc(vec![(CFG.to_string(), 7, relaxed)], now)),
        Some((CFG.to_string(), 7, ClockState::Freerun))
    );
    assert_eq!(tbc(&see(&mut o, sample, now)), Some((CFG.to_string(), 7, ClockState::Locked)), "knows its slave port");
    assert!(o.link_tbc(Vec::new(), now).is_empty());
    assert_eq!(o.tbc_state(CFG), None, "unlinked");
}
