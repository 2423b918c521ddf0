//! The telecom boundary clock (T-BC) of two profiles, as a pure state machine: the time-receiver
//! (TR) profile follows the upstream grandmaster; the time-transmitter (TT) profile names it in
//! `ptpSettings.controllingProfile` and serves downstream clocks with the clock class that the
//! TR's state gives it.
//!
//! * **In sync** ([`TbcTracker::on_sample`]): the TR's upstream port (`upstreamPort`, else any of
//!   its ports) is SLAVE and `inSyncConditionTimes` consecutive samples of the TR's ptp4l are
//!   within `inSyncConditionThreshold` ns (absolute; defaults: 1 sample, the profile's
//!   `maxOffsetThreshold`); one sample beyond it starts the count again. Then LOCKED.
//! * **Holdover**: a LOCKED T-BC whose upstream port leaves SLAVE, or whose samples stop
//!   ([`TbcTracker::on_time`], after the stale time), is in HOLDOVER for the profile's
//!   `holdOverTimeout`, then FREERUN; the upstream port SLAVE and the samples in sync again
//!   lock it again.
//! * **Clock class** the TT announces ([`tt_quality`]): LOCKED, the upstream grandmaster's class
//!   and accuracy (from the TR's management view; 248 while not known); HOLDOVER, 135 (in
//!   specification: the agent has no DPLL telling it otherwise); FREERUN, 248. As the Go daemon,
//!   which writes it with GRANDMASTER_SETTINGS_NP.
//!
//! Time is passed in.

use std::time::{Duration, Instant};

use ptp_api::ClockState;

use crate::logparse::Role;

/// Class of a T-BC in holdover within its specification (ITU-T G.8275.1).
pub const CLASS_HOLDOVER_IN_SPEC: u8 = 135;
/// Class of a free-running clock (the default).
pub const CLASS_FREERUN: u8 = 248;
/// clockAccuracy "unknown".
pub const ACCURACY_UNKNOWN: u8 = 0xFE;

/// What decides the T-BC's state, from the TR profile's settings and thresholds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TbcSettings {
    /// `upstreamPort` (comma-separated names); empty: any port of the TR's ptp4l.
    pub upstream_ports: Vec<String>,
    pub in_sync_threshold_ns: u64,
    pub in_sync_times: u32,
    pub holdover: Duration,
    /// No sample for this long while LOCKED: holdover.
    pub stale_after: Duration,
}

/// Quality the TT announces as its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GmQuality {
    pub clock_class: u8,
    pub clock_accuracy: u8,
}

/// The quality the TT announces in `state`; `upstream` is the TR's grandmaster (class,
/// accuracy) when known.
pub fn tt_quality(state: ClockState, upstream: Option<(u8, u8)>) -> GmQuality {
    let unknown = GmQuality { clock_class: CLASS_FREERUN, clock_accuracy: ACCURACY_UNKNOWN };
    match state {
        ClockState::Locked => {
            upstream.map_or(unknown, |(clock_class, clock_accuracy)| GmQuality { clock_class, clock_accuracy })
        }
        ClockState::Holdover => GmQuality { clock_class: CLASS_HOLDOVER_IN_SPEC, clock_accuracy: ACCURACY_UNKNOWN },
        ClockState::Freerun => unknown,
    }
}

/// The state of one T-BC.
#[derive(Clone, Debug)]
pub struct TbcTracker {
    settings: TbcSettings,
    state: ClockState,
    in_sync: u32,
    upstream_slave: bool,
    last_sample: Option<Instant>,
    holdover_since: Option<Instant>,
    /// The stale time now: the settings' at least, three sample intervals when they are longer.
    stale_after: Duration,
}

impl TbcTracker {
    pub fn new(settings: TbcSettings) -> Self {
        TbcTracker {
            state: ClockState::Freerun,
            in_sync: 0,
            upstream_slave: false,
            last_sample: None,
            holdover_since: None,
            stale_after: settings.stale_after,
            settings,
        }
    }

    pub fn settings(&self) -> &TbcSettings {
        &self.settings
    }

    pub fn state(&self) -> ClockState {
        self.state
    }

    /// Whether `iface` is an upstream port.
    pub fn is_upstream(&self, iface: &str) -> bool {
        self.settings.upstream_ports.is_empty() || self.settings.upstream_ports.iter().any(|p| p == iface)
    }

    /// A port of the TR's ptp4l changed role. Returns the state.
    pub fn on_port(&mut self, iface: &str, role: Role, now: Instant) -> ClockState {
        if !self.is_upstream(iface) {
            return self.state;
        }
        let slave = role == Role::Slave;
        if self.upstream_slave && !slave {
            self.in_sync = 0;
            self.lose(now);
        }
        self.upstream_slave = slave;
        self.state
    }

    /// A sample of the TR's ptp4l (its slave port's offset).
    pub fn on_sample(&mut self, offset_ns: i64, now: Instant) -> ClockState {
        // Samples that come seldom (summaries) are stale only after three of their intervals.
        // A gap before locking (an outage) says nothing of the interval.
        self.stale_after = match self.last_sample {
            Some(previous) if self.state == ClockState::Locked => {
                (now.saturating_duration_since(previous) * 3).clamp(self.settings.stale_after, Duration::from_secs(120))
            }
            _ => self.settings.stale_after,
        };
        self.last_sample = Some(now);
        if offset_ns.unsigned_abs() <= self.settings.in_sync_threshold_ns {
            self.in_sync = self.in_sync.saturating_add(1);
        } else {
            self.in_sync = 0;
        }
        if self.upstream_slave && self.in_sync >= self.settings.in_sync_times.max(1) {
            self.state = ClockState::Locked;
            self.holdover_since = None;
        }
        self.state
    }

    /// Time passes: stale samples end LOCKED, HOLDOVER ends in FREERUN.
    pub fn on_time(&mut self, now: Instant) -> ClockState {
        if self.state == ClockState::Locked
            && self.last_sample.is_none_or(|t| now.saturating_duration_since(t) >= self.stale_after)
        {
            self.in_sync = 0;
            self.lose(now);
        }
        if self.state == ClockState::Holdover
            && self.holdover_since.is_some_and(|t| now.saturating_duration_since(t) >= self.settings.holdover)
        {
            self.state = ClockState::Freerun;
            self.holdover_since = None;
        }
        self.state
    }

    /// When [`TbcTracker::on_time`] would change the state without a line.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            ClockState::Locked => self.last_sample.map(|t| t + self.stale_after),
            ClockState::Holdover => self.holdover_since.map(|t| t + self.settings.holdover),
            ClockState::Freerun => None,
        }
    }

    /// The TR's ptp4l went down.
    pub fn on_process_down(&mut self, now: Instant) -> ClockState {
        self.upstream_slave = false;
        self.in_sync = 0;
        self.lose(now);
        self.state
    }

    fn lose(&mut self, now: Instant) {
        if self.state == ClockState::Locked {
            self.state = ClockState::Holdover;
            self.holdover_since = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ports: &[&str], threshold: u64, times: u32) -> TbcSettings {
        TbcSettings {
            upstream_ports: ports.iter().map(|p| (*p).to_string()).collect(),
            in_sync_threshold_ns: threshold,
            in_sync_times: times,
            holdover: Duration::from_secs(5),
            stale_after: Duration::from_secs(3),
        }
    }

    fn at(t: Instant, ms: u64) -> Instant {
        t + Duration::from_millis(ms)
    }

    #[test]
    fn locks_after_enough_samples_in_sync_with_the_upstream_port_slave() {
        let t = Instant::now();
        let mut c = TbcTracker::new(settings(&["ens1f0"], 10, 3));
        assert_eq!(c.on_sample(1, t), ClockState::Freerun, "no slave port yet");
        c.on_port("ens1f1", Role::Slave, t);
        assert_eq!(c.on_sample(1, t), ClockState::Freerun, "not the upstream port");
        c.on_port("ens1f0", Role::Slave, t);
        assert_eq!(c.on_sample(1, t), ClockState::Locked, "three in sync in a row (counted before the port)");
        let mut c = TbcTracker::new(settings(&["ens1f0"], 10, 3));
        c.on_port("ens1f0", Role::Slave, t);
        let states: Vec<_> = [5, -10, 11, 0, 3, -9].iter().map(|o| c.on_sample(*o, t)).collect();
        use ClockState::{Freerun as F, Locked as L};
        assert_eq!(states, [F, F, F, F, F, L], "11 ns starts the count again");
        assert_eq!(c.on_sample(500, t), L, "locked: an offset beyond the threshold alone does not unlock");
    }

    #[test]
    fn the_upstream_port_leaving_slave_holds_over_then_runs_free() {
        let t = Instant::now();
        let mut c = TbcTracker::new(settings(&[], 10, 1));
        c.on_port("any", Role::Slave, t);
        assert_eq!(c.on_sample(0, t), ClockState::Locked, "no upstreamPort: any port; one sample by default");
        assert_eq!(c.on_port("any", Role::Master, at(t, 100)), ClockState::Holdover);
        assert_eq!(c.next_deadline(), Some(at(t, 5_100)));
        assert_eq!(c.on_time(at(t, 5_099)), ClockState::Holdover);
        assert_eq!(c.on_time(at(t, 5_100)), ClockState::Freerun);
        assert_eq!(c.next_deadline(), None);
        c.on_port("any", Role::Slave, at(t, 6_000));
        assert_eq!(c.on_sample(0, at(t, 6_000)), ClockState::Locked, "locks again");
        assert_eq!(c.on_time(at(t, 8_999)), ClockState::Locked);
        assert_eq!(c.on_time(at(t, 9_000)), ClockState::Holdover, "samples stopped");
        assert_eq!(c.on_process_down(at(t, 9_500)), ClockState::Holdover, "already holding over");
        let mut d = TbcTracker::new(settings(&[], 10, 1));
        d.on_port("p", Role::Slave, t);
        d.on_sample(0, t);
        assert_eq!(d.on_process_down(t), ClockState::Holdover, "the TR's ptp4l going down holds over");
    }

    #[test]
    fn the_tt_announces_the_upstream_class_only_while_locked() {
        assert_eq!(tt_quality(ClockState::Locked, Some((6, 0x21))), GmQuality { clock_class: 6, clock_accuracy: 0x21 });
        assert_eq!(tt_quality(ClockState::Locked, None).clock_class, 248, "upstream not known yet");
        assert_eq!(tt_quality(ClockState::Holdover, Some((6, 0x21))).clock_class, 135);
        assert_eq!(tt_quality(ClockState::Freerun, Some((6, 0x21))).clock_class, 248);
    }
}
