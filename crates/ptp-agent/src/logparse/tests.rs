use super::*;

#[test]
fn ptp4l_master_offset_with_and_without_tag() {
    for line in [
        "ptp4l[365195.391]: [ptp4l.0.config] master offset         -1 s2 freq   -3972 path delay        89",
        "ptp4l[365195.391]: [ptp4l.0.config:6] master offset -1 s2 freq -3972 path delay 89",
        "ptp4l[365195.391]: [ptp4l.0.config:{level}] master offset -1 s2 freq -3972 path delay 89",
    ] {
        let l = parse(line);
        assert_eq!(l.kind, Some(Kind::Offset), "{line}");
        assert_eq!(l.process, Some("ptp4l"));
        assert_eq!(l.config, Some("ptp4l.0.config"));
        assert_eq!(l.iface, Some("master"));
        assert_eq!((l.offset_ns, l.freq_adj_ppb, l.delay_ns), (Some(-1), Some(-3972), Some(89)));
        assert_eq!(l.servo, Some(Servo::S2));
        assert_eq!(l.clock_state(), Some(LineClockState::Locked));
    }
    let untagged = parse("ptp4l[5196819.100]: master offset 1234 s0 freq +0 path delay 1245");
    assert_eq!((untagged.config, untagged.offset_ns, untagged.freq_adj_ppb), (None, Some(1234), Some(0)));
    assert_eq!(untagged.clock_state(), Some(LineClockState::Freerun));
    let s1 = parse("ptp4l[1.0]: master offset 99999 s1 freq +200");
    assert_eq!((s1.servo, s1.delay_ns), (Some(Servo::S1), None));
    assert_eq!(parse("ptp4l[1.0]: master offset 3 s3 freq 1 path delay 2").clock_state(), Some(LineClockState::Locked));
}

#[test]
fn phc2sys_offsets_and_summaries() {
    let l = parse(
        "phc2sys[3560354.300]: [ptp4l.0.config] CLOCK_REALTIME phc offset       -15 s2 freq  -38402 delay    480",
    );
    assert_eq!((l.kind, l.process, l.iface), (Some(Kind::Offset), Some("phc2sys"), Some("CLOCK_REALTIME")));
    assert_eq!((l.offset_ns, l.freq_adj_ppb, l.delay_ns), (Some(-15), Some(-38402), Some(480)));
    let sys = parse("phc2sys[1.0]: CLOCK_REALTIME sys offset 7 s2 freq +1 delay 30");
    assert_eq!((sys.kind, sys.offset_ns), (Some(Kind::Offset), Some(7)));
    let summary = parse(
        "phc2sys[3560354.300]: [ptp4l.0.config] CLOCK_REALTIME rms    4 max    4 freq -76829 +/-   0 delay  1085 +/-   0",
    );
    assert_eq!((summary.kind, summary.iface), (Some(Kind::Summary), Some("CLOCK_REALTIME")));
    assert_eq!(
        (summary.offset_ns, summary.max_offset_ns, summary.freq_adj_ppb, summary.delay_ns),
        (Some(4), Some(4), Some(-76829), Some(1085))
    );
    assert_eq!(summary.servo, None);
}

#[test]
fn ptp4l_summary_with_and_without_delay() {
    let l = parse("ptp4l[74737.942]: [ptp4l.0.config] rms  53 max   74 freq -16642 +/-  40 delay  1089 +/-  20");
    assert_eq!((l.kind, l.iface), (Some(Kind::Summary), None));
    assert_eq!(
        (l.offset_ns, l.max_offset_ns, l.freq_adj_ppb, l.delay_ns),
        (Some(53), Some(74), Some(-16642), Some(1089))
    );
    let no_delay = parse("ptp4l[74737.942]: rms 53 max 74 freq -16642 +/- 40");
    assert_eq!((no_delay.kind, no_delay.delay_ns), (Some(Kind::Summary), None));
    let with_iface = parse("ts2phc[1.0]: [ts2phc.0.cfg] ens2f1 rms 2 max 3 freq -1 +/- 1");
    assert_eq!((with_iface.kind, with_iface.iface), (Some(Kind::Summary), Some("ens2f1")));
}

#[test]
fn ts2phc_forms() {
    let l = parse("ts2phc[82674.465]: [ts2phc.0.cfg] ens2f1 master offset          0 s2 freq      -0");
    assert_eq!(
        (l.kind, l.process, l.config, l.iface),
        (Some(Kind::Offset), Some("ts2phc"), Some("ts2phc.0.cfg"), Some("ens2f1"))
    );
    assert_eq!((l.offset_ns, l.freq_adj_ppb, l.delay_ns), (Some(0), Some(0), None));
    for dev in ["/dev/ptp4", "dev/ptp4"] {
        let text = format!("ts2phc[1.0]: [ts2phc.0.config] {dev} offset 5 s2 freq +3");
        let l = parse(&text);
        assert_eq!((l.kind, l.iface, l.offset_ns), (Some(Kind::Offset), Some(dev), Some(5)));
        let text = format!("ts2phc[1.0]: [ts2phc.0.config] {dev} master offset -5 s1 freq +3");
        let m = parse(&text);
        assert_eq!((m.iface, m.offset_ns, m.clock_state()), (Some(dev), Some(-5), Some(LineClockState::Freerun)));
    }
    let holdover = parse("ts2phc[1.0]: [ts2phc.0.config] ens2f1 master offset 3 s2 freq -1 holdover");
    assert!(holdover.holdover);
    assert_eq!(holdover.clock_state(), Some(LineClockState::Holdover));
    let other = parse(
        "ts2phc[82674.465]: [ts2phc.0.cfg] ens2f1 extts index 0 at 1673031129.000000000 corr 0 src 1673031129.911642976 diff 0",
    );
    assert_eq!(other.kind, Some(Kind::Other));
    assert_eq!(parse("ts2phc[82674.465]: [ts2phc.0.cfg] nmea delay: 88403525 ns").kind, Some(Kind::Other));
}

#[test]
fn port_state_changes_in_both_formats() {
    let old = parse("ptp4l[4268779.809]: [ptp4l.0.config] port 2: LISTENING to PASSIVE on RS_PASSIVE");
    assert_eq!(old.kind, Some(Kind::Port));
    assert_eq!((old.port, old.port_name), (Some(2), None));
    assert_eq!((old.from_state, old.to_state, old.event), (Some("LISTENING"), Some("PASSIVE"), Some("RS_PASSIVE")));
    assert_eq!(old.role(), Some(Role::Passive));
    let new = parse("ptp4l[10.2]: [ptp4l.1.config:5] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED");
    assert_eq!((new.port, new.port_name, new.role()), (Some(1), Some("ens1f0"), Some(Role::Slave)));
    let faulty = parse("ptp4l[1903447.121]: port 1: LISTENING to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)");
    assert_eq!((faulty.event, faulty.role()), (Some("FAULT_DETECTED"), Some(Role::Faulty)));
    let init = parse("ptp4l[1903447.120]: port 1: INITIALIZING to LISTENING on INIT_COMPLETE");
    assert_eq!(init.role(), Some(Role::Listening));
    assert_eq!(
        parse("ptp4l[1.0]: port 1: LISTENING to MASTER on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES").role(),
        Some(Role::Master)
    );
    assert_eq!(parse("ptp4l[1.0]: port 1: LISTENING to UNCALIBRATED on RS_SLAVE").role(), Some(Role::Unknown));
    let link_down = parse("ptp4l[1903447.120]: port 1: link down");
    assert_eq!((link_down.kind, link_down.port), (Some(Kind::Other), Some(1)));
}

#[test]
fn other_and_malformed_lines_never_panic() {
    for line in [
        "",
        "   ",
        "ptp4l[",
        "ptp4l[1.0]:",
        "ptp4l[1.0]: [",
        "ptp4l[1.0]: []",
        "ptp4l[1.0]: selected /dev/ptp3 as PTP clock",
        "ptp4l[1.0]: master offset",
        "ptp4l[1.0]: master offset x s2 freq 1",
        "ptp4l[1.0]: master offset 1 s9 freq 1",
        "ptp4l[1.0]: master offset 1 s2 freq",
        "ptp4l[1.0]: rms",
        "ptp4l[1.0]: rms 1 max",
        "ptp4l[1.0]: port",
        "ptp4l[1.0]: port x: A to B",
        "ptp4l[1.0]: port 1 (eth0 A to B",
        "ptp4l[1.0]: port 1: A to",
        "ptp4l[1.0]: master offset 99999999999999999999999 s2 freq 1",
        "plain text without any structure",
        "[only-a-tag]",
        "phc2sys[1.0]: CLOCK_REALTIME phc offset",
        "\u{feff}ptp4l[1.0]: ümlaut offset",
    ] {
        let l = parse(line);
        assert!(matches!(l.kind, Some(Kind::Other)), "{line:?} -> {l:?}");
        assert!(l.offset_ns.is_none() || l.kind != Some(Kind::Other));
    }
    assert_eq!(parse("[only-a-tag]").config, Some("only-a-tag"));
    assert_eq!(parse("ptp4l[1.0]: selected /dev/ptp3 as PTP clock").process, Some("ptp4l"));
}

#[test]
fn tracker_names_the_slave_port_for_master_offset_lines() {
    let mut tracker = PortTracker::default();
    let lines = [
        "ptp4l[1.0]: [ptp4l.0.config] port 1 (ens1f0): LISTENING to UNCALIBRATED on RS_SLAVE",
        "ptp4l[1.1]: [ptp4l.0.config] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
    ];
    for l in lines {
        tracker.observe(&parse(l));
    }
    let offset = parse("ptp4l[2.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 9");
    let json = LineJson::new(&offset, tracker.slave_port("ptp4l.0.config"));
    assert_eq!(json.iface, Some("ens1f0"));
    // Another config's master offset stays `master`.
    let other = parse("ptp4l[2.0]: [ptp4l.1.config] master offset 5 s2 freq 1 path delay 9");
    assert_eq!(LineJson::new(&other, tracker.slave_port("ptp4l.1.config")).iface, Some("master"));
    // The slave port faults: no slave any more.
    let fault =
        tracker.observe(&parse("ptp4l[3.0]: [ptp4l.0.config] port 1 (ens1f0): SLAVE to FAULTY on FAULT_DETECTED"));
    assert_eq!(fault, Some(("ens1f0".to_string(), Role::Faulty)));
    assert_eq!(tracker.slave_port("ptp4l.0.config"), None);
    assert!(!tracker.has_slave("ptp4l.0.config"));
}

#[test]
fn seeded_names_serve_linuxptp_3_lines_without_port_names() {
    let mut tracker = PortTracker::default();
    tracker.seed("ptp4l.0.config", 1, "ens1f0");
    tracker.seed("ptp4l.0.config", 2, "ens1f1");
    let change =
        tracker.observe(&parse("ptp4l[1.0]: [ptp4l.0.config] port 2: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED"));
    assert_eq!(change, Some(("ens1f1".to_string(), Role::Slave)));
    assert_eq!(tracker.slave_port("ptp4l.0.config"), Some("ens1f1"));
    tracker.forget("ptp4l.0.config");
    assert_eq!(tracker.slave_port("ptp4l.0.config"), None);
    assert_eq!(
        tracker.observe(&parse("ptp4l[1.0]: port 3: LISTENING to MASTER on X")),
        Some(("port3".into(), Role::Master))
    );
}

#[test]
fn json_view_omits_what_does_not_apply() {
    let l = parse("ptp4l[1.0]: [ptp4l.0.config] port 1 (eth0): LISTENING to SLAVE on MASTER_CLOCK_SELECTED");
    let text = serde_json::to_string(&LineJson::new(&l, None)).unwrap();
    assert_eq!(
        text,
        r#"{"kind":"port","process":"ptp4l","config":"ptp4l.0.config","port":1,"port_name":"eth0","from_state":"LISTENING","to_state":"SLAVE","event":"MASTER_CLOCK_SELECTED","role":"SLAVE"}"#
    );
    let o = parse("phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME phc offset -15 s2 freq -38402 delay 480");
    let text = serde_json::to_string(&LineJson::new(&o, None)).unwrap();
    assert_eq!(
        text,
        r#"{"kind":"offset","process":"phc2sys","config":"ptp4l.0.config","iface":"CLOCK_REALTIME","offset_ns":-15,"freq_adj_ppb":-38402,"delay_ns":480,"servo_state":"s2","clock_state":"LOCKED"}"#
    );
    assert_eq!(serde_json::to_string(&LineJson::new(&parse("hello"), None)).unwrap(), r#"{"kind":"other"}"#);
    assert_eq!(Role::Listening.metric_value(), 5);
    assert_eq!(Role::Unknown.metric_value(), 4);
}

#[test]
fn lines_of_the_agents_own_log_parse_like_the_originals() {
    let logged = "2026-11-24T13:56:08.931486Z  INFO ptp_agent::child_output: ptp4l[9821.790]: [ptp4l.0.config] \
                  master offset      -1221 s2 freq   -1187 path delay      2023 process=ptp4l";
    let original = "ptp4l[9821.790]: [ptp4l.0.config] master offset      -1221 s2 freq   -1187 path delay      2023";
    assert_eq!(parse(super::strip_agent_log_prefix(logged)), parse(original));
    assert_eq!(super::strip_agent_log_prefix(original), original);
    assert_eq!(super::AGENT_LOG_TARGET, format!("{}:", crate::supervise::child::OUTPUT_TARGET));
}

#[test]
fn phc2sys_source_selection() {
    let l = parse("phc2sys[5.0]: [ptp4l.2.config] selecting ens2f0 as out-of-domain source clock");
    assert_eq!(
        (l.kind, l.iface, l.out_of_domain, l.config),
        (Some(Kind::Source), Some("ens2f0"), true, Some("ptp4l.2.config"))
    );
    let l = parse("phc2sys[5.0]: selecting ens1f0 as domain source clock");
    assert_eq!((l.kind, l.iface, l.out_of_domain), (Some(Kind::Source), Some("ens1f0"), false));
    for other in [
        "phc2sys[5.0]: selecting CLOCK_REALTIME for synchronization",
        "phc2sys[5.0]: selecting ens1f0 as some source clock",
        "phc2sys[5.0]: selecting ens1f0 as domain source clock now",
        "phc2sys[5.0]: selecting",
    ] {
        assert_eq!(parse(other).kind, Some(Kind::Other), "{other}");
    }
}
