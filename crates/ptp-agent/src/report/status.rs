//! The status-write decision: write `devices` and `deviceCount` only when they differ from what
//! the NodePtpDevice status holds. They are applied (server-side apply) under their own field
//! manager, [`DEVICES_MANAGER`]; the other status fields belong to the agent runtime
//! ([`crate::status`]) and are left alone.

use ptp_api::{NodePtpDeviceStatus, PtpDevice};

/// The field manager of `devices` and `deviceCount`.
pub const DEVICES_MANAGER: &str = "ptp-agent-devices";

/// The status to apply (only `devices` and `deviceCount` set), or `None` when nothing changed.
pub fn devices_status(current: &NodePtpDeviceStatus, devices: &[PtpDevice]) -> Option<NodePtpDeviceStatus> {
    let count = devices.len() as i64;
    if current.devices == devices && current.device_count == Some(count) {
        return None;
    }
    Some(NodePtpDeviceStatus { devices: devices.to_vec(), device_count: Some(count), ..NodePtpDeviceStatus::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptp_api::ClockState;
    use serde_json::json;

    fn device(name: &str) -> PtpDevice {
        PtpDevice { name: name.into(), timestamping: Some(vec!["software-transmit".into()]), ..Default::default() }
    }

    fn applied(status: &NodePtpDeviceStatus) -> serde_json::Value {
        serde_json::to_value(status).unwrap()
    }

    #[test]
    fn unchanged_devices_write_nothing() {
        let status = NodePtpDeviceStatus { devices: vec![device("a")], device_count: Some(1), ..Default::default() };
        assert_eq!(devices_status(&status, &[device("a")]), None);
    }

    #[test]
    fn new_missing_or_changed_devices_and_a_missing_count_are_written() {
        let status = NodePtpDeviceStatus { devices: vec![device("a")], device_count: Some(1), ..Default::default() };
        let two = applied(&devices_status(&status, &[device("a"), device("b")]).unwrap());
        assert_eq!(two["deviceCount"], 2);
        assert_eq!(two["devices"][1]["name"], "b");
        let mut changed = device("a");
        changed.phc_index = Some(0);
        assert!(devices_status(&status, &[changed]).is_some());
        let no_count = NodePtpDeviceStatus { devices: vec![device("a")], ..Default::default() };
        assert!(devices_status(&no_count, &[device("a")]).is_some());
        // No device: a zero count, and no list (an apply without `devices` removes it; Go omits
        // an empty list too).
        let none = applied(&devices_status(&status, &[]).unwrap());
        assert_eq!(none, json!({"deviceCount": 0}));
    }

    #[test]
    fn only_devices_and_count_are_applied() {
        let status = NodePtpDeviceStatus {
            clock_state: Some(ClockState::Locked),
            offset_ns: Some(5),
            applied_profiles: Some(vec!["p".into()]),
            ..Default::default()
        };
        let body = ptp_api::node_ptp_device::status_apply_body("n", &devices_status(&status, &[device("a")]).unwrap());
        let keys: Vec<&String> = body["status"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["deviceCount", "devices"]);
        assert_eq!((body["kind"].as_str(), body["metadata"]["name"].as_str()), (Some("NodePtpDevice"), Some("n")));
    }
}
