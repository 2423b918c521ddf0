//! Parsing linuxptp log lines (ptp4l, phc2sys, ts2phc) into events: per-sample offsets, summaries
//! and port state changes. Works with stock linuxptp 3.1 and 4.x output, with or without a
//! message tag (`[ptp4l.0.config]`, `[ptp4l.0.config:6]`, `[ts2phc.0.cfg]`, and an unexpanded
//! `[x.0.config:{level}]`). The hot path allocates nothing: a [`Line`] borrows from the input.

mod ports;

use std::str::SplitAsciiWhitespace;

use serde::Serialize;

pub use ports::{PortTracker, Role};

/// What a line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Offset,
    Summary,
    Port,
    /// phc2sys chose a source clock: `selecting IFACE as [out-of-]domain source clock`.
    Source,
    Other,
}

/// Servo state `s0`..`s3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Servo {
    S0,
    S1,
    S2,
    S3,
}

impl Servo {
    fn parse(token: &str) -> Option<Self> {
        match token {
            "s0" => Some(Servo::S0),
            "s1" => Some(Servo::S1),
            "s2" => Some(Servo::S2),
            "s3" => Some(Servo::S3),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Servo::S0 => "s0",
            Servo::S1 => "s1",
            Servo::S2 => "s2",
            Servo::S3 => "s3",
        }
    }

    /// s2/s3 mean the servo locked.
    pub fn is_locked(self) -> bool {
        matches!(self, Servo::S2 | Servo::S3)
    }
}

/// The clock state a single line implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LineClockState {
    Locked,
    Freerun,
    Holdover,
}

/// One parsed line; fields that do not apply are `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Line<'a> {
    pub kind: Option<Kind>,
    /// `ptp4l`, `phc2sys`, `ts2phc` (from `name[uptime]:`).
    pub process: Option<&'a str>,
    /// The message tag without brackets and level suffix (`ptp4l.0.config`).
    pub config: Option<&'a str>,
    /// The interface or clock the sample is about (`CLOCK_REALTIME`, `ens1f0`, `/dev/ptp4`);
    /// `master` for a ptp4l `master offset` line (see [`PortTracker`] for the slave port).
    pub iface: Option<&'a str>,
    pub offset_ns: Option<i64>,
    pub max_offset_ns: Option<i64>,
    pub freq_adj_ppb: Option<i64>,
    pub delay_ns: Option<i64>,
    pub servo: Option<Servo>,
    pub holdover: bool,
    /// A [`Kind::Source`] line chose a clock of another domain (`out-of-domain`): with several
    /// domains (`-z` per ptp4l), the one phc2sys follows.
    pub out_of_domain: bool,
    pub port: Option<u32>,
    pub port_name: Option<&'a str>,
    pub from_state: Option<&'a str>,
    pub to_state: Option<&'a str>,
    pub event: Option<&'a str>,
}

impl Line<'_> {
    /// LOCKED for s2/s3, FREERUN for s0/s1, HOLDOVER for a ts2phc `holdover` line.
    pub fn clock_state(&self) -> Option<LineClockState> {
        if self.holdover {
            return Some(LineClockState::Holdover);
        }
        self.servo.map(|s| if s.is_locked() { LineClockState::Locked } else { LineClockState::Freerun })
    }

    /// The port role a port state change leads to.
    pub fn role(&self) -> Option<Role> {
        self.to_state.map(|to| Role::from_state(to, self.event))
    }
}

/// What precedes a child's line in the agent's own text log.
pub(crate) const AGENT_LOG_TARGET: &str = "ptp_agent::child_output:";

/// The linuxptp part of a line of the agent's own log
/// (`<time>  INFO ptp_agent::child_output: ptp4l[...]: ...`); other lines as they are. For
/// `ptp-agent parse` over `kubectl logs`, not for the runtime (it reads the children directly).
pub fn strip_agent_log_prefix(line: &str) -> &str {
    match line.find(AGENT_LOG_TARGET) {
        Some(at) => line[at + AGENT_LOG_TARGET.len()..].trim_start(),
        None => line,
    }
}

/// Parses one line. Never fails: unrecognised lines are [`Kind::Other`].
pub fn parse(line: &str) -> Line<'_> {
    let mut out = Line { kind: Some(Kind::Other), ..Line::default() };
    let mut rest = line.trim();
    // `ptp4l[1234.567]: ` (the process name and uptime linuxptp prints to stdout).
    if let Some(open) = rest.find('[')
        && let Some(after) = rest[open..].find("]:")
        && open > 0
        && !rest[..open].contains(char::is_whitespace)
    {
        out.process = Some(&rest[..open]);
        rest = rest[open + after + 2..].trim_start();
    }
    // `[ptp4l.0.config]`, `[ptp4l.0.config:6]`, `[ptp4l.0.config:{level}]`.
    if let Some(tagged) = rest.strip_prefix('[')
        && let Some(close) = tagged.find(']')
    {
        let tag = &tagged[..close];
        let name = tag.split_once(':').map_or(tag, |(name, _)| name);
        if !name.is_empty() {
            out.config = Some(name);
        }
        rest = tagged[close + 1..].trim_start();
    }
    let mut words = rest.split_ascii_whitespace();
    let Some(first) = words.next() else { return out };
    if first == "port" {
        parse_port(words, &mut out);
    } else if first == "selecting" {
        parse_source(words, &mut out);
    } else if first == "rms" {
        parse_summary(words, &mut out);
    } else {
        parse_sample(first, words, &mut out);
    }
    out
}

/// `port N: A to B on EVENT` or `port N (iface): A to B on EVENT`.
fn parse_port<'a>(mut words: SplitAsciiWhitespace<'a>, out: &mut Line<'a>) {
    let Some(number) = words.next() else { return };
    let (number, mut has_colon) = match number.strip_suffix(':') {
        Some(n) => (n, true),
        None => (number, false),
    };
    let Ok(port) = number.parse::<u32>() else { return };
    let mut from = words.next();
    if !has_colon {
        let Some(name) = from.and_then(|w| w.strip_prefix('(')).and_then(|w| w.strip_suffix("):")) else { return };
        out.port_name = Some(name);
        has_colon = true;
        from = words.next();
    }
    let (Some(from), Some("to"), Some(to)) = (from, words.next(), words.next()) else {
        // Other port messages (`port 1: link down`) still name the port.
        if has_colon {
            out.port = Some(port);
        }
        return;
    };
    out.kind = Some(Kind::Port);
    out.port = Some(port);
    out.from_state = Some(from);
    out.to_state = Some(to);
    if words.next() == Some("on") {
        out.event = words.next();
    }
}

/// `selecting IFACE as domain source clock`, `selecting IFACE as out-of-domain source clock`.
fn parse_source<'a>(mut words: SplitAsciiWhitespace<'a>, out: &mut Line<'a>) {
    let (Some(iface), Some("as"), Some(scope), Some("source"), Some("clock"), None) =
        (words.next(), words.next(), words.next(), words.next(), words.next(), words.next())
    else {
        return;
    };
    let out_of_domain = match scope {
        "domain" => false,
        "out-of-domain" => true,
        _ => return,
    };
    out.kind = Some(Kind::Source);
    out.iface = Some(iface);
    out.out_of_domain = out_of_domain;
}

/// `rms R max M freq F +/- x [delay D +/- y]` (the interface, if any, was already consumed).
fn parse_summary<'a>(mut words: SplitAsciiWhitespace<'a>, out: &mut Line<'a>) {
    let Some(rms) = words.next().and_then(int) else { return };
    let (Some("max"), Some(max)) = (words.next(), words.next().and_then(int)) else { return };
    let (Some("freq"), Some(freq)) = (words.next(), words.next().and_then(int)) else { return };
    out.kind = Some(Kind::Summary);
    out.offset_ns = Some(rms);
    out.max_offset_ns = Some(max);
    out.freq_adj_ppb = Some(freq);
    while let Some(word) = words.next() {
        if word == "delay" {
            out.delay_ns = words.next().and_then(int);
            break;
        }
    }
}

/// Per-sample lines and summaries with a leading interface:
/// `master offset N sX freq F [path delay D]` (ptp4l),
/// `CLOCK_REALTIME phc offset N sX freq F delay D` (phc2sys),
/// `IFACE master offset N sX freq F [holdover]`, `/dev/ptpN offset N sX freq F` (ts2phc),
/// `IFACE rms R max M ...` (summaries of phc2sys and ts2phc).
fn parse_sample<'a>(first: &'a str, mut words: SplitAsciiWhitespace<'a>, out: &mut Line<'a>) {
    let Some(second) = words.next() else { return };
    let iface = match (first, second) {
        ("master", "offset") => "master",
        (iface, "rms") => {
            out.iface = Some(iface);
            parse_summary(words, out);
            if out.kind != Some(Kind::Summary) {
                out.iface = None;
            }
            return;
        }
        (iface, "offset") => iface,
        (iface, "master" | "phc" | "sys") if words.next() == Some("offset") => iface,
        _ => return,
    };
    let Some(offset) = words.next().and_then(int) else { return };
    let Some(servo) = words.next().and_then(Servo::parse) else { return };
    let (Some("freq"), Some(freq)) = (words.next(), words.next().and_then(int)) else { return };
    out.kind = Some(Kind::Offset);
    out.iface = Some(iface);
    out.offset_ns = Some(offset);
    out.servo = Some(servo);
    out.freq_adj_ppb = Some(freq);
    while let Some(word) = words.next() {
        match word {
            "delay" => out.delay_ns = words.next().and_then(int),
            "holdover" => out.holdover = true,
            _ => {}
        }
    }
}

/// An integer as linuxptp prints it (`-12`, `+1234`, `-0`).
fn int(word: &str) -> Option<i64> {
    word.parse().ok()
}

/// The JSON object `ptp-agent parse` prints for a line.
#[derive(Debug, Serialize)]
pub struct LineJson<'a> {
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_ns: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_offset_ns: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freq_adj_ppb: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ns: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servo_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_state: Option<LineClockState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl<'a> LineJson<'a> {
    /// The JSON view of `line`; `slave` is the port the tracker knows as slave for a ptp4l
    /// `master offset` line (`iface` becomes that port).
    pub fn new(line: &Line<'a>, slave: Option<&'a str>) -> Self {
        let iface = match (line.iface, line.process) {
            (Some("master"), Some("ptp4l") | None) if line.kind == Some(Kind::Offset) => slave.or(Some("master")),
            (iface, _) => iface,
        };
        let kind = line.kind.unwrap_or(Kind::Other);
        LineJson {
            kind,
            process: line.process,
            config: line.config,
            iface,
            offset_ns: line.offset_ns,
            max_offset_ns: line.max_offset_ns,
            freq_adj_ppb: line.freq_adj_ppb,
            delay_ns: line.delay_ns,
            servo_state: line.servo.map(Servo::as_str),
            clock_state: line.clock_state(),
            port: if kind == Kind::Port { line.port } else { None },
            port_name: line.port_name,
            from_state: line.from_state,
            to_state: line.to_state,
            event: line.event,
            role: line.role(),
        }
    }
}

#[cfg(test)]
mod tests;
