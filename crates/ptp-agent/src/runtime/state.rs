//! What the runtime publishes after every change: [`AgentState`], an immutable typed snapshot on
//! a `tokio::sync::watch` channel ([`crate::runtime::Runtime::subscribe`]). The health endpoint,
//! the NodePtpDevice status reporter (and later the events API) consume it; none of them reaches
//! back into the runtime.

use ptp_api::{ClockState, ProcessState};

use crate::mgmt::view::PtpView;
use crate::render::ProcessKey;
use crate::supervise::{ChildStatus, State};
use crate::update::Refusal;

/// Restarts after which a process in backoff counts as crash-looping (the pod is not ready).
pub const CRASH_LOOP_RESTARTS: u64 = 3;

/// The agent's state at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentState {
    /// The applied profiles, by name.
    pub profiles: Vec<ProfileView>,
    /// SHA-256 (hex) of the last profile source value applied.
    pub value_hash: Option<String>,
    /// Profiles of the last applied value that were not applied.
    pub refused: Vec<Refusal>,
    /// Why the last value of the profile source could not be used at all, if it could not.
    pub source_error: Option<String>,
    /// A value of the profile source was applied since the agent started.
    pub applied_once: bool,
    /// The worst clock state over every process and interface.
    pub clock_state: Option<ClockState>,
    /// The last offset of a ptp4l (ns).
    pub offset_ns: Option<i64>,
}

/// An applied profile and its processes.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileView {
    pub name: String,
    pub run_id: u32,
    pub processes: Vec<ProcessView>,
    /// What its ptp4l's management data say, while ptp4l answers (`None` without ptp4l).
    pub ptp: Option<PtpView>,
    /// The interfaces of ptp4l's ports, port 1 first.
    pub ptp4l_ports: Vec<String>,
}

/// One process of an applied profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessView {
    pub key: ProcessKey,
    /// `None` while the supervisor has no state for it yet, or once it stopped.
    pub state: Option<ProcessState>,
    pub restarts: u64,
    /// Its worst interface, once it printed an offset or summary line.
    pub clock: Option<ClockView>,
}

/// The clock of one interface of a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockView {
    pub iface: String,
    pub state: ClockState,
    pub offset_ns: Option<i64>,
}

/// A supervised process's state as the status reports it (a stopped one is not reported).
pub fn process_state(child: &ChildStatus) -> Option<ProcessState> {
    match child.state {
        State::Running { .. } => Some(ProcessState::Running),
        State::Waiting { .. } => Some(ProcessState::Waiting),
        State::Backoff { .. } => Some(ProcessState::Backoff),
        State::Stopped => None,
    }
}

impl AgentState {
    /// Every process of every applied profile, with its profile.
    pub fn processes(&self) -> impl Iterator<Item = (&ProfileView, &ProcessView)> {
        self.profiles.iter().flat_map(|p| p.processes.iter().map(move |process| (p, process)))
    }

    /// A process waits to restart after at least [`CRASH_LOOP_RESTARTS`] restarts.
    pub fn crash_looping(&self) -> bool {
        self.processes().any(|(_, p)| p.state == Some(ProcessState::Backoff) && p.restarts >= CRASH_LOOP_RESTARTS)
    }

    /// `/readyz`: a value of the profile source was applied and no process crash-loops.
    pub fn ready(&self) -> bool {
        self.applied_once && !self.crash_looping()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptp_api::Program;

    fn state(processes: Vec<(Option<ProcessState>, u64)>) -> AgentState {
        let processes = processes
            .into_iter()
            .map(|(state, restarts)| ProcessView {
                key: ProcessKey::new(Program::Ptp4l, 0),
                state,
                restarts,
                clock: None,
            })
            .collect();
        AgentState {
            profiles: vec![ProfileView { name: "p".into(), run_id: 0, processes, ptp: None, ptp4l_ports: Vec::new() }],
            applied_once: true,
            ..AgentState::default()
        }
    }

    #[test]
    fn ready_once_applied_and_while_nothing_crash_loops() {
        assert!(!AgentState::default().ready(), "nothing applied yet");
        assert!(state(vec![]).ready());
        assert!(state(vec![(Some(ProcessState::Running), 10)]).ready(), "restarted often but running now");
        assert!(state(vec![(Some(ProcessState::Backoff), CRASH_LOOP_RESTARTS - 1)]).ready());
        assert!(!state(vec![(Some(ProcessState::Backoff), CRASH_LOOP_RESTARTS)]).ready());
        assert!(state(vec![(Some(ProcessState::Waiting), CRASH_LOOP_RESTARTS)]).ready());
    }
}
