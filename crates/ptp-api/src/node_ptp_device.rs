//! `NodePtpDevice` (ptp.openshift.io/v1): one per node, named after the node. The operator creates
//! and deletes it; the node's agent writes its status. `status.devices[]` keeps the Go operator's
//! shape; everything else in the status is our addition and optional.

// Several `printcolumn(...)` entries repeat `type_ = ...`, which clippy mistakes for duplicates.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Empty by design: all information flows from the node into the status.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "ptp.openshift.io",
    version = "v1",
    kind = "NodePtpDevice",
    namespaced,
    status = "NodePtpDeviceStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "npd",
    category = "ptp",
    doc = "NodePtpDevice reports a node's PTP-capable devices and the state of its linuxptp processes.",
    printcolumn(
        name = "Devices",
        type_ = "integer",
        json_path = ".status.deviceCount",
        description = "Reported devices"
    ),
    printcolumn(
        name = "Profiles",
        type_ = "string",
        json_path = ".status.appliedProfiles",
        description = "Profiles the agent applied (the whole list: a `[*]` path would show only the first)"
    ),
    printcolumn(
        name = "State",
        type_ = "string",
        json_path = ".status.clockState",
        description = "Clock state: LOCKED, HOLDOVER or FREERUN"
    ),
    printcolumn(
        name = "Class",
        type_ = "integer",
        json_path = ".status.clockClass",
        description = "Grandmaster clock class ptp4l reports (PARENT_DATA_SET gm.ClockClass)"
    ),
    printcolumn(
        name = "Offset",
        type_ = "integer",
        json_path = ".status.offsetNs",
        description = "Offset from the master in ns when the status was last written: at clock state changes, otherwise at most every 300 s (not live; live: the openshift_ptp_offset_ns metric)"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
pub struct NodePtpDeviceSpec {}

/// Observed state written by the node's agent.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodePtpDeviceStatus {
    // Every status field is optional or omitted when empty, so that a status with only some
    // fields set is what one writer applies (server-side apply: the agent's NIC report owns
    // `devices` and `deviceCount`, its runtime the rest).
    /// Devices found on the node (Go-compatible list; omitted when empty, as Go's `omitempty`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<PtpDevice>,
    /// Number of entries in `devices`, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_count: Option<i64>,
    /// Qualified names of the profiles the agent applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_profiles: Option<Vec<String>>,
    /// SHA-256 (hex) of the profiles value the agent applied: what the node's `ptp-configmap`
    /// key holds (`sha256sum`) when the agent and the operator agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles_hash: Option<String>,
    /// One entry per supervised linuxptp process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<ProcessStatus>>,
    /// The node's overall clock state (the worst of its processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_state: Option<ClockState>,
    /// Last offset from the master, in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_ns: Option<i64>,
    /// The grandmaster clock class of the first profile (by name) whose ptp4l answers
    /// management requests (its `processes[].clockClass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_class: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
}

/// A network device of the node.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PtpDevice {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_info: Option<HardwareInfo>,
    /// Timestamping capabilities, named as `ethtool -T` prints them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamping: Option<Vec<String>>,
    /// Index of the PTP hardware clock (`/dev/ptpN`), when the device has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phc_index: Option<i32>,
    /// Hardware transmit/receive/raw-clock timestamping and a PHC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptp_capable: Option<bool>,
}

/// Hardware identification (Go-compatible field names).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HardwareInfo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pci_address: String,
    #[serde(default, rename = "vendorID", skip_serializing_if = "String::is_empty")]
    pub vendor_id: String,
    #[serde(default, rename = "deviceID", skip_serializing_if = "String::is_empty")]
    pub device_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub firmware_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link_status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link_speed: String,
}

/// State of one supervised process.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProcessStatus {
    /// Qualified profile name.
    pub profile: String,
    /// `ptp4l`, `phc2sys`, `ts2phc`, ...
    pub process: String,
    pub state: ProcessState,
    #[serde(default)]
    pub restarts: i64,
    /// The clock state of the process's worst interface (absent before its first sample).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_state: Option<ClockState>,
    /// That interface's last offset in ns (written with the status's rate limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_ns: Option<i64>,
    /// That interface: ptp4l's slave port, phc2sys's `CLOCK_REALTIME`, ts2phc's NIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    /// ptp4l only, while it answers management requests: its grandmaster's identity
    /// (`xxxxxx.xxxx.xxxxxx`, PARENT_DATA_SET grandmasterIdentity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gm_identity: Option<String>,
    /// ptp4l only: the grandmaster's clock class (PARENT_DATA_SET gm.ClockClass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_class: Option<i32>,
    /// ptp4l only: steps removed from the grandmaster (CURRENT_DATA_SET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_removed: Option<i32>,
    /// ptp4l only: the state of each port (PORT_DATA_SET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<PortStatus>>,
}

/// One port of a ptp4l, from its management data.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PortStatus {
    /// ptp4l's port number (from 1, in the order of its configuration's port sections).
    pub port: i32,
    /// The interface, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    /// As pmc prints it: `INITIALIZING`, `FAULTY`, `DISABLED`, `LISTENING`, `PRE_MASTER`,
    /// `MASTER`, `PASSIVE`, `UNCALIBRATED`, `SLAVE`.
    pub state: String,
}

/// What a supervised process is doing (a stopped one is not listed).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ProcessState {
    /// Started and not exited.
    #[default]
    Running,
    /// phc2sys, until its ptp4l is within a second of the master (at most 60 s).
    Waiting,
    /// Exited (or failed to start); waiting to start again.
    Backoff,
}

/// Clock state as reported by the Go daemon's metrics and events.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum ClockState {
    Locked,
    Holdover,
    Freerun,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Locked => "LOCKED",
            ClockState::Holdover => "HOLDOVER",
            ClockState::Freerun => "FREERUN",
        }
    }
}

/// The body of a server-side apply of `status` to the NodePtpDevice `name` (`PATCH .../status`,
/// `application/apply-patch+yaml`): the fields set in `status` are the ones the applying field
/// manager owns; fields it owned before and no longer sets are removed.
pub fn status_apply_body(name: &str, status: &NodePtpDeviceStatus) -> serde_json::Value {
    use kube::Resource;
    serde_json::json!({
        "apiVersion": NodePtpDevice::api_version(&()),
        "kind": NodePtpDevice::kind(&()),
        "metadata": { "name": name },
        "status": status,
    })
}
