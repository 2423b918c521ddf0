use std::time::{Duration, Instant};

use ptp_api::{ClockState, ProcessState, Program};

use super::*;
use crate::render::ProcessKey;
use crate::runtime::state::{ClockView, ProcessView, ProfileView};

fn process(program: Program, state: Option<ProcessState>, offset: Option<i64>) -> ProcessView {
    ProcessView {
        key: ProcessKey::new(program, 0),
        state,
        restarts: 1,
        clock: offset.map(|o| ClockView { iface: "ens1f0".into(), state: ClockState::Locked, offset_ns: Some(o) }),
    }
}

fn state(offset: i64, clock: ClockState) -> AgentState {
    AgentState {
        profiles: vec![ProfileView {
            name: "a".into(),
            run_id: 0,
            processes: vec![
                process(Program::Ptp4l, Some(ProcessState::Running), Some(offset)),
                process(Program::Phc2sys, Some(ProcessState::Waiting), None),
                process(Program::Ts2phc, None, None),
            ],
            ptp: None,
            ptp4l_ports: Vec::new(),
        }],
        value_hash: Some("h".into()),
        applied_once: true,
        clock_state: Some(clock),
        offset_ns: Some(offset),
        ..AgentState::default()
    }
}

#[test]
fn the_runtime_status_lists_what_is_not_stopped_with_its_clock() {
    let status = runtime_status(&state(5, ClockState::Locked));
    assert_eq!(status.applied_profiles, Some(vec!["a".to_string()]));
    assert_eq!(status.profiles_hash.as_deref(), Some("h"));
    assert_eq!((status.clock_state, status.offset_ns), (Some(ClockState::Locked), Some(5)));
    let processes = status.processes.clone().unwrap();
    let described: Vec<_> = processes
        .iter()
        .map(|p| (p.profile.as_str(), p.process.as_str(), p.state, p.iface.as_deref(), p.offset_ns))
        .collect();
    assert_eq!(
        described,
        [
            ("a", "ptp4l", ProcessState::Running, Some("ens1f0"), Some(5)),
            ("a", "phc2sys", ProcessState::Waiting, None, None),
        ],
        "a stopped (or not yet known) process is not listed"
    );
    assert!(status.devices.is_empty() && status.device_count.is_none(), "the NIC report's fields stay unset");
    let json = serde_json::to_value(&status).unwrap();
    assert!(json.get("devices").is_none() && json.get("conditions").is_none(), "nothing applied for them: {json}");
}

#[test]
fn state_changes_are_written_at_once_and_offsets_at_the_interval() {
    let interval = Duration::from_secs(300);
    let soon = Some(Duration::from_secs(1));
    let locked = runtime_status(&state(5, ClockState::Locked));
    let moved = runtime_status(&state(-3, ClockState::Locked));
    let freerun = runtime_status(&state(-3, ClockState::Freerun));
    assert!(write_due(None, &locked, None, interval), "the first status");
    assert!(!write_due(Some(&locked), &locked, Some(interval * 2), interval), "no change, no write");
    assert!(!write_due(Some(&locked), &moved, soon, interval), "offsets alone wait for the interval");
    assert!(write_due(Some(&locked), &moved, Some(interval), interval));
    assert!(write_due(Some(&moved), &freerun, soon, interval), "a clock state change is written at once");
    let removed = runtime_status(&AgentState { applied_once: true, ..AgentState::default() });
    assert!(write_due(Some(&freerun), &removed, soon, interval), "removed profiles are written at once");
}

/// The writer's next look is never in the past (a deadline in the past spun the agent's loop at
/// 60% of a core once), and is when a held-back offset becomes due.
#[test]
fn the_next_look_is_ahead_and_only_when_something_is_held() {
    let now = Instant::now();
    let interval = Duration::from_secs(10);
    assert_eq!(next_look(now, Some(now), interval, false), None, "nothing held: wait for the next state");
    for last in [None, Some(now), Some(now - Duration::from_secs(5)), Some(now - Duration::from_secs(3600))] {
        let at = next_look(now, last, interval, true).unwrap();
        assert!(at > now && at <= now + interval, "last {last:?}: {at:?}");
    }
    let last = now - Duration::from_secs(4);
    assert_eq!(next_look(now, Some(last), interval, true), Some(last + interval));
    assert_eq!(next_look(now, Some(last), Duration::ZERO, true), Some(now + MIN_LOOK), "never a busy loop");
}

#[test]
fn profiles_valid_names_an_unusable_source_before_the_refusals_that_stand() {
    let refused = [Refusal { profile: Some("b".into()), reason: "bad".into(), kept_running: true }];
    let ok = profiles_validity(None, &[], 2);
    assert_eq!((ok.reason, ok.message.as_str(), ok.problems.len()), ("Applied", "2 profile(s) applied", 0));
    let refusal = profiles_validity(None, &refused, 2);
    assert_eq!(refusal.reason, "ProfileRefused");
    assert_eq!(refusal.message, "b: bad (the running version stays)");
    let source = "profile file /p: ptp-configmap value: item 0: no `name`";
    let invalid = profiles_validity(Some(source), &[], 1);
    assert_eq!(invalid.reason, "ProfileSourceInvalid");
    assert_eq!(invalid.message, format!("{source} (nothing of it applied; what runs keeps running)"));
    let both = profiles_validity(Some(source), &refused, 1);
    assert_eq!(both.reason, "ProfileSourceInvalid");
    assert_eq!(both.problems.len(), 2);
    assert!(both.message.starts_with(source) && both.message.ends_with("b: bad (the running version stays)"));
    let since = ptp_api::util::to_the_second(k8s_openapi::jiff::Timestamp::now());
    let condition = profiles_valid_condition(&both, since.clone());
    assert_eq!((condition.status.as_str(), condition.reason.as_str()), ("False", "ProfileSourceInvalid"));
    assert_eq!(profiles_valid_condition(&ok, since).status, "True");
}

/// ptp4l's entry carries what its management data say (ports named after the config's port
/// sections); the node's clock class is the first profile's; a new grandmaster is written at once.
#[test]
fn ptp4l_reports_its_grandmaster_clock_class_and_ports() {
    use crate::mgmt::ClockIdentity;
    use crate::mgmt::dataset::PortState;
    use crate::mgmt::view::{PortView, PtpView};
    let view = |gm: u8, class: u8| PtpView {
        clock_identity: ClockIdentity([1; 8]),
        gm_identity: ClockIdentity([0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, gm]),
        gm_clock_class: class,
        gm_clock_accuracy: 0x21,
        gm_offset_scaled_log_variance: 0x4e5d,
        steps_removed: 1,
        offset_from_master_ns: 3.0,
        mean_path_delay_ns: 100.0,
        time_source: 0x20,
        current_utc_offset: 37,
        current_utc_offset_valid: true,
        leap61: false,
        leap59: false,
        ports: vec![PortView { number: 1, state: PortState::Slave }, PortView { number: 2, state: PortState::Master }],
    };
    let with = |v: Option<PtpView>| {
        let mut s = state(5, ClockState::Locked);
        s.profiles[0].ptp = v;
        s.profiles[0].ptp4l_ports = vec!["ens1f0".into()];
        runtime_status(&s)
    };
    let status = with(Some(view(0xb9, 6)));
    assert_eq!(status.clock_class, Some(6));
    let processes = status.processes.clone().unwrap();
    let ptp4l = &processes[0];
    assert_eq!(ptp4l.gm_identity.as_deref(), Some("507c6f.fffe.1fb1b9"));
    assert_eq!((ptp4l.clock_class, ptp4l.steps_removed), (Some(6), Some(1)));
    assert_eq!(
        ptp4l.ports,
        Some(vec![
            PortStatus { port: 1, iface: Some("ens1f0".into()), state: "SLAVE".into() },
            PortStatus { port: 2, iface: None, state: "MASTER".into() },
        ])
    );
    assert_eq!((processes[1].gm_identity.as_deref(), processes[1].clock_class), (None, None), "phc2sys has none");
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["clockClass"], 6);
    assert_eq!(json["processes"][0]["gmIdentity"], "507c6f.fffe.1fb1b9");
    assert_eq!(json["processes"][0]["stepsRemoved"], 1);
    assert_eq!(json["processes"][0]["ports"][0]["state"], "SLAVE");
    let other_gm = with(Some(view(0xc0, 7)));
    let soon = Some(Duration::from_secs(1));
    assert!(write_due(Some(&status), &other_gm, soon, Duration::from_secs(300)), "a new grandmaster at once");
    let gone = with(None);
    assert_eq!((gone.clock_class, gone.processes.unwrap()[0].ports.clone()), (None, None), "no answer, no data");
}
