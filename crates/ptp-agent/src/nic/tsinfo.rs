//! Decoding `ETHTOOL_MSG_TSINFO_GET_REPLY`: the header (ifindex, name), the timestamping, TX type
//! and RX filter bitsets in compact or verbose form, and the PHC index. Unknown attributes are
//! skipped, so newer kernels work; malformed ones are errors.

use std::collections::BTreeMap;

use super::NicError;
use super::names::{RX_FILTER_NAMES, TIMESTAMPING_NAMES, TX_TYPE_NAMES, bit_name};
use super::netlink::{Attr, attrs};

/// Generic netlink family and commands of ethtool (not in neli).
pub const ETHTOOL_GENL_NAME: &str = "ethtool";
pub const ETHTOOL_GENL_VERSION: u8 = 1;
pub const ETHTOOL_MSG_TSINFO_GET: u8 = 25;
pub const ETHTOOL_MSG_TSINFO_GET_REPLY: u8 = 26;

// ETHTOOL_A_TSINFO_*
pub const TSINFO_HEADER: u16 = 1;
pub const TSINFO_TIMESTAMPING: u16 = 2;
pub const TSINFO_TX_TYPES: u16 = 3;
pub const TSINFO_RX_FILTERS: u16 = 4;
pub const TSINFO_PHC_INDEX: u16 = 5;

// ETHTOOL_A_HEADER_*
pub const HEADER_DEV_INDEX: u16 = 1;
pub const HEADER_DEV_NAME: u16 = 2;
pub const HEADER_FLAGS: u16 = 3;
/// `ETHTOOL_FLAG_COMPACT_BITSETS`
pub const FLAG_COMPACT_BITSETS: u32 = 1;

// ETHTOOL_A_BITSET_*
const BITSET_NOMASK: u16 = 1;
const BITSET_SIZE: u16 = 2;
const BITSET_BITS: u16 = 3;
const BITSET_VALUE: u16 = 4;
// ETHTOOL_A_BITSET_BITS_BIT and ETHTOOL_A_BITSET_BIT_*
const BITS_BIT: u16 = 1;
const BIT_INDEX: u16 = 1;
const BIT_NAME: u16 = 2;
const BIT_VALUE: u16 = 3;

/// A decoded bitset: the set bits in order, with the kernel's names when it sent them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitSet {
    pub bits: Vec<u32>,
    pub kernel_names: BTreeMap<u32, String>,
}

impl BitSet {
    pub fn contains(&self, bit: u32) -> bool {
        self.bits.contains(&bit)
    }

    /// Names of the set bits: the kernel's, else the table's, else `bitN`.
    pub fn names(&self, table: &[&str]) -> Vec<String> {
        self.bits.iter().map(|b| self.kernel_names.get(b).cloned().unwrap_or_else(|| bit_name(table, *b))).collect()
    }
}

/// Timestamping information of one interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TsInfo {
    pub ifindex: u32,
    pub name: String,
    pub timestamping: BitSet,
    pub tx_types: BitSet,
    pub rx_filters: BitSet,
    pub phc_index: Option<u32>,
}

impl TsInfo {
    pub fn timestamping_names(&self) -> Vec<String> {
        self.timestamping.names(TIMESTAMPING_NAMES)
    }
    pub fn tx_type_names(&self) -> Vec<String> {
        self.tx_types.names(TX_TYPE_NAMES)
    }
    pub fn rx_filter_names(&self) -> Vec<String> {
        self.rx_filters.names(RX_FILTER_NAMES)
    }
}

/// Decodes the attributes of a TSINFO reply (the payload after the genl header).
pub fn decode_tsinfo(payload: &[u8]) -> Result<TsInfo, NicError> {
    let mut info = TsInfo::default();
    let mut have_header = false;
    for attr in attrs(payload) {
        let attr = attr?;
        match attr.kind {
            TSINFO_HEADER => {
                have_header = true;
                for h in attr.nested() {
                    let h = h?;
                    match h.kind {
                        HEADER_DEV_INDEX => info.ifindex = h.u32("header dev index")?,
                        HEADER_DEV_NAME => info.name = h.string("header dev name")?,
                        _ => {}
                    }
                }
            }
            TSINFO_TIMESTAMPING => info.timestamping = decode_bitset(&attr).map_err(|e| e.context("timestamping"))?,
            TSINFO_TX_TYPES => info.tx_types = decode_bitset(&attr).map_err(|e| e.context("tx types"))?,
            TSINFO_RX_FILTERS => info.rx_filters = decode_bitset(&attr).map_err(|e| e.context("rx filters"))?,
            TSINFO_PHC_INDEX => info.phc_index = Some(attr.u32("phc index")?),
            _ => {}
        }
    }
    if !have_header || info.ifindex == 0 {
        return Err(NicError::Decode("TSINFO reply without a device header".into()));
    }
    Ok(info)
}

/// Decodes an `ETHTOOL_A_BITSET_*` nest, compact (VALUE words) or verbose (BITS list).
pub fn decode_bitset(attr: &Attr<'_>) -> Result<BitSet, NicError> {
    let mut no_mask = false;
    let mut size: Option<u32> = None;
    let mut words: Option<Vec<u32>> = None;
    let mut listed: Vec<(u32, Option<String>, bool)> = Vec::new();
    for a in attr.nested() {
        let a = a?;
        match a.kind {
            BITSET_NOMASK => no_mask = true,
            BITSET_SIZE => size = Some(a.u32("bitset size")?),
            BITSET_VALUE => {
                if a.data.len() % 4 != 0 {
                    return Err(NicError::Decode(format!("bitset value of {} bytes is not whole words", a.data.len())));
                }
                words = Some(a.data.chunks_exact(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect());
            }
            BITSET_BITS => {
                for bit in a.nested() {
                    let bit = bit?;
                    if bit.kind != BITS_BIT {
                        continue;
                    }
                    let (mut index, mut name, mut value) = (None, None, false);
                    for f in bit.nested() {
                        let f = f?;
                        match f.kind {
                            BIT_INDEX => index = Some(f.u32("bit index")?),
                            BIT_NAME => name = Some(f.string("bit name")?),
                            BIT_VALUE => value = true,
                            _ => {}
                        }
                    }
                    let index = index.ok_or_else(|| NicError::Decode("bitset bit without an index".into()))?;
                    listed.push((index, name, value));
                }
            }
            _ => {}
        }
    }
    let mut set = BitSet::default();
    if let Some(words) = words {
        let limit = size.unwrap_or(words.len() as u32 * 32);
        for (w, word) in words.iter().enumerate() {
            for b in 0..32 {
                let bit = w as u32 * 32 + b;
                if bit < limit && word & (1 << b) != 0 {
                    set.bits.push(bit);
                }
            }
        }
    } else {
        for (index, name, value) in listed {
            // In a list bitset (NOMASK) every listed bit is set; otherwise VALUE says so.
            if no_mask || value {
                set.bits.push(index);
                if let Some(name) = name {
                    set.kernel_names.insert(index, name);
                }
            }
        }
        set.bits.sort_unstable();
        set.bits.dedup();
    }
    Ok(set)
}

#[cfg(test)]
pub mod tests {
    use super::super::netlink::AttrWriter;
    use super::*;

    /// A TSINFO reply payload in compact form.
    pub fn compact_reply(ifindex: u32, name: &str, ts: u32, tx: u32, rx: u32, phc: Option<u32>) -> Vec<u8> {
        let mut w = AttrWriter::default();
        w.nest(TSINFO_HEADER, |h| {
            h.u32(HEADER_DEV_INDEX, ifindex).string(HEADER_DEV_NAME, name);
        });
        for (kind, value, size) in
            [(TSINFO_TIMESTAMPING, ts, 19), (TSINFO_TX_TYPES, tx, 4), (TSINFO_RX_FILTERS, rx, 16)]
        {
            if value != 0 || kind == TSINFO_TIMESTAMPING {
                w.nest(kind, |b| {
                    b.raw(BITSET_NOMASK, &[]).u32(BITSET_SIZE, size).u32(BITSET_VALUE, value);
                });
            }
        }
        if let Some(phc) = phc {
            w.u32(TSINFO_PHC_INDEX, phc);
        }
        w.buf
    }

    /// A verbose list bitset naming each set bit.
    fn verbose_bits(w: &mut AttrWriter, kind: u16, bits: &[(u32, &str)], with_nomask: bool) {
        w.nest(kind, |b| {
            if with_nomask {
                b.raw(BITSET_NOMASK, &[]);
            }
            b.u32(BITSET_SIZE, 19).nest(BITSET_BITS, |list| {
                for (index, name) in bits {
                    list.nest(BITS_BIT, |bit| {
                        bit.u32(BIT_INDEX, *index).string(BIT_NAME, name);
                        if !with_nomask {
                            bit.raw(BIT_VALUE, &[]);
                        }
                    });
                }
            });
        });
    }

    #[test]
    fn compact_hardware_nic_with_phc() {
        let payload = compact_reply(7, "ens1f0", 0b0100_0101 | 0b1010, 0b11, 1 << 1 | 1 << 12, Some(3));
        let info = decode_tsinfo(&payload).unwrap();
        assert_eq!(info.ifindex, 7);
        assert_eq!(info.name, "ens1f0");
        assert_eq!(
            info.timestamping_names(),
            ["hardware-transmit", "software-transmit", "hardware-receive", "software-receive", "hardware-raw-clock"]
        );
        assert_eq!(info.tx_type_names(), ["off", "on"]);
        assert_eq!(info.rx_filter_names(), ["all", "ptpv2-event"]);
        assert_eq!(info.phc_index, Some(3));
    }

    #[test]
    fn verbose_form_uses_kernel_names_and_equals_compact_bits() {
        let mut w = AttrWriter::default();
        w.nest(TSINFO_HEADER, |h| {
            h.u32(HEADER_DEV_INDEX, 1).string(HEADER_DEV_NAME, "lo");
        });
        verbose_bits(
            &mut w,
            TSINFO_TIMESTAMPING,
            &[(1, "software-transmit"), (3, "software-receive"), (4, "software-system-clock")],
            true,
        );
        let verbose = decode_tsinfo(&w.buf).unwrap();
        let compact = decode_tsinfo(&compact_reply(1, "lo", 0b11010, 0, 0, None)).unwrap();
        assert_eq!(verbose.timestamping.bits, compact.timestamping.bits);
        assert_eq!(verbose.timestamping_names(), compact.timestamping_names());
        assert_eq!(verbose.timestamping.kernel_names.len(), 3);
        assert!(verbose.tx_types.bits.is_empty() && verbose.phc_index.is_none());
    }

    #[test]
    fn verbose_bitset_with_mask_counts_only_bits_with_value() {
        let mut w = AttrWriter::default();
        verbose_bits(&mut w, 9, &[(0, "off")], false);
        let attr = attrs(&w.buf).next().unwrap().unwrap();
        assert_eq!(decode_bitset(&attr).unwrap().bits, vec![0]);
        // The same list without VALUE flags and without NOMASK: nothing set.
        let mut w = AttrWriter::default();
        w.nest(9, |b| {
            b.nest(BITSET_BITS, |l| {
                l.nest(BITS_BIT, |bit| {
                    bit.u32(BIT_INDEX, 0);
                });
            });
        });
        let attr = attrs(&w.buf).next().unwrap().unwrap();
        assert!(decode_bitset(&attr).unwrap().bits.is_empty());
    }

    #[test]
    fn bits_beyond_the_table_get_a_fallback_name() {
        let payload = compact_reply(2, "eth9", 1 << 18 | 1 << 16, 0, 0, None);
        assert_eq!(decode_tsinfo(&payload).unwrap().timestamping_names(), ["tx-completion", "bit18"]);
    }

    #[test]
    fn size_limits_compact_bits() {
        let mut w = AttrWriter::default();
        w.nest(TSINFO_TX_TYPES, |b| {
            b.u32(BITSET_SIZE, 2).u32(BITSET_VALUE, 0b111);
        });
        let attr = attrs(&w.buf).next().unwrap().unwrap();
        assert_eq!(decode_bitset(&attr).unwrap().bits, vec![0, 1]);
    }

    #[test]
    fn unknown_attributes_are_skipped() {
        let mut payload = compact_reply(4, "eth1", 0b11010, 0, 0, None);
        let mut extra = AttrWriter::default();
        extra.u32(6, 99).nest(7, |n| {
            n.u32(1, 1).u32(2, 0);
        });
        extra.u32(9, 1);
        payload.extend(extra.buf);
        let info = decode_tsinfo(&payload).unwrap();
        assert_eq!(info.timestamping_names(), ["software-transmit", "software-receive", "software-system-clock"]);
    }

    #[test]
    fn malformed_replies_are_clear_errors() {
        assert!(decode_tsinfo(&[]).unwrap_err().to_string().contains("without a device header"));
        let mut payload = compact_reply(4, "eth1", 0b1, 0, 0, Some(1));
        let len = payload.len();
        payload.truncate(len - 2);
        let err = decode_tsinfo(&payload).unwrap_err().to_string();
        assert!(err.contains("attribute 5"), "{err}");
        let mut odd = AttrWriter::default();
        odd.nest(TSINFO_HEADER, |h| {
            h.u32(HEADER_DEV_INDEX, 1);
        })
        .nest(TSINFO_TIMESTAMPING, |b| {
            b.raw(BITSET_VALUE, &[1, 2, 3]);
        });
        let err = decode_tsinfo(&odd.buf).unwrap_err().to_string();
        assert!(err.contains("timestamping") && err.contains("whole words"), "{err}");
        let mut short_phc = AttrWriter::default();
        short_phc.nest(TSINFO_HEADER, |h| {
            h.u32(HEADER_DEV_INDEX, 1);
        });
        short_phc.raw(TSINFO_PHC_INDEX, &[1]);
        assert!(decode_tsinfo(&short_phc.buf).unwrap_err().to_string().contains("phc index"));
    }
}
