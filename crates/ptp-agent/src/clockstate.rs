//! The clock state of one process and interface, derived from its samples over time:
//!
//! - LOCKED while the servo is s2/s3 and the offset is within `minOffsetThreshold..=maxOffsetThreshold`;
//! - after losing lock because the slave port went FAULTY or the samples stopped: HOLDOVER for
//!   `holdOverTimeout` seconds, then FREERUN;
//! - s0/s1 or an offset out of the thresholds: FREERUN; the process down: FREERUN;
//! - summary lines (`rms R max M ...`, printed instead of per-sample lines when `summary_interval`
//!   exceeds `logSyncInterval`, as in most production profiles) carry no servo state: LOCKED
//!   while every offset of the interval (`-M..=M`) is within the thresholds, else FREERUN; the
//!   samples count as stopped after three summary intervals.
//!
//! - phc2sys's system clock (`CLOCK_REALTIME`), when the profile sets any of
//!   `sysOffsetInSyncThreshold`, `sysOffsetOutOfSyncThreshold`, `sysOffsetSamples`
//!   ([`SysOffsetFilter`]): LOCKED after `samples` consecutive locked samples within the in-sync
//!   threshold, FREERUN after `samples` consecutive samples beyond the out-of-sync threshold (or
//!   with the servo unlocked); a sample in between resets both counts and keeps the state
//!   (hysteresis, as the Go daemon).
//!
//! (The Go daemon ignored the thresholds and holdover for ptp4l and phc2sys, and gave no clock
//! state from summary lines.) Time is passed in,
//! so the machine is pure and tested without waiting.

use std::time::{Duration, Instant};

use ptp_api::{ClockState, PtpClockThreshold};

use crate::logparse::Servo;

/// The limits a profile sets (`ptpClockThreshold`), with the CRD defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub min_offset_ns: i64,
    pub max_offset_ns: i64,
    pub holdover: Duration,
    /// No sample for this long counts as "samples stopped".
    pub stale_after: Duration,
    /// The system clock's hysteresis, when the profile asks for it (only phc2sys's
    /// `CLOCK_REALTIME` clock uses it).
    pub sys_offset: Option<SysOffsetFilter>,
}

/// `sysOffsetInSyncThreshold`, `sysOffsetOutOfSyncThreshold`, `sysOffsetSamples`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysOffsetFilter {
    pub in_sync_ns: u64,
    pub out_of_sync_ns: u64,
    pub samples: u32,
}

/// `sysOffsetSamples` when not set (the Go API's).
pub const DEFAULT_SYS_OFFSET_SAMPLES: u32 = 10;

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_offset_ns: PtpClockThreshold::DEFAULT_MIN_OFFSET_THRESHOLD,
            max_offset_ns: PtpClockThreshold::DEFAULT_MAX_OFFSET_THRESHOLD,
            holdover: Duration::from_secs(PtpClockThreshold::DEFAULT_HOLD_OVER_TIMEOUT as u64),
            stale_after: Duration::from_secs(3),
            sys_offset: None,
        }
    }
}

impl Thresholds {
    /// From a profile's `ptpClockThreshold` (absent fields take the defaults).
    pub fn from_profile(threshold: Option<&PtpClockThreshold>) -> Self {
        let d = Thresholds::default();
        let Some(t) = threshold else { return d };
        let max_offset_ns = t.max_offset_threshold.unwrap_or(d.max_offset_ns);
        let set = [t.sys_offset_in_sync_threshold, t.sys_offset_out_of_sync_threshold, t.sys_offset_samples];
        let sys_offset = set.iter().any(Option::is_some).then(|| {
            let default = max_offset_ns.unsigned_abs();
            SysOffsetFilter {
                in_sync_ns: t.sys_offset_in_sync_threshold.map_or(default, i64::unsigned_abs),
                out_of_sync_ns: t.sys_offset_out_of_sync_threshold.map_or(default, i64::unsigned_abs),
                samples: t
                    .sys_offset_samples
                    .map_or(DEFAULT_SYS_OFFSET_SAMPLES, |n| u32::try_from(n.max(1)).unwrap_or(u32::MAX)),
            }
        });
        Thresholds {
            min_offset_ns: t.min_offset_threshold.unwrap_or(d.min_offset_ns),
            max_offset_ns,
            holdover: t.hold_over_timeout.map_or(d.holdover, |s| Duration::from_secs(s.max(0) as u64)),
            stale_after: d.stale_after,
            sys_offset,
        }
    }

    /// For a clock other than phc2sys's system clock: without the hysteresis.
    pub fn without_sys_offset(self) -> Self {
        Thresholds { sys_offset: None, ..self }
    }
}

/// State machine for one (process, interface).
#[derive(Clone, Debug)]
pub struct ClockTracker {
    thresholds: Thresholds,
    state: ClockState,
    last_sample: Option<Instant>,
    holdover_since: Option<Instant>,
    last_offset: Option<i64>,
    /// Consecutive in-sync and out-of-sync samples ([`SysOffsetFilter`]).
    in_sync: u32,
    out_of_sync: u32,
    /// How many times the state changed: a cheap "did anything change" for the runtime.
    transitions: u64,
}

impl ClockTracker {
    pub fn new(thresholds: Thresholds) -> Self {
        ClockTracker {
            thresholds,
            state: ClockState::Freerun,
            last_sample: None,
            holdover_since: None,
            last_offset: None,
            in_sync: 0,
            out_of_sync: 0,
            transitions: 0,
        }
    }

    /// How many times the state changed since this tracker was made.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    fn set(&mut self, state: ClockState) -> ClockState {
        if state != self.state {
            self.transitions += 1;
            self.state = state;
        }
        state
    }

    pub fn state(&self) -> ClockState {
        self.state
    }

    pub fn last_offset(&self) -> Option<i64> {
        self.last_offset
    }

    /// A per-sample line (`master offset`, `phc offset`, ts2phc). A ts2phc `holdover` line
    /// reports HOLDOVER itself.
    pub fn on_sample(&mut self, now: Instant, servo: Servo, offset_ns: i64, holdover: bool) -> ClockState {
        self.last_sample = Some(now);
        self.last_offset = Some(offset_ns);
        if let Some(filter) = self.thresholds.sys_offset
            && !holdover
        {
            self.holdover_since = None;
            let state = self.hysteresis(filter, servo.is_locked(), offset_ns.unsigned_abs());
            return self.set(state);
        }
        let within = (self.thresholds.min_offset_ns..=self.thresholds.max_offset_ns).contains(&offset_ns);
        let state = if holdover {
            self.holdover_since.get_or_insert(now);
            ClockState::Holdover
        } else if servo.is_locked() && within {
            self.holdover_since = None;
            ClockState::Locked
        } else {
            self.holdover_since = None;
            ClockState::Freerun
        };
        self.set(state)
    }

    /// A summary line: `rms` is reported as the offset; LOCKED needs the largest offset of the
    /// interval, `max` (an absolute value), within the thresholds on both sides.
    pub fn on_summary(&mut self, now: Instant, rms_ns: i64, max_ns: i64) -> ClockState {
        if let Some(previous) = self.last_sample {
            let gap = now.saturating_duration_since(previous);
            let floor = Thresholds::default().stale_after;
            self.thresholds.stale_after = (gap * 3).clamp(floor, Duration::from_secs(120));
        }
        self.last_sample = Some(now);
        self.last_offset = Some(rms_ns);
        if let Some(filter) = self.thresholds.sys_offset {
            self.holdover_since = None;
            let state = self.hysteresis(filter, max_ns >= 0, max_ns.unsigned_abs());
            return self.set(state);
        }
        let t = &self.thresholds;
        // `max` is an absolute value; a negative one (never printed by linuxptp) is not within.
        let within = max_ns >= 0 && -max_ns >= t.min_offset_ns && max_ns <= t.max_offset_ns;
        self.holdover_since = None;
        self.set(if within { ClockState::Locked } else { ClockState::Freerun })
    }

    /// The state after one sample of the system clock ([`SysOffsetFilter`]): `locked` is the
    /// servo's, `offset` absolute.
    fn hysteresis(&mut self, filter: SysOffsetFilter, locked: bool, offset: u64) -> ClockState {
        if locked && offset <= filter.in_sync_ns {
            self.in_sync = self.in_sync.saturating_add(1);
            self.out_of_sync = 0;
        } else if !locked || offset > filter.out_of_sync_ns {
            self.out_of_sync = self.out_of_sync.saturating_add(1);
            self.in_sync = 0;
        } else {
            self.in_sync = 0;
            self.out_of_sync = 0;
        }
        // HOLDOVER (stale samples) ends with the next sample as FREERUN would.
        let current = if self.state == ClockState::Holdover { ClockState::Freerun } else { self.state };
        if self.in_sync >= filter.samples {
            ClockState::Locked
        } else if self.out_of_sync >= filter.samples {
            ClockState::Freerun
        } else {
            current
        }
    }

    /// The slave port went FAULTY: a LOCKED clock enters HOLDOVER.
    pub fn on_slave_faulty(&mut self, now: Instant) -> ClockState {
        self.enter_holdover(now);
        self.state
    }

    /// Time passes: stale samples turn LOCKED into HOLDOVER; HOLDOVER ends in FREERUN.
    pub fn on_tick(&mut self, now: Instant) -> ClockState {
        if self.state == ClockState::Locked
            && self.last_sample.is_none_or(|t| now.saturating_duration_since(t) >= self.thresholds.stale_after)
        {
            self.enter_holdover(now);
        }
        if self.state == ClockState::Holdover
            && self.holdover_since.is_some_and(|t| now.saturating_duration_since(t) >= self.thresholds.holdover)
        {
            self.set(ClockState::Freerun);
            self.holdover_since = None;
        }
        self.state
    }

    /// The first instant at which [`ClockTracker::on_tick`] would change the state without a new
    /// line: when LOCKED samples go stale, or when HOLDOVER runs out. `None`: only a line or
    /// the process can change it (FREERUN). The runtime sleeps until the earliest of these
    /// instead of ticking every second.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            // LOCKED always follows a sample.
            ClockState::Locked => self.last_sample.map(|t| t + self.thresholds.stale_after),
            ClockState::Holdover => self.holdover_since.map(|t| t + self.thresholds.holdover),
            ClockState::Freerun => None,
        }
    }

    /// The process exited.
    pub fn on_process_down(&mut self) -> ClockState {
        self.holdover_since = None;
        self.last_sample = None;
        self.set(ClockState::Freerun)
    }

    fn enter_holdover(&mut self, now: Instant) {
        if self.state == ClockState::Locked {
            self.set(ClockState::Holdover);
            self.holdover_since = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> (ClockTracker, Instant) {
        (ClockTracker::new(Thresholds::default()), Instant::now())
    }

    fn after(t: Instant, ms: u64) -> Instant {
        t + Duration::from_millis(ms)
    }

    /// Ticking any time before the deadline changes nothing; ticking at it changes the state; a
    /// state without a deadline never changes by time alone. So sleeping until the deadline
    /// loses no transition that ticking every second would have made.
    #[test]
    fn the_deadline_is_the_first_instant_a_tick_changes_the_state() {
        let t = Instant::now();
        let tiny = Duration::from_nanos(1);
        let check = |c: &ClockTracker, what: &str| {
            let before = c.state();
            match c.next_deadline() {
                Some(deadline) => {
                    for early in [t, deadline - Duration::from_millis(500), deadline - tiny] {
                        assert_eq!(c.clone().on_tick(early.max(t)), before, "{what}: tick before the deadline");
                    }
                    assert_ne!(c.clone().on_tick(deadline), before, "{what}: tick at the deadline");
                }
                None => {
                    let later = t + Duration::from_secs(100_000);
                    assert_eq!(c.clone().on_tick(later), before, "{what}: no deadline, no change by time");
                }
            }
        };
        let mut c = ClockTracker::new(Thresholds { holdover: Duration::from_secs(5), ..Thresholds::default() });
        check(&c, "new (FREERUN)");
        c.on_sample(t, Servo::S2, 10, false);
        check(&c, "LOCKED by a sample");
        assert_eq!(c.next_deadline(), Some(t + Thresholds::default().stale_after));
        c.on_sample(after(t, 1_000), Servo::S2, 10, false);
        assert_eq!(c.next_deadline(), Some(after(t, 1_000) + Thresholds::default().stale_after), "a sample moves it");
        c.on_slave_faulty(after(t, 1_500));
        check(&c, "HOLDOVER after a fault");
        assert_eq!(c.next_deadline(), Some(after(t, 6_500)));
        let stale = c.next_deadline().map(|d| c.on_tick(d));
        assert_eq!(stale, Some(ClockState::Freerun));
        check(&c, "FREERUN after holdover");
        c.on_summary(after(t, 10_000), 3, 5);
        check(&c, "LOCKED by a summary");
        c.on_sample(after(t, 11_000), Servo::S2, 500, true);
        check(&c, "HOLDOVER by a ts2phc line");
        c.on_process_down();
        check(&c, "process down");
    }

    #[test]
    fn locked_needs_a_locked_servo_and_an_offset_within_thresholds() {
        let (mut c, t) = tracker();
        assert_eq!(c.state(), ClockState::Freerun);
        assert_eq!(c.on_sample(t, Servo::S2, 50, false), ClockState::Locked);
        assert_eq!(c.on_sample(t, Servo::S3, -100, false), ClockState::Locked);
        assert_eq!(c.on_sample(t, Servo::S2, 101, false), ClockState::Freerun, "above max");
        assert_eq!(c.on_sample(t, Servo::S2, -101, false), ClockState::Freerun, "below min");
        assert_eq!(c.on_sample(t, Servo::S1, 0, false), ClockState::Freerun);
        assert_eq!(c.on_sample(t, Servo::S0, 0, false), ClockState::Freerun);
        assert_eq!(c.last_offset(), Some(0));
    }

    #[test]
    fn summaries_lock_when_the_largest_offset_is_within_thresholds() {
        let (mut c, t) = tracker();
        assert_eq!(c.on_summary(t, 20, 100), ClockState::Locked);
        assert_eq!(c.last_offset(), Some(20));
        assert_eq!(c.on_summary(after(t, 1_000), 20, 101), ClockState::Freerun, "one offset above the limit");
        assert_eq!(c.on_summary(after(t, 2_000), 5, 60), ClockState::Locked);
        // Summaries every 16 s: not stale between two of them, stale after three intervals.
        let mut slow = ClockTracker::new(Thresholds::default());
        slow.on_summary(t, 1, 2);
        assert_eq!(slow.on_summary(after(t, 16_000), 1, 2), ClockState::Locked);
        assert_eq!(slow.on_tick(after(t, 30_000)), ClockState::Locked, "within the summary interval");
        assert_eq!(slow.on_tick(after(t, 16_000 + 48_000)), ClockState::Holdover, "three intervals without one");
        let asymmetric = Thresholds { min_offset_ns: -10, max_offset_ns: 100, ..Thresholds::default() };
        let mut c = ClockTracker::new(asymmetric);
        assert_eq!(c.on_summary(t, 3, 50), ClockState::Freerun, "max 50 may have been -50, below -10");
        assert_eq!(c.on_summary(t, 3, 10), ClockState::Locked);
        assert_eq!(c.on_summary(t, 3, i64::MIN), ClockState::Freerun, "a malformed max");
    }

    #[test]
    fn faulty_slave_port_means_holdover_then_freerun() {
        let (mut c, t) = tracker();
        c.on_sample(t, Servo::S2, 0, false);
        assert_eq!(c.on_slave_faulty(after(t, 100)), ClockState::Holdover);
        assert_eq!(c.on_tick(after(t, 4_000)), ClockState::Holdover);
        assert_eq!(c.on_tick(after(t, 5_100)), ClockState::Freerun, "holdOverTimeout 5 s");
        // A new locked sample locks again.
        assert_eq!(c.on_sample(after(t, 6_000), Servo::S2, 1, false), ClockState::Locked);
    }

    #[test]
    fn stopped_samples_mean_holdover_and_a_freerun_clock_stays_freerun() {
        let (mut c, t) = tracker();
        c.on_sample(t, Servo::S2, 0, false);
        assert_eq!(c.on_tick(after(t, 2_000)), ClockState::Locked);
        assert_eq!(c.on_tick(after(t, 3_000)), ClockState::Holdover, "stale after 3 s");
        assert_eq!(c.on_tick(after(t, 7_900)), ClockState::Holdover);
        assert_eq!(c.on_tick(after(t, 8_000)), ClockState::Freerun);
        let (mut free, t) = tracker();
        free.on_sample(t, Servo::S0, 0, false);
        assert_eq!(free.on_slave_faulty(t), ClockState::Freerun, "only a locked clock holds over");
        assert_eq!(free.on_tick(after(t, 10_000)), ClockState::Freerun);
    }

    #[test]
    fn ts2phc_holdover_lines_and_process_down() {
        let (mut c, t) = tracker();
        assert_eq!(c.on_sample(t, Servo::S2, 3, true), ClockState::Holdover);
        assert_eq!(c.on_tick(after(t, 5_000)), ClockState::Freerun);
        c.on_sample(after(t, 6_000), Servo::S2, 3, false);
        assert_eq!(c.on_process_down(), ClockState::Freerun);
    }

    #[test]
    fn thresholds_come_from_the_profile_with_defaults() {
        let t = Thresholds::from_profile(Some(&PtpClockThreshold {
            hold_over_timeout: Some(60),
            max_offset_threshold: Some(1_000),
            min_offset_threshold: None,
            ..PtpClockThreshold::default()
        }));
        assert_eq!(t.sys_offset, None, "no sysOffset field: no hysteresis");
        assert_eq!((t.min_offset_ns, t.max_offset_ns, t.holdover), (-100, 1_000, Duration::from_secs(60)));
        assert_eq!(Thresholds::from_profile(None), Thresholds::default());
        let (mut c, now) = (ClockTracker::new(t), Instant::now());
        assert_eq!(c.on_sample(now, Servo::S2, 900, false), ClockState::Locked);
    }

    #[test]
    fn the_system_clock_changes_state_only_after_enough_samples_on_one_side() {
        let t = Thresholds::from_profile(Some(&PtpClockThreshold {
            max_offset_threshold: Some(100),
            sys_offset_in_sync_threshold: Some(50),
            sys_offset_out_of_sync_threshold: Some(200),
            sys_offset_samples: Some(3),
            ..PtpClockThreshold::default()
        }));
        assert_eq!(t.sys_offset, Some(SysOffsetFilter { in_sync_ns: 50, out_of_sync_ns: 200, samples: 3 }));
        assert_eq!(t.without_sys_offset().sys_offset, None);
        let (mut c, now) = (ClockTracker::new(t), Instant::now());
        let mut feed = |offsets: &[i64]| -> Vec<ClockState> {
            offsets.iter().map(|o| c.on_sample(now, Servo::S2, *o, false)).collect()
        };
        use ClockState::{Freerun as F, Locked as L};
        assert_eq!(feed(&[10, -20, 30]), [F, F, L], "three within 50 ns");
        assert_eq!(feed(&[120, 150, -190]), [L, L, L], "between the thresholds: the state stays");
        assert_eq!(feed(&[300, 300, 100, 300, 300]), [L, L, L, L, L], "one in between resets the count");
        assert_eq!(feed(&[-300]), [F], "the third beyond 200 ns in a row");
        assert_eq!(feed(&[40, 40, 60, 40, 40]), [F, F, F, F, F]);
        assert_eq!(feed(&[40]), [L]);
        assert_eq!(c.on_sample(now, Servo::S0, 0, false), L, "an unlocked servo counts as out of sync");
        assert_eq!(c.on_summary(now, 5, 10), L, "a summary counts as a sample: its max");
        // Defaults: both thresholds are maxOffsetThreshold, ten samples.
        let only_samples = Thresholds::from_profile(Some(&PtpClockThreshold {
            max_offset_threshold: Some(70),
            sys_offset_samples: Some(2),
            ..PtpClockThreshold::default()
        }));
        assert_eq!(only_samples.sys_offset, Some(SysOffsetFilter { in_sync_ns: 70, out_of_sync_ns: 70, samples: 2 }));
        let defaults = Thresholds::from_profile(Some(&PtpClockThreshold {
            sys_offset_in_sync_threshold: Some(5),
            ..PtpClockThreshold::default()
        }));
        assert_eq!(defaults.sys_offset, Some(SysOffsetFilter { in_sync_ns: 5, out_of_sync_ns: 100, samples: 10 }));
    }
}
