//! The I/O edge of discovery: netlink sockets (neli's `NlSocket`), requests and reading replies
//! until `NLMSG_DONE`. neli's `NlRouter` is not used for dumps: the kernel omits `NLM_F_MULTI`
//! on ethtool dump replies and the router would stop after the first one.

use neli::consts::socket::Msg;
use neli::consts::socket::NlFamily;
use neli::socket::NlSocket;
use neli::utils::Groups;

use super::NicError;
use super::link::{Link, RTM_GETLINK, RTM_NEWLINK, RTNLGRP_LINK, decode_link, dump_request_payload};
use super::netlink::{
    AttrWriter, Message, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, collect_replies, genl_message, genl_payload, message,
};
use super::tsinfo::{
    ETHTOOL_GENL_NAME, ETHTOOL_GENL_VERSION, ETHTOOL_MSG_TSINFO_GET, FLAG_COMPACT_BITSETS, HEADER_DEV_INDEX,
    HEADER_DEV_NAME, HEADER_FLAGS, TSINFO_HEADER, TsInfo, decode_tsinfo,
};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const RECV_BUFFER: usize = 64 * 1024;

/// A netlink socket with request/response helpers.
pub struct Netlink {
    socket: NlSocket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    pub fn open(family: NlFamily) -> Result<Self, NicError> {
        let socket = NlSocket::connect(family, None, Groups::empty()).map_err(|e| NicError::Socket(e.to_string()))?;
        // Extended acks give the kernel's own error text ("no device matches name").
        let _ = socket.enable_ext_ack(true);
        Ok(Netlink { socket, seq: std::process::id().wrapping_mul(1000), buf: vec![0; RECV_BUFFER] })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `request` (built for sequence `seq`) and returns the payloads of every reply
    /// of type `reply_kind`, reading until `NLMSG_DONE` (dumps) or the ack/error (requests).
    fn exchange(&mut self, request: &[u8], seq: u32, reply_kind: u16) -> Result<Vec<Vec<u8>>, NicError> {
        self.socket.send(request, Msg::empty()).map_err(|e| NicError::Socket(e.to_string()))?;
        let mut replies = Vec::new();
        loop {
            let (len, _) =
                self.socket.recv(&mut self.buf[..], Msg::empty()).map_err(|e| NicError::Socket(e.to_string()))?;
            if len == 0 {
                return Err(NicError::Socket("netlink socket closed".into()));
            }
            if collect_replies(&self.buf[..len.min(self.buf.len())], seq, reply_kind, &mut replies)? {
                return Ok(replies);
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Device<'a> {
    Index(u32),
    Name(&'a str),
}

/// The ethtool generic-netlink family on one socket.
pub struct Ethtool {
    netlink: Netlink,
    family: u16,
}

impl Ethtool {
    /// Opens a generic netlink socket and resolves the `ethtool` family.
    pub fn open() -> Result<Self, NicError> {
        let mut netlink = Netlink::open(NlFamily::Generic)?;
        let seq = netlink.next_seq();
        let mut attrs = AttrWriter::default();
        attrs.string(CTRL_ATTR_FAMILY_NAME, ETHTOOL_GENL_NAME);
        let request = genl_message(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, CTRL_CMD_GETFAMILY, 1, &attrs.buf);
        let replies = netlink.exchange(&request, seq, GENL_ID_CTRL)?;
        let mut family = None;
        for payload in &replies {
            let m = Message { kind: GENL_ID_CTRL, flags: 0, seq, pid: 0, payload };
            let (_, attrs) = genl_payload(&m)?;
            for a in super::netlink::attrs(attrs) {
                let a = a?;
                if a.kind == CTRL_ATTR_FAMILY_ID {
                    family = Some(a.u16("family id")?);
                }
            }
        }
        let family =
            family.ok_or_else(|| NicError::Decode("the kernel did not return the ethtool family id".into()))?;
        Ok(Ethtool { netlink, family })
    }

    /// Dumps TSINFO for every interface of the network namespace (one reply per interface, or
    /// several on kernels that report each timestamping provider).
    pub fn dump_tsinfo(&mut self, compact: bool) -> Result<Vec<TsInfo>, NicError> {
        self.request_tsinfo(None, compact)
    }

    /// TSINFO of one interface (also answers for devices a dump skips).
    pub fn tsinfo(&mut self, ifindex: u32, compact: bool) -> Result<TsInfo, NicError> {
        self.tsinfo_of(Device::Index(ifindex), compact)
    }

    /// TSINFO of the interface called `name`.
    pub fn tsinfo_by_name(&mut self, name: &str, compact: bool) -> Result<TsInfo, NicError> {
        self.tsinfo_of(Device::Name(name), compact)
    }

    fn tsinfo_of(&mut self, device: Device<'_>, compact: bool) -> Result<TsInfo, NicError> {
        let what = match device {
            Device::Index(ifindex) => format!("ifindex {ifindex}"),
            Device::Name(name) => format!("interface {name}"),
        };
        self.request_tsinfo(Some(device), compact)?
            .into_iter()
            .next()
            .ok_or_else(|| NicError::Decode(format!("no TSINFO reply for {what}")))
    }

    /// A TSINFO request: a dump without `device`, else a single-device request with an ack.
    fn request_tsinfo(&mut self, device: Option<Device<'_>>, compact: bool) -> Result<Vec<TsInfo>, NicError> {
        let seq = self.netlink.next_seq();
        let mut attrs = AttrWriter::default();
        attrs.nest(TSINFO_HEADER, |h| {
            match device {
                Some(Device::Index(ifindex)) => {
                    h.u32(HEADER_DEV_INDEX, ifindex);
                }
                Some(Device::Name(name)) => {
                    h.string(HEADER_DEV_NAME, name);
                }
                None => {}
            }
            if compact {
                h.u32(HEADER_FLAGS, FLAG_COMPACT_BITSETS);
            }
        });
        let flags = if device.is_some() { NLM_F_REQUEST | NLM_F_ACK } else { NLM_F_REQUEST | NLM_F_DUMP };
        let request = genl_message(self.family, flags, seq, ETHTOOL_MSG_TSINFO_GET, ETHTOOL_GENL_VERSION, &attrs.buf);
        self.decode_replies(&request, seq)
    }

    fn decode_replies(&mut self, request: &[u8], seq: u32) -> Result<Vec<TsInfo>, NicError> {
        let family = self.family;
        let replies = self.netlink.exchange(request, seq, family)?;
        replies
            .iter()
            .map(|payload| {
                let m = Message { kind: family, flags: 0, seq, pid: 0, payload };
                let (_, attrs) = genl_payload(&m)?;
                decode_tsinfo(attrs)
            })
            .collect()
    }
}

/// A route socket subscribed to link notifications (`RTNLGRP_LINK`), non-blocking.
pub fn link_notifications() -> Result<NlSocket, NicError> {
    let socket = NlSocket::connect(NlFamily::Route, None, Groups::new_groups(&[RTNLGRP_LINK]))
        .map_err(|e| NicError::Socket(format!("subscribing to link notifications: {e}")))?;
    socket.nonblock().map_err(|e| NicError::Socket(e.to_string()))?;
    Ok(socket)
}

/// Dumps every link of the network namespace over rtnetlink.
pub fn dump_links() -> Result<Vec<Link>, NicError> {
    let mut netlink = Netlink::open(NlFamily::Route)?;
    let seq = netlink.next_seq();
    let request = message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, &dump_request_payload());
    netlink.exchange(&request, seq, RTM_NEWLINK)?.iter().map(|p| decode_link(p)).collect()
}
