//! The status-write decision: patch `devices` and `deviceCount` only when they differ from what
//! the NodePtpDevice status holds. Other status fields belong to the agent runtime and are left
//! alone (a JSON merge patch on `/status` with just these two keys).

use ptp_api::{NodePtpDeviceStatus, PtpDevice};
use serde_json::{Value, json};

/// The merge patch for the `/status` subresource, or `None` when nothing changed.
pub fn status_patch(current: &NodePtpDeviceStatus, devices: &[PtpDevice]) -> Option<Value> {
    let count = devices.len() as i64;
    if current.devices == devices && current.device_count == Some(count) {
        return None;
    }
    Some(json!({ "status": { "devices": devices, "deviceCount": count } }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptp_api::ClockState;

    fn device(name: &str) -> PtpDevice {
        PtpDevice { name: name.into(), timestamping: Some(vec!["software-transmit".into()]), ..Default::default() }
    }

    #[test]
    fn unchanged_devices_write_nothing() {
        let status = NodePtpDeviceStatus { devices: vec![device("a")], device_count: Some(1), ..Default::default() };
        assert_eq!(status_patch(&status, &[device("a")]), None);
    }

    #[test]
    fn new_missing_or_changed_devices_and_a_missing_count_are_written() {
        let status = NodePtpDeviceStatus { devices: vec![device("a")], device_count: Some(1), ..Default::default() };
        let patch = status_patch(&status, &[device("a"), device("b")]).unwrap();
        assert_eq!(patch["status"]["deviceCount"], 2);
        assert_eq!(patch["status"]["devices"][1]["name"], "b");
        assert!(status_patch(&status, &[]).is_some());
        let mut changed = device("a");
        changed.phc_index = Some(0);
        assert!(status_patch(&status, &[changed]).is_some());
        let no_count = NodePtpDeviceStatus { devices: vec![device("a")], ..Default::default() };
        assert!(status_patch(&no_count, &[device("a")]).is_some());
        // An empty object gets an empty list and a zero count.
        let patch = status_patch(&NodePtpDeviceStatus::default(), &[]).unwrap();
        assert_eq!(patch, json!({"status": {"devices": [], "deviceCount": 0}}));
    }

    #[test]
    fn the_patch_touches_only_devices_and_count() {
        let status = NodePtpDeviceStatus {
            clock_state: Some(ClockState::Locked),
            offset_ns: Some(5),
            applied_profiles: Some(vec!["p".into()]),
            ..Default::default()
        };
        let patch = status_patch(&status, &[device("a")]).unwrap();
        let keys: Vec<&String> = patch["status"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["deviceCount", "devices"]);
    }
}
