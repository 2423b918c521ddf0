//! Netlink framing on plain bytes: message and attribute iteration, request building, error and
//! extended-ack decoding. Pure; the socket lives in `socket.rs`. Every length is checked, so a
//! truncated or malformed reply is an error naming what is wrong, never a panic.

use super::NicError;

pub const NLMSG_HDRLEN: usize = 16;
pub const NLA_HDRLEN: usize = 4;
pub const GENL_HDRLEN: usize = 4;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
/// In an error/done message: the original request's payload was cut off.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an error/done message: extended-ack attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

pub const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = !(0x8000 | 0x4000);

/// `NLMSGERR_ATTR_MSG`: the extended-ack text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One netlink message inside a receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: &'a [u8],
}

/// Iterates the messages of one `recv` buffer.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, failed: false }
}

pub struct Messages<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, NicError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() || self.failed {
            return None;
        }
        let result = (|| {
            if self.buf.len() < NLMSG_HDRLEN {
                return Err(NicError::Decode(format!("netlink header truncated: {} bytes left", self.buf.len())));
            }
            let len = read_u32(self.buf, 0) as usize;
            if len < NLMSG_HDRLEN || len > self.buf.len() {
                return Err(NicError::Decode(format!(
                    "netlink message length {len} does not fit the {} bytes received",
                    self.buf.len()
                )));
            }
            let message = Message {
                kind: read_u16(self.buf, 4),
                flags: read_u16(self.buf, 6),
                seq: read_u32(self.buf, 8),
                pid: read_u32(self.buf, 12),
                payload: &self.buf[NLMSG_HDRLEN..len],
            };
            self.buf = &self.buf[align(len).min(self.buf.len())..];
            Ok(message)
        })();
        self.failed = result.is_err();
        Some(result)
    }
}

/// One attribute (type without the nested/byte-order flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub data: &'a [u8],
}

impl<'a> Attr<'a> {
    pub fn u32(&self, what: &str) -> Result<u32, NicError> {
        match self.data.get(..4) {
            Some(b) => Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
            None => Err(NicError::Decode(format!("{what}: expected 4 bytes, got {}", self.data.len()))),
        }
    }

    pub fn u16(&self, what: &str) -> Result<u16, NicError> {
        match self.data.get(..2) {
            Some(b) => Ok(u16::from_ne_bytes([b[0], b[1]])),
            None => Err(NicError::Decode(format!("{what}: expected 2 bytes, got {}", self.data.len()))),
        }
    }

    pub fn u8(&self, what: &str) -> Result<u8, NicError> {
        self.data.first().copied().ok_or_else(|| NicError::Decode(format!("{what}: empty attribute")))
    }

    /// A NUL-terminated (or unterminated) string.
    pub fn string(&self, what: &str) -> Result<String, NicError> {
        let bytes = self.data.split(|b| *b == 0).next().unwrap_or_default();
        String::from_utf8(bytes.to_vec()).map_err(|_| NicError::Decode(format!("{what}: not UTF-8")))
    }

    pub fn nested(&self) -> Attrs<'a> {
        attrs(self.data)
    }
}

/// Iterates the attributes of a payload.
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { buf, failed: false }
}

pub struct Attrs<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, NicError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < NLA_HDRLEN || self.failed {
            // Fewer than 4 bytes left is padding.
            return None;
        }
        let len = read_u16(self.buf, 0) as usize;
        let kind = read_u16(self.buf, 2) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > self.buf.len() {
            self.failed = true;
            return Some(Err(NicError::Decode(format!(
                "attribute {kind} has length {len} but {} bytes remain",
                self.buf.len()
            ))));
        }
        let attr = Attr { kind, data: &self.buf[NLA_HDRLEN..len] };
        self.buf = &self.buf[align(len).min(self.buf.len())..];
        Some(Ok(attr))
    }
}

/// Builds attribute payloads.
#[derive(Default)]
pub struct AttrWriter {
    pub buf: Vec<u8>,
}

impl AttrWriter {
    pub fn u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.raw(kind, &value.to_ne_bytes())
    }

    /// A NUL-terminated string.
    pub fn string(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.raw(kind, &bytes)
    }

    pub fn raw(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = NLA_HDRLEN + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    /// A nested attribute built by `inner`; the nested flag is set (the kernel wants it even
    /// when the nest is empty).
    pub fn nest(&mut self, kind: u16, inner: impl FnOnce(&mut AttrWriter)) -> &mut Self {
        let mut nested = AttrWriter::default();
        inner(&mut nested);
        self.raw(kind | NLA_F_NESTED, &nested.buf)
    }
}

/// A complete netlink message: header then `payload`.
pub fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + payload.len();
    let mut buf = Vec::with_capacity(align(len));
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align(buf.len()), 0);
    buf
}

/// A generic-netlink request: genl header (`cmd`, `version`) then `attrs`.
pub fn genl_message(family: u16, flags: u16, seq: u32, cmd: u8, version: u8, attrs: &[u8]) -> Vec<u8> {
    let mut payload = vec![cmd, version, 0, 0];
    payload.extend_from_slice(attrs);
    message(family, flags, seq, &payload)
}

/// The attributes of a generic-netlink message (after the genl header), and its command.
pub fn genl_payload<'a>(message: &Message<'a>) -> Result<(u8, &'a [u8]), NicError> {
    if message.payload.len() < GENL_HDRLEN {
        return Err(NicError::Decode(format!("generic netlink header truncated: {} bytes", message.payload.len())));
    }
    Ok((message.payload[0], &message.payload[GENL_HDRLEN..]))
}

/// The error code of an `NLMSG_ERROR` or `NLMSG_DONE` message (0 = success/ack) and the kernel's
/// extended-ack text when it sent one.
pub fn error_of(message: &Message<'_>) -> Result<(i32, Option<String>), NicError> {
    let p = message.payload;
    if p.is_empty() && message.kind == NLMSG_DONE {
        return Ok((0, None));
    }
    if p.len() < 4 {
        return Err(NicError::Decode(format!("error message truncated: {} bytes", p.len())));
    }
    let code = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
    if message.flags & NLM_F_ACK_TLVS == 0 {
        return Ok((code, None));
    }
    // NLMSG_ERROR carries the original header (and its payload unless capped); DONE carries none.
    let skip = if message.kind == NLMSG_ERROR {
        let original = p.get(4..8).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize).unwrap_or(0);
        4 + if message.flags & NLM_F_CAPPED != 0 { NLMSG_HDRLEN } else { align(original.max(NLMSG_HDRLEN)) }
    } else {
        4
    };
    let text = attrs(p.get(skip..).unwrap_or_default())
        .filter_map(Result::ok)
        .find(|a| a.kind == NLMSGERR_ATTR_MSG)
        .and_then(|a| a.string("ext ack").ok())
        .filter(|s| !s.is_empty());
    Ok((code, text))
}

/// One receive buffer of a request/response exchange for sequence number `seq`: appends the
/// payloads of its replies of type `reply_kind` to `replies` and says whether the exchange is
/// over (`NLMSG_DONE` after a dump, the ack after a request). A kernel error ends it with
/// [`NicError::Kernel`]; messages of other sequence numbers and kinds are skipped.
pub fn collect_replies(buf: &[u8], seq: u32, reply_kind: u16, replies: &mut Vec<Vec<u8>>) -> Result<bool, NicError> {
    for m in messages(buf) {
        let m = m?;
        if m.seq != seq {
            continue;
        }
        match m.kind {
            NLMSG_DONE | NLMSG_ERROR => {
                let (code, text) = error_of(&m)?;
                if code != 0 {
                    // The kernel sends -errno; saturate on a malformed i32::MIN.
                    return Err(NicError::Kernel { errno: code.saturating_neg(), message: text });
                }
                return Ok(true);
            }
            k if k == reply_kind => replies.push(m.payload.to_vec()),
            _ => {}
        }
    }
    Ok(false)
}

fn read_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([buf[at], buf[at + 1]])
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_align() {
        let mut buf = message(20, NLM_F_MULTI, 7, &[1, 2, 3]);
        buf.extend(message(NLMSG_DONE, NLM_F_MULTI, 7, &0i32.to_ne_bytes()));
        let all: Vec<Message<'_>> = messages(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].kind, all[0].seq, all[0].payload), (20, 7, &[1u8, 2, 3][..]));
        assert_eq!(error_of(&all[1]).unwrap(), (0, None));
    }

    #[test]
    fn replies_of_an_exchange_are_collected_until_done_or_error() {
        let mut buf = message(16, NLM_F_MULTI, 7, &[1]);
        buf.extend(message(16, NLM_F_MULTI, 8, &[2]));
        buf.extend(message(17, NLM_F_MULTI, 7, &[3]));
        let mut replies = Vec::new();
        assert!(!collect_replies(&buf, 7, 16, &mut replies).unwrap(), "not over without DONE");
        buf.extend(message(NLMSG_DONE, NLM_F_MULTI, 7, &0i32.to_ne_bytes()));
        buf.extend(message(16, NLM_F_MULTI, 7, &[4]));
        assert!(collect_replies(&buf, 7, 16, &mut replies).unwrap());
        assert_eq!(replies, vec![vec![1], vec![1]], "only seq 7 of kind 16, up to DONE");
        let error = message(NLMSG_ERROR, 0, 7, &(-19i32).to_ne_bytes());
        match collect_replies(&error, 7, 16, &mut replies) {
            Err(NicError::Kernel { errno: 19, message: None }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_error_code_of_i32_min_is_an_error_not_an_overflow() {
        // Found by the link_dump fuzz target: seq 138, then an NLMSG_DONE of that seq whose code is
        // i32::MIN; negating it overflowed.
        let crash = [
            0x8a, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0xfa, 0x8a, 0x00, 0x00, 0x00, 0x00, 0x48,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x01, 0x00, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0xac, 0xac,
            0xac, 0xac, 0xac, 0xac, 0x80, 0xb9,
        ];
        let (seq, buf) = crash.split_at(4);
        let seq = u32::from_ne_bytes([seq[0], seq[1], seq[2], seq[3]]);
        assert!(collect_replies(buf, seq, 16, &mut Vec::new()).is_err());
        let error = message(NLMSG_ERROR, 0, 1, &i32::MIN.to_ne_bytes());
        match collect_replies(&error, 1, 16, &mut Vec::new()) {
            Err(NicError::Kernel { errno: i32::MAX, message: None }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_messages_are_errors_not_panics() {
        let buf = message(20, 0, 1, &[0; 8]);
        assert!(messages(&buf[..10]).next().unwrap().is_err());
        let mut bad = buf.clone();
        bad[0] = 200;
        let err = messages(&bad).next().unwrap().unwrap_err().to_string();
        assert!(err.contains("length 200"), "{err}");
        // After an error the iterator stops.
        assert_eq!(messages(&bad).count(), 1);
    }

    #[test]
    fn attributes_nest_and_decode() {
        let mut w = AttrWriter::default();
        w.nest(1, |n| {
            n.u32(3, 1).string(2, "eth0");
        })
        .u32(5, 42);
        let top: Vec<Attr<'_>> = attrs(&w.buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].kind, 1, "nested flag is masked");
        let inner: Vec<Attr<'_>> = top[0].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].u32("flags").unwrap(), 1);
        assert_eq!(inner[1].string("name").unwrap(), "eth0");
        assert_eq!(top[1].u32("phc").unwrap(), 42);
        assert!(Attr { kind: 1, data: &[1, 2] }.u32("x").is_err());
    }

    #[test]
    fn empty_nest_has_the_nested_flag() {
        let mut w = AttrWriter::default();
        w.nest(1, |_| {});
        assert_eq!(u16::from_ne_bytes([w.buf[2], w.buf[3]]), 1 | NLA_F_NESTED);
        assert_eq!(w.buf.len(), 4);
    }

    #[test]
    fn extended_ack_text_is_extracted() {
        let request = message(21, NLM_F_REQUEST, 9, &[0; 8]);
        let mut payload = (-19i32).to_ne_bytes().to_vec();
        payload.extend_from_slice(&request[..NLMSG_HDRLEN]);
        let mut tlv = AttrWriter::default();
        tlv.string(NLMSGERR_ATTR_MSG, "no device matches name");
        payload.extend(tlv.buf);
        let buf = message(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 9, &payload);
        let m = messages(&buf).next().unwrap().unwrap();
        assert_eq!(error_of(&m).unwrap(), (-19, Some("no device matches name".into())));
    }

    #[test]
    fn bad_attribute_length_is_an_error() {
        let buf = [8u8, 0, 1, 0, 1, 2];
        let err = attrs(&buf).next().unwrap().unwrap_err().to_string();
        assert!(err.contains("attribute 1 has length 8"), "{err}");
        assert!(attrs(&[1, 2, 3]).next().is_none(), "padding");
    }
}
