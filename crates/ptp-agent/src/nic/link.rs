//! Decoding rtnetlink link messages (`RTM_NEWLINK`): index, name, operational state and kind.

use super::NicError;
use super::netlink::attrs;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
/// Multicast group of link notifications.
pub const RTNLGRP_LINK: u32 = 1;

const IFINFOMSG_LEN: usize = 16;
const IFLA_IFNAME: u16 = 3;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;

/// One network interface as rtnetlink reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub ifindex: u32,
    pub name: String,
    /// RFC 2863 operational state (`IF_OPER_UP` = 6).
    pub operstate: Option<u8>,
    /// Link kind of virtual devices (`veth`, `bridge`, ...).
    pub kind: Option<String>,
    /// `IFF_*` flags of the `ifinfomsg`.
    pub flags: u32,
}

/// `IFF_LOOPBACK`
pub const IFF_LOOPBACK: u32 = 0x8;

impl Link {
    pub fn is_loopback(&self) -> bool {
        self.flags & IFF_LOOPBACK != 0
    }

    /// The operational state as sysfs spells it (`up`, `down`, ...).
    pub fn operstate_name(&self) -> Option<&'static str> {
        self.operstate.map(|s| match s {
            1 => "notpresent",
            2 => "down",
            3 => "lowerlayerdown",
            4 => "testing",
            5 => "dormant",
            6 => "up",
            _ => "unknown",
        })
    }
}

const IFLA_EXT_MASK: u16 = 29;
/// `RTEXT_FILTER_SKIP_STATS`: leave the statistics out of the dump (a third of its size).
const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;

/// The payload of an `RTM_GETLINK` dump request: an all-zero `ifinfomsg` (any family) and an
/// extension mask that skips statistics.
pub fn dump_request_payload() -> Vec<u8> {
    let mut payload = vec![0; IFINFOMSG_LEN];
    let mut attrs = super::netlink::AttrWriter::default();
    attrs.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    payload.extend(attrs.buf);
    payload
}

/// Decodes an `RTM_NEWLINK` payload.
pub fn decode_link(payload: &[u8]) -> Result<Link, NicError> {
    if payload.len() < IFINFOMSG_LEN {
        return Err(NicError::Decode(format!("ifinfomsg truncated: {} bytes", payload.len())));
    }
    let index = i32::from_ne_bytes([payload[4], payload[5], payload[6], payload[7]]);
    let flags = u32::from_ne_bytes([payload[8], payload[9], payload[10], payload[11]]);
    let mut link = Link { ifindex: index.max(0) as u32, flags, ..Default::default() };
    for attr in attrs(&payload[IFINFOMSG_LEN..]) {
        let attr = attr?;
        match attr.kind {
            IFLA_IFNAME => link.name = attr.string("link name")?,
            IFLA_OPERSTATE => link.operstate = Some(attr.u8("operstate")?),
            IFLA_LINKINFO => {
                for info in attr.nested() {
                    let info = info?;
                    if info.kind == IFLA_INFO_KIND {
                        link.kind = Some(info.string("link kind")?);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::super::netlink::AttrWriter;
    use super::*;

    #[test]
    fn decodes_name_state_and_kind() {
        let mut payload = vec![0u8; IFINFOMSG_LEN];
        payload[4..8].copy_from_slice(&5i32.to_ne_bytes());
        payload[8..12].copy_from_slice(&0x1003u32.to_ne_bytes());
        let mut w = AttrWriter::default();
        w.string(IFLA_IFNAME, "veth0").raw(IFLA_OPERSTATE, &[6]).nest(IFLA_LINKINFO, |n| {
            n.string(IFLA_INFO_KIND, "veth");
        });
        payload.extend(w.buf);
        let link = decode_link(&payload).unwrap();
        assert_eq!(
            link,
            Link { ifindex: 5, name: "veth0".into(), operstate: Some(6), kind: Some("veth".into()), flags: 0x1003 }
        );
        assert_eq!(link.operstate_name(), Some("up"));
        assert!(!link.is_loopback());
        assert!(decode_link(&payload[..10]).is_err());
    }
}
