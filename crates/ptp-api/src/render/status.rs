//! The conditions a PtpConfig's render outcome implies. Timestamps are the controller's business:
//! it keeps `lastTransitionTime` while a condition's status does not change.

use crate::Severity;

use super::ConfigOutcome;

pub const CONDITION_VALID: &str = "Valid";
pub const CONDITION_PROFILE_REFERENCE_VALID: &str = "ProfileReferenceValid";
pub const CONDITION_APPLIED: &str = "Applied";

/// Condition messages are cut to this many bytes (the API allows 32 KiB; kubectl output does not).
const MAX_MESSAGE: usize = 2048;

/// A condition without timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredCondition {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl DesiredCondition {
    pub fn status_str(&self) -> &'static str {
        if self.status { "True" } else { "False" }
    }
}

/// `Valid`, `ProfileReferenceValid` and `Applied`, in that order.
pub fn desired_conditions(outcome: &ConfigOutcome) -> Vec<DesiredCondition> {
    vec![valid(outcome), references(outcome), applied(outcome)]
}

fn valid(outcome: &ConfigOutcome) -> DesiredCondition {
    let errors: Vec<_> = outcome.findings.iter().filter(|f| f.severity == Severity::Error).collect();
    let warnings: Vec<String> =
        outcome.findings.iter().filter(|f| f.severity == Severity::Warning).map(ToString::to_string).collect();
    if let Some(first) = errors.first() {
        let mut messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        if !errors.iter().any(|f| f.code == crate::Code::UnknownProfile) {
            messages.push("the profiles are still rendered; agents refuse invalid ones and keep what runs".into());
        }
        return condition(CONDITION_VALID, false, first.code.as_str(), messages.join("; "));
    }
    if !outcome.conflicts.is_empty() {
        let message = format!(
            "profile names {} are already used on the same nodes by a PtpConfig of the same name in another namespace; this one was skipped there",
            outcome.conflicts.join(", ")
        );
        return condition(CONDITION_VALID, false, "ConflictingProfileName", message);
    }
    let message = if warnings.is_empty() {
        "all profiles and rules are valid".to_string()
    } else {
        format!("valid, with warnings: {}", warnings.join("; "))
    };
    condition(CONDITION_VALID, true, "Valid", message)
}

fn references(outcome: &ConfigOutcome) -> DesiredCondition {
    if outcome.unresolved.is_empty() {
        return condition(CONDITION_PROFILE_REFERENCE_VALID, true, "Resolved", "all profile references resolve".into());
    }
    let message = outcome
        .unresolved
        .iter()
        .map(|u| format!("profile {:?}: ptpSettings.{} {:?} names no profile", u.profile, u.key, u.value))
        .collect::<Vec<_>>()
        .join("; ");
    condition(CONDITION_PROFILE_REFERENCE_VALID, false, "UnresolvedProfileReference", message)
}

fn applied(outcome: &ConfigOutcome) -> DesiredCondition {
    let n = outcome.node_count;
    let message = format!("applied to {n} node{}", if n == 1 { "" } else { "s" });
    if n == 0 {
        condition(CONDITION_APPLIED, false, "NoMatchingNodes", message)
    } else {
        condition(CONDITION_APPLIED, true, "Applied", message)
    }
}

fn condition(type_: &'static str, status: bool, reason: &str, mut message: String) -> DesiredCondition {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE - 3;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    DesiredCondition { type_, status, reason: reason.to_string(), message }
}
