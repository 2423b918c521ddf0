//! The runtime's part of the node's NodePtpDevice status, from the published
//! [`AgentState`]: applied profiles, their hash, processes, clock state, offset and the
//! `ProfilesValid` condition, as typed `ptp_api` values (pure, here), written by
//! [`writer`] with server-side apply under its own field manager ([`RUNTIME_MANAGER`]); the NIC
//! report owns `devices` and `deviceCount` under another ([`crate::report::DEVICES_MANAGER`]).
//!
//! A change of anything but offsets is written at once; a change of offsets alone at most once
//! per `offset_interval` ([`write_due`]): offsets move with every sample, the metrics have them
//! live, and a fleet of agents writing them often would load the API server.

pub mod writer;

use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use ptp_api::{NodePtpDeviceStatus, PortStatus, ProcessStatus, Program};

use crate::runtime::state::AgentState;
use crate::update::Refusal;
use ptp_api::util::truncate;

/// The field manager of the runtime's status fields.
pub const RUNTIME_MANAGER: &str = "ptp-agent-runtime";

/// Condition type telling whether every profile of the last update was applied.
pub const CONDITION_PROFILES_VALID: &str = "ProfilesValid";

/// The `ProfilesValid` condition's reason and message, and the problems behind them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfilesValidity {
    /// One line per problem (empty: the condition is `True`); an Event reports them.
    pub problems: Vec<String>,
    pub reason: &'static str,
    pub message: String,
}

/// `ProfilesValid` from the last source value's error, the refusals of the last applied update
/// and how many profiles run: `ProfileSourceInvalid` when the last value could not be used at all
/// (the refusals of the update before it still listed), else `ProfileRefused` when a profile was
/// refused, else `Applied`.
pub fn profiles_validity(source_error: Option<&str>, refused: &[Refusal], applied: usize) -> ProfilesValidity {
    let mut problems: Vec<String> =
        source_error.map(|e| format!("{e} (nothing of it applied; what runs keeps running)")).into_iter().collect();
    problems.extend(refused.iter().map(|r| match &r.profile {
        Some(p) => format!("{p}: {}{}", r.reason, if r.kept_running { " (the running version stays)" } else { "" }),
        None => r.reason.clone(),
    }));
    let (reason, message) = match (source_error, problems.is_empty()) {
        (_, true) => ("Applied", format!("{applied} profile(s) applied")),
        (Some(_), false) => ("ProfileSourceInvalid", truncate(&problems.join("; "), 2000)),
        (None, false) => ("ProfileRefused", truncate(&problems.join("; "), 2000)),
    };
    ProfilesValidity { problems, reason, message }
}

/// The runtime fields of the status (without `conditions` and `lastUpdateTime`): every process
/// of every applied profile that is not stopped, with its worst interface; for ptp4l, what its
/// management data say (grandmaster, clock class, steps removed, port states); the first
/// profile's clock class.
pub fn runtime_status(state: &AgentState) -> NodePtpDeviceStatus {
    let processes = state
        .processes()
        .filter_map(|(profile, p)| {
            let run = p.state?;
            let ptp = profile.ptp.as_ref().filter(|_| p.key.program == Program::Ptp4l);
            Some(ProcessStatus {
                gm_identity: ptp.map(|v| v.gm_identity.to_string()),
                clock_class: ptp.map(|v| i32::from(v.gm_clock_class)),
                steps_removed: ptp.map(|v| i32::from(v.steps_removed)),
                ports: ptp.map(|v| {
                    v.ports
                        .iter()
                        .map(|port| PortStatus {
                            port: i32::from(port.number),
                            iface: usize::from(port.number)
                                .checked_sub(1)
                                .and_then(|i| profile.ptp4l_ports.get(i))
                                .cloned(),
                            state: port.state.as_str().to_string(),
                        })
                        .collect()
                }),
                profile: profile.name.clone(),
                process: p.key.program.name().to_string(),
                state: run,
                restarts: i64::try_from(p.restarts).unwrap_or(i64::MAX),
                iface: p.clock.as_ref().map(|c| c.iface.clone()),
                clock_state: p.clock.as_ref().map(|c| c.state),
                offset_ns: p.clock.as_ref().and_then(|c| c.offset_ns),
            })
        })
        .collect();
    NodePtpDeviceStatus {
        applied_profiles: Some(state.profiles.iter().map(|p| p.name.clone()).collect()),
        profiles_hash: state.value_hash.clone(),
        processes: Some(processes),
        clock_state: state.clock_state,
        offset_ns: state.offset_ns,
        clock_class: state.profiles.iter().find_map(|p| p.ptp.as_ref()).map(|v| i32::from(v.gm_clock_class)),
        ..NodePtpDeviceStatus::default()
    }
}

/// The `ProfilesValid` condition; its transition time is `since` (kept while the status stays).
pub fn profiles_valid_condition(validity: &ProfilesValidity, since: Time) -> Condition {
    Condition {
        type_: CONDITION_PROFILES_VALID.into(),
        status: if validity.problems.is_empty() { "True" } else { "False" }.into(),
        reason: validity.reason.into(),
        message: validity.message.clone(),
        last_transition_time: since,
        observed_generation: None,
    }
}

/// The status without its offsets: what must be written at once when it changes.
fn without_offsets(status: &NodePtpDeviceStatus) -> NodePtpDeviceStatus {
    let mut status = status.clone();
    status.offset_ns = None;
    for p in status.processes.iter_mut().flatten() {
        p.offset_ns = None;
    }
    status
}

/// Whether the runtime status `next` is written now: the first one, and any change beyond the
/// offsets (profiles, processes, clock states, conditions) at once; a change of offsets alone at
/// most every `interval`.
pub fn write_due(
    last: Option<&NodePtpDeviceStatus>,
    next: &NodePtpDeviceStatus,
    since_last: Option<Duration>,
    interval: Duration,
) -> bool {
    let Some(last) = last else { return true };
    if last == next {
        return false;
    }
    without_offsets(last) != without_offsets(next) || since_last.is_none_or(|d| d >= interval)
}

/// When to look again if no new state arrives: when a held-back offset becomes due (one
/// interval after the last write), or when a failed write is retried. Always in the future.
pub fn next_look(now: Instant, last_write: Option<Instant>, interval: Duration, held: bool) -> Option<Instant> {
    if !held {
        return None;
    }
    let due = last_write.map_or(now, |t| t + interval);
    Some(due.max(now + MIN_LOOK))
}

/// The shortest wait before looking again (never a busy loop).
const MIN_LOOK: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests;
