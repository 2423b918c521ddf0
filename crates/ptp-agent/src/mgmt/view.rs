//! What one ptp4l's management datasets say, as the agent reports it: [`PtpView`], built by
//! [`Datasets`] from the TLVs the follower ([`super::follow`]) receives (replies and
//! notifications alike). Pure: tested without a socket.

use std::collections::BTreeMap;

use super::dataset::{CurrentDataSet, DefaultDataSet, ParentDataSet, PortState, TimePropertiesDataSet};
use super::message::Tlv;
use super::wire::ClockIdentity;

/// The grandmaster, the distance to it, the time properties and the port states of one ptp4l.
#[derive(Clone, Debug, PartialEq)]
pub struct PtpView {
    /// This clock's own identity (DEFAULT_DATA_SET).
    pub clock_identity: ClockIdentity,
    /// PARENT_DATA_SET grandmasterIdentity (this clock's own when it is the grandmaster).
    pub gm_identity: ClockIdentity,
    /// PARENT_DATA_SET gm.ClockClass, as pmc prints it (what the Go daemon reported as the clock
    /// class).
    pub gm_clock_class: u8,
    pub gm_clock_accuracy: u8,
    pub gm_offset_scaled_log_variance: u16,
    /// CURRENT_DATA_SET.
    pub steps_removed: u16,
    pub offset_from_master_ns: f64,
    pub mean_path_delay_ns: f64,
    /// TIME_PROPERTIES_DATA_SET.
    pub time_source: u8,
    pub current_utc_offset: i16,
    pub current_utc_offset_valid: bool,
    pub leap61: bool,
    pub leap59: bool,
    /// Every network port, by number.
    pub ports: Vec<PortView>,
}

/// One network port of a ptp4l.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortView {
    /// ptp4l's port number (from 1, in the order of the configuration's port sections).
    pub number: u16,
    pub state: PortState,
}

impl PtpView {
    /// The state of port `number`, if ptp4l reported it.
    pub fn port(&self, number: u16) -> Option<PortState> {
        self.ports.iter().find(|p| p.number == number).map(|p| p.state)
    }
}

/// The latest of each dataset a [`PtpView`] is made of.
#[derive(Clone, Debug, Default)]
pub struct Datasets {
    default: Option<DefaultDataSet>,
    current: Option<CurrentDataSet>,
    parent: Option<ParentDataSet>,
    time: Option<TimePropertiesDataSet>,
    ports: BTreeMap<u16, PortState>,
}

impl Datasets {
    /// Takes a dataset (a reply or a notification); others are ignored. Port 0 (ptp4l's UDS
    /// port) is not a network port and is ignored too.
    pub fn take(&mut self, tlv: &Tlv) {
        match tlv {
            Tlv::DefaultDataSet(d) => self.default = Some(d.clone()),
            Tlv::CurrentDataSet(c) => self.current = Some(c.clone()),
            Tlv::ParentDataSet(p) => self.parent = Some(p.clone()),
            Tlv::TimePropertiesDataSet(t) => self.time = Some(t.clone()),
            Tlv::PortDataSet(p) if p.port_identity.port != 0 => {
                self.ports.insert(p.port_identity.port, p.port_state);
            }
            _ => {}
        }
    }

    /// Replaces every port's state by those of a complete PORT_DATA_SET reply (a port that is
    /// gone from it is gone).
    pub fn take_ports(&mut self, tlvs: &[Tlv]) {
        self.ports.clear();
        for tlv in tlvs {
            self.take(tlv);
        }
    }

    /// The view, once every dataset it needs arrived.
    pub fn view(&self) -> Option<PtpView> {
        let (default, current, parent, time) =
            (self.default.as_ref()?, self.current.as_ref()?, self.parent.as_ref()?, self.time.as_ref()?);
        let quality = parent.grandmaster_clock_quality;
        Some(PtpView {
            clock_identity: default.clock_identity,
            gm_identity: parent.grandmaster_identity,
            gm_clock_class: quality.clock_class,
            gm_clock_accuracy: quality.clock_accuracy,
            gm_offset_scaled_log_variance: quality.offset_scaled_log_variance,
            steps_removed: current.steps_removed,
            offset_from_master_ns: current.offset_from_master_ns(),
            mean_path_delay_ns: current.mean_path_delay_ns(),
            time_source: time.time_source,
            current_utc_offset: time.current_utc_offset,
            current_utc_offset_valid: time.flags.current_utc_offset_valid,
            leap61: time.flags.leap61,
            leap59: time.flags.leap59,
            ports: self.ports.iter().map(|(&number, &state)| PortView { number, state }).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mgmt::dataset::{PortDataSet, TimeFlags};
    use crate::mgmt::wire::{ClockQuality, PortIdentity};

    fn id(last: u8) -> ClockIdentity {
        ClockIdentity([0x50, 0x7c, 0x6f, 0xff, 0xfe, 0x1f, 0xb1, last])
    }

    fn parent(gm: u8, class: u8) -> Tlv {
        Tlv::ParentDataSet(ParentDataSet {
            parent_port_identity: PortIdentity { clock: id(gm), port: 1 },
            parent_stats: 0,
            observed_parent_offset_scaled_log_variance: 0xffff,
            observed_parent_clock_phase_change_rate: 0x7fff_ffff,
            grandmaster_priority1: 128,
            grandmaster_clock_quality: ClockQuality {
                clock_class: class,
                clock_accuracy: 0x21,
                offset_scaled_log_variance: 0x4e5d,
            },
            grandmaster_priority2: 128,
            grandmaster_identity: id(gm),
        })
    }

    fn port(number: u16, state: u8) -> Tlv {
        Tlv::PortDataSet(PortDataSet {
            port_identity: PortIdentity { clock: id(1), port: number },
            port_state: PortState::from_u8(state),
            log_min_delay_req_interval: 0,
            peer_mean_path_delay_scaled: 0,
            log_announce_interval: 1,
            announce_receipt_timeout: 3,
            log_sync_interval: 0,
            delay_mechanism: 1,
            log_min_pdelay_req_interval: 0,
            version_number: 2,
        })
    }

    fn all() -> Datasets {
        let mut d = Datasets::default();
        d.take(&Tlv::DefaultDataSet(DefaultDataSet {
            two_step_flag: true,
            slave_only: true,
            number_ports: 2,
            priority1: 128,
            clock_quality: ClockQuality { clock_class: 255, clock_accuracy: 0xfe, offset_scaled_log_variance: 0xffff },
            priority2: 128,
            clock_identity: id(1),
            domain_number: 24,
        }));
        d.take(&Tlv::CurrentDataSet(CurrentDataSet {
            steps_removed: 1,
            offset_from_master_scaled: 9 * 65536 + 32768,
            mean_path_delay_scaled: -1586 * 65536,
        }));
        d.take(&Tlv::TimePropertiesDataSet(TimePropertiesDataSet {
            current_utc_offset: 37,
            flags: TimeFlags {
                leap61: false,
                leap59: true,
                current_utc_offset_valid: true,
                ptp_timescale: true,
                time_traceable: true,
                frequency_traceable: true,
            },
            time_source: 0x20,
        }));
        d
    }

    #[test]
    fn a_view_needs_every_clock_dataset_and_takes_the_fields_pmc_prints() {
        let mut d = all();
        assert_eq!(d.view(), None, "no PARENT_DATA_SET yet");
        d.take(&parent(9, 6));
        d.take_ports(&[port(2, 9), port(1, 6), port(0, 6)]);
        let v = d.view().unwrap();
        assert_eq!(v.clock_identity, id(1));
        assert_eq!(v.gm_identity.to_string(), "507c6f.fffe.1fb109");
        assert_eq!((v.gm_clock_class, v.gm_clock_accuracy, v.gm_offset_scaled_log_variance), (6, 0x21, 0x4e5d));
        assert_eq!((v.steps_removed, v.offset_from_master_ns, v.mean_path_delay_ns), (1, 9.5, -1586.0));
        assert_eq!((v.time_source, v.current_utc_offset, v.current_utc_offset_valid), (0x20, 37, true));
        assert_eq!((v.leap61, v.leap59), (false, true));
        assert_eq!(
            v.ports,
            [PortView { number: 1, state: PortState::Master }, PortView { number: 2, state: PortState::Slave }],
            "by number, without the UDS port 0"
        );
        assert_eq!(v.port(2), Some(PortState::Slave));
        assert_eq!(v.port(3), None);
    }

    #[test]
    fn notifications_change_one_port_or_the_parent() {
        let mut d = all();
        d.take(&parent(9, 6));
        d.take_ports(&[port(1, 9), port(2, 6)]);
        let before = d.view().unwrap();
        d.take(&port(1, 2));
        let faulty = d.view().unwrap();
        assert_eq!(faulty.port(1), Some(PortState::Faulty));
        assert_eq!(faulty.port(2), Some(PortState::Master));
        assert_eq!(PtpView { ports: before.ports.clone(), ..faulty.clone() }, before, "nothing else moved");
        d.take(&parent(7, 7));
        let v = d.view().unwrap();
        assert_eq!((v.gm_identity, v.gm_clock_class), (id(7), 7));
        d.take_ports(&[port(2, 6)]);
        assert_eq!(d.view().unwrap().ports, [PortView { number: 2, state: PortState::Master }], "port 1 is gone");
        d.take(&Tlv::Empty(crate::mgmt::ManagementId::PARENT_DATA_SET));
        assert_eq!(d.view().unwrap().gm_identity, id(7), "an id the view does not use changes nothing");
    }
}
