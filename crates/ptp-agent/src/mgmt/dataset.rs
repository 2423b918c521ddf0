//! The datasets a MANAGEMENT TLV carries, decoded from its dataField (offsets as in the notes,
//! linuxptp ds.h/tlv.h). Each decoder reads exactly its fields and fails with the field that is
//! short; trailing bytes (padding, newer versions' additions) are ignored.

use serde::Serialize;

use super::MgmtError;
use super::wire::{ClockIdentity, ClockQuality, PortIdentity, Reader};

/// Which linuxptp sent a PORT_STATS_NP reply: its counters are in host byte order on 3.x and
/// little-endian on 4.x (the rest of the message is big-endian on both). The layout and length
/// are the same, so the length cannot tell them apart; the header's minorVersionPTP can (3.x
/// sends 0, 4.x its `ptp_minor_version`, 1 by default): [`StatsOrder::Auto`] uses that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsOrder {
    /// linuxptp 3.x: host byte order (the ptp4l host is this host: the socket is local).
    V3,
    /// linuxptp 4.x: little-endian.
    V4,
    /// From the reply's minorVersionPTP: 0 → 3.x, otherwise 4.x. Wrong only for a 4.x ptp4l
    /// configured with `ptp_minor_version 0` on a big-endian host.
    #[default]
    Auto,
}

impl StatsOrder {
    pub(crate) fn resolve(self, minor_version: u8) -> StatsOrder {
        match self {
            StatsOrder::Auto if minor_version == 0 => StatsOrder::V3,
            StatsOrder::Auto => StatsOrder::V4,
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultDataSet {
    pub two_step_flag: bool,
    pub slave_only: bool,
    pub number_ports: u16,
    pub priority1: u8,
    pub clock_quality: ClockQuality,
    pub priority2: u8,
    pub clock_identity: ClockIdentity,
    pub domain_number: u8,
}

impl DefaultDataSet {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        let flags = r.u8("flags")?;
        r.u8("reserved")?;
        Ok(DefaultDataSet {
            two_step_flag: flags & 1 != 0,
            slave_only: flags & 2 != 0,
            number_ports: r.u16("numberPorts")?,
            priority1: r.u8("priority1")?,
            clock_quality: r.clock_quality("clockQuality")?,
            priority2: r.u8("priority2")?,
            clock_identity: r.clock_identity("clockIdentity")?,
            domain_number: r.u8("domainNumber")?,
        })
    }
}

/// TimeIntervals are in units of 2^-16 ns, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentDataSet {
    pub steps_removed: u16,
    pub offset_from_master_scaled: i64,
    pub mean_path_delay_scaled: i64,
}

impl CurrentDataSet {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        Ok(CurrentDataSet {
            steps_removed: r.u16("stepsRemoved")?,
            offset_from_master_scaled: r.i64("offsetFromMaster")?,
            mean_path_delay_scaled: r.i64("meanPathDelay")?,
        })
    }
    /// offsetFromMaster in ns.
    pub fn offset_from_master_ns(&self) -> f64 {
        self.offset_from_master_scaled as f64 / 65536.0
    }
    /// meanPathDelay in ns.
    pub fn mean_path_delay_ns(&self) -> f64 {
        self.mean_path_delay_scaled as f64 / 65536.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentDataSet {
    pub parent_port_identity: PortIdentity,
    pub parent_stats: u8,
    pub observed_parent_offset_scaled_log_variance: u16,
    pub observed_parent_clock_phase_change_rate: i32,
    pub grandmaster_priority1: u8,
    pub grandmaster_clock_quality: ClockQuality,
    pub grandmaster_priority2: u8,
    pub grandmaster_identity: ClockIdentity,
}

impl ParentDataSet {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        let parent_port_identity = r.port_identity("parentPortIdentity")?;
        let parent_stats = r.u8("parentStats")?;
        r.u8("reserved")?;
        Ok(ParentDataSet {
            parent_port_identity,
            parent_stats,
            observed_parent_offset_scaled_log_variance: r.u16("observedParentOffsetScaledLogVariance")?,
            observed_parent_clock_phase_change_rate: r.i32("observedParentClockPhaseChangeRate")?,
            grandmaster_priority1: r.u8("grandmasterPriority1")?,
            grandmaster_clock_quality: r.clock_quality("grandmasterClockQuality")?,
            grandmaster_priority2: r.u8("grandmasterPriority2")?,
            grandmaster_identity: r.clock_identity("grandmasterIdentity")?,
        })
    }
}

/// The time flags of TIME_PROPERTIES_DATA_SET and GRANDMASTER_SETTINGS_NP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeFlags {
    pub leap61: bool,
    pub leap59: bool,
    pub current_utc_offset_valid: bool,
    pub ptp_timescale: bool,
    pub time_traceable: bool,
    pub frequency_traceable: bool,
}

impl TimeFlags {
    fn bits(&self) -> u8 {
        [
            self.leap61,
            self.leap59,
            self.current_utc_offset_valid,
            self.ptp_timescale,
            self.time_traceable,
            self.frequency_traceable,
        ]
        .iter()
        .enumerate()
        .fold(0, |b, (i, set)| if *set { b | 1 << i } else { b })
    }

    fn from_bits(b: u8) -> Self {
        TimeFlags {
            leap61: b & 0x01 != 0,
            leap59: b & 0x02 != 0,
            current_utc_offset_valid: b & 0x04 != 0,
            ptp_timescale: b & 0x08 != 0,
            time_traceable: b & 0x10 != 0,
            frequency_traceable: b & 0x20 != 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimePropertiesDataSet {
    pub current_utc_offset: i16,
    #[serde(flatten)]
    pub flags: TimeFlags,
    pub time_source: u8,
}

impl TimePropertiesDataSet {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        Ok(TimePropertiesDataSet {
            current_utc_offset: r.i16("currentUtcOffset")?,
            flags: TimeFlags::from_bits(r.u8("flags")?),
            time_source: r.u8("timeSource")?,
        })
    }
}

/// A port state (fsm.h). Unknown values are kept as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    Initializing,
    Faulty,
    Disabled,
    Listening,
    PreMaster,
    Master,
    Passive,
    Uncalibrated,
    Slave,
    Other(u8),
}

impl PortState {
    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Initializing,
            2 => Self::Faulty,
            3 => Self::Disabled,
            4 => Self::Listening,
            5 => Self::PreMaster,
            6 => Self::Master,
            7 => Self::Passive,
            8 => Self::Uncalibrated,
            9 => Self::Slave,
            other => Self::Other(other),
        }
    }
    /// pmc's word (`ps_str`); pmc shows any unknown state as NONE.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "INITIALIZING",
            Self::Faulty => "FAULTY",
            Self::Disabled => "DISABLED",
            Self::Listening => "LISTENING",
            Self::PreMaster => "PRE_MASTER",
            Self::Master => "MASTER",
            Self::Passive => "PASSIVE",
            Self::Uncalibrated => "UNCALIBRATED",
            Self::Slave => "SLAVE",
            Self::Other(_) => "NONE",
        }
    }
}

impl Serialize for PortState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortDataSet {
    pub port_identity: PortIdentity,
    pub port_state: PortState,
    pub log_min_delay_req_interval: i8,
    /// In units of 2^-16 ns, as on the wire.
    pub peer_mean_path_delay_scaled: i64,
    pub log_announce_interval: i8,
    pub announce_receipt_timeout: u8,
    pub log_sync_interval: i8,
    pub delay_mechanism: u8,
    pub log_min_pdelay_req_interval: i8,
    /// The byte as sent; pmc shows its low nibble.
    pub version_number: u8,
}

impl PortDataSet {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        Ok(PortDataSet {
            port_identity: r.port_identity("portIdentity")?,
            port_state: PortState::from_u8(r.u8("portState")?),
            log_min_delay_req_interval: r.i8("logMinDelayReqInterval")?,
            peer_mean_path_delay_scaled: r.i64("peerMeanPathDelay")?,
            log_announce_interval: r.i8("logAnnounceInterval")?,
            announce_receipt_timeout: r.u8("announceReceiptTimeout")?,
            log_sync_interval: r.i8("logSyncInterval")?,
            delay_mechanism: r.u8("delayMechanism")?,
            log_min_pdelay_req_interval: r.i8("logMinPdelayReqInterval")?,
            version_number: r.u8("versionNumber")?,
        })
    }
}

/// linuxptp's ScaledNs: a 96-bit nanosecond count and a 16-bit fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledNs {
    pub nanoseconds_msb: u16,
    pub nanoseconds_lsb: u64,
    pub fractional_nanoseconds: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeStatusNp {
    pub master_offset: i64,
    pub ingress_time: i64,
    #[serde(rename = "cumulativeScaledRateOffset")]
    pub cumulative_scaled_rate_offset: i32,
    #[serde(rename = "scaledLastGmPhaseChange")]
    pub scaled_last_gm_phase_change: i32,
    #[serde(rename = "gmTimeBaseIndicator")]
    pub gm_time_base_indicator: u16,
    #[serde(rename = "lastGmPhaseChange")]
    pub last_gm_phase_change: ScaledNs,
    #[serde(rename = "gmPresent")]
    pub gm_present: bool,
    #[serde(rename = "gmIdentity")]
    pub gm_identity: ClockIdentity,
}

impl TimeStatusNp {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        Ok(TimeStatusNp {
            master_offset: r.i64("master_offset")?,
            ingress_time: r.i64("ingress_time")?,
            cumulative_scaled_rate_offset: r.i32("cumulativeScaledRateOffset")?,
            scaled_last_gm_phase_change: r.i32("scaledLastGmPhaseChange")?,
            gm_time_base_indicator: r.u16("gmTimeBaseIndicator")?,
            last_gm_phase_change: ScaledNs {
                nanoseconds_msb: r.u16("lastGmPhaseChange")?,
                nanoseconds_lsb: r.u64("lastGmPhaseChange")?,
                fractional_nanoseconds: r.u16("lastGmPhaseChange")?,
            },
            gm_present: r.i32("gmPresent")? != 0,
            gm_identity: r.clock_identity("gmIdentity")?,
        })
    }
    /// cumulativeScaledRateOffset as a ratio (value / 2^41), as pmc prints it.
    pub fn cumulative_rate_offset(&self) -> f64 {
        f64::from(self.cumulative_scaled_rate_offset) / 2f64.powi(41)
    }
}

/// Timestamping of a port (linuxptp's `enum timestamp_type`).
pub fn timestamping_name(v: u8) -> &'static str {
    match v {
        0 => "SOFTWARE",
        1 => "HARDWARE",
        2 => "LEGACY_HW",
        3 => "ONESTEP",
        4 => "P2P1STEP",
        _ => "UNKNOWN",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortPropertiesNp {
    pub port_identity: PortIdentity,
    pub port_state: PortState,
    pub timestamping: u8,
    pub interface: String,
}

impl PortPropertiesNp {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        Ok(PortPropertiesNp {
            port_identity: r.port_identity("portIdentity")?,
            port_state: PortState::from_u8(r.u8("portState")?),
            timestamping: r.u8("timestamping")?,
            interface: r.text("interface")?,
        })
    }
}

/// Message counters per messageType (index = messageType, 16 each way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortStatsNp {
    pub port_identity: PortIdentity,
    pub rx: [u64; 16],
    pub tx: [u64; 16],
}

/// The counters pmc prints, in its order: (index, name).
pub const STATS_COUNTERS: [(usize, &str); 10] = [
    (0, "Sync"),
    (1, "Delay_Req"),
    (2, "Pdelay_Req"),
    (3, "Pdelay_Resp"),
    (8, "Follow_Up"),
    (9, "Delay_Resp"),
    (10, "Pdelay_Resp_Follow_Up"),
    (11, "Announce"),
    (12, "Signaling"),
    (13, "Management"),
];

impl PortStatsNp {
    /// `order` must be resolved (V3 or V4).
    pub(crate) fn decode(r: &mut Reader<'_>, order: StatsOrder) -> Result<Self, MgmtError> {
        let port_identity = r.port_identity("portIdentity")?;
        let mut counters = [[0u64; 16]; 2];
        for (way, field) in counters.iter_mut().zip(["rxMsgType", "txMsgType"]) {
            for slot in way.iter_mut() {
                let bytes = r.array::<8>(field)?;
                *slot = match order {
                    StatsOrder::V3 => u64::from_ne_bytes(bytes),
                    StatsOrder::V4 | StatsOrder::Auto => u64::from_le_bytes(bytes),
                };
            }
        }
        let [rx, tx] = counters;
        Ok(PortStatsNp { port_identity, rx, tx })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrandmasterSettingsNp {
    pub clock_quality: ClockQuality,
    pub current_utc_offset: i16,
    #[serde(flatten)]
    pub flags: TimeFlags,
    pub time_source: u8,
}

impl GrandmasterSettingsNp {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        Ok(GrandmasterSettingsNp {
            clock_quality: r.clock_quality("clockQuality")?,
            current_utc_offset: r.i16("utc_offset")?,
            flags: TimeFlags::from_bits(r.u8("time_flags")?),
            time_source: r.u8("time_source")?,
        })
    }

    /// The dataField of a SET (linuxptp's `struct grandmaster_settings_np`: 8 bytes).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let q = &self.clock_quality;
        let mut out = vec![q.clock_class, q.clock_accuracy];
        out.extend_from_slice(&q.offset_scaled_log_variance.to_be_bytes());
        out.extend_from_slice(&self.current_utc_offset.to_be_bytes());
        out.push(self.flags.bits());
        out.push(self.time_source);
        out
    }
}

/// Events of SUBSCRIBE_EVENTS_NP (bit numbers of its bitmask, linuxptp notification.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    /// 3.1+: a PORT_DATA_SET notification on each port state change.
    NotifyPortState = 0,
    /// 4.0+: TIME_STATUS_NP after each clock update.
    NotifyTimeSync = 1,
    /// 4.2+: PARENT_DATA_SET when it changes.
    NotifyParentDataSet = 2,
    /// 4.3+.
    NotifyCmlds = 3,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscribeEventsNp {
    /// Seconds; 0xFFFF means "never expires" only from linuxptp 4.4.
    pub duration: u16,
    pub bitmask: Vec<u8>,
}

impl SubscribeEventsNp {
    pub fn new(duration: u16, events: &[Event]) -> Self {
        let mut bitmask = vec![0u8; 64];
        for e in events {
            let bit = *e as usize;
            bitmask[bit / 8] |= 1 << (bit % 8);
        }
        SubscribeEventsNp { duration, bitmask }
    }
    pub fn has(&self, e: Event) -> bool {
        let bit = e as usize;
        self.bitmask.get(bit / 8).is_some_and(|b| b >> (bit % 8) & 1 == 1)
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, MgmtError> {
        Ok(SubscribeEventsNp { duration: r.u16("duration")?, bitmask: r.take(64, "bitmask")?.to_vec() })
    }
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.duration.to_be_bytes().to_vec();
        let mut mask = self.bitmask.clone();
        mask.resize(64, 0);
        out.extend_from_slice(&mask);
        out
    }
}
