//! The bounds on what the children's log lines can put into the metrics, pure: label values come
//! from the lines (interface and port names, process names, message tags), so a child printing
//! crafted or corrupt lines must not be able to grow `/metrics` (or the agent's maps) without
//! bound, nor keep series alive after its profile is gone.
//!
//! A line is taken into the metrics only when
//! - its message tag (`config`) belongs to a running profile ([`SeriesBudget::open`]); lines of a
//!   stopped profile that arrive late, or tags no profile uses, are ignored;
//! - every label value it brings is at most [`MAX_LABEL_BYTES`] long (a real interface name is at
//!   most 15 bytes, `IFNAMSIZ - 1`); a longer one is not truncated (two names could then collide
//!   into one series) but the line ignored;
//! - it adds no series to a tag that already has [`MAX_SERIES_PER_CONFIG`] distinct
//!   (process, interface) pairs, and names no port beyond the [`MAX_PORTS_PER_CONFIG`] distinct
//!   port numbers a tag may have.

use std::collections::{HashMap, HashSet};

/// The longest label value a log line may bring.
pub const MAX_LABEL_BYTES: usize = 64;
/// Distinct (process, interface) pairs per message tag: ptp4l's slave port and port roles,
/// phc2sys's clocks, ts2phc's PHCs and interfaces of one profile.
pub const MAX_SERIES_PER_CONFIG: usize = 32;
/// Distinct port numbers per message tag (ptp4l numbers its ports 1, 2, ... in configuration
/// order).
pub const MAX_PORTS_PER_CONFIG: usize = 32;

/// Why a line was not taken into the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The message tag belongs to no running profile (not counted: late lines of a stopped
    /// profile are expected).
    UnknownConfig,
    /// A label value is longer than [`MAX_LABEL_BYTES`].
    LabelTooLong,
    /// The tag's series or port budget is used up.
    TooManySeries,
}

impl Rejection {
    /// The `reason` label of `ptp_agent_ignored_log_lines_total`; `None` for what is not counted.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Rejection::UnknownConfig => None,
            Rejection::LabelTooLong => Some(REASON_LABEL_TOO_LONG),
            Rejection::TooManySeries => Some(REASON_TOO_MANY_SERIES),
        }
    }
}

/// `reason` of a line with a label value over [`MAX_LABEL_BYTES`].
pub const REASON_LABEL_TOO_LONG: &str = "label_too_long";
/// `reason` of a line that would exceed a tag's series or port budget.
pub const REASON_TOO_MANY_SERIES: &str = "too_many_series";

/// The series and ports each open message tag has used.
#[derive(Debug, Default)]
pub struct SeriesBudget {
    open: HashMap<String, Used>,
}

#[derive(Debug, Default)]
struct Used {
    series: HashSet<(String, String)>,
    ports: HashSet<u32>,
}

impl SeriesBudget {
    /// A profile using `config` (a message tag or a process key) started: its lines count.
    pub fn open(&mut self, config: &str) {
        self.open.entry(config.to_string()).or_default();
    }

    /// The profile using `config` stopped: its lines are ignored from now on, its budget is free.
    pub fn close(&mut self, config: &str) {
        self.open.remove(config);
    }

    pub fn is_open(&self, config: &str) -> bool {
        self.open.contains_key(config)
    }

    /// Whether a line of `config` may set the series of (`process`, `iface`); a new pair is
    /// counted against the tag's budget.
    pub fn admit(&mut self, config: &str, process: &str, iface: &str) -> Result<(), Rejection> {
        let used = self.open.get_mut(config).ok_or(Rejection::UnknownConfig)?;
        if [config, process, iface].iter().any(|v| v.len() > MAX_LABEL_BYTES) {
            return Err(Rejection::LabelTooLong);
        }
        // Looked up before allocating: the common case is a pair seen before.
        if used.series.iter().any(|(p, i)| p == process && i == iface) {
            return Ok(());
        }
        if used.series.len() >= MAX_SERIES_PER_CONFIG {
            return Err(Rejection::TooManySeries);
        }
        used.series.insert((process.to_string(), iface.to_string()));
        Ok(())
    }

    /// Like [`SeriesBudget::admit`] for a port state change of port `port` named `iface`: the
    /// port number is counted too (the port tracker remembers a name per number).
    pub fn admit_port(&mut self, config: &str, process: &str, port: u32, iface: &str) -> Result<(), Rejection> {
        let used = self.open.get(config).ok_or(Rejection::UnknownConfig)?;
        if !used.ports.contains(&port) && used.ports.len() >= MAX_PORTS_PER_CONFIG {
            return Err(Rejection::TooManySeries);
        }
        self.admit(config, process, iface)?;
        if let Some(used) = self.open.get_mut(config) {
            used.ports.insert(port);
        }
        Ok(())
    }

    /// The series of (`process`, `iface`) of `config` was removed: its place is free again.
    pub fn release(&mut self, config: &str, process: &str, iface: &str) {
        if let Some(used) = self.open.get_mut(config) {
            used.series.retain(|(p, i)| !(p == process && i == iface));
        }
    }

    /// The number of (process, interface) pairs `config` uses.
    pub fn series(&self, config: &str) -> usize {
        self.open.get(config).map_or(0, |u| u.series.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "ptp4l.0.config";

    fn open() -> SeriesBudget {
        let mut b = SeriesBudget::default();
        b.open(C);
        b
    }

    #[test]
    fn lines_of_tags_no_running_profile_uses_are_refused_uncounted() {
        let mut b = open();
        assert_eq!(b.admit("ptp4l.1.config", "ptp4l", "eth0"), Err(Rejection::UnknownConfig));
        assert_eq!(b.admit_port("ptp4l.1.config", "ptp4l", 1, "eth0"), Err(Rejection::UnknownConfig));
        assert_eq!(Rejection::UnknownConfig.reason(), None);
        assert_eq!(b.admit(C, "ptp4l", "eth0"), Ok(()));
        b.close(C);
        assert!(!b.is_open(C));
        assert_eq!(b.admit(C, "ptp4l", "eth0"), Err(Rejection::UnknownConfig), "late lines of a stopped profile");
        // Opened again (a restart), with a fresh budget.
        b.open(C);
        assert_eq!(b.series(C), 0);
    }

    #[test]
    fn every_label_length_up_to_the_cap_is_taken_and_every_longer_one_refused() {
        for len in 0..=2 * MAX_LABEL_BYTES {
            let long = "x".repeat(len);
            let expected = if len <= MAX_LABEL_BYTES { Ok(()) } else { Err(Rejection::LabelTooLong) };
            let mut b = open();
            assert_eq!(b.admit(C, "ptp4l", &long), expected, "iface of {len} bytes");
            let mut b = open();
            assert_eq!(b.admit(C, &long, "eth0"), expected, "process of {len} bytes");
            let mut b = open();
            assert_eq!(b.admit_port(C, "ptp4l", 1, &long), expected, "port name of {len} bytes");
            // A refused line uses no budget.
            assert_eq!(b.series(C), usize::from(len <= MAX_LABEL_BYTES));
            let mut b = SeriesBudget::default();
            b.open(&long);
            assert_eq!(b.admit(&long, "ptp4l", "eth0"), expected, "tag of {len} bytes");
        }
        assert_eq!(Rejection::LabelTooLong.reason(), Some("label_too_long"));
        // Bytes, not characters: 32 two-byte characters are 64 bytes.
        let mut b = open();
        assert_eq!(b.admit(C, "ptp4l", &"é".repeat(32)), Ok(()));
        assert_eq!(b.admit(C, "ptp4l", &"é".repeat(33)), Err(Rejection::LabelTooLong));
    }

    #[test]
    fn a_tag_takes_up_to_the_cap_of_distinct_pairs_and_known_pairs_always() {
        let mut b = open();
        for i in 0..MAX_SERIES_PER_CONFIG {
            // Alternating processes: the cap is per tag, over both labels.
            let process = if i % 2 == 0 { "ptp4l" } else { "phc2sys" };
            assert_eq!(b.admit(C, process, &format!("eth{i}")), Ok(()), "pair {i}");
        }
        assert_eq!(b.admit(C, "ptp4l", "one-too-many"), Err(Rejection::TooManySeries));
        assert_eq!(b.admit(C, "ts2phc", "eth0"), Err(Rejection::TooManySeries), "a new process is a new pair");
        assert_eq!(Rejection::TooManySeries.reason(), Some("too_many_series"));
        // Pairs already taken keep updating.
        for i in (0..MAX_SERIES_PER_CONFIG).step_by(2) {
            assert_eq!(b.admit(C, "ptp4l", &format!("eth{i}")), Ok(()));
        }
        assert_eq!(b.series(C), MAX_SERIES_PER_CONFIG);
        // Other tags have their own budget.
        b.open("ptp4l.1.config");
        assert_eq!(b.admit("ptp4l.1.config", "ptp4l", "one-too-many"), Ok(()));
        // A released pair frees its place.
        b.release(C, "ptp4l", "eth0");
        assert_eq!(b.admit(C, "ptp4l", "one-too-many"), Ok(()));
        assert_eq!(b.admit(C, "ptp4l", "eth0"), Err(Rejection::TooManySeries));
        b.release("ptp4l.9.config", "ptp4l", "eth0"); // unknown: nothing happens
    }

    #[test]
    fn port_numbers_are_capped_too_even_under_one_name() {
        let mut b = open();
        for port in 1..=MAX_PORTS_PER_CONFIG as u32 {
            assert_eq!(b.admit_port(C, "ptp4l", port, "eth0"), Ok(()), "port {port}");
        }
        assert_eq!(b.series(C), 1, "one name, one pair");
        assert_eq!(b.admit_port(C, "ptp4l", u32::MAX, "eth0"), Err(Rejection::TooManySeries));
        // Known port numbers keep working, under a new name too while pairs are left.
        assert_eq!(b.admit_port(C, "ptp4l", 1, "eth1"), Ok(()));
        // A refused pair does not record the port number.
        let mut b = open();
        for i in 0..MAX_SERIES_PER_CONFIG {
            assert_eq!(b.admit(C, "ptp4l", &format!("eth{i}")), Ok(()));
        }
        assert_eq!(b.admit_port(C, "ptp4l", 7, "new"), Err(Rejection::TooManySeries));
        b.release(C, "ptp4l", "eth0");
        for port in 1..=MAX_PORTS_PER_CONFIG as u32 {
            assert_eq!(b.admit_port(C, "ptp4l", port, "eth1"), Ok(()), "port {port}: the refusal used nothing");
        }
    }
}
