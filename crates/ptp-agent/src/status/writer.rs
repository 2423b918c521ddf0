//! The edge of [`super`]: a task that follows the runtime's published state and writes the
//! runtime's status fields with server-side apply ([`super::RUNTIME_MANAGER`]), and records a
//! Warning Event (`ProfileRefused`) when the set of problems changes and is not empty.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource};
use ptp_api::util::{to_the_second, truncate};
use ptp_api::{NodePtpDevice, NodePtpDeviceStatus};
use tokio::sync::watch;
use tracing::{Instrument, debug, info_span, warn};

use super::{RUNTIME_MANAGER, next_look, profiles_valid_condition, profiles_validity, runtime_status, write_due};
use crate::runtime::state::AgentState;

/// How soon a failed write is tried again (the NodePtpDevice may not exist yet).
const RETRY: Duration = Duration::from_secs(5);

/// Where and how the runtime status is written.
pub struct StatusWriter {
    pub client: Client,
    pub namespace: String,
    pub node: String,
    /// Least time between two writes that change only offsets.
    pub offset_interval: Duration,
}

/// What the writer remembers between two states.
struct Written {
    /// The last status written (without `lastUpdateTime`), and when.
    last: Option<(NodePtpDeviceStatus, Instant)>,
    /// The `ProfilesValid` condition's status and since when it holds.
    valid_since: Option<(bool, Time)>,
    /// The problems last reported with an Event.
    problems: Vec<String>,
    /// A failed write waits until then.
    retry_at: Option<Instant>,
}

impl StatusWriter {
    /// Follows `state` until its sender is gone.
    pub async fn run(self, mut state: watch::Receiver<Arc<AgentState>>) {
        let api: Api<NodePtpDevice> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut written = Written { last: None, valid_since: None, problems: Vec::new(), retry_at: None };
        let span = info_span!("status_writer", node = %self.node);
        async move {
            loop {
                let snapshot = state.borrow_and_update().clone();
                let look = self.step(&api, &snapshot, &mut written).await;
                tokio::select! {
                    changed = state.changed() => if changed.is_err() { return },
                    () = sleep_until(look) => {}
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Writes the status of `snapshot` when due; returns when to look again without a new state.
    async fn step(&self, api: &Api<NodePtpDevice>, snapshot: &AgentState, written: &mut Written) -> Option<Instant> {
        // Before the first value (applied or refused) there is nothing to say.
        if !snapshot.applied_once && snapshot.source_error.is_none() {
            return None;
        }
        let validity = profiles_validity(snapshot.source_error.as_deref(), &snapshot.refused, snapshot.profiles.len());
        let valid = validity.problems.is_empty();
        let since = match &written.valid_since {
            Some((status, at)) if *status == valid => at.clone(),
            _ => to_the_second(Timestamp::now()),
        };
        written.valid_since = Some((valid, since.clone()));
        if validity.problems != written.problems {
            written.problems = validity.problems.clone();
            if !valid {
                self.record_event(truncate(&validity.problems.join("; "), 1000));
            }
        }
        let mut next = runtime_status(snapshot);
        next.conditions = vec![profiles_valid_condition(&validity, since)];
        let now = Instant::now();
        if written.retry_at.is_some_and(|at| at > now) {
            return written.retry_at;
        }
        let last = written.last.as_ref();
        let due = write_due(last.map(|(s, _)| s), &next, last.map(|(_, at)| at.elapsed()), self.offset_interval);
        if due {
            match self.write(api, &next).await {
                Ok(()) => {
                    debug!("wrote the runtime status");
                    written.last = Some((next, Instant::now()));
                    written.retry_at = None;
                    return None;
                }
                Err(e) => {
                    if written.retry_at.is_none() {
                        warn!(error = %e, retry_in = ?RETRY, "runtime status not written; retrying");
                    } else {
                        debug!(error = %e, "runtime status still not written");
                    }
                    written.retry_at = Some(Instant::now() + RETRY);
                    return written.retry_at;
                }
            }
        }
        let held = written.last.as_ref().is_none_or(|(s, _)| *s != next);
        next_look(now, written.last.as_ref().map(|(_, at)| *at), self.offset_interval, held)
    }

    async fn write(&self, api: &Api<NodePtpDevice>, status: &NodePtpDeviceStatus) -> Result<(), kube::Error> {
        let mut status = status.clone();
        status.last_update_time = Some(Time(Timestamp::now()));
        let body = ptp_api::node_ptp_device::status_apply_body(&self.node, &status);
        api.patch_status(&self.node, &PatchParams::apply(RUNTIME_MANAGER).force(), &Patch::Apply(&body)).await?;
        Ok(())
    }

    /// A Warning Event on the NodePtpDevice, from a new [`Recorder`] each time: a Recorder folds
    /// Events of the same reason into the first one's series and keeps its note, and each of
    /// these reports a different set of problems.
    fn record_event(&self, note: String) {
        let reporter = Reporter { controller: "ptp-agent".into(), instance: Some(self.node.clone()) };
        let reference = ObjectReference {
            api_version: Some(NodePtpDevice::api_version(&()).into_owned()),
            kind: Some(NodePtpDevice::kind(&()).into_owned()),
            name: Some(self.node.clone()),
            namespace: Some(self.namespace.clone()),
            ..Default::default()
        };
        let event = KubeEvent {
            type_: EventType::Warning,
            reason: "ProfileRefused".into(),
            note: Some(note),
            action: "Apply".into(),
            secondary: None,
        };
        let recorder = Recorder::new(self.client.clone(), reporter);
        tokio::spawn(
            async move {
                if let Err(e) = recorder.publish(&event, &reference).await {
                    warn!(error = %e, "event not recorded");
                }
            }
            .in_current_span(),
        );
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
