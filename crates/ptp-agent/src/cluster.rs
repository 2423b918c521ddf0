//! `ptp-agent run` in a cluster: the node's profiles come from an API watch of the `ptp-configmap`
//! key equal to the node name; the runtime's state goes into the node's NodePtpDevice status
//! (applied profiles, processes, clock state, last offset: at most once per interval, only on
//! change); the NIC report loop keeps `status.devices` up to date beside it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher::Config as WatchConfig};
use kube::{Api, Client};
use ptp_api::{NodePtpDevice, ProcessStatus};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::Error;
use crate::runtime::Runtime;
use crate::standalone::{self, Observer};
use crate::supervise::State;
use crate::update::Refusal;

/// Settings of the cluster mode.
#[derive(Clone, Debug)]
pub struct Settings {
    pub run: standalone::Settings,
    /// Namespace of the ConfigMap and the NodePtpDevice.
    pub namespace: String,
    /// Where the profiles come from when `run.profile` (a file) is not given.
    pub source: ProfileSource,
    /// Least time between two runtime status writes.
    pub status_interval: Duration,
    /// The NIC report loop's settings; `None` to leave `status.devices` alone.
    pub report: Option<crate::report::Settings>,
}

/// Where an agent in a cluster gets its node's profiles (a `--profile` file comes first).
#[derive(Clone, Debug)]
pub enum ProfileSource {
    /// Rendered by the agent from the PtpConfigs and its Node (`--profile-source api`).
    Render(crate::own_node::Scope),
    /// The node's key of this ConfigMap in the agent's namespace, as the operator writes it
    /// (`--profile-source configmap`).
    ConfigMap(String),
}

/// Runs until `shutdown` turns true.
pub async fn run(client: Client, settings: Settings, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
    let node = settings.run.runtime.node.clone();
    let (texts_tx, texts) = mpsc::channel(4);
    // The profiles come from the mounted file when one is given, else from the API.
    let intake = match (settings.run.profile.clone(), &settings.source) {
        (Some(path), _) => tokio::spawn(crate::profile_file::watch(path, texts_tx)),
        (None, ProfileSource::Render(scope)) => {
            tokio::spawn(crate::own_node::watch(client.clone(), node.clone(), scope.clone(), texts_tx))
        }
        (None, ProfileSource::ConfigMap(name)) => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &settings.namespace);
            tokio::spawn(watch_configmap(api, name.clone(), node.clone(), texts_tx))
        }
    };
    let report = settings.report.clone().map(|r| tokio::spawn(crate::report::run(client.clone(), r, shutdown.clone())));
    let reference = ObjectReference {
        api_version: Some("ptp.openshift.io/v1".into()),
        kind: Some("NodePtpDevice".into()),
        name: Some(node.clone()),
        namespace: Some(settings.namespace.clone()),
        ..Default::default()
    };
    let reporter = Reporter { controller: "ptp-agent".into(), instance: Some(node.clone()) };
    let events_client = client.clone();
    let writer = StatusWriter {
        api: Api::namespaced(client, &settings.namespace),
        node,
        interval: settings.status_interval,
        last: None,
        last_at: None,
        in_flight: Arc::new(AtomicBool::new(false)),
        next_look: None,
        valid_since: None,
        refusals: Vec::new(),
        events_client,
        reporter,
        reference,
    };
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let result = standalone::run_fed(settings.run, texts, Some(Box::new(writer)), stop).await;
    intake.abort();
    if let Some(r) = report {
        if result.is_err() {
            // run_fed failed (e.g. a port taken): stop the NIC report too, so the error reaches
            // the caller and the process exits instead of reporting devices while running nothing.
            r.abort();
        }
        let _ = r.await;
    }
    result
}

/// Sends this node's value of the ConfigMap each time it changes.
async fn watch_configmap(
    api: Api<ConfigMap>,
    name: String,
    node: String,
    texts: mpsc::Sender<standalone::SourceValue>,
) {
    let config = WatchConfig::default().fields(&format!("metadata.name={name}"));
    let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    let mut last: Option<String> = None;
    let mut missing_logged = false;
    while let Some(event) = events.next().await {
        let cm = match event {
            Ok(Event::Apply(cm) | Event::InitApply(cm)) => cm,
            Ok(_) => continue,
            Err(e) => {
                warn!(error = %e, configmap = %name, "ConfigMap watch error; retrying");
                continue;
            }
        };
        match cm.data.as_ref().and_then(|d| d.get(&node)) {
            Some(value) if last.as_deref() != Some(value.as_str()) => {
                last = Some(value.clone());
                missing_logged = false;
                if texts.send(Ok(value.clone())).await.is_err() {
                    return;
                }
            }
            Some(_) => {}
            None if !missing_logged => {
                info!(configmap = %name, node = %node, "no key for this node yet; what runs keeps running");
                missing_logged = true;
            }
            None => {}
        }
    }
}

/// Writes the runtime fields of the NodePtpDevice status.
struct StatusWriter {
    api: Api<NodePtpDevice>,
    node: String,
    interval: Duration,
    last: Option<Value>,
    last_at: Option<Instant>,
    in_flight: Arc<AtomicBool>,
    /// When to look at the status again if nothing changes before.
    next_look: Option<tokio::time::Instant>,
    /// The `ProfilesValid` condition's status and when it last changed.
    valid_since: Option<(bool, Time)>,
    /// The refusals last reported with an Event.
    refusals: Vec<String>,
    /// For the `ProfileRefused` Events: a new [`Recorder`] for each, since a Recorder folds
    /// Events of the same reason into the first one's series and keeps its note, and each of
    /// these reports a different set of problems.
    events_client: Client,
    reporter: Reporter,
    reference: ObjectReference,
}

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

/// The runtime fields of the status (everything but `lastUpdateTime`).
pub fn runtime_status(runtime: &Runtime) -> Value {
    let run_ids: BTreeMap<u32, &str> =
        runtime.applied().iter().map(|(name, a)| (a.rendered.run_id, name.as_str())).collect();
    let processes: Vec<ProcessStatus> = runtime
        .supervisor()
        .snapshot()
        .iter()
        .map(|(key, status)| {
            let mut parts = key.split('.');
            let process = parts.next().unwrap_or_default().to_string();
            let run_id = parts.next().and_then(|id| id.parse::<u32>().ok());
            let profile =
                run_id.and_then(|id| run_ids.get(&id)).map(std::string::ToString::to_string).unwrap_or_default();
            let clock = run_id.and_then(|id| runtime.process_clock(&process, id));
            let state = match status.state {
                State::Running { .. } => "Running",
                State::Backoff { .. } => "Backoff",
                State::Waiting { .. } => "Waiting",
                State::Stopped => "Stopped",
            };
            ProcessStatus {
                profile,
                process,
                state: state.into(),
                restarts: status.restarts as i64,
                iface: clock.as_ref().map(|c| c.0.clone()),
                clock_state: clock.as_ref().map(|c| c.1),
                offset_ns: clock.and_then(|c| c.2),
            }
        })
        .filter(|p| p.state != "Stopped")
        .collect();
    let (clock_state, offset) = runtime.clock_summary();
    json!({
        "appliedProfiles": runtime.applied().keys().collect::<Vec<_>>(),
        "profilesHash": runtime.value_hash(),
        "processes": processes,
        "clockState": clock_state,
        "offsetNs": offset,
    })
}

impl StatusWriter {
    /// `ProfilesValid`, with a transition time that moves only when its status does; a Warning
    /// Event when the set of problems (refused profiles, an unusable source value) changes and is
    /// not empty.
    fn profiles_valid(&mut self, runtime: &Runtime) -> Value {
        let validity = profiles_validity(runtime.source_error(), runtime.refused(), runtime.applied().len());
        let refusals = validity.problems;
        let valid = refusals.is_empty();
        let since = match &self.valid_since {
            Some((status, at)) if *status == valid => at.clone(),
            _ => Time(
                k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
                    .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now()),
            ),
        };
        self.valid_since = Some((valid, since.clone()));
        if refusals != self.refusals {
            self.refusals = refusals.clone();
            if !refusals.is_empty() {
                let event = KubeEvent {
                    type_: EventType::Warning,
                    reason: "ProfileRefused".into(),
                    note: Some(truncate(&refusals.join("; "), 1000)),
                    action: "Apply".into(),
                    secondary: None,
                };
                let recorder = Recorder::new(self.events_client.clone(), self.reporter.clone());
                let reference = self.reference.clone();
                tokio::spawn(async move {
                    if let Err(e) = recorder.publish(&event, &reference).await {
                        warn!(error = %e, "event not recorded");
                    }
                });
            }
        }
        let status = if valid { "True" } else { "False" };
        let (reason, message) = (validity.reason, validity.message);
        json!([{
            "type": CONDITION_PROFILES_VALID,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": since,
        }])
    }
}

/// Whether the runtime status `next` is written now: the first one, and any change beyond the
/// offset (profiles, processes, clock state, conditions) at once; a change of the offset alone
/// at most every `interval`, since it moves with every sample.
pub fn write_due(last: Option<&Value>, next: &Value, since_last: Option<Duration>, interval: Duration) -> bool {
    let Some(last) = last else { return true };
    if last == next {
        return false;
    }
    let without_offset = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("offsetNs");
            for p in o.get_mut("processes").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(p) = p.as_object_mut() {
                    p.remove("offsetNs");
                }
            }
        }
        v
    };
    without_offset(last) != without_offset(next) || since_last.is_none_or(|d| d >= interval)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max.saturating_sub(3);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// When the status writer looks at the status again if nothing wakes the runtime's loop before:
/// offsets move without waking it, so one interval after the last write (when a held-back offset
/// becomes due), else one interval from now; soon when a due write waits for one in flight.
/// Always in the future: a deadline in the past would spin the loop.
pub fn next_look(now: Instant, last_write: Option<Instant>, interval: Duration, due: bool, busy: bool) -> Instant {
    if due && busy {
        return now + IN_FLIGHT_RETRY;
    }
    match last_write.map(|t| t + interval) {
        Some(held) if !due && held > now => held,
        _ => now + interval.max(IN_FLIGHT_RETRY),
    }
}

/// How soon a due status held back by a write in flight is looked at again.
const IN_FLIGHT_RETRY: Duration = Duration::from_millis(200);

impl Observer for StatusWriter {
    fn next_deadline(&self) -> Option<tokio::time::Instant> {
        self.next_look
    }

    fn observe(&mut self, runtime: &Runtime) {
        let mut status = runtime_status(runtime);
        status["conditions"] = self.profiles_valid(runtime);
        let due = write_due(self.last.as_ref(), &status, self.last_at.map(|t| t.elapsed()), self.interval);
        let busy = self.in_flight.load(Ordering::Relaxed);
        self.next_look =
            Some(tokio::time::Instant::from_std(next_look(Instant::now(), self.last_at, self.interval, due, busy)));
        if !due || busy {
            return;
        }
        self.last = Some(status.clone());
        self.last_at = Some(Instant::now());
        let (api, node, in_flight) = (self.api.clone(), self.node.clone(), self.in_flight.clone());
        in_flight.store(true, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut status = status;
            status["lastUpdateTime"] = json!(Time(k8s_openapi::jiff::Timestamp::now()));
            let patch = json!({ "status": status });
            match api.patch_status(&node, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => debug!(node = %node, "wrote the runtime status"),
                Err(e) => warn!(node = %node, error = %e, "runtime status not written; retrying on the next change"),
            }
            in_flight.store(false, Ordering::Relaxed);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's next look is never in the past, whatever happened before (a status unchanged
    /// for longer than the interval made it spin the agent's loop at 60% of a core).
    #[test]
    fn the_next_look_is_always_ahead() {
        let now = Instant::now();
        let interval = Duration::from_secs(10);
        for last in [None, Some(now), Some(now - Duration::from_secs(5)), Some(now - Duration::from_secs(3600))] {
            for due in [false, true] {
                for busy in [false, true] {
                    let at = next_look(now, last, interval, due, busy);
                    assert!(at > now, "last {last:?} due {due} busy {busy}: {at:?} is not after {now:?}");
                    assert!(at <= now + interval, "looked at again within one interval");
                }
            }
        }
        // An offset held back looks again when it becomes due.
        let last = now - Duration::from_secs(4);
        assert_eq!(next_look(now, Some(last), interval, false, false), last + interval);
        assert_eq!(
            next_look(now, Some(last), Duration::ZERO, false, false),
            now + IN_FLIGHT_RETRY,
            "never a busy loop"
        );
    }

    #[test]
    fn state_changes_are_written_at_once_and_offsets_at_the_interval() {
        let interval = Duration::from_secs(10);
        let locked = json!({"appliedProfiles": ["a"], "clockState": "LOCKED", "offsetNs": 5, "processes": []});
        let moved = json!({"appliedProfiles": ["a"], "clockState": "LOCKED", "offsetNs": -3, "processes": []});
        let freerun = json!({"appliedProfiles": ["a"], "clockState": "FREERUN", "offsetNs": -3, "processes": []});
        let removed = json!({"appliedProfiles": [], "clockState": null, "offsetNs": null, "processes": []});
        let soon = Some(Duration::from_secs(1));
        let process =
            |offset: i64| json!({"processes": [{"process": "ptp4l", "state": "Running", "offsetNs": offset}]});
        assert!(!write_due(Some(&process(1)), &process(2), soon, interval), "a process's offset waits too");
        assert!(write_due(None, &locked, None, interval), "the first status");
        assert!(!write_due(Some(&locked), &locked, Some(Duration::from_secs(60)), interval), "no change, no write");
        assert!(!write_due(Some(&locked), &moved, soon, interval), "an offset alone waits for the interval");
        assert!(write_due(Some(&locked), &moved, Some(interval), interval));
        assert!(write_due(Some(&moved), &freerun, soon, interval), "a clock state change is written at once");
        assert!(write_due(Some(&freerun), &removed, soon, interval), "removed profiles are written at once");
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
    }
}
