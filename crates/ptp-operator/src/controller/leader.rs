//! Leader election with a `coordination.k8s.io/v1` Lease, the way client-go does it: the holder
//! renews `renewTime` every few seconds, a candidate takes the lease once it has expired, and a
//! leader that shuts down releases it (empty holder, 1 s duration) so a standby takes over at once.
//! The decision is a pure function; the loop around it is the I/O edge.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Error as KubeError};
use tokio::sync::watch;

/// Timing of the election.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTiming {
    /// How long a lease is valid after its last renewal.
    pub duration: Duration,
    /// How often the holder renews and a candidate retries.
    pub retry: Duration,
    /// A leader that could not renew for this long steps down.
    pub renew_deadline: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming {
            duration: Duration::from_secs(15),
            retry: Duration::from_secs(2),
            renew_deadline: Duration::from_secs(10),
        }
    }
}

/// What a candidate should do with the lease as it finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it.
    Acquire,
    /// Someone else holds a valid lease.
    Wait { holder: String },
}

/// Decides from the current lease spec (None: no lease object yet).
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else { return Decision::Acquire };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder == identity {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::Acquire;
    }
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()).map(|t| t.0);
    match renewed {
        Some(at) if at + duration > now => Decision::Wait { holder },
        _ => Decision::Acquire,
    }
}

/// The spec a candidate writes to acquire or renew.
pub fn claimed(previous: Option<&LeaseSpec>, identity: &str, timing: &LeaseTiming, now: Timestamp) -> LeaseSpec {
    let ours = previous.and_then(|s| s.holder_identity.as_deref()) == Some(identity);
    let transitions = previous.and_then(|s| s.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(timing.duration.as_secs().max(1) as i32),
        acquire_time: if ours { previous.and_then(|s| s.acquire_time.clone()) } else { Some(MicroTime(now)) },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if ours || previous.is_none() { transitions } else { transitions + 1 }),
        ..Default::default()
    }
}

/// Runs an election on one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: LeaseTiming,
}

impl LeaderElector {
    pub fn new(api: Api<Lease>, name: impl Into<String>, identity: impl Into<String>, timing: LeaseTiming) -> Self {
        LeaderElector { api, name: name.into(), identity: identity.into(), timing }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// One round: returns whether we hold the lease afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, KubeError> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        match decide(spec, &self.identity, now) {
            Decision::Wait { .. } => Ok(false),
            Decision::Acquire | Decision::Renew => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        resource_version: current.as_ref().and_then(|l| l.metadata.resource_version.clone()),
                        ..current.as_ref().map(|l| l.metadata.clone()).unwrap_or_default()
                    },
                    spec: Some(claimed(spec, &self.identity, &self.timing, now)),
                };
                let result = match current {
                    None => self.api.create(&PostParams::default(), &lease).await,
                    Some(_) => self.api.replace(&self.name, &PostParams::default(), &lease).await,
                };
                match result {
                    Ok(_) => Ok(true),
                    // Someone else won the race for this round.
                    Err(KubeError::Api(status)) if status.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Gives the lease up if we hold it, so a standby takes over without waiting for expiry.
    pub async fn release(&self) -> Result<(), KubeError> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else { return Ok(()) };
        let Some(spec) = lease.spec.as_mut() else { return Ok(()) };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.api.replace(&self.name, &PostParams::default(), &lease).await.map(|_| ())
    }

    /// Campaigns until `shutdown` fires, publishing leadership on `leader`; releases the lease on
    /// the way out if held.
    pub async fn run(self, leader: watch::Sender<bool>, mut shutdown: watch::Receiver<bool>) {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            let held = match self.try_acquire_or_renew().await {
                Ok(held) => {
                    if held {
                        last_renewal = tokio::time::Instant::now();
                    }
                    held
                }
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.name, "lease request failed");
                    // Keep leading through short API outages, up to the renew deadline.
                    *leader.borrow() && last_renewal.elapsed() < self.timing.renew_deadline
                }
            };
            if held != *leader.borrow() {
                tracing::info!(identity = %self.identity, lease = %self.name, leader = held, "leadership changed");
                let _ = leader.send(held);
            }
            tokio::select! {
                _ = tokio::time::sleep(self.timing.retry) => {}
                _ = shutdown.changed() => break,
            }
        }
        let was_leader = *leader.borrow();
        let _ = leader.send(false);
        if was_leader {
            match self.release().await {
                Ok(()) => tracing::info!(lease = %self.name, "released the lease"),
                Err(e) => tracing::warn!(error = %e, lease = %self.name, "could not release the lease"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn held_by(holder: &str, renewed: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(at(renewed))),
            lease_duration_seconds: Some(duration),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(None, "me", at(100)), Decision::Acquire);
        assert_eq!(decide(Some(&held_by("me", 0, 15)), "me", at(100)), Decision::Renew);
        assert_eq!(decide(Some(&held_by("other", 90, 15)), "me", at(100)), Decision::Wait { holder: "other".into() });
        assert_eq!(decide(Some(&held_by("other", 80, 15)), "me", at(100)), Decision::Acquire, "expired");
        assert_eq!(decide(Some(&held_by("", 99, 15)), "me", at(100)), Decision::Acquire, "released");
        let released = LeaseSpec { holder_identity: None, ..held_by("x", 99, 1) };
        assert_eq!(decide(Some(&released), "me", at(100)), Decision::Acquire);
    }

    #[test]
    fn claims_count_transitions_and_keep_acquire_time_on_renewal() {
        let timing = LeaseTiming::default();
        let first = claimed(None, "me", &timing, at(10));
        assert_eq!(first.lease_transitions, Some(0));
        assert_eq!(first.lease_duration_seconds, Some(15));
        let renewed = claimed(Some(&first), "me", &timing, at(20));
        assert_eq!(renewed.acquire_time, first.acquire_time);
        assert_eq!(renewed.renew_time, Some(MicroTime(at(20))));
        assert_eq!(renewed.lease_transitions, Some(0));
        let taken = claimed(Some(&renewed), "other", &timing, at(60));
        assert_eq!(taken.lease_transitions, Some(1));
        assert_eq!(taken.acquire_time, Some(MicroTime(at(60))));
        assert_eq!(taken.holder_identity.as_deref(), Some("other"));
    }
}
