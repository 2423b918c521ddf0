//! Names of timestamping capabilities, TX types and RX filters, as the kernel's ethtool string
//! sets (and so `ethtool -T`) spell them. Bits newer than a table are named `bitN`.

/// `SOF_TIMESTAMPING_*` bits.
pub const TIMESTAMPING_NAMES: &[&str] = &[
    "hardware-transmit",
    "software-transmit",
    "hardware-receive",
    "software-receive",
    "software-system-clock",
    "hardware-legacy-clock",
    "hardware-raw-clock",
    "option-id",
    "option-cmsg",
    "option-tsonly",
    "option-stats",
    "option-pktinfo",
    "option-tx-swhw",
    "bind-phc",
    "option-id-tcp",
    "option-rx-filter",
    "tx-completion",
];

/// `HWTSTAMP_TX_*` values.
pub const TX_TYPE_NAMES: &[&str] = &["off", "on", "onestep-sync", "onestep-p2p"];

/// `HWTSTAMP_FILTER_*` values.
pub const RX_FILTER_NAMES: &[&str] = &[
    "none",
    "all",
    "some",
    "ptpv1-l4-event",
    "ptpv1-l4-sync",
    "ptpv1-l4-delay-req",
    "ptpv2-l4-event",
    "ptpv2-l4-sync",
    "ptpv2-l4-delay-req",
    "ptpv2-l2-event",
    "ptpv2-l2-sync",
    "ptpv2-l2-delay-req",
    "ptpv2-event",
    "ptpv2-sync",
    "ptpv2-delay-req",
    "ntp-all",
];

pub const HARDWARE_TRANSMIT: u32 = 0;
pub const SOFTWARE_TRANSMIT: u32 = 1;
pub const HARDWARE_RECEIVE: u32 = 2;
pub const SOFTWARE_RECEIVE: u32 = 3;
pub const SOFTWARE_SYSTEM_CLOCK: u32 = 4;
pub const HARDWARE_RAW_CLOCK: u32 = 6;

/// The table's name for `bit`, or `bitN`.
pub fn bit_name(table: &[&str], bit: u32) -> String {
    table.get(bit as usize).map(std::string::ToString::to_string).unwrap_or_else(|| format!("bit{bit}"))
}
