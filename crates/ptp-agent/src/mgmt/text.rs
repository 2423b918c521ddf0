//! Messages as pmc prints them (pmc.c `pmc_show`): a line
//! `\t<source> seq <n> RESPONSE MANAGEMENT <NAME> ` then one `\t\t<field> <value>` line per
//! field, names padded as pmc pads them. Pure.
//!
//! Differences from pmc: an error reply also gets `\t\terror <NAME>` and `\t\tid <ID>` lines (pmc
//! prints the header line only); SUBSCRIBE_EVENTS_NP always shows the three events 4.2's pmc
//! shows; an id this module does not decode shows its dataField in hex (`data`).

use std::fmt::Write;

use super::dataset::{STATS_COUNTERS, TimeFlags, timestamping_name};
use super::message::{Body, Message, Tlv};

/// The fields pmc prints for a dataset, in order, with pmc's value formatting, and the column
/// width pmc pads names to.
pub fn fields(tlv: &Tlv) -> (usize, Vec<(String, String)>) {
    let mut f: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, value: String| f.push((name.to_string(), value));
    let width = match tlv {
        Tlv::DefaultDataSet(d) => {
            add("twoStepFlag", u8::from(d.two_step_flag).to_string());
            add("slaveOnly", u8::from(d.slave_only).to_string());
            add("numberPorts", d.number_ports.to_string());
            add("priority1", d.priority1.to_string());
            add("clockClass", d.clock_quality.clock_class.to_string());
            add("clockAccuracy", format!("0x{:02x}", d.clock_quality.clock_accuracy));
            add("offsetScaledLogVariance", format!("0x{:04x}", d.clock_quality.offset_scaled_log_variance));
            add("priority2", d.priority2.to_string());
            add("clockIdentity", d.clock_identity.to_string());
            add("domainNumber", d.domain_number.to_string());
            24
        }
        Tlv::CurrentDataSet(c) => {
            // pmc prints stepsRemoved with %hd.
            add("stepsRemoved", (c.steps_removed as i16).to_string());
            add("offsetFromMaster", format!("{:.1}", c.offset_from_master_ns()));
            add("meanPathDelay", format!("{:.1}", c.mean_path_delay_ns()));
            17
        }
        Tlv::ParentDataSet(p) => {
            let q = &p.grandmaster_clock_quality;
            add("parentPortIdentity", p.parent_port_identity.to_string());
            add("parentStats", p.parent_stats.to_string());
            add(
                "observedParentOffsetScaledLogVariance",
                format!("0x{:04x}", p.observed_parent_offset_scaled_log_variance),
            );
            add("observedParentClockPhaseChangeRate", format!("0x{:08x}", p.observed_parent_clock_phase_change_rate));
            add("grandmasterPriority1", p.grandmaster_priority1.to_string());
            add("gm.ClockClass", q.clock_class.to_string());
            add("gm.ClockAccuracy", format!("0x{:02x}", q.clock_accuracy));
            add("gm.OffsetScaledLogVariance", format!("0x{:04x}", q.offset_scaled_log_variance));
            add("grandmasterPriority2", p.grandmaster_priority2.to_string());
            add("grandmasterIdentity", p.grandmaster_identity.to_string());
            38
        }
        Tlv::TimePropertiesDataSet(t) => {
            add("currentUtcOffset", t.current_utc_offset.to_string());
            flags(&mut add, &t.flags);
            add("timeSource", format!("0x{:02x}", t.time_source));
            22
        }
        Tlv::PortDataSet(p) => {
            add("portIdentity", p.port_identity.to_string());
            add("portState", p.port_state.as_str().to_string());
            add("logMinDelayReqInterval", p.log_min_delay_req_interval.to_string());
            add("peerMeanPathDelay", (p.peer_mean_path_delay_scaled >> 16).to_string());
            add("logAnnounceInterval", p.log_announce_interval.to_string());
            add("announceReceiptTimeout", p.announce_receipt_timeout.to_string());
            add("logSyncInterval", p.log_sync_interval.to_string());
            add("delayMechanism", p.delay_mechanism.to_string());
            add("logMinPdelayReqInterval", p.log_min_pdelay_req_interval.to_string());
            add("versionNumber", (p.version_number & 0xF).to_string());
            24
        }
        Tlv::TimeStatusNp(t) => {
            let g = &t.last_gm_phase_change;
            add("master_offset", t.master_offset.to_string());
            add("ingress_time", t.ingress_time.to_string());
            add("cumulativeScaledRateOffset", format!("{:+.9}", t.cumulative_rate_offset()));
            add("scaledLastGmPhaseChange", t.scaled_last_gm_phase_change.to_string());
            add("gmTimeBaseIndicator", t.gm_time_base_indicator.to_string());
            add(
                "lastGmPhaseChange",
                format!("0x{:04x}'{:016x}.{:04x}", g.nanoseconds_msb, g.nanoseconds_lsb, g.fractional_nanoseconds),
            );
            add("gmPresent", t.gm_present.to_string());
            add("gmIdentity", t.gm_identity.to_string());
            27
        }
        Tlv::PortPropertiesNp(p) => {
            add("portIdentity", p.port_identity.to_string());
            add("portState", p.port_state.as_str().to_string());
            add("timestamping", timestamping_name(p.timestamping).to_string());
            add("interface", p.interface.clone());
            24
        }
        Tlv::PortStatsNp(s) => {
            add("portIdentity", s.port_identity.to_string());
            for (way, counters) in [("rx", &s.rx), ("tx", &s.tx)] {
                for (i, name) in STATS_COUNTERS {
                    add(&format!("{way}_{name}"), counters[i].to_string());
                }
            }
            26
        }
        Tlv::GrandmasterSettingsNp(g) => {
            add("clockClass", g.clock_quality.clock_class.to_string());
            add("clockAccuracy", format!("0x{:02x}", g.clock_quality.clock_accuracy));
            add("offsetScaledLogVariance", format!("0x{:04x}", g.clock_quality.offset_scaled_log_variance));
            add("currentUtcOffset", g.current_utc_offset.to_string());
            flags(&mut add, &g.flags);
            add("timeSource", format!("0x{:02x}", g.time_source));
            24
        }
        Tlv::SubscribeEventsNp(s) => {
            use super::dataset::Event;
            let on = |e| if s.has(e) { "on" } else { "off" }.to_string();
            add("duration", s.duration.to_string());
            add("NOTIFY_PORT_STATE", on(Event::NotifyPortState));
            add("NOTIFY_TIME_SYNC", on(Event::NotifyTimeSync));
            add("NOTIFY_PARENT_DATA_SET", on(Event::NotifyParentDataSet));
            23
        }
        Tlv::Empty(_) => 0,
        Tlv::Other { data, .. } => {
            add("data", data.iter().map(|b| format!("{b:02x}")).collect());
            5
        }
    };
    (width, f)
}

fn flags(add: &mut impl FnMut(&str, String), t: &TimeFlags) {
    for (name, v) in [
        ("leap61", t.leap61),
        ("leap59", t.leap59),
        ("currentUtcOffsetValid", t.current_utc_offset_valid),
        ("ptpTimescale", t.ptp_timescale),
        ("timeTraceable", t.time_traceable),
        ("frequencyTraceable", t.frequency_traceable),
    ] {
        add(name, u8::from(v).to_string());
    }
}

/// One message as pmc prints it, ending in a newline.
pub fn format(msg: &Message) -> String {
    let h = &msg.header;
    let mut out = format!("\t{} seq {} {} ", h.source, h.sequence_id, h.action.as_str());
    match &msg.body {
        Body::Error(e) => {
            let _ = write!(out, "MANAGEMENT_ERROR_STATUS \n\t\terror {}\n\t\tid    {}", e.error_name(), e.id);
            if !e.display.is_empty() {
                let _ = write!(out, "\n\t\ttext  {}", e.display);
            }
        }
        Body::Data(Tlv::Empty(_)) => out.push_str("MANAGEMENT empty-tlv "),
        Body::Data(tlv) => {
            let _ = write!(out, "MANAGEMENT {} ", tlv.id());
            let (width, fields) = fields(tlv);
            for (name, value) in fields {
                let _ = write!(out, "\n\t\t{name:<width$}{value}", width = width.max(name.len() + 1));
            }
        }
    }
    out.push('\n');
    out
}
