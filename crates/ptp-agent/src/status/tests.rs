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
