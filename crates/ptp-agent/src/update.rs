//! What an update of the node's profiles changes, decided before anything is touched. Profiles
//! are keyed by name: an unchanged profile keeps its processes (same PIDs), a changed one restarts
//! only its own, a removed one stops, an added one starts. An invalid profile changes nothing: if
//! a version of it runs, that version keeps running; valid profiles of the same update still apply.

use std::collections::BTreeMap;
use std::path::Path;

use ptp_api::{NodeProfiles, PtpProfile, validate_profile};

use crate::linuxptp::Linuxptp;
use crate::render::{RenderEnv, RunIds, RunPlan, render};

/// A profile the agent runs, with what it was rendered to.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedProfile {
    pub profile: PtpProfile,
    pub plan: RunPlan,
}

/// A profile of the update that was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The profile's name, when it has one.
    pub profile: Option<String>,
    pub reason: String,
    /// Whether an earlier version of it keeps running.
    pub kept_running: bool,
}

/// The decision for one update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdatePlan {
    pub start: Vec<String>,
    pub restart: Vec<String>,
    pub stop: Vec<String>,
    pub keep: Vec<String>,
    pub refused: Vec<Refusal>,
    /// What runs once the plan is carried out.
    pub next: BTreeMap<String, AppliedProfile>,
}

impl UpdatePlan {
    /// Whether carrying out the plan touches any process.
    pub fn changes_processes(&self) -> bool {
        !(self.start.is_empty() && self.restart.is_empty() && self.stop.is_empty())
    }
}

/// Plans the update from what runs (`current`) to what the ConfigMap now says (`incoming`).
/// `ids` keeps run ids stable for names it has seen; profiles are rendered for `run_dir` and the
/// node's `linuxptp`.
pub fn plan_update(
    current: &BTreeMap<String, AppliedProfile>,
    incoming: &NodeProfiles,
    ids: &mut RunIds,
    (run_dir, linuxptp): (&Path, &Linuxptp),
) -> UpdatePlan {
    let mut plan = UpdatePlan::default();
    let refuse = |plan: &mut UpdatePlan, name: Option<&str>, reason: String| {
        let running = name.and_then(|n| current.get(n));
        if let (Some(name), Some(applied)) = (name, running) {
            plan.next.insert(name.to_string(), applied.clone());
        }
        plan.refused.push(Refusal { profile: name.map(str::to_string), reason, kept_running: running.is_some() });
    };

    // Profiles that pass validation, first of each name.
    let mut valid: Vec<&PtpProfile> = Vec::new();
    for profile in &incoming.profiles {
        let name = profile.name.as_str();
        if valid.iter().any(|p| p.name == name) {
            refuse(&mut plan, None, format!("profile {name:?} appears twice; the first one is used"));
            continue;
        }
        let report = validate_profile(profile);
        if report.is_valid() {
            valid.push(profile);
        } else {
            refuse(&mut plan, Some(name), report.error_summary());
        }
    }
    for rejected in &incoming.rejected {
        refuse(&mut plan, Some(&rejected.name), rejected.to_string());
    }

    let names: Vec<&str> = valid.iter().map(|p| p.name.as_str()).chain(plan.next.keys().map(String::as_str)).collect();
    ids.update(names);
    let env = RenderEnv { run_dir, linuxptp, profiles: Some(ids) };
    for profile in valid {
        let name = profile.name.as_str();
        let Some(id) = ids.get(name) else { continue };
        let rendered = match render(profile, id, &env) {
            Ok(r) => r,
            Err(e) => {
                refuse(&mut plan, Some(name), e.to_string());
                continue;
            }
        };
        match current.get(name) {
            Some(applied) if applied.plan == rendered => plan.keep.push(name.to_string()),
            Some(_) => plan.restart.push(name.to_string()),
            None => plan.start.push(name.to_string()),
        }
        plan.next.insert(name.to_string(), AppliedProfile { profile: profile.clone(), plan: rendered });
    }
    plan.stop = current.keys().filter(|n| !plan.next.contains_key(*n)).cloned().collect();
    for list in [&mut plan.start, &mut plan.restart, &mut plan.keep] {
        list.sort();
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ptp_api::decode_node_profiles;

    use super::*;

    fn profile(name: &str, opts: &str) -> PtpProfile {
        PtpProfile { interface: Some("eth0".into()), ptp4l_opts: Some(opts.into()), ..PtpProfile::named(name) }
    }

    fn incoming(profiles: Vec<PtpProfile>) -> NodeProfiles {
        NodeProfiles { profiles, ..NodeProfiles::default() }
    }

    fn run_dir() -> PathBuf {
        PathBuf::from("/var/run")
    }

    /// Applies `update` on top of `current` and returns the plan and the new state.
    fn step(current: &BTreeMap<String, AppliedProfile>, ids: &mut RunIds, update: NodeProfiles) -> UpdatePlan {
        plan_update(current, &update, ids, (&run_dir(), &Linuxptp::default()))
    }

    #[test]
    fn only_what_changed_is_touched() {
        let mut ids = RunIds::new();
        let first = step(&BTreeMap::new(), &mut ids, incoming(vec![profile("a", "-2"), profile("b", "-2")]));
        assert_eq!(first.start, ["a", "b"]);
        assert!(first.stop.is_empty() && first.restart.is_empty());

        let same = step(&first.next, &mut ids, incoming(vec![profile("b", "-2"), profile("a", "-2")]));
        assert_eq!(same.keep, ["a", "b"]);
        assert!(!same.changes_processes(), "order does not matter");

        let edited = step(&same.next, &mut ids, incoming(vec![profile("a", "-2"), profile("b", "-2 -s")]));
        assert_eq!(
            (edited.keep.as_slice(), edited.restart.as_slice()),
            (&["a".to_string()][..], &["b".to_string()][..])
        );
        assert_eq!(edited.next["b"].plan.run_id, first.next["b"].plan.run_id, "run ids are stable");

        let removed = step(&edited.next, &mut ids, incoming(vec![profile("b", "-2 -s"), profile("c", "-2")]));
        assert_eq!(
            (removed.stop.as_slice(), removed.start.as_slice()),
            (&["a".to_string()][..], &["c".to_string()][..])
        );
        assert_eq!(removed.keep, ["b"]);
        assert_eq!(removed.next["c"].plan.run_id, first.next["a"].plan.run_id, "a's id is free again");
    }

    #[test]
    fn an_invalid_update_keeps_the_running_version_and_valid_ones_still_apply() {
        let mut ids = RunIds::new();
        let first = step(&BTreeMap::new(), &mut ids, incoming(vec![profile("a", "-2"), profile("b", "-2")]));
        let broken_a = PtpProfile { ptp4l_conf: Some("[global]\nslaveOnly\n".into()), ..profile("a", "-2") };
        let plan = step(&first.next, &mut ids, incoming(vec![broken_a, profile("b", "-2 -s"), profile("new", "-2")]));
        assert!(plan.stop.is_empty(), "nothing stops because of bad input");
        assert_eq!(plan.restart, ["b"]);
        assert_eq!(plan.start, ["new"]);
        assert_eq!(plan.next["a"], first.next["a"], "the running version of a stays");
        assert_eq!(plan.refused.len(), 1);
        assert_eq!(plan.refused[0].profile.as_deref(), Some("a"));
        assert!(plan.refused[0].kept_running);
        assert!(plan.refused[0].reason.contains("line 2"), "{}", plan.refused[0].reason);
    }

    #[test]
    fn an_invalid_new_profile_is_not_started() {
        let mut ids = RunIds::new();
        let fifo =
            PtpProfile { ptp_scheduling_policy: Some(ptp_api::SchedulingPolicy::SchedFifo), ..profile("x", "-2") };
        let plan = step(&BTreeMap::new(), &mut ids, incoming(vec![fifo]));
        assert!(plan.start.is_empty() && plan.next.is_empty());
        assert!(!plan.refused[0].kept_running);
        assert!(plan.refused[0].reason.contains("ptpSchedulingPriority"));
    }

    #[test]
    fn undecodable_items_keep_their_running_version() {
        let mut ids = RunIds::new();
        let first = step(&BTreeMap::new(), &mut ids, incoming(vec![profile("a", "-2"), profile("b", "-2")]));
        let update = decode_node_profiles(
            r#"[{"name":"a","ptp4lOpts":"-2","interface":"eth0"},{"name":"b","ptpSchedulingPriority":"high"}]"#,
        )
        .unwrap();
        assert_eq!(update.rejected.len(), 1);
        let plan = step(&first.next, &mut ids, update);
        assert_eq!(plan.keep, ["a"]);
        assert!(plan.stop.is_empty());
        assert_eq!(plan.next["b"], first.next["b"]);
        assert!(plan.refused[0].kept_running);
    }

    #[test]
    fn duplicate_names_use_the_first() {
        let mut ids = RunIds::new();
        let plan = step(&BTreeMap::new(), &mut ids, incoming(vec![profile("a", "-2"), profile("a", "-s")]));
        assert_eq!(plan.start, ["a"]);
        assert_eq!(plan.next["a"].profile.ptp4l_opts.as_deref(), Some("-2"));
        assert_eq!(plan.refused.len(), 1);
    }

    #[test]
    fn an_empty_update_stops_everything() {
        let mut ids = RunIds::new();
        let first = step(&BTreeMap::new(), &mut ids, incoming(vec![profile("a", "-2")]));
        let plan = step(&first.next, &mut ids, incoming(vec![]));
        assert_eq!(plan.stop, ["a"]);
        assert!(plan.next.is_empty());
    }
}
