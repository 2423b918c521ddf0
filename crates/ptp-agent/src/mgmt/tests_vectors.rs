//! Reply datagrams built from the notes' layouts, shared by the unit tests and tests/mgmt_fuzz.rs
//! (which includes this file by path). Only std here.
#![allow(dead_code)]

/// A RESPONSE from `507c6f.fffe.1fb1b9-<port>` with `seq`, one TLV of `tlv_type` with `value`
/// (managementId and dataField, or the error fields), version byte `ver`.
pub fn reply(ver: u8, port: u16, seq: u16, tlv_type: u16, value: &[u8]) -> Vec<u8> {
    let mut m = vec![0x0D, ver, 0, 0, 24, 0, 0, 0];
    m.extend_from_slice(&[0; 12]);
    m.extend_from_slice(&[0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0xb9]);
    m.extend_from_slice(&port.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&[0, 0x7F]);
    m.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    m.extend_from_slice(&[0, 0, 2, 0]);
    m.extend_from_slice(&tlv_type.to_be_bytes());
    m.extend_from_slice(&(value.len() as u16).to_be_bytes());
    m.extend_from_slice(value);
    let len = m.len() as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    m
}

pub fn mgmt(id: u16, data: &[u8]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

pub fn parent_data_set() -> Vec<u8> {
    let mut d = vec![0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0x6c, 0, 4]; // parentPortIdentity
    d.extend_from_slice(&[0, 0]); // parentStats, reserved
    d.extend_from_slice(&[0xff, 0xff]); // observedParentOffsetScaledLogVariance
    d.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]); // observedParentClockPhaseChangeRate
    d.extend_from_slice(&[128, 6, 0x21, 0x4e, 0x5d, 64]); // prio1, class, accuracy, variance, prio2
    d.extend_from_slice(&[0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0x6c]);
    reply(0x12, 0, 0, 1, &mgmt(0x2002, &d))
}

/// Every supported dataset's reply, for the fuzz tests' truncations.
pub fn valid_replies() -> Vec<Vec<u8>> {
    let mut stats = vec![0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0xb9, 0, 1];
    stats.extend((0..32u64).flat_map(|i| (i * 1000 + 7).to_le_bytes()));
    let mut props = vec![0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0xb9, 0, 1, 9, 1, 6];
    props.extend_from_slice(b"ens1f0");
    props.push(0);
    let mut sub = vec![0, 60, 0b101];
    sub.extend_from_slice(&[0; 63]);
    let mut ts = Vec::new();
    ts.extend_from_slice(&(-12i64).to_be_bytes());
    ts.extend_from_slice(&1_700_000_000_000_000_000i64.to_be_bytes());
    ts.extend_from_slice(&(1i32 << 20).to_be_bytes());
    ts.extend_from_slice(&[0; 4 + 2 + 12]);
    ts.extend_from_slice(&1i32.to_be_bytes());
    ts.extend_from_slice(&[0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0x6c]);
    vec![
        parent_data_set(),
        reply(
            0x12,
            0,
            1,
            1,
            &mgmt(
                0x2000,
                &[3, 0, 0, 2, 128, 248, 0xfe, 0xff, 0xff, 128, 0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0xb9, 24, 0],
            ),
        ),
        reply(0x12, 0, 2, 1, &mgmt(0x2001, &[0, 1, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0x06, 0x32, 0, 0])),
        reply(0x12, 0, 3, 1, &mgmt(0x2003, &[0, 37, 0x3c, 0x20])),
        reply(
            0x12,
            1,
            4,
            1,
            &mgmt(
                0x2004,
                &[
                    0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, 0xb9, 0, 1, 9, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 3, 0, 1,
                    0, 0x12,
                ],
            ),
        ),
        reply(0x12, 0, 5, 1, &mgmt(0xC000, &ts)),
        reply(0x12, 1, 6, 1, &mgmt(0xC004, &props)),
        reply(0x12, 1, 7, 1, &mgmt(0xC005, &stats)),
        reply(0x12, 0, 8, 1, &mgmt(0xC001, &[6, 0x21, 0x4e, 0x5d, 0, 37, 0x3c, 0x20])),
        reply(0x12, 0, 9, 1, &mgmt(0xC003, &sub)),
        reply(0x12, 0, 10, 2, &[0, 2, 0xC0, 0x0D, 0, 0, 0, 0]),
    ]
}
