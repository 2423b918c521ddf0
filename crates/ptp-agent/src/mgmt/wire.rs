//! Byte-level pieces: a bounds-checked reader that names what it was reading when the data runs
//! out, and the common PTP types (ClockIdentity, PortIdentity, ClockQuality).

use std::fmt;

use serde::Serialize;

use super::MgmtError;

/// Reads big-endian fields from a slice; every read checks the length first.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// What is being read (`PARENT_DATA_SET`), for errors.
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Reader { data, pos: 0, what }
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], MgmtError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or(MgmtError::Short {
            what: self.what,
            field,
            need: self.pos.saturating_add(n),
            got: self.data.len(),
        })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], MgmtError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, MgmtError> {
        Ok(self.array::<1>(field)?[0])
    }
    pub(crate) fn i8(&mut self, field: &'static str) -> Result<i8, MgmtError> {
        Ok(i8::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, MgmtError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn i16(&mut self, field: &'static str) -> Result<i16, MgmtError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, MgmtError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, MgmtError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64, MgmtError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn clock_identity(&mut self, field: &'static str) -> Result<ClockIdentity, MgmtError> {
        Ok(ClockIdentity(self.array(field)?))
    }
    pub(crate) fn port_identity(&mut self, field: &'static str) -> Result<PortIdentity, MgmtError> {
        Ok(PortIdentity { clock: self.clock_identity(field)?, port: self.u16(field)? })
    }
    pub(crate) fn clock_quality(&mut self, field: &'static str) -> Result<ClockQuality, MgmtError> {
        Ok(ClockQuality {
            clock_class: self.u8(field)?,
            clock_accuracy: self.u8(field)?,
            offset_scaled_log_variance: self.u16(field)?,
        })
    }
    /// A PTPText: one length byte, then that many bytes (shown lossily as UTF-8).
    pub(crate) fn text(&mut self, field: &'static str) -> Result<String, MgmtError> {
        let len = self.u8(field)?;
        Ok(String::from_utf8_lossy(self.take(usize::from(len), field)?).into_owned())
    }
}

/// An 8-byte clock identity, shown as pmc shows it: `xxxxxx.xxxx.xxxxxx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClockIdentity(pub [u8; 8]);

impl ClockIdentity {
    /// The all-ones wildcard (every clock).
    pub const ALL: ClockIdentity = ClockIdentity([0xFF; 8]);
}

impl fmt::Display for ClockIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(f, "{:02x}{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7])
    }
}

impl Serialize for ClockIdentity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A clock identity and a port number, shown `<clock>-<port>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortIdentity {
    pub clock: ClockIdentity,
    pub port: u16,
}

impl PortIdentity {
    /// The wildcard target: every clock, every port (pmc's default target).
    pub const ALL: PortIdentity = PortIdentity { clock: ClockIdentity::ALL, port: 0xFFFF };

    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.clock.0);
        out.extend_from_slice(&self.port.to_be_bytes());
    }
}

impl fmt::Display for PortIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.clock, self.port)
    }
}

impl Serialize for PortIdentity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// clockClass, clockAccuracy, offsetScaledLogVariance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockQuality {
    pub clock_class: u8,
    pub clock_accuracy: u8,
    pub offset_scaled_log_variance: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_print_like_pmc() {
        let c = ClockIdentity([0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0xb9]);
        assert_eq!(c.to_string(), "507c6f.fffe.1fb1b9");
        assert_eq!(PortIdentity { clock: c, port: 4 }.to_string(), "507c6f.fffe.1fb1b9-4");
    }

    #[test]
    fn short_reads_name_the_field_and_sizes() {
        let mut r = Reader::new(&[1, 2, 3], "TEST");
        assert_eq!(r.u16("a").unwrap(), 0x0102);
        let e = r.u16("b").unwrap_err().to_string();
        assert!(e.contains("TEST") && e.contains("b") && e.contains("4") && e.contains("3"), "{e}");
        // A huge length does not overflow.
        assert!(r.take(usize::MAX, "c").is_err());
    }
}
