//! `PtpConfig` (ptp.openshift.io/v1): the user-facing resource. Field names, JSON shape and schema
//! defaults follow the Go ptp-operator so existing manifests keep working.
//!
//! Every optional string is an `Option<String>` so that an absent field and `""` stay different
//! through every round trip: `ptp4lOpts: ""` means "do not run ptp4l", an absent `ptp4lOpts` means
//! "run ptp4l with no extra options".

// Several `printcolumn(...)` entries repeat `type_ = ...`, which clippy mistakes for duplicates.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cel_rules;

/// Desired state: the profiles and the rules that say which nodes get them.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "ptp.openshift.io",
    version = "v1",
    kind = "PtpConfig",
    namespaced,
    status = "PtpConfigStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ptpcfg",
    category = "ptp",
    doc = "PtpConfig holds linuxptp profiles and the rules that recommend them to nodes.",
    printcolumn(
        name = "Profiles",
        type_ = "string",
        json_path = ".spec.profile[*].name",
        description = "Profile names"
    ),
    printcolumn(
        name = "Nodes",
        type_ = "integer",
        json_path = ".status.nodeCount",
        description = "Nodes this PtpConfig's profiles apply to"
    ),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Valid\")].status",
        description = "Whether every profile and rule is valid"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = cel_rules::unique_profile_names())]
#[x_kube(validation = cel_rules::recommend_names_own_profile())]
pub struct PtpConfigSpec {
    #[schemars(length(max = 100))]
    pub profile: Vec<PtpProfile>,
    #[schemars(length(max = 100))]
    pub recommend: Vec<PtpRecommend>,
}

/// A linuxptp profile: the options and configuration of ptp4l, phc2sys, ts2phc, synce4l,
/// chronyd and timemaster for one clock. An absent `*Opts` field and `""` differ: `ptp4lOpts: ""` does not run
/// ptp4l, an absent `ptp4lOpts` runs it with no extra options; phc2sys and ts2phc run only when
/// their options are set and not empty.
// Field order is the Go struct's, which is also the ConfigMap encoding order.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = cel_rules::fifo_needs_priority())]
pub struct PtpProfile {
    /// Profile name, unique within the PtpConfig; nodes see it as `<PtpConfig name>_<name>`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Interface ptp4l runs on; a `[<interface>]` section is added to `ptp4lConf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Extra ptp4l command-line options (`""`: do not run ptp4l).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptp4l_opts: Option<String>,
    /// phc2sys command-line options (absent or `""`: do not run phc2sys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phc2sys_opts: Option<String>,
    /// ts2phc command-line options (absent or `""`: do not run ts2phc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts2phc_opts: Option<String>,
    /// synce4l command-line options (absent or `""`: do not run synce4l).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synce4l_opts: Option<String>,
    /// chronyd command-line options (absent or `""`: do not run chronyd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chronyd_opts: Option<String>,
    /// timemaster command-line options (absent or `""`: do not run timemaster). Not in the Go
    /// API: an extension of this operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timemaster_opts: Option<String>,
    /// ptp4l configuration file (`[global]`, `[<port>]` sections of `key value` lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptp4l_conf: Option<String>,
    /// phc2sys configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phc2sys_conf: Option<String>,
    /// ts2phc configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts2phc_conf: Option<String>,
    /// synce4l configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synce4l_conf: Option<String>,
    /// chronyd configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chronyd_conf: Option<String>,
    /// timemaster configuration file (`[ptp_domain N]`, `[chronyd]`, `[chrony.conf]`,
    /// `[ptp4l.conf]`, ... sections); the profile's `interface` goes into `[ptp_domain N]`
    /// sections without `interfaces`. Not in the Go API: an extension of this operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timemaster_conf: Option<String>,
    /// Scheduling policy of the linuxptp processes; SCHED_FIFO needs `ptpSchedulingPriority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptp_scheduling_policy: Option<SchedulingPolicy>,
    /// SCHED_FIFO priority (1..65).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65))]
    pub ptp_scheduling_priority: Option<i64>,
    /// Offsets and timeouts that decide the reported clock state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptp_clock_threshold: Option<PtpClockThreshold>,
    /// Agent settings: clockType, logReduce, haProfiles, controllingProfile, stdoutFilter, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptp_settings: Option<BTreeMap<String, String>>,
    /// Plugin configuration (free-form JSON per plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "plugins_schema")]
    pub plugins: Option<BTreeMap<String, serde_json::Value>>,
}

/// Scheduling policy applied to the linuxptp processes of a profile.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedulingPolicy {
    #[serde(rename = "SCHED_OTHER")]
    SchedOther,
    #[serde(rename = "SCHED_FIFO")]
    SchedFifo,
}

impl SchedulingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulingPolicy::SchedOther => "SCHED_OTHER",
            SchedulingPolicy::SchedFifo => "SCHED_FIFO",
        }
    }
}

/// Offsets and timeouts that decide the reported clock state.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PtpClockThreshold {
    /// Seconds the clock stays in HOLDOVER before FREERUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 5))]
    pub hold_over_timeout: Option<i64>,
    /// Largest offset (ns) still counted as LOCKED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 100))]
    pub max_offset_threshold: Option<i64>,
    /// Smallest offset (ns) still counted as LOCKED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = -100))]
    pub min_offset_threshold: Option<i64>,
    /// phc2sys's system clock is LOCKED after `sysOffsetSamples` consecutive offsets within this
    /// (ns, absolute; default `maxOffsetThreshold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub sys_offset_in_sync_threshold: Option<i64>,
    /// phc2sys's system clock is FREERUN after `sysOffsetSamples` consecutive offsets beyond this
    /// (ns, absolute; default `maxOffsetThreshold`); offsets between the two thresholds keep the
    /// state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub sys_offset_out_of_sync_threshold: Option<i64>,
    /// Consecutive samples for the system clock's state to change (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub sys_offset_samples: Option<i64>,
    /// Acceptable downtime in seconds per process before state-change events are emitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_downtime_thresholds: Option<ProcessDowntimeThresholds>,
}

/// Acceptable downtime in seconds per process (0..=86400).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProcessDowntimeThresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400), extend("default" = 5))]
    pub ptp4l: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400), extend("default" = 5))]
    pub phc2sys: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400), extend("default" = 5))]
    pub ts2phc: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400), extend("default" = 5))]
    pub synce4l: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400), extend("default" = 5))]
    pub chronyd: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400), extend("default" = 1))]
    pub gpsd: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400), extend("default" = 1))]
    pub gpspipe: Option<i64>,
}

/// A rule recommending one profile of this PtpConfig to the nodes it matches.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PtpRecommend {
    /// Name of a profile of this PtpConfig.
    #[schemars(length(min = 1, max = 253))]
    pub profile: String,
    /// Lower number wins; every rule at the winning number applies.
    #[schemars(range(min = 0))]
    pub priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Nodes the rule applies to (any entry matching is enough; none: no node).
    #[schemars(length(max = 100))]
    pub r#match: Option<Vec<MatchRule>>,
}

/// Selects nodes by name or by label (`key` = has the label, `key=value` = has it with that value).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = cel_rules::match_sets_label_or_name())]
pub struct MatchRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `key` (the node has the label) or `key=value` (the label has exactly that value).
    #[schemars(length(max = 317), regex(pattern = cel_rules::NODE_LABEL_SCHEMA_PATTERN))]
    pub node_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Exact node name.
    #[schemars(length(max = 253))]
    pub node_name: Option<String>,
}

/// Observed state written by the operator.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PtpConfigStatus {
    /// `(node, profile)` pairs that apply after the cluster-wide priority decision.
    #[serde(default)]
    pub match_list: Vec<NodeMatchList>,
    /// Number of distinct nodes in `matchList`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Valid`, `ProfileReferenceValid`, `Applied`.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// A profile (unqualified name) applied on a node.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeMatchList {
    pub node_name: String,
    pub profile: String,
}

fn plugins_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": { "x-kubernetes-preserve-unknown-fields": true }
    })
}

impl PtpClockThreshold {
    pub const DEFAULT_HOLD_OVER_TIMEOUT: i64 = 5;
    pub const DEFAULT_MAX_OFFSET_THRESHOLD: i64 = 100;
    pub const DEFAULT_MIN_OFFSET_THRESHOLD: i64 = -100;

    /// Fills absent fields with the CRD schema defaults, as the API server does on admission.
    pub fn apply_defaults(&mut self) {
        self.hold_over_timeout.get_or_insert(Self::DEFAULT_HOLD_OVER_TIMEOUT);
        self.max_offset_threshold.get_or_insert(Self::DEFAULT_MAX_OFFSET_THRESHOLD);
        self.min_offset_threshold.get_or_insert(Self::DEFAULT_MIN_OFFSET_THRESHOLD);
        if let Some(p) = self.process_downtime_thresholds.as_mut() {
            p.apply_defaults();
        }
    }
}

impl ProcessDowntimeThresholds {
    /// Fills absent fields with the CRD schema defaults (5 s, 1 s for gpsd and gpspipe).
    pub fn apply_defaults(&mut self) {
        for (slot, default) in [
            (&mut self.ptp4l, 5),
            (&mut self.phc2sys, 5),
            (&mut self.ts2phc, 5),
            (&mut self.synce4l, 5),
            (&mut self.chronyd, 5),
            (&mut self.gpsd, 1),
            (&mut self.gpspipe, 1),
        ] {
            slot.get_or_insert(default);
        }
    }
}

impl PtpProfile {
    /// A profile with only a name; handy for tests and builders.
    pub fn named(name: impl Into<String>) -> Self {
        PtpProfile { name: name.into(), ..Default::default() }
    }

    /// Applies the CRD schema defaults, as the API server would have before storing the object.
    pub fn apply_defaults(&mut self) {
        if let Some(t) = self.ptp_clock_threshold.as_mut() {
            t.apply_defaults();
        }
    }
}

impl PtpConfigSpec {
    /// Applies the CRD schema defaults to every profile.
    pub fn apply_defaults(&mut self) {
        self.profile.iter_mut().for_each(PtpProfile::apply_defaults);
    }
}

impl MatchRule {
    pub fn node_name(name: impl Into<String>) -> Self {
        MatchRule { node_name: Some(name.into()), node_label: None }
    }
    pub fn node_label(label: impl Into<String>) -> Self {
        MatchRule { node_label: Some(label.into()), node_name: None }
    }
}
