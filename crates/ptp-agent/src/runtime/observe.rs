//! What the children's log lines mean: port roles, samples and clock states, as a pure state
//! machine. [`LineObserver::observe`] takes one parsed line and returns the [`Effect`]s it has
//! (a metric to set or forget, a phc2sys gate to open, a line kept out of the metrics); the
//! runtime applies them. Time-based transitions ([`LineObserver::on_time`]) and a process going
//! down ([`LineObserver::process_down`]) are effects too.
//!
//! Only the lines of running profiles count, within the bounds of [`SeriesBudget`]: a profile's
//! configs are opened when it starts ([`LineObserver::open`]) and closed when it stops
//! ([`LineObserver::close`]), after which its late lines change nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use ptp_api::ClockState;

use crate::clockstate::{ClockTracker, Thresholds};
use crate::logparse::{Kind, Line, PortTracker, Role, parse};
use crate::metrics::Sample;
use crate::metrics::budget::{Rejection, SeriesBudget};
use crate::render::{PHC2SYS, PTP4L, ProcessKey, RunPlan, TS2PHC};
use crate::runtime::state::ClockView;
use crate::tbc::{TbcSettings, TbcTracker};

/// phc2sys of a profile waits until its ptp4l reports |offset| below this (as the Go daemon does).
pub const PHC2SYS_GATE_OFFSET_NS: u64 = 1_000_000_000;

/// Labels of one clock's series: the config (message tag) of its lines, the process, the
/// interface.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClockKey {
    pub config: String,
    pub process: String,
    pub iface: String,
}

impl ClockKey {
    fn new(config: &str, process: &str, iface: &str) -> Self {
        ClockKey { config: config.to_string(), process: process.to_string(), iface: iface.to_string() }
    }
}

/// What a line (or time, or a process going down) changes outside the observer.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// `openshift_ptp_interface_role` of a port.
    Role { clock: ClockKey, role: Role },
    /// The offset, max offset, frequency and delay series of a clock; `from` is `master` or `phc`.
    Sample { clock: ClockKey, from: &'static str, sample: Sample },
    /// `openshift_ptp_clock_state` of a clock.
    Clock { clock: ClockKey, state: ClockState },
    /// The series of one interface are gone (the `master` placeholder once the slave port is known).
    ForgetIface(ClockKey),
    /// ptp4l of this config is within [`PHC2SYS_GATE_OFFSET_NS`]: its phc2sys may start.
    OpenGate { config: String },
    /// The state of the T-BC whose time receiver's ptp4l is `tr_config` changed (or the link is
    /// new): the time transmitter of run id `tt_run_id` announces accordingly.
    Tbc { tr_config: String, tt_run_id: u32, state: ClockState },
    /// `openshift_ptp_ha_profile_status` of the `haProfiles` a phc2sys (lines tagged `config`)
    /// follows: each profile's name, and whether it is the one followed.
    Ha { config: String, statuses: Vec<(String, bool)> },
    /// A line kept out of the metrics (`ptp_agent_ignored_log_lines_total{reason}`); `first` is
    /// true the first time for this config and kind while the config is open (warn once).
    Ignored { config: String, reason: &'static str, first: bool },
}

/// The state the lines build: ports, clocks, thresholds, the series budget.
#[derive(Default)]
pub struct LineObserver {
    ports: PortTracker,
    clocks: HashMap<ClockKey, ClockTracker>,
    /// ptp4l config → thresholds of its profile.
    thresholds: HashMap<String, Thresholds>,
    budget: SeriesBudget,
    /// (config, rejection) already reported as `first` while the config is open.
    warned: HashSet<(String, Rejection)>,
    /// ptp4l config of a profile with `haProfiles` → its members (name, run id).
    ha: HashMap<String, Vec<(String, u32)>>,
    /// ptp4l config of a T-BC's time receiver → the run id of its time transmitter, its state.
    tbc: HashMap<String, (u32, TbcTracker)>,
}

/// A T-BC: the time receiver's ptp4l config, the time transmitter's run id, the settings.
pub type TbcLink = (String, u32, TbcSettings);

/// Every `config` a profile's lines and metrics may carry: its ptp4l tag, its process keys, and a
/// message tag its options set (`phc2sysOpts: -t [mine]`), as the log parser reads it.
pub fn owned_configs(plan: &RunPlan) -> BTreeSet<String> {
    let mut owned: BTreeSet<String> = plan.processes.iter().map(|p| plan.key(p).to_string()).collect();
    owned.insert(ProcessKey::new(ptp_api::Program::Ptp4l, plan.run_id).to_string());
    for process in &plan.processes {
        let mut args = process.args.iter();
        while let Some(arg) = args.next() {
            let tag = match arg.strip_prefix("-t") {
                Some("") => args.next().map(String::as_str),
                Some(attached) => Some(attached),
                None => None,
            };
            if let Some(tag) = tag {
                let line = format!("{tag} x");
                if let Some(config) = parse(&line).config {
                    owned.insert(config.to_string());
                }
            }
        }
    }
    owned
}

impl LineObserver {
    /// A profile starts: its lines count from now on, with its thresholds, and ptp4l's ports are
    /// known by number before its first port line.
    pub fn open(&mut self, plan: &RunPlan, thresholds: Thresholds) {
        for config in owned_configs(plan) {
            self.budget.open(&config);
        }
        let ptp4l = ProcessKey::new(ptp_api::Program::Ptp4l, plan.run_id).to_string();
        for (i, name) in plan.ptp4l_ports.iter().enumerate() {
            self.ports.seed(&ptp4l, i as u32 + 1, name);
        }
        if !plan.ha_profiles.is_empty() {
            self.ha.insert(ptp4l.clone(), plan.ha_profiles.clone());
        }
        self.thresholds.insert(ptp4l, thresholds);
    }

    /// The `haProfiles` statuses of a profile just opened: none followed yet (as the Go daemon,
    /// every member is inactive until phc2sys selects one).
    pub fn ha_opened(&self, plan: &RunPlan) -> Option<Effect> {
        let config = ProcessKey::new(ptp_api::Program::Ptp4l, plan.run_id).to_string();
        let members = self.ha.get(&config)?;
        Some(Effect::Ha { config, statuses: members.iter().map(|(name, _)| (name.clone(), false)).collect() })
    }

    /// A profile stopped: everything of its configs goes; returns them (for the metrics to forget).
    pub fn close(&mut self, plan: &RunPlan) -> BTreeSet<String> {
        let configs = owned_configs(plan);
        let ptp4l = ProcessKey::new(ptp_api::Program::Ptp4l, plan.run_id).to_string();
        self.thresholds.remove(&ptp4l);
        self.ha.remove(&ptp4l);
        for config in &configs {
            self.ports.forget(config);
            self.clocks.retain(|k, _| k.config != *config);
            self.budget.close(config);
            self.warned.retain(|(c, _)| c != config);
        }
        configs
    }

    /// The T-BCs of the node now: a link kept as it was keeps its state; a new or changed one
    /// starts FREERUN (an effect each), knowing the time receiver's slave port if it has one; a
    /// link no longer there is dropped.
    pub fn link_tbc(&mut self, links: Vec<TbcLink>, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        let keep: HashSet<String> = links.iter().map(|(tr, _, _)| tr.clone()).collect();
        self.tbc.retain(|tr, _| keep.contains(tr));
        for (tr_config, tt_run_id, settings) in links {
            let same = self.tbc.get(&tr_config).is_some_and(|(tt, t)| *tt == tt_run_id && *t.settings() == settings);
            if !same {
                let mut tracker = TbcTracker::new(settings);
                // A time receiver that runs already (only the settings changed) has its slave port.
                if let Some(slave) = self.ports.slave_port(&tr_config) {
                    tracker.on_port(slave, Role::Slave, now);
                }
                effects.push(Effect::Tbc { tr_config: tr_config.clone(), tt_run_id, state: tracker.state() });
                self.tbc.insert(tr_config, (tt_run_id, tracker));
            }
        }
        effects
    }

    /// The state of the T-BC whose time receiver's ptp4l is `tr_config`.
    pub fn tbc_state(&self, tr_config: &str) -> Option<(u32, ClockState)> {
        self.tbc.get(tr_config).map(|(tt, t)| (*tt, t.state()))
    }

    /// The T-BC whose time transmitter has run id `tt`: its time receiver's ptp4l config and state.
    pub fn tbc_controlling(&self, tt: u32) -> Option<(&str, ClockState)> {
        self.tbc.iter().find(|(_, (t, _))| *t == tt).map(|(tr, (_, tracker))| (tr.as_str(), tracker.state()))
    }

    /// Runs `step` on the T-BC of `tr_config`, if any; its state change is an effect.
    fn tbc_step(
        &mut self,
        tr_config: &str,
        effects: &mut Vec<Effect>,
        step: impl FnOnce(&mut TbcTracker) -> ClockState,
    ) {
        let Some((tt_run_id, tracker)) = self.tbc.get_mut(tr_config) else { return };
        let before = tracker.state();
        let state = step(tracker);
        if state != before {
            effects.push(Effect::Tbc { tr_config: tr_config.to_string(), tt_run_id: *tt_run_id, state });
        }
    }

    /// Whether the metrics of this config may exist (it belongs to a running profile).
    pub fn is_open(&self, config: &str) -> bool {
        self.budget.is_open(config)
    }

    /// The earliest instant a clock goes stale or leaves HOLDOVER without a new line.
    pub fn next_deadline(&self) -> Option<Instant> {
        let tbc = self.tbc.values().filter_map(|(_, t)| t.next_deadline());
        self.clocks.values().filter_map(ClockTracker::next_deadline).chain(tbc).min()
    }

    /// Changes only when a clock's state changes or a clock is added (the sum of monotonic
    /// counters, plus the number of clocks).
    pub fn transitions(&self) -> (usize, u64) {
        (self.clocks.len(), self.clocks.values().map(ClockTracker::transitions).sum())
    }

    /// Time passed: every clock's stale and holdover transitions, and the T-BCs'.
    pub fn on_time(&mut self, now: Instant) -> Vec<Effect> {
        let mut effects: Vec<Effect> = self
            .clocks
            .iter_mut()
            .map(|(k, clock)| Effect::Clock { clock: k.clone(), state: clock.on_tick(now) })
            .collect();
        let trs: Vec<String> = self.tbc.keys().cloned().collect();
        for tr in trs {
            self.tbc_step(&tr, &mut effects, |t| t.on_time(now));
        }
        effects
    }

    /// The process `key` is not running: its clocks are FREERUN.
    pub fn process_down(&mut self, key: ProcessKey) -> Vec<Effect> {
        let (config, process) = (key.tag_config(), key.program.name());
        let mut effects = Vec::new();
        if key.program == ptp_api::Program::Ptp4l {
            self.tbc_step(&config, &mut effects, |t| t.on_process_down(Instant::now()));
        }
        effects.extend(self.process_down_clocks(&config, process));
        effects
    }

    fn process_down_clocks(&mut self, config: &str, process: &str) -> Vec<Effect> {
        self.clocks
            .iter_mut()
            .filter(|(k, _)| k.config == config && k.process == process)
            .map(|(k, clock)| {
                clock.on_process_down();
                Effect::Clock { clock: k.clone(), state: ClockState::Freerun }
            })
            .collect()
    }

    /// The worst interface of the process `key` (from the lines tagged with its config): its
    /// name, clock state and last offset.
    pub fn clock_of(&self, key: ProcessKey) -> Option<ClockView> {
        let (config, process) = (key.tag_config(), key.program.name());
        self.clocks
            .iter()
            .filter(|(k, _)| k.config == config && k.process == process)
            .max_by_key(|(k, c)| (c.state(), std::cmp::Reverse(k.iface.clone())))
            .map(|(k, c)| ClockView { iface: k.iface.clone(), state: c.state(), offset_ns: c.last_offset() })
    }

    /// The worst clock state over every process and interface, and the last offset of a ptp4l.
    pub fn summary(&self) -> (Option<ClockState>, Option<i64>) {
        let worst = self.clocks.values().map(ClockTracker::state).max();
        let offset = self
            .clocks
            .iter()
            .filter(|(k, _)| k.process == PTP4L)
            .min_by(|a, b| a.0.cmp(b.0))
            .and_then(|(_, c)| c.last_offset());
        (worst, offset)
    }

    /// One line of a child's output.
    pub fn observe(&mut self, line: &Line<'_>, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(config) = line.config else { return effects };
        let process = line.process.unwrap_or(if config.starts_with(TS2PHC) { TS2PHC } else { PTP4L });
        match line.kind {
            // Port 0 is ptp4l's local management (UDS) port, not an interface.
            Some(Kind::Port) if line.port == Some(0) => {}
            Some(Kind::Port) => self.port(line, config, process, now, &mut effects),
            Some(Kind::Offset) => {
                if let (Some(offset), Some(servo)) = (line.offset_ns, line.servo) {
                    let sample = Sample {
                        offset,
                        max_offset: offset,
                        freq: line.freq_adj_ppb.unwrap_or(0),
                        delay: line.delay_ns.unwrap_or(0),
                    };
                    let update = |c: &mut ClockTracker| c.on_sample(now, servo, offset, line.holdover);
                    self.sample(line, config, process, (sample, now), update, &mut effects);
                }
            }
            // As the Go daemon: ptp4l summaries (the slave port) and phc2sys CLOCK_REALTIME.
            Some(Kind::Summary) => {
                let (rms, max) = (line.offset_ns.unwrap_or(0), line.max_offset_ns.unwrap_or(0));
                let sample = Sample {
                    offset: rms,
                    max_offset: max,
                    freq: line.freq_adj_ppb.unwrap_or(0),
                    delay: line.delay_ns.unwrap_or(0),
                };
                let counted = process == PTP4L
                    || (process == PHC2SYS && self.source(line, config, process).1 == "CLOCK_REALTIME");
                if counted {
                    self.sample(line, config, process, (sample, now), |c| c.on_summary(now, rms, max), &mut effects);
                }
            }
            Some(Kind::Source) if process == PHC2SYS => self.source_selected(line, config, &mut effects),
            _ => {}
        }
        effects
    }

    /// phc2sys of an HA profile selected a source clock: the member profile whose ptp4l has
    /// that interface is followed (an `out-of-domain` selection; an in-domain one only counts with
    /// a single member, as the Go daemon).
    fn source_selected(&mut self, line: &Line<'_>, config: &str, effects: &mut Vec<Effect>) {
        let (Some(members), Some(iface)) = (self.ha.get(config), line.iface) else { return };
        if !line.out_of_domain && members.len() != 1 {
            return;
        }
        let owner =
            |id: u32| self.ports.has_port_named(&ProcessKey::new(ptp_api::Program::Ptp4l, id).to_string(), iface);
        let Some(active) = members.iter().position(|(_, id)| owner(*id)) else { return };
        let statuses = members.iter().enumerate().map(|(i, (name, _))| (name.clone(), i == active)).collect();
        effects.push(Effect::Ha { config: config.to_string(), statuses });
    }

    fn port(&mut self, line: &Line<'_>, config: &str, process: &str, now: Instant, effects: &mut Vec<Effect>) {
        let Some(port) = line.port else { return };
        let name = self.ports.name(config, port, line.port_name);
        let admitted = self.budget.admit_port(config, process, port, &name);
        if !self.admitted(config, admitted, effects) {
            return;
        }
        let was_slave = self.ports.is_slave(config, port);
        let Some((iface, role)) = self.ports.observe(line) else { return };
        self.role_changed(config, process, &iface, role, was_slave, now, effects);
    }

    /// Port `port` of the ptp4l of `config` has `role`, from its management data: the same
    /// effects as its port line would have had, at once. Port 0 (the UDS port) and a closed
    /// config change nothing.
    pub fn observe_port_state(&mut self, config: &str, port: u32, role: Role, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        if port == 0 || !self.is_open(config) {
            return effects;
        }
        let name = self.ports.name(config, port, None);
        let admitted = self.budget.admit_port(config, PTP4L, port, &name);
        if !self.admitted(config, admitted, &mut effects) {
            return effects;
        }
        let was_slave = self.ports.is_slave(config, port);
        let (iface, role) = self.ports.set_role(config, port, role);
        self.role_changed(config, PTP4L, &iface, role, was_slave, now, &mut effects);
        effects
    }

    /// A port's role changed: its metric; the slave port replaces the `master` placeholder; a
    /// slave port that goes FAULTY, or back to LISTENING (its master gone), makes a LOCKED
    /// clock hold over.
    #[allow(clippy::too_many_arguments)]
    fn role_changed(
        &mut self,
        config: &str,
        process: &str,
        iface: &str,
        role: Role,
        was_slave: bool,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let clock = ClockKey::new(config, process, iface);
        effects.push(Effect::Role { clock: clock.clone(), role });
        if process == PTP4L {
            self.tbc_step(config, effects, |t| t.on_port(iface, role, now));
        }
        if role == Role::Slave {
            // Samples so far were labelled `master`; from now on they name the port.
            let master = ClockKey::new(config, process, "master");
            self.clocks.remove(&master);
            self.budget.release(config, process, "master");
            effects.push(Effect::ForgetIface(master));
        }
        let lost_master = role == Role::Faulty || (was_slave && role == Role::Listening);
        if lost_master && let Some(tracker) = self.clocks.get_mut(&clock) {
            let state = tracker.on_slave_faulty(now);
            effects.push(Effect::Clock { clock, state });
        }
    }

    /// A sample line (per-sample offset or summary): its series, its clock's state, and the
    /// phc2sys gate of a ptp4l within a second (the sample's largest offset).
    fn sample(
        &mut self,
        line: &Line<'_>,
        config: &str,
        process: &str,
        (sample, now): (Sample, Instant),
        update: impl FnOnce(&mut ClockTracker) -> ClockState,
        effects: &mut Vec<Effect>,
    ) {
        let (from, iface) = self.source(line, config, process);
        let admitted = self.budget.admit(config, process, &iface);
        if !self.admitted(config, admitted, effects) {
            return;
        }
        let mut thresholds = self.thresholds.get(config).copied().unwrap_or_default();
        if (process, iface.as_str()) != (PHC2SYS, "CLOCK_REALTIME") {
            thresholds = thresholds.without_sys_offset();
        }
        let clock = ClockKey::new(config, process, &iface);
        let state = update(self.clocks.entry(clock.clone()).or_insert_with(|| ClockTracker::new(thresholds)));
        if process == PTP4L {
            self.tbc_step(config, effects, |t| t.on_sample(sample.offset, now));
        }
        effects.push(Effect::Sample { clock: clock.clone(), from, sample });
        effects.push(Effect::Clock { clock, state });
        if process == PTP4L && sample.max_offset.unsigned_abs() < PHC2SYS_GATE_OFFSET_NS {
            effects.push(Effect::OpenGate { config: config.to_string() });
        }
    }

    /// Whether the line may go on into the metrics; a rejection becomes [`Effect::Ignored`].
    fn admitted(&mut self, config: &str, verdict: Result<(), Rejection>, effects: &mut Vec<Effect>) -> bool {
        let Err(rejection) = verdict else { return true };
        if let Some(reason) = rejection.reason() {
            let first = self.warned.insert((config.to_string(), rejection));
            effects.push(Effect::Ignored { config: config.to_string(), reason, first });
        }
        false
    }

    /// The `from` label and interface of a sample line.
    fn source(&self, line: &Line<'_>, config: &str, process: &str) -> (&'static str, String) {
        match (process, line.iface) {
            (PTP4L, Some("master") | None) => ("master", self.ports.slave_port(config).unwrap_or("master").to_string()),
            (PHC2SYS, iface) => ("phc", iface.unwrap_or("CLOCK_REALTIME").to_string()),
            (_, iface) => ("master", iface.unwrap_or("master").to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
