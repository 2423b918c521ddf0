//! Merging desired conditions into the ones a status already has: `lastTransitionTime` only moves
//! when a condition's status changes, so an unchanged render writes nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::render::DesiredCondition;

/// The new condition list: desired ones (in their order) merged with `current`; conditions of
/// other types in `current` are kept after them unless `drop_types` names them.
pub fn merge(
    current: &[Condition],
    desired: &[DesiredCondition],
    drop_types: &[&str],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut merged: Vec<Condition> = desired
        .iter()
        .map(|d| {
            let status = d.status_str().to_string();
            let previous = current.iter().find(|c| c.type_ == d.type_);
            let last_transition_time = match previous {
                Some(p) if p.status == status => p.last_transition_time.clone(),
                _ => now.clone(),
            };
            Condition {
                type_: d.type_.to_string(),
                status,
                reason: d.reason.clone(),
                message: d.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect();
    for c in current {
        let known = desired.iter().any(|d| d.type_ == c.type_) || drop_types.contains(&c.type_.as_str());
        if !known {
            merged.push(c.clone());
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn time(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn desired(status: bool, message: &str) -> DesiredCondition {
        DesiredCondition { type_: "Valid", status, reason: "R".into(), message: message.into() }
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let first = merge(&[], &[desired(true, "a")], &[], Some(1), &time(100));
        assert_eq!(first[0].last_transition_time, time(100));
        let same = merge(&first, &[desired(true, "b")], &[], Some(2), &time(200));
        assert_eq!(same[0].last_transition_time, time(100));
        assert_eq!(same[0].message, "b");
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = merge(&same, &[desired(false, "c")], &[], Some(2), &time(300));
        assert_eq!(flipped[0].last_transition_time, time(300));
        assert_eq!(flipped[0].status, "False");
    }

    #[test]
    fn foreign_conditions_are_kept_unless_dropped() {
        let foreign = Condition {
            type_: "Other".into(),
            status: "True".into(),
            reason: "X".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: time(1),
        };
        let merged = merge(std::slice::from_ref(&foreign), &[desired(true, "a")], &[], None, &time(5));
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[1], foreign);
        assert_eq!(merge(&[foreign], &[desired(true, "a")], &["Other"], None, &time(5)).len(), 1);
    }
}
