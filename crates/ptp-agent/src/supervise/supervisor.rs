//! The supervisor: named processes kept running, each by its own task that restarts it with
//! backoff after it exits and stops it (SIGTERM, grace, SIGKILL) when told to.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::backoff::{RestartPolicy, RestartState};
use super::child::{self, LineSink};
use super::spec::ProcessSpec;

/// How the supervisor restarts and stops processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupervisorSettings {
    pub policy: RestartPolicy,
    /// Between SIGTERM and SIGKILL when stopping.
    pub grace: Duration,
}

impl Default for SupervisorSettings {
    /// The default restart policy and a 5 s grace.
    fn default() -> Self {
        SupervisorSettings { policy: RestartPolicy::default(), grace: Duration::from_secs(5) }
    }
}

/// What a supervised process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for its [`Gate`] before starting.
    Waiting {
        since: Instant,
    },
    Running {
        pid: i32,
        since: Instant,
    },
    /// Exited (or failed to start); starts again at `until`.
    Backoff {
        until: Instant,
    },
    /// Stopped by the supervisor; it stays so.
    Stopped,
}

/// The status of one supervised process, for status reports and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildStatus {
    /// The spec's name.
    pub name: String,
    pub state: State,
    /// Starts after the first since this spec was started.
    pub restarts: u64,
    /// How the last run ended (`exit status: 1`, `killed by SIGKILL`).
    pub last_exit: Option<String>,
    /// Why the last start failed, until a start succeeds.
    pub last_error: Option<String>,
}

/// Every supervised process's status, by key.
pub type ChildSnapshot = BTreeMap<String, ChildStatus>;

/// A condition to wait for before each start of a process, at most `max_wait` (then it starts
/// anyway): phc2sys waits until its ptp4l's offset is under a second, as the Go daemon does.
#[derive(Clone, Debug)]
pub struct Gate {
    /// `true` when the process may start. A dropped sender opens the gate.
    pub ready: watch::Receiver<bool>,
    pub max_wait: Duration,
}

/// Keeps named processes running.
///
/// Dropping the supervisor SIGKILLs every process group it runs; [`Supervisor::stop_all`] stops
/// them gracefully.
pub struct Supervisor {
    settings: SupervisorSettings,
    sink: Arc<dyn LineSink>,
    status: Arc<watch::Sender<ChildSnapshot>>,
    tasks: Mutex<HashMap<String, Task>>,
}

struct Task {
    stop: oneshot::Sender<()>,
    join: JoinHandle<()>,
}

impl Supervisor {
    /// A supervisor whose processes' output lines go to `sink` (and to the log).
    pub fn new(settings: SupervisorSettings, sink: Arc<dyn LineSink>) -> Self {
        Supervisor {
            settings,
            sink,
            status: Arc::new(watch::Sender::new(ChildSnapshot::new())),
            tasks: Mutex::default(),
        }
    }

    /// Starts `spec` under `key` and keeps it running. A process already running under `key` is
    /// stopped first (the new one starts once it is gone); the restart count starts over.
    /// Call it within a tokio runtime: the supervising task is spawned on it.
    pub fn start(&self, key: impl Into<String>, spec: ProcessSpec) {
        self.start_inner(key.into(), spec, None);
    }

    /// Like [`Supervisor::start`], but every start first waits for `gate` (bounded).
    pub fn start_gated(&self, key: impl Into<String>, spec: ProcessSpec, gate: Gate) {
        self.start_inner(key.into(), spec, Some(gate));
    }

    fn start_inner(&self, key: String, spec: ProcessSpec, gate: Option<Gate>) {
        let mut tasks = self.tasks();
        let previous = tasks.remove(&key);
        let (stop, stopped) = oneshot::channel();
        let run = Run {
            key: key.clone(),
            spec,
            gate,
            settings: self.settings,
            sink: self.sink.clone(),
            status: self.status.clone(),
        };
        let span = tracing::info_span!("process", key = %run.key);
        let join = tokio::spawn(tracing::Instrument::instrument(run.run(stopped, previous), span));
        tasks.insert(key, Task { stop, join });
    }

    /// Stops the process under `key` (SIGTERM to its group, SIGKILL after the grace) and returns
    /// once it is gone. Stopping is not exiting: it is not restarted. Its status stays, `Stopped`.
    pub async fn stop(&self, key: &str) {
        let task = self.tasks().remove(key);
        if let Some(task) = task {
            task.stop(key, &self.status).await;
        }
    }

    /// Stops every process, all at once: done within about one grace period.
    pub async fn stop_all(&self) {
        let tasks: Vec<(String, Task)> = self.tasks().drain().collect();
        futures::future::join_all(
            tasks.into_iter().map(|(key, task)| async move { task.stop(&key, &self.status).await }),
        )
        .await;
    }

    /// The status of every process started so far.
    pub fn snapshot(&self) -> ChildSnapshot {
        self.status.borrow().clone()
    }

    /// The status of the process under `key`.
    pub fn status(&self, key: &str) -> Option<ChildStatus> {
        self.status.borrow().get(key).cloned()
    }

    /// Status changes as they happen.
    pub fn subscribe(&self) -> watch::Receiver<ChildSnapshot> {
        self.status.subscribe()
    }

    fn tasks(&self) -> MutexGuard<'_, HashMap<String, Task>> {
        // The map stays consistent whatever panicked while holding it: every change is one call.
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // The tasks' children are SIGKILLed with their groups when the aborted tasks are dropped.
        for task in self.tasks().values() {
            task.join.abort();
        }
    }
}

impl Task {
    async fn stop(self, key: &str, status: &watch::Sender<ChildSnapshot>) {
        // A task that ended already dropped its receiver; joining it is all there is to do.
        let _ = self.stop.send(());
        if let Err(e) = self.join.await {
            warn!(key, error = %e, "the supervising task failed");
            update(status, key, |s| {
                s.state = State::Stopped;
                s.last_error = Some(format!("supervising task: {e}"));
            });
        }
    }
}

/// One process's supervision.
struct Run {
    key: String,
    spec: ProcessSpec,
    gate: Option<Gate>,
    settings: SupervisorSettings,
    sink: Arc<dyn LineSink>,
    status: Arc<watch::Sender<ChildSnapshot>>,
}

impl Run {
    async fn run(mut self, mut stop: oneshot::Receiver<()>, previous: Option<Task>) {
        if let Some(previous) = previous {
            debug!(key = self.key, "replacing the running process");
            previous.stop(&self.key, &self.status).await;
        }
        let key = self.key.clone();
        self.status.send_modify(|all| {
            all.insert(
                key,
                ChildStatus {
                    name: self.spec.name.clone(),
                    state: State::Stopped,
                    restarts: 0,
                    last_exit: None,
                    last_error: None,
                },
            );
        });
        let mut restarts = RestartState::new(self.settings.policy);
        let mut gate = self.gate.take();
        // `stop` resolves on a stop request or when the supervisor is gone: both mean stop.
        loop {
            if !matches!(stop.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
                break;
            }
            if let Some(gate) = gate.as_mut() {
                self.set(|s| s.state = State::Waiting { since: Instant::now() });
                let waited = tokio::select! {
                    _ = &mut stop => break,
                    waited = tokio::time::timeout(gate.max_wait, gate.ready.wait_for(|ready| *ready)) => waited,
                };
                match waited {
                    Ok(Ok(_)) => debug!(key = self.key, "ready to start"),
                    Ok(Err(_)) => debug!(key = self.key, "the readiness signal is gone: starting"),
                    Err(_) => {
                        warn!(key = self.key, max_wait = ?gate.max_wait, "not ready after the longest wait: starting anyway");
                    }
                }
            }
            restarts.on_start();
            let started = Instant::now();
            match child::spawn(&self.spec, self.sink.clone()).await {
                Ok(mut running) => {
                    let pid = running.pid().as_raw();
                    self.set(|s| {
                        s.state = State::Running { pid, since: started };
                        s.restarts = restarts.restarts();
                        s.last_error = None;
                    });
                    let exited = tokio::select! {
                        exited = running.wait() => Some(exited),
                        _ = &mut stop => None,
                    };
                    match exited {
                        Some(exited) => {
                            let how = exited.map_or_else(|e| format!("waiting failed: {e}"), |s| child::describe(&s));
                            warn!(key = self.key, pid, exit = how, ran_for = ?started.elapsed(), "exited");
                            self.set(|s| s.last_exit = Some(how));
                        }
                        None => {
                            let exited = running.terminate(self.settings.grace).await;
                            let how = exited.map_or_else(|e| format!("waiting failed: {e}"), |s| child::describe(&s));
                            info!(key = self.key, pid, exit = how, "stopped");
                            self.set(|s| s.last_exit = Some(how));
                            break;
                        }
                    }
                }
                Err(e) => {
                    warn!(key = self.key, error = %e, "start failed");
                    self.set(|s| {
                        s.restarts = restarts.restarts();
                        s.last_error = Some(e.to_string());
                    });
                }
            }
            let delay = restarts.on_exit(started.elapsed());
            let until = Instant::now() + delay;
            info!(key = self.key, ?delay, "restarting after a delay");
            self.set(|s| s.state = State::Backoff { until });
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        self.set(|s| s.state = State::Stopped);
    }

    fn set(&self, f: impl FnOnce(&mut ChildStatus)) {
        update(&self.status, &self.key, f);
    }
}

fn update(status: &watch::Sender<ChildSnapshot>, key: &str, f: impl FnOnce(&mut ChildStatus)) {
    status.send_modify(|all| {
        if let Some(s) = all.get_mut(key) {
            f(s);
        }
    });
}
