//! The CEL admission rules embedded in the PtpConfig CRD (`x-kubernetes-validations`).
//! Each rule is defined once here; the CRD derive uses the builders and the pure validation
//! function (`validation`) implements the same checks in Rust for input that never passed an
//! API server (the `render` CLI, the agent's ConfigMap intake). Tests evaluate both on one corpus.

use kube::core::{Reason, Rule};

/// Label key (optional DNS-subdomain prefix and `/`) with an optional `=value`.
pub const NODE_LABEL_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)?$";

pub const UNIQUE_PROFILE_NAMES: &str = "self.profile.all(p, self.profile.exists_one(q, q.name == p.name))";
pub const RECOMMEND_NAMES_OWN_PROFILE: &str = "self.recommend.all(r, self.profile.exists(p, p.name == r.profile))";
pub const FIFO_NEEDS_PRIORITY: &str =
    "!has(self.ptpSchedulingPolicy) || self.ptpSchedulingPolicy != 'SCHED_FIFO' || has(self.ptpSchedulingPriority)";
pub const MATCH_SETS_LABEL_OR_NAME: &str =
    "(has(self.nodeLabel) && self.nodeLabel != '') || (has(self.nodeName) && self.nodeName != '')";

pub fn unique_profile_names() -> Rule {
    Rule::new(UNIQUE_PROFILE_NAMES)
        .message("profile names must be unique within a PtpConfig")
        .reason(Reason::FieldValueDuplicate)
}

pub fn recommend_names_own_profile() -> Rule {
    Rule::new(RECOMMEND_NAMES_OWN_PROFILE)
        .message("every recommend[].profile must name a profile of the same PtpConfig")
        .reason(Reason::FieldValueInvalid)
}

pub fn fifo_needs_priority() -> Rule {
    Rule::new(FIFO_NEEDS_PRIORITY)
        .message("ptpSchedulingPriority must be set when ptpSchedulingPolicy is SCHED_FIFO")
        .reason(Reason::FieldValueRequired)
}

pub fn match_sets_label_or_name() -> Rule {
    Rule::new(MATCH_SETS_LABEL_OR_NAME)
        .message("a match entry must set nodeLabel or nodeName")
        .reason(Reason::FieldValueRequired)
}

/// The OpenAPI `pattern` of `nodeLabel`: empty (treated as unset) or [`NODE_LABEL_PATTERN`].
/// A schema pattern rather than a CEL `matches()`: the real API server estimates a CEL regex
/// on a 317-byte string in 100 × 100 nested list items at 5× its per-rule cost budget and
/// refuses the CRD; a pattern has no cost budget. (Equality with `^$|` + [`NODE_LABEL_PATTERN`]
/// is tested.)
pub const NODE_LABEL_SCHEMA_PATTERN: &str = r"^$|^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)?$";

#[cfg(test)]
mod tests {
    #[test]
    fn schema_pattern_is_the_label_pattern_or_empty() {
        assert_eq!(super::NODE_LABEL_SCHEMA_PATTERN, format!("^$|{}", super::NODE_LABEL_PATTERN));
    }
}
