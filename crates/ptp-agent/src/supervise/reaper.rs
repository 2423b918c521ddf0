//! The agent as a child subreaper (`PR_SET_CHILD_SUBREAPER`): a descendant of a child whose
//! parent exits (a daemon's double fork) becomes the agent's child instead of init's. The agent
//! reaps such adopted orphans when they exit, and kills those still running when it stops
//! ([`kill_adopted`]), marked or not (see [`super::tree`]).
//!
//! The children the agent spawned itself are tokio's to reap: they are registered here while
//! being spawned (under the same lock the reaper takes, so that a child exiting right after its
//! fork is never taken for an orphan) until tokio has reaped them. A child some other part of the
//! agent forks and waits for (a kubeconfig `exec` credential plugin) stays in the agent's process
//! group, where nothing of the supervised trees is (every child leads a group of its own, and
//! its descendants stay in that group or make their own): children in the agent's group are
//! never taken for orphans.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::tree::{self, Stat};
use crate::Error;

static SPAWNED: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// The pids of the children spawned and not yet reaped; held while spawning.
pub(crate) fn spawned() -> MutexGuard<'static, BTreeSet<i32>> {
    SPAWNED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes the agent a child subreaper and starts reaping the orphans it adopts. Call once, within
/// the tokio runtime.
pub fn adopt_orphans() -> Result<JoinHandle<()>, Error> {
    let fail = |message: String| Error::Process { process: "ptp-agent".into(), message };
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| fail(format!("becoming a child subreaper: {e}")))?;
    let mut exited = signal(SignalKind::child()).map_err(|e| fail(format!("SIGCHLD handler: {e}")))?;
    // Every SIGCHLD reaps every exited orphan: signals that coalesce lose no orphan (one that
    // exits during a sweep raises SIGCHLD again, and `recv` returns at once), so no periodic
    // sweep of /proc is needed (each read the stat of every process on the node).
    Ok(tokio::spawn(tracing::Instrument::instrument(
        async move {
            while exited.recv().await.is_some() {
                reap_adopted();
            }
        },
        tracing::info_span!("reaper"),
    )))
}

/// The children of this process it did not spawn (adopted orphans), zombies included.
fn adopted(spawned: &mut BTreeSet<i32>) -> Vec<Stat> {
    let me = std::process::id() as i32;
    let own_group = nix::unistd::getpgrp().as_raw();
    let children = tree::processes(|s| s.ppid == me);
    // A registered pid that is no child any more was reaped by tokio (after a dropped child).
    spawned.retain(|pid| children.iter().any(|c| c.pid == *pid));
    children.into_iter().filter(|c| is_adopted(c, spawned, own_group)).collect()
}

/// Whether a child of the agent is an adopted orphan: not spawned by the supervisor, and not in
/// the agent's own process group.
fn is_adopted(child: &Stat, spawned: &BTreeSet<i32>, own_group: i32) -> bool {
    !spawned.contains(&child.pid) && child.pgid != own_group
}

/// Reaps the adopted orphans that exited; returns how many.
pub fn reap_adopted() -> usize {
    let mut spawned = spawned();
    let mut reaped = 0;
    for orphan in adopted(&mut spawned).into_iter().filter(|s| s.zombie) {
        match waitpid(Pid::from_raw(orphan.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(status) => {
                debug!(pid = orphan.pid, ?status, "reaped an adopted orphan");
                reaped += 1;
            }
            Err(e) => debug!(pid = orphan.pid, error = %e, "reaping an adopted orphan failed"),
        }
    }
    reaped
}

/// SIGKILLs every adopted orphan still running (and the group it leads), waits a little for them
/// to exit, and reaps them: when the agent stops, after its children were stopped. Returns their
/// pids.
pub fn kill_adopted() -> Vec<i32> {
    let orphans: Vec<Stat> = adopted(&mut spawned()).into_iter().filter(|s| !s.zombie).collect();
    if orphans.is_empty() {
        return Vec::new();
    }
    let pids: Vec<i32> = orphans.iter().map(|s| s.pid).collect();
    info!(?pids, "killing the orphans the children left behind");
    tree::signal_all(&orphans, Signal::SIGKILL);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while orphans.iter().any(tree::alive) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if orphans.iter().any(tree::alive) {
        warn!(?pids, "adopted orphans still there after SIGKILL");
    }
    reap_adopted();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_children_outside_the_agents_group_and_not_spawned_are_orphans() {
        let child = |pid, pgid| Stat { pid, ppid: 1, pgid, zombie: true, starttime: 0 };
        let spawned = BTreeSet::from([10]);
        let own_group = 5;
        assert!(!is_adopted(&child(10, 10), &spawned, own_group), "a supervised child is tokio's");
        assert!(!is_adopted(&child(11, 5), &spawned, own_group), "another part of the agent forked it");
        assert!(is_adopted(&child(12, 12), &spawned, own_group), "a setsid'd daemon");
        assert!(is_adopted(&child(13, 10), &spawned, own_group), "left in a supervised child's group");
    }
}
