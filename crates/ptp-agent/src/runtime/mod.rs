//! The agent runtime: applies profile source values (files, processes) through the supervisor,
//! turns the children's log lines into port roles, clock states and the `openshift_ptp_*`
//! metrics ([`observe`], pure; [`logs`], the consumer task), and publishes its state as a typed
//! snapshot ([`state::AgentState`]) that the health endpoint and the status reporter consume.
//!
//! Data flows one way: profile values in; files, processes and metrics out; the snapshot out on a
//! `watch` channel ([`Runtime::subscribe`]) after every change ([`Runtime::tick`]).
//!
//! Each running ptp4l has a management follower ([`crate::mgmt::follow`]), started and stopped
//! with its profile and told the child's pid on every tick (a new pid: it starts over). Its
//! views go into the published state (`ProfileView::ptp`) and `openshift_ptp_clock_class`;
//! a port state that changed feeds the line observer as if its port line had arrived
//! ([`LineObserver::observe_port_state`]), so a slave port going FAULTY or LISTENING moves the
//! clock at once (log lines stay the fallback); each change wakes the main loop.

pub mod logs;
pub mod observe;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ptp_api::settings::ProfileSettings;
use ptp_api::{ClockState, NodeProfiles, Program, decode_node_profiles};
use tokio::sync::{Notify, mpsc, watch};
use tracing::{info, warn};

use crate::clockstate::Thresholds;
use crate::logparse::Role;
use crate::metrics::{AgentMetrics, OutputCounters};
use crate::mgmt::follow::{FollowSettings, follow};
use crate::mgmt::view::PtpView;
use crate::render::{ProcessKey, RUN_IDS_FILE, RunIds, RunPlan, index_text, ptp4l_socket_path};
use crate::supervise::{Gate, LogLine, OutputConfig, ProcessSpec, Scheduling, State, Supervisor, rundir};
use crate::tbc::{GmQuality, TbcSettings, tt_quality};
use crate::update::{AppliedProfile, Refusal, UpdatePlan, plan_update};
use observe::{Effect, LineObserver};
use state::{AgentState, ProcessView, ProfileView, process_state};

pub use logs::LINE_QUEUE;
pub use observe::PHC2SYS_GATE_OFFSET_NS;

/// How the runtime runs.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    pub node: String,
    pub run_dir: PathBuf,
    /// Directory of the linuxptp programs; `None`: looked up on `PATH`.
    pub bin_dir: Option<PathBuf>,
    /// The linuxptp version of those programs ([`crate::linuxptp::detect`]).
    pub linuxptp: crate::linuxptp::Linuxptp,
    pub supervisor: crate::supervise::SupervisorSettings,
}

/// phc2sys waits for its ptp4l's offset ([`PHC2SYS_GATE_OFFSET_NS`]) at most this long.
pub const PHC2SYS_GATE_MAX_WAIT: Duration = Duration::from_secs(60);

/// The longest the main loop sleeps without a line, a process change, a profile value or a
/// clock deadline: it then publishes the state with the offsets of the moment (lines move
/// offsets without waking the loop).
pub const IDLE_TICK: Duration = Duration::from_secs(30);

/// What the log consumer and the runtime share: the line observer, the metrics it feeds and the
/// phc2sys gates it opens.
struct Shared {
    observer: LineObserver,
    metrics: AgentMetrics,
    /// ptp4l config → opens the phc2sys gate of its profile.
    gates: HashMap<String, watch::Sender<bool>>,
    output: OutputCounters,
    /// ptp4l config → the last view of its follower (`None`: ptp4l does not answer).
    views: HashMap<String, Option<PtpView>>,
    /// Run id of a T-BC's time transmitter → what its follower is to announce.
    announce: HashMap<u32, watch::Sender<Option<GmQuality>>>,
    /// The last state of each clock (its changes are logged).
    clock_states: HashMap<observe::ClockKey, ClockState>,
}

impl Shared {
    /// A follower's new view of the ptp4l of `config` (ignored once the profile stopped): the
    /// clock class, and each port whose state changed, into the line observer.
    fn take_view(&mut self, config: &str, view: Option<&PtpView>, now: Instant) {
        if !self.observer.is_open(config) {
            return;
        }
        let before = self.views.insert(config.to_string(), view.cloned()).flatten();
        self.metrics.clock_class(config, view.map(|v| v.gm_clock_class));
        if let Some((tt, _)) = self.observer.tbc_state(config) {
            self.announce_tbc(tt);
        }
        let Some(view) = view else { return };
        for port in &view.ports {
            if before.as_ref().and_then(|b| b.port(port.number)) != Some(port.state) {
                let role = Role::from_state(port.state.as_str(), None);
                let effects = self.observer.observe_port_state(config, u32::from(port.number), role, now);
                self.apply(effects);
            }
        }
    }

    /// What the time transmitter of run id `tt` is to announce: from its T-BC's state and the
    /// time receiver's grandmaster.
    fn tbc_quality(&self, tt: u32) -> Option<GmQuality> {
        let (tr, state) = self.observer.tbc_controlling(tt)?;
        let upstream = self.views.get(tr).and_then(Option::as_ref).map(|v| (v.gm_clock_class, v.gm_clock_accuracy));
        Some(tt_quality(state, upstream))
    }

    /// Tells the follower of the time transmitter `tt` what to announce, when that changed.
    fn announce_tbc(&self, tt: u32) {
        let wanted = self.tbc_quality(tt);
        if let Some(sender) = self.announce.get(&tt) {
            sender.send_if_modified(|current| std::mem::replace(current, wanted) != wanted);
        }
    }

    /// Carries out what the observer decided.
    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Role { clock, role } => {
                    self.metrics.role(&clock.config, &clock.process, &clock.iface, role.metric_value());
                }
                Effect::Sample { clock, from, sample } => {
                    self.metrics.sample(&clock.config, from, &clock.process, &clock.iface, sample);
                }
                Effect::Clock { clock, state } => {
                    self.metrics.clock_state(&clock.config, &clock.process, &clock.iface, state);
                    // Each change in the agent's log: with `logReduce` the samples are not, and a
                    // state change (a threshold crossed, holdover) must still be seen there.
                    let before = self.clock_states.insert(clock.clone(), state);
                    if before != Some(state) {
                        info!(config = %clock.config, process = %clock.process, iface = %clock.iface, from = ?before, to = ?state, "clock state");
                    }
                }
                Effect::Tbc { tr_config, tt_run_id, state } => {
                    info!(time_receiver = %tr_config, time_transmitter = tt_run_id, ?state, "T-BC state");
                    self.announce_tbc(tt_run_id);
                }
                Effect::Ha { config, statuses } => self.metrics.ha_profiles(&config, &statuses),
                Effect::ForgetIface(clock) => {
                    self.metrics.forget_iface(&clock.config, &clock.process, &clock.iface);
                    self.clock_states.remove(&clock);
                }
                Effect::OpenGate { config } => {
                    if let Some(gate) = self.gates.get(&config) {
                        gate.send_if_modified(|open| !std::mem::replace(open, true));
                    }
                }
                Effect::Ignored { config, reason, first } => {
                    self.output.ignored(reason);
                    if first {
                        warn!(
                            config,
                            reason,
                            "output lines kept out of the metrics (counted in ptp_agent_ignored_log_lines_total)"
                        );
                    }
                }
            }
        }
    }
}

/// The runtime of one node.
pub struct Runtime {
    settings: RuntimeSettings,
    supervisor: Supervisor,
    ids: RunIds,
    applied: BTreeMap<String, AppliedProfile>,
    /// Profiles of the last update that were not applied (retried when the content changes).
    refused: Vec<Refusal>,
    /// Why the last value of the profile source was not applied at all, when it was not.
    source_error: Option<String>,
    /// SHA-256 (hex) of the last value of the profile source that was applied.
    value_hash: Option<String>,
    applied_once: bool,
    shared: Arc<Mutex<Shared>>,
    /// Notified when a line or time changed a clock's state, or a line made a new clock.
    clocks_changed: Arc<Notify>,
    state: watch::Sender<Arc<AgentState>>,
    /// Run id → the management follower of the profile's ptp4l.
    followers: HashMap<u32, Follower>,
    /// Follower tasks alive (a task's guard counts it down when it ends or is aborted).
    live_followers: Arc<AtomicUsize>,
}

/// A running follower: its task, and where it learns ptp4l's pid.
struct Follower {
    task: tokio::task::JoinHandle<()>,
    running: watch::Sender<Option<i32>>,
}

/// Counts a follower task while it lives.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Alive(count.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A T-BC's settings from its time receiver profile: `upstreamPort` (comma-separated),
/// `inSyncConditionThreshold` (default: `maxOffsetThreshold`), `inSyncConditionTimes` (default
/// 1), and the profile's holdover time.
fn tbc_settings(tr: &ptp_api::PtpProfile) -> TbcSettings {
    let thresholds = Thresholds::from_profile(tr.ptp_clock_threshold.as_ref());
    let settings = ptp_api::settings::ProfileSettings::of(tr).unwrap_or_default();
    TbcSettings {
        upstream_ports: settings.upstream_ports,
        in_sync_threshold_ns: settings.in_sync_threshold_ns.map_or(thresholds.max_offset_ns.unsigned_abs(), u64::from),
        in_sync_times: settings.in_sync_times.unwrap_or(1),
        holdover: thresholds.holdover,
        stale_after: thresholds.stale_after,
    }
}

/// SHA-256 of a profile source value, lowercase hex (as `sha256sum` prints it).
pub fn value_hash(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Runtime {
    /// A runtime whose children's lines arrive on the returned receiver (feed it to
    /// [`Runtime::consume_logs`]).
    pub fn new(settings: RuntimeSettings, metrics: AgentMetrics) -> (Self, mpsc::Receiver<LogLine>) {
        let (tx, rx) = mpsc::channel(LINE_QUEUE);
        let output = metrics.output();
        let supervisor = Supervisor::new(settings.supervisor, Arc::new(logs::QueueSink::new(tx, output.clone())));
        let shared = Shared {
            observer: LineObserver::default(),
            metrics,
            gates: HashMap::new(),
            output,
            views: HashMap::new(),
            announce: HashMap::new(),
            clock_states: HashMap::new(),
        };
        let runtime = Runtime {
            settings,
            supervisor,
            ids: RunIds::new(),
            applied: BTreeMap::new(),
            refused: Vec::new(),
            source_error: None,
            value_hash: None,
            applied_once: false,
            shared: Arc::new(Mutex::new(shared)),
            clocks_changed: Arc::new(Notify::new()),
            state: watch::Sender::new(Arc::default()),
            followers: HashMap::new(),
            live_followers: Arc::new(AtomicUsize::new(0)),
        };
        (runtime, rx)
    }

    /// The published state: the latest snapshot now, and each one after it.
    pub fn subscribe(&self) -> watch::Receiver<Arc<AgentState>> {
        self.state.subscribe()
    }

    /// What runs now.
    pub fn applied(&self) -> &BTreeMap<String, AppliedProfile> {
        &self.applied
    }

    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// A value of the profile source (`source` names it in errors): applied when it decodes;
    /// otherwise nothing changes (what runs keeps running, the refusals of the last applied
    /// update stand), and the reason is reported.
    pub async fn take(&mut self, value: Result<String, String>, source: &str) {
        match value.and_then(|text| decode_node_profiles(&text).map(|p| (p, text)).map_err(|e| e.to_string())) {
            Ok((profiles, text)) => {
                self.value_hash = Some(value_hash(&text));
                self.apply(&profiles).await;
            }
            Err(e) => {
                let reason = format!("{source}: {e}");
                warn!(error = %reason, "profiles not applied; what runs keeps running");
                self.source_error = Some(reason);
                lock(&self.shared).metrics.source_invalid();
            }
        }
    }

    /// Applies an update: only what changed is touched; invalid profiles change nothing.
    pub async fn apply(&mut self, incoming: &NodeProfiles) -> UpdatePlan {
        let plan =
            plan_update(&self.applied, incoming, &mut self.ids, (&self.settings.run_dir, &self.settings.linuxptp));
        for refusal in &plan.refused {
            warn!(profile = refusal.profile.as_deref().unwrap_or("?"), kept_running = refusal.kept_running, reason = %refusal.reason, "profile not applied");
        }
        for name in plan.stop.iter().chain(&plan.restart) {
            if let Some(old) = self.applied.get(name) {
                self.stop_profile(&old.plan.clone()).await;
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
        self.link_tbc();
        self.write_run_ids();
        self.refused = plan.refused.clone();
        self.source_error = None;
        self.applied_once = true;
        let shared = lock(&self.shared);
        shared.metrics.refused(self.refused.len());
        shared.metrics.source_valid();
        plan
    }

    /// The T-BCs of what runs now (a profile with `controllingProfile` and the profile it names,
    /// running ptp4l), into the line observer.
    fn link_tbc(&self) {
        let mut links = Vec::new();
        for applied in self.applied.values() {
            let Some((tr_name, tr_id)) = &applied.plan.controlled_by else { continue };
            let Some(tr) =
                self.applied.get(tr_name).filter(|tr| tr.plan.run_id == *tr_id && tr.plan.runs(Program::Ptp4l))
            else {
                continue;
            };
            let tr_config = ProcessKey::new(Program::Ptp4l, tr.plan.run_id).to_string();
            links.push((tr_config, applied.plan.run_id, tbc_settings(&tr.profile)));
        }
        let mut shared = lock(&self.shared);
        let effects = shared.observer.link_tbc(links, Instant::now());
        shared.apply(effects);
    }

    /// Records the run id of each applied profile in the run directory ([`RUN_IDS_FILE`]),
    /// replacing the file at once (written beside it, then renamed); only when it changes.
    fn write_run_ids(&self) {
        let text = index_text(self.applied.iter().map(|(name, a)| (name.as_str(), a.plan.run_id)));
        let path = self.settings.run_dir.join(RUN_IDS_FILE);
        if std::fs::read_to_string(&path).is_ok_and(|current| current == text) {
            return;
        }
        let partial = self.settings.run_dir.join(format!(".{RUN_IDS_FILE}.partial"));
        let written = std::fs::create_dir_all(&self.settings.run_dir)
            .and_then(|()| std::fs::write(&partial, &text))
            .and_then(|()| std::fs::rename(&partial, &path));
        if let Err(e) = written {
            warn!(file = %path.display(), error = %e, "cannot record the profiles' run ids (ptp-agent pmc --profile needs it)");
        }
    }

    /// How many management follower tasks are alive (one per profile running ptp4l).
    pub fn live_followers(&self) -> usize {
        self.live_followers.load(Ordering::SeqCst)
    }

    async fn stop_profile(&mut self, plan: &RunPlan) {
        if let Some(follower) = self.followers.remove(&plan.run_id) {
            follower.task.abort();
        }
        for process in &plan.processes {
            self.supervisor.stop(&plan.key(process).to_string()).await;
        }
        let mut shared = lock(&self.shared);
        let ptp4l = ProcessKey::new(Program::Ptp4l, plan.run_id).to_string();
        shared.gates.remove(&ptp4l);
        shared.views.remove(&ptp4l);
        shared.announce.remove(&plan.run_id);
        // Closed under the same lock as the removal: a late line of this profile, still queued,
        // cannot bring a series back.
        for config in shared.observer.close(plan) {
            shared.metrics.forget(&config);
            shared.clock_states.retain(|k, _| k.config != config);
        }
    }

    fn start_profile(&mut self, applied: &AppliedProfile) {
        let plan = &applied.plan;
        for (path, content) in &plan.files {
            let written =
                path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|_| std::fs::write(path, content));
            if let Err(e) = written {
                warn!(profile = %plan.profile, file = %path.display(), error = %e, "cannot write a configuration file");
            }
        }
        let thresholds = Thresholds::from_profile(applied.profile.ptp_clock_threshold.as_ref());
        {
            let mut shared = lock(&self.shared);
            shared.observer.open(plan, thresholds);
            let opened = shared.observer.ha_opened(plan);
            shared.apply(opened.into_iter().collect());
        }
        let runs_ptp4l = plan.runs(Program::Ptp4l);
        if runs_ptp4l {
            self.start_follower(plan);
        }
        // Read when the profile was rendered: an error there refused it.
        let settings = ProfileSettings::of(&applied.profile).unwrap_or_default();
        for process in &plan.processes {
            let name = process.program.name();
            let program = match &self.settings.bin_dir {
                Some(dir) if process.program.is_linuxptp() => dir.join(name),
                _ => PathBuf::from(name),
            };
            let mut spec = ProcessSpec::new(name, program, process.args.clone());
            if let (Program::Timemaster, Some(dir)) = (process.program, &self.settings.bin_dir) {
                // timemaster starts ptp4l and phc2sys by name: the same linuxptp as its own.
                let path = std::env::var_os("PATH").unwrap_or_default();
                let path = std::env::join_paths(std::iter::once(dir.clone()).chain(std::env::split_paths(&path)));
                if let Ok(path) = path {
                    spec.env.push(("PATH".into(), path.to_string_lossy().into_owned()));
                }
            }
            spec.sched = process.sched.map(|s| Scheduling::fifo(s.priority));
            spec.output =
                OutputConfig::new(&settings, process.program, format!("[{}]", plan.key(process).tag_config()));
            // What a later agent on this run directory recognises as left over, should this
            // one die without stopping it (see `rundir::kill_leftovers`).
            spec.env.push((rundir::RUN_DIR_ENV.to_string(), rundir::marker(&self.settings.run_dir)));
            let key = plan.key(process);
            if process.program == Program::Phc2sys && runs_ptp4l {
                let (open, ready) = watch::channel(false);
                lock(&self.shared).gates.insert(key.tag_config(), open);
                self.supervisor.start_gated(key.to_string(), spec, Gate { ready, max_wait: PHC2SYS_GATE_MAX_WAIT });
            } else {
                self.supervisor.start(key.to_string(), spec);
            }
        }
    }

    /// The management follower of the profile's ptp4l: its views go into [`Shared::take_view`]
    /// and wake the main loop.
    fn start_follower(&mut self, plan: &RunPlan) {
        let config = ProcessKey::new(Program::Ptp4l, plan.run_id).to_string();
        let mut settings =
            FollowSettings::new(ptp4l_socket_path(&self.settings.run_dir, plan.run_id), plan.ptp4l_domain);
        settings.local_dir = Some(self.settings.run_dir.clone());
        if plan.controlled_by.is_some() {
            let mut shared = lock(&self.shared);
            let (sender, receiver) = watch::channel(shared.tbc_quality(plan.run_id));
            shared.announce.insert(plan.run_id, sender);
            settings.announce = Some(receiver);
        }
        let (running, pids) = watch::channel(None);
        let shared = self.shared.clone();
        let changed = self.clocks_changed.clone();
        let alive = Alive::new(&self.live_followers);
        let span = tracing::info_span!("ptp4l_management", profile = %plan.profile, config = %config);
        let task = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let _alive = alive;
                follow(settings, pids, move |view| {
                    lock(&shared).take_view(&config, view, Instant::now());
                    changed.notify_one();
                })
                .await;
            },
            span,
        ));
        if let Some(old) = self.followers.insert(plan.run_id, Follower { task, running }) {
            old.task.abort();
        }
    }

    /// Consumes the children's lines until the channel closes (see [`logs`]).
    pub fn consume_logs(&self, lines: mpsc::Receiver<LogLine>) -> tokio::task::JoinHandle<()> {
        let shared = self.shared.clone();
        let changed = self.clocks_changed.clone();
        let span = tracing::info_span!("log_consumer");
        tokio::spawn(tracing::Instrument::instrument(
            logs::consume(lines, move |work| {
                let mut shared = lock(&shared);
                let before = shared.observer.transitions();
                let effects = match work {
                    logs::Work::Line(line, now) => shared.observer.observe(&crate::logparse::parse(&line.line), now),
                    logs::Work::Time(now) => shared.observer.on_time(now),
                };
                shared.apply(effects);
                // Only a clock state that changed (or a new clock) needs the main loop; a line that
                // only moves an offset updates the metrics and nothing else.
                if shared.observer.transitions() != before {
                    changed.notify_one();
                }
                shared.observer.next_deadline()
            }),
            span,
        ))
    }

    /// Resolves after a line or time changed a clock's state (or a line made a new clock), or a
    /// ptp4l's management view changed, since the last call.
    pub async fn clocks_changed(&self) {
        self.clocks_changed.notified().await;
    }

    /// After a profile value, a process change or a clock change: the process metrics, the
    /// clocks of processes that are down, time-based clock transitions; then the state is
    /// published.
    pub fn tick(&self) {
        let children = self.supervisor.snapshot();
        let mut shared = lock(&self.shared);
        let mut profiles = Vec::with_capacity(self.applied.len());
        for (name, applied) in &self.applied {
            let plan = &applied.plan;
            let mut processes = Vec::with_capacity(plan.processes.len());
            for process in &plan.processes {
                let key = plan.key(process);
                let config = key.to_string();
                let child = children.get(&config);
                let state = child.and_then(process_state);
                let restarts = child.map_or(0, |c| c.restarts);
                if shared.observer.is_open(&config) && child.is_some() {
                    let running = child.is_some_and(|c| matches!(c.state, State::Running { .. }));
                    shared.metrics.process(&config, key.program.name(), running, restarts);
                    if !running {
                        let effects = shared.observer.process_down(key);
                        shared.apply(effects);
                    }
                }
                if key.program == Program::Ptp4l
                    && let Some(follower) = self.followers.get(&plan.run_id)
                {
                    let pid = child.and_then(|c| match c.state {
                        State::Running { pid, .. } => Some(pid),
                        _ => None,
                    });
                    follower.running.send_if_modified(|p| std::mem::replace(p, pid) != pid);
                }
                processes.push(ProcessView { key, state, restarts, clock: shared.observer.clock_of(key) });
            }
            let ptp = shared.views.get(&ProcessKey::new(Program::Ptp4l, plan.run_id).to_string()).cloned().flatten();
            profiles.push(ProfileView {
                name: name.clone(),
                run_id: plan.run_id,
                processes,
                ptp,
                ptp4l_ports: plan.ptp4l_ports.clone(),
            });
        }
        let effects = shared.observer.on_time(Instant::now());
        shared.apply(effects);
        let (clock_state, offset_ns) = shared.observer.summary();
        drop(shared);
        let next = AgentState {
            profiles,
            value_hash: self.value_hash.clone(),
            refused: self.refused.clone(),
            source_error: self.source_error.clone(),
            applied_once: self.applied_once,
            clock_state,
            offset_ns,
        };
        self.state.send_if_modified(|current| {
            let changed = **current != next;
            if changed {
                *current = Arc::new(next);
            }
            changed
        });
    }

    /// Stops every follower and every child.
    pub async fn shutdown(&self) {
        for follower in self.followers.values() {
            follower.task.abort();
        }
        self.supervisor.stop_all().await;
    }

    /// The worst clock state over every process and interface, and the last offset of a ptp4l.
    pub fn clock_summary(&self) -> (Option<ClockState>, Option<i64>) {
        lock(&self.shared).observer.summary()
    }
}
