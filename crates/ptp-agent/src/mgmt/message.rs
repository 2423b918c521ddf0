//! Whole management messages: encoding requests as pmc builds them, decoding replies and
//! notifications (header, then one MANAGEMENT or MANAGEMENT_ERROR_STATUS TLV).

use serde::Serialize;

use super::MgmtError;
use super::dataset::*;
use super::id::ManagementId;
use super::wire::{PortIdentity, Reader};

/// messageType of management messages.
pub const MESSAGE_TYPE_MANAGEMENT: u8 = 0xD;
/// Header (34) + management fields (14).
pub const HEADER_LEN: usize = 48;
const TLV_MANAGEMENT: u16 = 0x0001;
const TLV_MANAGEMENT_ERROR_STATUS: u16 = 0x0002;

/// actionField.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Get = 0,
    Set = 1,
    Response = 2,
    Command = 3,
    Acknowledge = 4,
}

impl Action {
    fn from_u8(v: u8) -> Result<Self, MgmtError> {
        Ok(match v {
            0 => Self::Get,
            1 => Self::Set,
            2 => Self::Response,
            3 => Self::Command,
            4 => Self::Acknowledge,
            other => return Err(MgmtError::Malformed { what: "header", message: format!("actionField {other}") }),
        })
    }
    /// pmc's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Set => "SET",
            Self::Response => "RESPONSE",
            Self::Command => "COMMAND",
            Self::Acknowledge => "ACKNOWLEDGE",
        }
    }
}

/// Header fields of a request: what pmc puts there. `Default` is pmc's `-u -b 0` with domain 0
/// and the source identity derived from this process id as pmc derives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// transportSpecific (high nibble of byte 0); pmc `-t`, default 0.
    pub transport_specific: u8,
    /// Byte 1: 0x02 (versionPTP 2, minor 0), what 3.1's pmc sends; 4.x accepts it too.
    pub version: u8,
    /// Must equal ptp4l's `domainNumber`, or ptp4l drops the request silently.
    pub domain: u8,
    pub source: PortIdentity,
    /// Wildcard by default: every port answers port-scoped ids.
    pub target: PortIdentity,
    /// Keep 0: more makes ptp4l forward the request out of its network ports.
    pub boundary_hops: u8,
}

impl Default for RequestHeader {
    fn default() -> Self {
        RequestHeader {
            transport_specific: 0,
            version: 0x02,
            domain: 0,
            source: source_identity(std::process::id()),
            target: PortIdentity::ALL,
            boundary_hops: 0,
        }
    }
}

/// pmc's source identity over UDS: clock identity bytes 6–7 = top 16 bits of the pid, port = low 16.
pub fn source_identity(pid: u32) -> PortIdentity {
    let mut clock = [0u8; 8];
    clock[6] = (pid >> 24) as u8;
    clock[7] = (pid >> 16) as u8;
    PortIdentity { clock: super::wire::ClockIdentity(clock), port: (pid & 0xFFFF) as u16 }
}

/// A request to send: GET with pmc's zero-filled body, or SET with a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: Action,
    pub id: ManagementId,
    pub data: Vec<u8>,
}

impl Request {
    /// GET `id` with a zero-filled dataset-sized body, as pmc sends it by default.
    pub fn get(id: ManagementId) -> Self {
        Request { action: Action::Get, id, data: vec![0; id.get_body_len()] }
    }
    /// SET SUBSCRIBE_EVENTS_NP (read-write socket only).
    pub fn subscribe(events: &SubscribeEventsNp) -> Self {
        Request { action: Action::Set, id: ManagementId::SUBSCRIBE_EVENTS_NP, data: events.encode() }
    }

    /// SET GRANDMASTER_SETTINGS_NP (read-write socket only).
    pub fn set_grandmaster_settings(settings: &super::dataset::GrandmasterSettingsNp) -> Self {
        Request { action: Action::Set, id: ManagementId::GRANDMASTER_SETTINGS_NP, data: settings.encode() }
    }

    /// The datagram. The dataField is padded to even length; a body too large for one message
    /// is an error.
    pub fn encode(&self, header: &RequestHeader, sequence_id: u16) -> Result<Vec<u8>, MgmtError> {
        let mut data = self.data.clone();
        if data.len() % 2 == 1 {
            data.push(0);
        }
        let tlv_len = u16::try_from(2 + data.len())
            .ok()
            .filter(|l| HEADER_LEN + 4 + usize::from(*l) <= 1500)
            .ok_or(MgmtError::Malformed { what: "request", message: format!("{} bytes of data", data.len()) })?;
        let total = (HEADER_LEN + 4 + usize::from(tlv_len)) as u16;
        let mut out = Vec::with_capacity(usize::from(total));
        out.push((header.transport_specific & 0xF) << 4 | MESSAGE_TYPE_MANAGEMENT);
        out.push(header.version);
        out.extend_from_slice(&total.to_be_bytes());
        out.push(header.domain);
        out.push(0); // minorSdoId
        out.extend_from_slice(&[0; 2]); // flagField
        out.extend_from_slice(&[0; 8]); // correctionField
        out.extend_from_slice(&[0; 4]); // messageTypeSpecific
        header.source.put(&mut out);
        out.extend_from_slice(&sequence_id.to_be_bytes());
        out.push(0); // controlField: linuxptp leaves 0
        out.push(0x7F); // logMessageInterval
        header.target.put(&mut out);
        out.push(header.boundary_hops);
        out.push(header.boundary_hops);
        out.push(self.action as u8);
        out.push(0);
        out.extend_from_slice(&TLV_MANAGEMENT.to_be_bytes());
        out.extend_from_slice(&tlv_len.to_be_bytes());
        out.extend_from_slice(&self.id.0.to_be_bytes());
        out.extend_from_slice(&data);
        Ok(out)
    }
}

/// The header of a received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub transport_specific: u8,
    pub version: u8,
    pub minor_version: u8,
    pub domain: u8,
    pub source: PortIdentity,
    pub sequence_id: u16,
    pub target: PortIdentity,
    pub action: Action,
}

/// MANAGEMENT_ERROR_STATUS: the error and the id it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorStatus {
    pub error: u16,
    pub id: ManagementId,
    pub display: String,
}

impl ErrorStatus {
    /// The error's name (tlv.h).
    pub fn error_name(&self) -> &'static str {
        match self.error {
            0x0001 => "RESPONSE_TOO_BIG",
            0x0002 => "NO_SUCH_ID",
            0x0003 => "WRONG_LENGTH",
            0x0004 => "WRONG_VALUE",
            0x0005 => "NOT_SETABLE",
            0x0006 => "NOT_SUPPORTED",
            0x0007 => "UNPOPULATED",
            0xFFFE => "GENERAL_ERROR",
            _ => "UNKNOWN",
        }
    }
}

/// The dataset of a MANAGEMENT TLV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "id", content = "data", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tlv {
    DefaultDataSet(DefaultDataSet),
    CurrentDataSet(CurrentDataSet),
    ParentDataSet(ParentDataSet),
    TimePropertiesDataSet(TimePropertiesDataSet),
    PortDataSet(PortDataSet),
    TimeStatusNp(TimeStatusNp),
    PortPropertiesNp(PortPropertiesNp),
    PortStatsNp(Box<PortStatsNp>),
    GrandmasterSettingsNp(GrandmasterSettingsNp),
    SubscribeEventsNp(SubscribeEventsNp),
    /// A TLV with no dataField (lengthField 2; pmc's `empty-tlv`).
    Empty(ManagementId),
    /// An id this module does not decode, with its raw dataField.
    Other {
        id: u16,
        data: Vec<u8>,
    },
}

impl Tlv {
    pub fn id(&self) -> ManagementId {
        match self {
            Tlv::DefaultDataSet(_) => ManagementId::DEFAULT_DATA_SET,
            Tlv::CurrentDataSet(_) => ManagementId::CURRENT_DATA_SET,
            Tlv::ParentDataSet(_) => ManagementId::PARENT_DATA_SET,
            Tlv::TimePropertiesDataSet(_) => ManagementId::TIME_PROPERTIES_DATA_SET,
            Tlv::PortDataSet(_) => ManagementId::PORT_DATA_SET,
            Tlv::TimeStatusNp(_) => ManagementId::TIME_STATUS_NP,
            Tlv::PortPropertiesNp(_) => ManagementId::PORT_PROPERTIES_NP,
            Tlv::PortStatsNp(_) => ManagementId::PORT_STATS_NP,
            Tlv::GrandmasterSettingsNp(_) => ManagementId::GRANDMASTER_SETTINGS_NP,
            Tlv::SubscribeEventsNp(_) => ManagementId::SUBSCRIBE_EVENTS_NP,
            Tlv::Empty(id) => *id,
            Tlv::Other { id, .. } => ManagementId(*id),
        }
    }

    fn decode(id: ManagementId, data: &[u8], order: StatsOrder) -> Result<Tlv, MgmtError> {
        if data.is_empty() {
            return Ok(Tlv::Empty(id));
        }
        let what = id.name().unwrap_or("management TLV");
        let r = &mut Reader::new(data, what);
        Ok(match id {
            ManagementId::DEFAULT_DATA_SET => Tlv::DefaultDataSet(DefaultDataSet::decode(r)?),
            ManagementId::CURRENT_DATA_SET => Tlv::CurrentDataSet(CurrentDataSet::decode(r)?),
            ManagementId::PARENT_DATA_SET => Tlv::ParentDataSet(ParentDataSet::decode(r)?),
            ManagementId::TIME_PROPERTIES_DATA_SET => Tlv::TimePropertiesDataSet(TimePropertiesDataSet::decode(r)?),
            ManagementId::PORT_DATA_SET => Tlv::PortDataSet(PortDataSet::decode(r)?),
            ManagementId::TIME_STATUS_NP => Tlv::TimeStatusNp(TimeStatusNp::decode(r)?),
            ManagementId::PORT_PROPERTIES_NP => Tlv::PortPropertiesNp(PortPropertiesNp::decode(r)?),
            ManagementId::PORT_STATS_NP => Tlv::PortStatsNp(Box::new(PortStatsNp::decode(r, order)?)),
            ManagementId::GRANDMASTER_SETTINGS_NP => Tlv::GrandmasterSettingsNp(GrandmasterSettingsNp::decode(r)?),
            ManagementId::SUBSCRIBE_EVENTS_NP => Tlv::SubscribeEventsNp(SubscribeEventsNp::decode(r)?),
            other => Tlv::Other { id: other.0, data: data.to_vec() },
        })
    }
}

/// What a management message carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Body {
    Data(Tlv),
    Error(ErrorStatus),
}

impl Body {
    /// The managementId it answers.
    pub fn id(&self) -> ManagementId {
        match self {
            Body::Data(t) => t.id(),
            Body::Error(e) => e.id,
        }
    }
}

/// A decoded management message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Decodes one datagram. `order` says how to read PORT_STATS_NP counters (see [`StatsOrder`]).
/// Never panics: a short or inconsistent message is an error naming what is wrong.
pub fn decode(bytes: &[u8], order: StatsOrder) -> Result<Message, MgmtError> {
    let r = &mut Reader::new(bytes, "header");
    let b0 = r.u8("messageType")?;
    if b0 & 0xF != MESSAGE_TYPE_MANAGEMENT {
        return Err(MgmtError::Malformed {
            what: "header",
            message: format!("messageType {:#x}, not management (0xd)", b0 & 0xF),
        });
    }
    let version = r.u8("versionPTP")?;
    if version & 0xF != 2 {
        return Err(MgmtError::Malformed { what: "header", message: format!("versionPTP {}", version & 0xF) });
    }
    let length = usize::from(r.u16("messageLength")?);
    if length > bytes.len() {
        return Err(MgmtError::Short { what: "message", field: "messageLength", need: length, got: bytes.len() });
    }
    // Bytes past messageLength (none from ptp4l) are ignored, as linuxptp does.
    let r = &mut Reader::new(&bytes[..length], "header");
    r.take(4, "messageLength")?;
    let domain = r.u8("domainNumber")?;
    r.take(15, "flags/correction")?;
    let source = r.port_identity("sourcePortIdentity")?;
    let sequence_id = r.u16("sequenceId")?;
    r.take(2, "control/logMessageInterval")?;
    let target = r.port_identity("targetPortIdentity")?;
    r.take(2, "boundaryHops")?;
    let action = Action::from_u8(r.u8("actionField")? & 0xF)?;
    r.u8("reserved")?;
    let header = Header {
        transport_specific: b0 >> 4,
        version: version & 0xF,
        minor_version: version >> 4,
        domain,
        source,
        sequence_id,
        target,
        action,
    };
    let r = &mut Reader::new(&bytes[HEADER_LEN.min(length)..length], "TLV");
    let tlv_type = r.u16("tlvType")?;
    let tlv_len = usize::from(r.u16("lengthField")?);
    let value = r.take(tlv_len, "TLV value (lengthField)")?;
    let v = &mut Reader::new(value, "TLV");
    let body = match tlv_type {
        TLV_MANAGEMENT => {
            let id = ManagementId(v.u16("managementId")?);
            Body::Data(Tlv::decode(id, &value[2..], order.resolve(header.minor_version))?)
        }
        TLV_MANAGEMENT_ERROR_STATUS => {
            let error = v.u16("managementErrorId")?;
            let id = ManagementId(v.u16("managementId")?);
            v.take(4, "reserved")?;
            let display = if value.len() > 8 { v.text("displayData")? } else { String::new() };
            Body::Error(ErrorStatus { error, id, display })
        }
        other => {
            return Err(MgmtError::Malformed { what: "TLV", message: format!("tlvType {other:#06x}, not MANAGEMENT") });
        }
    };
    Ok(Message { header, body })
}
