//! Byte vectors built from the notes' layouts (and the real pmc output quoted there).

use super::tests_vectors::*;
use super::*;

#[test]
fn parent_data_set_prints_like_the_notes_pmc_output() {
    let m = decode(&parent_data_set(), StatsOrder::Auto).unwrap();
    let Body::Data(Tlv::ParentDataSet(p)) = &m.body else { panic!("{m:?}") };
    assert_eq!(p.grandmaster_clock_quality.clock_class, 6);
    assert_eq!(p.grandmaster_identity.to_string(), "507c6f.fffe.1fb16c");
    let expected = "\t507c6f.fffe.1fb1b9-0 seq 0 RESPONSE MANAGEMENT PARENT_DATA_SET \n\
\t\tparentPortIdentity                    507c6f.fffe.1fb16c-4\n\
\t\tparentStats                           0\n\
\t\tobservedParentOffsetScaledLogVariance 0xffff\n\
\t\tobservedParentClockPhaseChangeRate    0x7fffffff\n\
\t\tgrandmasterPriority1                  128\n\
\t\tgm.ClockClass                         6\n\
\t\tgm.ClockAccuracy                      0x21\n\
\t\tgm.OffsetScaledLogVariance            0x4e5d\n\
\t\tgrandmasterPriority2                  64\n\
\t\tgrandmasterIdentity                   507c6f.fffe.1fb16c\n";
    assert_eq!(text::format(&m), expected);
}

#[test]
fn current_and_time_properties_print_like_pmc() {
    let all = valid_replies();
    let cur = text::format(&decode(&all[2], StatsOrder::Auto).unwrap());
    assert!(cur.contains("\t\tstepsRemoved     1\n\t\toffsetFromMaster 9.0\n\t\tmeanPathDelay    1586.0\n"), "{cur}");
    let tp = text::format(&decode(&all[3], StatsOrder::Auto).unwrap());
    assert!(tp.contains("\t\tcurrentUtcOffset      37\n\t\tleap61                0\n"), "{tp}");
    assert!(tp.contains("currentUtcOffsetValid 1\n\t\tptpTimescale          1\n\t\ttimeTraceable         1\n\t\tfrequencyTraceable    1\n\t\ttimeSource            0x20\n"), "{tp}");
}

#[test]
fn every_valid_reply_decodes_to_its_id() {
    let ids = [0x2002, 0x2000, 0x2001, 0x2003, 0x2004, 0xC000, 0xC004, 0xC005, 0xC001, 0xC003, 0xC00D];
    for (bytes, id) in valid_replies().iter().zip(ids) {
        let m = decode(bytes, StatsOrder::Auto).unwrap();
        assert_eq!(m.body.id(), ManagementId(id));
        assert!(!matches!(m.body, Body::Data(Tlv::Other { .. } | Tlv::Empty(_))), "{m:?}");
        assert_eq!(m.header.domain, 24);
        assert_eq!(m.header.action, Action::Response);
    }
}

#[test]
fn port_datasets_decode_field_by_field() {
    let all = valid_replies();
    let Body::Data(Tlv::PortDataSet(p)) = decode(&all[4], StatsOrder::Auto).unwrap().body else { panic!() };
    assert_eq!((p.port_identity.port, p.port_state, p.peer_mean_path_delay_scaled >> 16), (1, PortState::Slave, 16));
    assert_eq!((p.log_announce_interval, p.announce_receipt_timeout, p.delay_mechanism), (1, 3, 1));
    assert_eq!(p.version_number & 0xF, 2);
    let Body::Data(Tlv::PortPropertiesNp(pp)) = decode(&all[6], StatsOrder::Auto).unwrap().body else { panic!() };
    assert_eq!((pp.port_state, pp.timestamping, pp.interface.as_str()), (PortState::Slave, 1, "ens1f0"));
    let Body::Data(Tlv::TimeStatusNp(t)) = decode(&all[5], StatsOrder::Auto).unwrap().body else { panic!() };
    assert_eq!((t.master_offset, t.gm_present), (-12, true));
    let text = text::format(&decode(&all[5], StatsOrder::Auto).unwrap());
    assert!(text.contains("cumulativeScaledRateOffset +0.000000477\n"), "{text}");
    assert!(text.contains("lastGmPhaseChange          0x0000'0000000000000000.0000\n"), "{text}");
}

#[test]
fn port_stats_counters_are_little_endian_on_4x_and_host_order_on_3x() {
    let all = valid_replies();
    let Body::Data(Tlv::PortStatsNp(s)) = decode(&all[7], StatsOrder::V4).unwrap().body else { panic!() };
    assert_eq!((s.rx[0], s.rx[11], s.tx[0], s.tx[15]), (7, 11_007, 16_007, 31_007));
    // Auto on a 4.x header (minor version 1) reads little-endian.
    assert_eq!(decode(&all[7], StatsOrder::Auto).unwrap(), decode(&all[7], StatsOrder::V4).unwrap());
    // 3.x: host order; on a big-endian host these little-endian bytes would read differently.
    let Body::Data(Tlv::PortStatsNp(s3)) = decode(&all[7], StatsOrder::V3).unwrap().body else { panic!() };
    assert_eq!(s3.rx[0], u64::from_ne_bytes(7u64.to_le_bytes()));
    // A 3.x header (minor version 0) with Auto reads host order.
    let mut v3 = all[7].clone();
    v3[1] = 0x02;
    assert_eq!(decode(&v3, StatsOrder::Auto).unwrap().body, decode(&v3, StatsOrder::V3).unwrap().body);
    assert_eq!(StatsOrder::Auto.resolve(0), StatsOrder::V3);
    assert_eq!(StatsOrder::Auto.resolve(1), StatsOrder::V4);
}

#[test]
fn error_status_and_empty_tlvs() {
    let m = decode(&valid_replies()[10], StatsOrder::Auto).unwrap();
    let Body::Error(e) = &m.body else { panic!() };
    assert_eq!((e.error_name(), e.id), ("NO_SUCH_ID", ManagementId(0xC00D)));
    assert!(
        text::format(&m)
            .starts_with("\t507c6f.fffe.1fb1b9-0 seq 10 RESPONSE MANAGEMENT_ERROR_STATUS \n\t\terror NO_SUCH_ID")
    );
    assert_eq!(MgmtError::from(e).to_string(), "0xc00d: ptp4l answered NO_SUCH_ID (0x0002)");
    let empty = decode(&reply(0x02, 0, 1, 1, &mgmt(0x2002, &[])), StatsOrder::Auto).unwrap();
    assert_eq!(empty.body, Body::Data(Tlv::Empty(ManagementId::PARENT_DATA_SET)));
    assert!(text::format(&empty).ends_with("MANAGEMENT empty-tlv \n"));
}

#[test]
fn malformed_messages_name_what_is_wrong() {
    let good = parent_data_set();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "messageType"),
        (good[..30].to_vec(), "messageLength"),
        (
            {
                let mut b = good.clone();
                b[0] = 0x00;
                b
            },
            "not management",
        ),
        (
            {
                let mut b = good.clone();
                b[1] = 0x13;
                b
            },
            "versionPTP 3",
        ),
        (
            {
                let mut b = good.clone();
                b[46] = 9;
                b
            },
            "actionField 9",
        ),
        (
            {
                let mut b = good.clone();
                b[48..50].copy_from_slice(&[0, 9]);
                b
            },
            "tlvType 0x0009",
        ),
        (
            {
                let mut b = good.clone();
                b[51] += 2;
                b
            },
            "lengthField",
        ),
        (
            {
                let mut b = good.clone();
                b[2..4].copy_from_slice(&[0, 48]);
                b
            },
            "tlvType",
        ),
        (
            reply(0x12, 0, 0, 1, &mgmt(0x2002, &[0; 20])),
            "PARENT_DATA_SET: too short for grandmasterClockQuality: needs 21 bytes, has 20",
        ),
        (reply(0x12, 0, 0, 1, &mgmt(0xC004, &[0; 12])), "PORT_PROPERTIES_NP: too short for interface"),
        (reply(0x12, 0, 0, 1, &mgmt(0xC005, &[0; 100])), "PORT_STATS_NP: too short for rxMsgType"),
    ];
    for (bytes, expected) in cases {
        let e = decode(&bytes, StatsOrder::Auto).unwrap_err().to_string();
        assert!(e.contains(expected), "{expected:?} not in {e:?}");
    }
}

#[test]
fn get_requests_are_what_pmc_sends() {
    let header = RequestHeader { domain: 24, source: source_identity(0x0001_2345), ..RequestHeader::default() };
    let bytes = Request::get(ManagementId::PARENT_DATA_SET).encode(&header, 7).unwrap();
    assert_eq!(bytes.len(), 86);
    assert_eq!(&bytes[..6], &[0x0D, 0x02, 0, 86, 24, 0]);
    assert_eq!(&bytes[20..34], &[0, 0, 0, 0, 0, 0, 0, 1, 0x23, 0x45, 0, 7, 0, 0x7F]);
    assert_eq!(&bytes[34..48], &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
    assert_eq!(&bytes[48..54], &[0, 1, 0, 34, 0x20, 0x02]);
    assert!(bytes[54..].iter().all(|b| *b == 0));
    let empty = Request { action: Action::Get, id: ManagementId::TIME_STATUS_NP, data: vec![] };
    assert_eq!(empty.encode(&header, 0).unwrap().len(), 54);
    let too_big = Request { action: Action::Set, id: ManagementId(1), data: vec![0; 2000] };
    assert!(too_big.encode(&header, 0).is_err());
}

#[test]
fn subscribe_sets_the_event_bits() {
    let events = SubscribeEventsNp::new(60, &[Event::NotifyPortState, Event::NotifyParentDataSet]);
    let bytes = Request::subscribe(&events).encode(&RequestHeader::default(), 0).unwrap();
    assert_eq!(bytes.len(), 54 + 66);
    assert_eq!(bytes[46], 1, "SET");
    assert_eq!(&bytes[52..57], &[0xC0, 0x03, 0, 60, 0b101]);
    assert!(events.has(Event::NotifyParentDataSet) && !events.has(Event::NotifyTimeSync));
}

#[test]
fn grandmaster_settings_encode_as_ptp4l_reads_them() {
    use crate::mgmt::dataset::{GrandmasterSettingsNp, TimeFlags};
    use crate::mgmt::wire::{ClockQuality, Reader};
    let settings = GrandmasterSettingsNp {
        clock_quality: ClockQuality { clock_class: 135, clock_accuracy: 0xFE, offset_scaled_log_variance: 0x4E5D },
        current_utc_offset: 37,
        flags: TimeFlags { current_utc_offset_valid: true, ptp_timescale: true, ..TimeFlags::default() },
        time_source: 0xA0,
    };
    let bytes = settings.encode();
    assert_eq!(bytes, [135, 0xFE, 0x4E, 0x5D, 0, 37, 0x0C, 0xA0]);
    assert_eq!(GrandmasterSettingsNp::decode(&mut Reader::new(&bytes, "GRANDMASTER_SETTINGS_NP")).unwrap(), settings);
    let request = crate::mgmt::Request::set_grandmaster_settings(&settings);
    let datagram = request.encode(&crate::mgmt::RequestHeader::default(), 7).unwrap();
    assert_eq!(datagram[46], 1, "actionField SET");
    assert_eq!(datagram[52..54], 0xC001u16.to_be_bytes());
    assert_eq!(&datagram[54..], &bytes[..]);
}
