//! The agent runtime: applies profile updates (files, processes) through the supervisor, and turns
//! the children's log lines into port roles, clock states and the `openshift_ptp_*` metrics.
//!
//! The lines reach the parser through a bounded queue ([`LINE_QUEUE`]; a parser that falls behind
//! drops lines, counted, rather than growing the agent), and go into the metrics only within the
//! bounds of [`SeriesBudget`]: the lines of a stopped profile are ignored, so that its series,
//! once removed, stay removed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ptp_api::{ClockState, NodeProfiles, Ptp4lConf};
use tokio::sync::{Notify, mpsc, watch};
use tracing::{debug, info, warn};

use crate::clockstate::{ClockTracker, Thresholds};
use crate::logparse::{Kind, Line, PortTracker, Role, parse};
use crate::metrics::budget::{Rejection, SeriesBudget};
use crate::metrics::{AgentMetrics, OutputCounters, REASON_BACKLOG, Sample};
use crate::render::{PHC2SYS, PTP4L, ProcessPlan, RenderedProfile, RunIds};
use crate::supervise::{Gate, LineSink, LogLine, ProcessSpec, Scheduling, State, Supervisor, rundir};
use crate::update::{Applied, Refusal, UpdatePlan, plan_update};

/// How the runtime runs.
#[derive(Clone, Debug)]
pub struct Settings {
    pub node: String,
    pub run_dir: PathBuf,
    /// Directory of the linuxptp programs; `None`: looked up on `PATH`.
    pub bin_dir: Option<PathBuf>,
    pub supervisor: crate::supervise::Settings,
}

/// What the log consumer and the periodic tick share.
struct Observed {
    metrics: AgentMetrics,
    ports: PortTracker,
    /// (config, process, iface) → clock state machine.
    clocks: HashMap<(String, String, String), ClockTracker>,
    /// ptp4l config name → thresholds of its profile.
    thresholds: HashMap<String, Thresholds>,
    /// ptp4l config name → opens the phc2sys gate once ptp4l reports |offset| < 1 s.
    gates: HashMap<String, watch::Sender<bool>>,
    /// The message tags and process keys of the running profiles, and the series their lines
    /// may still create.
    budget: SeriesBudget,
    /// (tag, rejection) already warned about while the tag is open: one warning, then the counter.
    warned: HashSet<(String, Rejection)>,
    output: OutputCounters,
}

/// Lines waiting for the parser, at most (each at most the line cap, 4 KiB).
pub const LINE_QUEUE: usize = 1024;

/// Where the children's output goes: the bounded line queue, and the output counters.
struct QueueSink {
    lines: mpsc::Sender<LogLine>,
    output: OutputCounters,
}

impl LineSink for QueueSink {
    fn deliver(&self, line: LogLine) {
        if let Err(mpsc::error::TrySendError::Full(line)) = self.lines.try_send(line) {
            debug!(process = %line.process, "output line dropped: the parser is behind");
            self.output.ignored(REASON_BACKLOG);
        }
    }

    fn discarded(&self, process: &str, bytes: u64) {
        self.output.discarded(process, bytes);
    }
}

/// phc2sys of a profile waits until its ptp4l reports |offset| below this (as the Go daemon does).
pub const PHC2SYS_GATE_OFFSET_NS: i64 = 1_000_000_000;
/// ... but not longer than this.
pub const PHC2SYS_GATE_MAX_WAIT: Duration = Duration::from_secs(60);

/// The runtime of one node.
pub struct Runtime {
    settings: Settings,
    supervisor: Supervisor,
    ids: RunIds,
    applied: BTreeMap<String, Applied>,
    /// Profiles of the last update that were not applied (retried when the content changes).
    refused: Vec<Refusal>,
    /// Why the last value of the profile source was not applied at all, when it was not.
    source_error: Option<String>,
    /// SHA-256 (hex) of the last value of the profile source that was applied.
    value_hash: Option<String>,
    observed: Arc<Mutex<Observed>>,
    /// Notified when a line or time changed a clock's state, or a line made a new clock.
    clocks_changed: Arc<Notify>,
}

/// SHA-256 of a profile source value, lowercase hex (as `sha256sum` prints it).
pub fn value_hash(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The supervisor key (and `config` metric label) of a process: its config file name.
fn process_key(profile: &RenderedProfile, process: &ProcessPlan) -> String {
    format!("{}.{}.config", process.name, profile.run_id)
}

/// The message tag (without brackets) ptp4l and phc2sys lines of a profile carry.
fn ptp4l_config(profile: &RenderedProfile) -> String {
    format!("{PTP4L}.{}.config", profile.run_id)
}

/// Every `config` a profile's lines and metrics may carry: its ptp4l tag, its process keys, and
/// a message tag its options set (`phc2sysOpts: -t [mine]`), as the log parser reads it.
fn owned_configs(profile: &RenderedProfile) -> BTreeSet<String> {
    let mut owned: BTreeSet<String> = profile.processes.iter().map(|p| process_key(profile, p)).collect();
    owned.insert(ptp4l_config(profile));
    for process in &profile.processes {
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

impl Runtime {
    /// A runtime whose children's lines arrive on the returned receiver (feed it to
    /// [`Runtime::consume_logs`]).
    pub fn new(settings: Settings, metrics: AgentMetrics) -> (Self, mpsc::Receiver<LogLine>) {
        let (tx, rx) = mpsc::channel(LINE_QUEUE);
        let output = metrics.output();
        let supervisor =
            Supervisor::new(settings.supervisor, Arc::new(QueueSink { lines: tx, output: output.clone() }));
        let observed = Observed {
            metrics,
            ports: PortTracker::default(),
            clocks: HashMap::new(),
            thresholds: HashMap::new(),
            gates: HashMap::new(),
            budget: SeriesBudget::default(),
            warned: HashSet::new(),
            output,
        };
        let runtime = Runtime {
            settings,
            supervisor,
            ids: RunIds::new(),
            applied: BTreeMap::new(),
            refused: Vec::new(),
            source_error: None,
            value_hash: None,
            observed: Arc::new(Mutex::new(observed)),
            clocks_changed: Arc::new(Notify::new()),
        };
        (runtime, rx)
    }

    /// SHA-256 (hex) of the last profile source value applied (what `ptp-configmap` holds for
    /// this node when the agent and the operator agree).
    pub fn value_hash(&self) -> Option<&str> {
        self.value_hash.as_deref()
    }

    /// The profile source value about to be applied.
    pub fn value_taken(&mut self, text: &str) {
        self.value_hash = Some(value_hash(text));
    }

    /// What runs now.
    pub fn applied(&self) -> &BTreeMap<String, Applied> {
        &self.applied
    }

    /// Profiles of the last update that were not applied.
    pub fn refused(&self) -> &[Refusal] {
        &self.refused
    }

    /// Why the last value of the profile source (file or ConfigMap key) could not be used at all
    /// (unreadable, not JSON, of another shape, an item without a name); `None` once a value applied.
    pub fn source_error(&self) -> Option<&str> {
        self.source_error.as_deref()
    }

    /// Records that the last value of the profile source could not be used: nothing changes
    /// (what runs keeps running, the refusals of the last applied update stand).
    pub fn source_invalid(&mut self, reason: String) {
        self.source_error = Some(reason);
        self.observed.lock().unwrap_or_else(PoisonError::into_inner).metrics.source_invalid();
    }

    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Applies an update: only what changed is touched; invalid profiles change nothing.
    pub async fn apply(&mut self, incoming: &NodeProfiles) -> UpdatePlan {
        let plan = plan_update(&self.applied, incoming, &mut self.ids, &self.settings.run_dir);
        for refusal in &plan.refused {
            warn!(profile = refusal.profile.as_deref().unwrap_or("?"), kept_running = refusal.kept_running, reason = %refusal.reason, "profile not applied");
        }
        for name in plan.stop.iter().chain(&plan.restart) {
            if let Some(old) = self.applied.get(name) {
                self.stop_profile(&old.rendered.clone()).await;
            }
        }
        for name in plan.start.iter().chain(&plan.restart) {
            if let Some(new) = plan.next.get(name) {
                self.start_profile(new);
            }
        }
        if plan.changes_processes() {
            info!(start = ?plan.start, restart = ?plan.restart, stop = ?plan.stop, keep = ?plan.keep, "applied profiles");
        }
        self.applied = plan.next.clone();
        self.refused = plan.refused.clone();
        self.source_error = None;
        let observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        observed.metrics.refused(self.refused.len());
        observed.metrics.source_valid();
        plan
    }

    async fn stop_profile(&mut self, rendered: &RenderedProfile) {
        for process in &rendered.processes {
            self.supervisor.stop(&process_key(rendered, process)).await;
        }
        let mut observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        let ptp4l = ptp4l_config(rendered);
        observed.thresholds.remove(&ptp4l);
        observed.gates.remove(&ptp4l);
        // Closed under the same lock as the removal: a late line of this profile, still queued,
        // cannot bring a series back.
        for config in owned_configs(rendered) {
            observed.ports.forget(&config);
            observed.clocks.retain(|(c, _, _), _| *c != config);
            observed.budget.close(&config);
            observed.warned.retain(|(c, _)| *c != config);
            observed.metrics.forget(&config);
        }
    }

    fn start_profile(&mut self, applied: &Applied) {
        let rendered = &applied.rendered;
        for (path, content) in &rendered.files {
            let written =
                path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|_| std::fs::write(path, content));
            if let Err(e) = written {
                warn!(profile = %rendered.profile, file = %path.display(), error = %e, "cannot write a configuration file");
            }
        }
        {
            let mut observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
            let ptp4l = ptp4l_config(rendered);
            for config in owned_configs(rendered) {
                observed.budget.open(&config);
            }
            observed
                .thresholds
                .insert(ptp4l.clone(), Thresholds::from_profile(applied.profile.ptp_clock_threshold.as_ref()));
            // ptp4l numbers its ports from 1 in the order of the configuration's port sections.
            let conf = rendered.processes.iter().find(|p| p.name == PTP4L).and_then(|p| p.config_file.as_ref());
            let text = conf.and_then(|path| rendered.files.iter().find(|(p, _)| p == path)).map(|(_, t)| t.as_str());
            if let Some(conf) = text.and_then(|t| Ptp4lConf::parse(t).ok()) {
                for (i, name) in conf.interface_names().enumerate() {
                    observed.ports.seed(&ptp4l, i as u32 + 1, name);
                }
            }
        }
        let runs_ptp4l = rendered.processes.iter().any(|p| p.name == PTP4L);
        for process in &rendered.processes {
            let program = match &self.settings.bin_dir {
                Some(dir) => dir.join(&process.program),
                None => PathBuf::from(&process.program),
            };
            let mut spec = ProcessSpec::new(process.name, program, process.args.clone());
            spec.sched = process.sched.map(|s| Scheduling::fifo(s.priority));
            // What a later agent on this run directory recognises as left over, should this
            // one die without stopping it (see `rundir::kill_leftovers`).
            spec.env.push((rundir::RUN_DIR_ENV.to_string(), rundir::marker(&self.settings.run_dir)));
            let key = process_key(rendered, process);
            if process.name == PHC2SYS && runs_ptp4l {
                let (open, ready) = watch::channel(false);
                let mut observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
                observed.gates.insert(ptp4l_config(rendered), open);
                drop(observed);
                self.supervisor.start_gated(key, spec, Gate { ready, max_wait: PHC2SYS_GATE_MAX_WAIT });
            } else {
                self.supervisor.start(key, spec);
            }
        }
    }

    /// Consumes the children's lines until the channel closes.
    pub fn consume_logs(&self, mut lines: mpsc::Receiver<LogLine>) -> tokio::task::JoinHandle<()> {
        let observed = self.observed.clone();
        let seen = self.clocks_changed.clone();
        tokio::spawn(async move {
            loop {
                // The clocks' time-based transitions (samples gone stale, holdover over) are
                // checked here, at their deadline, which each line moves on: while lines arrive
                // the timer never fires, and the lines are the only wakeups.
                let deadline = observed.lock().unwrap_or_else(PoisonError::into_inner).next_deadline();
                let next = match deadline {
                    Some(at) => match tokio::time::timeout_at(at.into(), lines.recv()).await {
                        Ok(line) => line,
                        Err(_) => {
                            let mut observed = observed.lock().unwrap_or_else(PoisonError::into_inner);
                            let before = observed.transitions();
                            observed.clocks_on_time(Instant::now());
                            if observed.transitions() != before {
                                seen.notify_one();
                            }
                            continue;
                        }
                    },
                    None => lines.recv().await,
                };
                let Some(line) = next else { break };
                let parsed = parse(&line.line);
                let mut observed = observed.lock().unwrap_or_else(PoisonError::into_inner);
                let before = observed.transitions();
                observed.observe(&parsed, Instant::now());
                let changed = observed.transitions() != before;
                drop(observed);
                // Only a clock state that changed (or a new clock) needs the main loop; a line
                // that only moves an offset updates the metrics here and nothing else. Stored
                // once if nobody waits: a burst wakes the loop once.
                if changed {
                    seen.notify_one();
                }
            }
        })
    }

    /// Resolves after a line or time changed a clock's state (or a line made a new clock) since
    /// the last call.
    pub async fn clocks_changed(&self) {
        self.clocks_changed.notified().await;
    }

    /// After a line, a process change or a clock deadline: process status and restart counts,
    /// holdover and FREERUN transitions.
    pub fn tick(&self) {
        let snapshot = self.supervisor.snapshot();
        let now = Instant::now();
        let mut observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, status) in &snapshot {
            // A stopped profile's processes stay in the snapshot, `Stopped`: no series for them.
            if !observed.budget.is_open(key) {
                continue;
            }
            let running = matches!(status.state, State::Running { .. });
            let process = key.split('.').next().unwrap_or_default();
            observed.metrics.process(key, process, running, status.restarts);
            if !running {
                let ptp4l = key.replacen(process, PTP4L, 1);
                let down: Vec<_> =
                    observed.clocks.keys().filter(|(c, p, _)| *c == ptp4l && p == process).cloned().collect();
                for k in down {
                    if let Some(clock) = observed.clocks.get_mut(&k) {
                        clock.on_process_down();
                    }
                    observed.metrics.clock_state(&k.0, &k.1, &k.2, ClockState::Freerun);
                }
            }
        }
        observed.clocks_on_time(now);
    }

    /// Stops every child.
    pub async fn shutdown(&self) {
        self.supervisor.stop_all().await;
    }

    /// The worst clock state over every process and interface, and the last offset of ptp4l.
    pub fn clock_summary(&self) -> (Option<ClockState>, Option<i64>) {
        let observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        let worst = observed.clocks.values().map(ClockTracker::state).max_by_key(|s| match s {
            ClockState::Locked => 0,
            ClockState::Holdover => 1,
            ClockState::Freerun => 2,
        });
        let offset = observed.clocks.iter().find(|((_, p, _), _)| p == PTP4L).and_then(|(_, c)| c.last_offset());
        (worst, offset)
    }
}

impl Runtime {
    /// The interface, clock state and last offset of one supervised process (`ptp4l`, run id 0):
    /// its worst interface, from the lines tagged with its profile's config (phc2sys and ptp4l
    /// share `ptp4l.N.config`; ts2phc has `ts2phc.N.config`).
    pub fn process_clock(&self, process: &str, run_id: u32) -> Option<(String, ClockState, Option<i64>)> {
        let suffix = format!(".{run_id}.config");
        let observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        observed
            .clocks
            .iter()
            .filter(|((config, p, _), _)| p == process && config.ends_with(&suffix))
            .max_by_key(|(_, c)| match c.state() {
                ClockState::Locked => 0,
                ClockState::Holdover => 1,
                ClockState::Freerun => 2,
            })
            .map(|((_, _, iface), c)| (iface.clone(), c.state(), c.last_offset()))
    }
}

impl Observed {
    /// Time passed: every clock's stale and holdover transitions, into the metrics.
    fn clocks_on_time(&mut self, now: Instant) {
        let Observed { clocks, metrics, .. } = self;
        for (k, clock) in clocks.iter_mut() {
            metrics.clock_state(&k.0, &k.1, &k.2, clock.on_tick(now));
        }
    }

    /// The earliest instant a clock goes stale or leaves HOLDOVER without a new line.
    fn next_deadline(&self) -> Option<Instant> {
        self.clocks.values().filter_map(ClockTracker::next_deadline).min()
    }

    /// Changes only when a clock's state changes or a clock is added (the sum of monotonic
    /// counters, plus the number of clocks).
    fn transitions(&self) -> (usize, u64) {
        (self.clocks.len(), self.clocks.values().map(ClockTracker::transitions).sum())
    }

    fn observe(&mut self, line: &Line<'_>, now: Instant) {
        let Some(config) = line.config else { return };
        let process = line.process.unwrap_or(if config.starts_with("ts2phc") { "ts2phc" } else { PTP4L });
        match line.kind {
            // Port 0 is ptp4l's local management (UDS) port, not an interface.
            Some(Kind::Port) if line.port == Some(0) => {}
            Some(Kind::Port) => {
                let Some(port) = line.port else { return };
                let name = self.ports.name(config, port, line.port_name);
                let admitted = self.budget.admit_port(config, process, port, &name);
                if !self.admitted(config, admitted) {
                    return;
                }
                if let Some((iface, role)) = self.ports.observe(line) {
                    self.metrics.role(config, process, &iface, role.metric_value());
                    if role == Role::Slave {
                        // Samples so far were labelled `master`; from now on they name the port.
                        self.clocks.remove(&(config.to_string(), process.to_string(), "master".to_string()));
                        self.metrics.forget_iface(config, process, "master");
                        self.budget.release(config, process, "master");
                    }
                    if role == Role::Faulty
                        && let Some(clock) =
                            self.clocks.get_mut(&(config.to_string(), process.to_string(), iface.clone()))
                    {
                        let state = clock.on_slave_faulty(now);
                        self.metrics.clock_state(config, process, &iface, state);
                    }
                }
            }
            Some(Kind::Offset) => {
                let (Some(offset), Some(servo)) = (line.offset_ns, line.servo) else { return };
                let (from, iface) = self.source(line, config, process);
                let admitted = self.budget.admit(config, process, &iface);
                if !self.admitted(config, admitted) {
                    return;
                }
                let thresholds = self.thresholds.get(config).copied().unwrap_or_default();
                let key = (config.to_string(), process.to_string(), iface.clone());
                let state = self.clocks.entry(key).or_insert_with(|| ClockTracker::new(thresholds)).on_sample(
                    now,
                    servo,
                    offset,
                    line.holdover,
                );
                let sample = Sample {
                    offset,
                    max_offset: offset,
                    freq: line.freq_adj_ppb.unwrap_or(0),
                    delay: line.delay_ns.unwrap_or(0),
                };
                self.metrics.sample(config, from, process, &iface, sample);
                self.metrics.clock_state(config, process, &iface, state);
                if process == PTP4L
                    && offset.unsigned_abs() < PHC2SYS_GATE_OFFSET_NS.unsigned_abs()
                    && let Some(gate) = self.gates.get(config)
                {
                    gate.send_if_modified(|open| !std::mem::replace(open, true));
                }
            }
            Some(Kind::Summary) => {
                // As the Go daemon: ptp4l summaries (the slave port) and phc2sys CLOCK_REALTIME.
                let (from, iface) = self.source(line, config, process);
                if process == PTP4L || (process == PHC2SYS && iface == "CLOCK_REALTIME") {
                    let admitted = self.budget.admit(config, process, &iface);
                    if !self.admitted(config, admitted) {
                        return;
                    }
                    let (rms, max) = (line.offset_ns.unwrap_or(0), line.max_offset_ns.unwrap_or(0));
                    let sample = Sample {
                        offset: rms,
                        max_offset: max,
                        freq: line.freq_adj_ppb.unwrap_or(0),
                        delay: line.delay_ns.unwrap_or(0),
                    };
                    self.metrics.sample(config, from, process, &iface, sample);
                    let thresholds = self.thresholds.get(config).copied().unwrap_or_default();
                    let key = (config.to_string(), process.to_string(), iface.clone());
                    let state = self
                        .clocks
                        .entry(key)
                        .or_insert_with(|| ClockTracker::new(thresholds))
                        .on_summary(now, rms, max);
                    self.metrics.clock_state(config, process, &iface, state);
                    if process == PTP4L
                        && max.unsigned_abs() < PHC2SYS_GATE_OFFSET_NS.unsigned_abs()
                        && let Some(gate) = self.gates.get(config)
                    {
                        gate.send_if_modified(|open| !std::mem::replace(open, true));
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether the line may go on into the metrics; a rejection is counted, and warned about once
    /// per tag and kind while the tag is open.
    fn admitted(&mut self, config: &str, verdict: Result<(), Rejection>) -> bool {
        let Err(rejection) = verdict else { return true };
        if let Some(reason) = rejection.reason() {
            self.output.ignored(reason);
            if self.warned.insert((config.to_string(), rejection)) {
                warn!(
                    config,
                    reason, "output lines kept out of the metrics (counted in ptp_agent_ignored_log_lines_total)"
                );
            }
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

/// The longest the main loop sleeps without a line, a process change, a profile value or a
/// clock deadline (a safety net: nothing is known to need it).
pub const IDLE_TICK: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &'static str, args: &[&str]) -> ProcessPlan {
        ProcessPlan {
            name,
            program: name.to_string(),
            args: args.iter().map(std::string::ToString::to_string).collect(),
            sched: None,
            config_file: None,
        }
    }

    #[test]
    fn a_profile_owns_its_tags_keys_and_the_tags_its_options_set() {
        let profile = |phc2sys: &[&str]| RenderedProfile {
            profile: "p".into(),
            run_id: 3,
            files: Vec::new(),
            processes: vec![plan(PTP4L, &["-f", "/run/ptp4l.3.config", "-m"]), plan(PHC2SYS, phc2sys)],
        };
        let owned = |phc2sys: &[&str]| owned_configs(&profile(phc2sys)).into_iter().collect::<Vec<_>>();
        assert_eq!(owned(&["-a", "-r", "-t", "[ptp4l.3.config]"]), ["phc2sys.3.config", "ptp4l.3.config"]);
        assert_eq!(owned(&["-t", "[mine]"]), ["mine", "phc2sys.3.config", "ptp4l.3.config"]);
        assert_eq!(owned(&["-t[mine:{level}]"]), ["mine", "phc2sys.3.config", "ptp4l.3.config"]);
        // No tag the parser would read: nothing more.
        assert_eq!(owned(&["-t", "bare"]), ["phc2sys.3.config", "ptp4l.3.config"]);
        assert_eq!(owned(&["-t"]), ["phc2sys.3.config", "ptp4l.3.config"]);
    }
}
