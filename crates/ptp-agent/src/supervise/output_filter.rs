//! Which of a child's output lines reach the agent's log (`ptpSettings.logReduce` and
//! `ptpSettings.stdoutFilter`). Pure: a line and the time in, what to print out. The parser is not
//! concerned: the line reader hands it every line whatever this decides.
//!
//! The Go daemon's rules (its `logfilter` package), with the differences decided here:
//!
//! * `stdoutFilter`: a line it matches is not printed, in every mode. (Go ignored it with
//!   `logReduce: enhanced`.) It is checked first: a sample it hides is not summarised either.
//! * Per-sample lines: ptp4l's and ts2phc's `master offset <n> s<k> ...`, phc2sys's
//!   `phc offset <n> s<k> ...`. Every other line (port state changes, `rms` summaries, errors)
//!   is printed in every mode.
//! * `logReduce: true|basic`: lines containing `master offset` are not printed (as in Go: ptp4l
//!   and ts2phc; phc2sys's `phc offset` lines are printed).
//! * `logReduce: enhanced [interval] [threshold]`: the per-sample lines of ptp4l, phc2sys and
//!   ts2phc (Go: ptp4l and phc2sys only, ts2phc unfiltered) are not printed; their offsets are
//!   gathered, and the first one that arrives once `interval` has passed since the last summary
//!   (or the start) is printed as a summary of the samples so far, itself included, in Go's
//!   format (`ptp4l[<unix s>]: [ptp4l.0.config] master offset summary: cnt=.., min=.., max=..,
//!   avg=.., SD=..`; the message tag is the agent's, without Go's `:6`). There is no timer: a
//!   summary comes with a sample. A sample whose |offset| is beyond a non-zero `threshold` is
//!   printed as it comes, after a summary of what was gathered (if anything), and is not itself
//!   gathered. A sample whose offset does not read is printed.
//! * Servo state changes (not in Go): with `basic` or `enhanced`, a sample whose servo state
//!   (`s0`, `s1`, `s2`, ...) differs from the previous sample's of the same clock (the word before
//!   `master offset`/`phc offset`), or the first sample of a clock, is printed (after a summary,
//!   in enhanced mode, like a threshold crossing). The state of at most [`MAX_CLOCKS`] clocks is
//!   remembered per stream; samples of further clocks are reduced without this.
//!
//! One [`OutputFilter`] per stream of a child instance (samples come on stdout): a restarted child
//! starts over.

use std::time::{Duration, Instant};

use ptp_api::Program;
use ptp_api::settings::{LogReduce, ProfileSettings};
use regex::Regex;

/// Clocks whose servo state is remembered per stream (as the parser's series budget).
pub const MAX_CLOCKS: usize = 32;

/// What a process's output filter is made of: plain data, part of its
/// [`super::ProcessSpec`]. The default prints every line.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OutputConfig {
    pub log_reduce: LogReduce,
    /// `stdoutFilter`: a regular expression (checked when the profile was read).
    pub stdout_filter: Option<String>,
    /// The program whose output this is (which lines are per-sample lines); `None`: unknown,
    /// no line is one.
    pub program: Option<Program>,
    /// The message tag of its lines, for the summaries (`[ptp4l.0.config]`).
    pub tag: String,
}

impl OutputConfig {
    /// The configuration of `program`'s output in a profile with `settings`, its lines tagged `tag`.
    pub fn new(settings: &ProfileSettings, program: Program, tag: impl Into<String>) -> Self {
        OutputConfig {
            log_reduce: settings.log_reduce,
            stdout_filter: settings.stdout_filter.clone(),
            program: Some(program),
            tag: tag.into(),
        }
    }
}

/// What to print for a line.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Nothing: the line is kept out of the log.
    Nothing,
    /// The line.
    Line,
    /// A summary instead of the line (whose sample the summary includes).
    Summary(Summary),
    /// A summary of the samples gathered so far, then the line.
    SummaryThenLine(Summary),
}

impl Output {
    /// Whether the line itself is printed.
    pub fn prints_line(&self) -> bool {
        matches!(self, Output::Line | Output::SummaryThenLine(_))
    }
}

/// A summary of gathered samples (Go's fields; `sd` is the sample standard deviation, NaN for
/// one sample, as Go's gonum printed it).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// `ptp4l`, `phc2sys`, `ts2phc`.
    pub program: &'static str,
    pub tag: String,
    /// `master offset` or `phc offset`.
    pub what: &'static str,
    pub count: u64,
    pub min: i64,
    pub max: i64,
    pub avg: f64,
    pub sd: f64,
}

impl Summary {
    /// The summary line, stamped `unix` (the wall-clock time since the Unix epoch), in the Go
    /// daemon's format.
    pub fn line(&self, unix: Duration) -> String {
        format!(
            "{}[{:.3}]: {} {} summary: cnt={}, min={}, max={}, avg={:.2}, SD={:.2}",
            self.program,
            unix.as_millis() as f64 / 1000.0,
            self.tag,
            self.what,
            self.count,
            self.min,
            self.max,
            self.avg,
            self.sd
        )
    }
}

/// Count, extremes, mean and sum of squared deviations of the gathered offsets (Welford), in
/// constant memory.
#[derive(Clone, Debug, Default)]
struct Stats {
    count: u64,
    min: i64,
    max: i64,
    mean: f64,
    m2: f64,
}

impl Stats {
    fn add(&mut self, value: i64) {
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        }
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.count += 1;
        let x = value as f64;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    fn sd(&self) -> f64 {
        if self.count < 2 { f64::NAN } else { (self.m2 / (self.count - 1) as f64).sqrt() }
    }
}

/// A per-sample line's fields.
#[derive(Debug, PartialEq, Eq)]
struct Sample<'a> {
    /// The word before the marker: the clock or port (ptp4l: its message tag).
    clock: &'a str,
    offset: Option<i64>,
    servo: &'a str,
}

/// Reads `... <clock> <marker> <offset> <servo> ...` from `line`, if it contains `marker`.
fn sample<'a>(line: &'a str, marker: &str) -> Option<Sample<'a>> {
    let at = line.find(marker)?;
    let clock = line[..at].split_whitespace().next_back().unwrap_or("");
    let mut rest = line[at + marker.len()..].split_whitespace();
    let offset = rest.next().and_then(|t| t.parse::<i64>().ok());
    let servo = rest.next().filter(|t| t.starts_with('s')).unwrap_or("");
    Some(Sample { clock, offset, servo })
}

#[derive(Debug)]
enum Mode {
    All,
    Basic,
    Enhanced { interval: Duration, threshold_ns: u64, due: Instant, stats: Stats },
}

/// The output filter of one stream of one child instance.
#[derive(Debug)]
pub struct OutputFilter {
    stdout_filter: Option<Regex>,
    mode: Mode,
    program: &'static str,
    /// The per-sample lines' marker in enhanced mode (`None`: no line is one).
    marker: Option<&'static str>,
    tag: String,
    /// Each clock's last servo state.
    servo: Vec<(String, String)>,
}

impl OutputFilter {
    /// The filter of `config`, started at `now`; an error when its `stdoutFilter` is not a
    /// regular expression (the profile was checked, so this is not expected).
    pub fn new(config: &OutputConfig, now: Instant) -> Result<Self, String> {
        let stdout_filter = match &config.stdout_filter {
            Some(text) => Some(Regex::new(text).map_err(|e| format!("stdoutFilter {text:?}: {e}"))?),
            None => None,
        };
        let mode = match config.log_reduce {
            LogReduce::Off => Mode::All,
            LogReduce::Basic => Mode::Basic,
            LogReduce::Enhanced { interval, threshold_ns } => {
                Mode::Enhanced { interval, threshold_ns, due: now + interval, stats: Stats::default() }
            }
        };
        let marker = config.program.map(|p| if p == Program::Phc2sys { "phc offset" } else { "master offset" });
        Ok(OutputFilter {
            stdout_filter,
            mode,
            program: config.program.map_or("", Program::name),
            marker,
            tag: config.tag.clone(),
            servo: Vec::new(),
        })
    }

    /// A filter that prints every line.
    pub fn everything() -> Self {
        OutputFilter {
            stdout_filter: None,
            mode: Mode::All,
            program: "",
            marker: None,
            tag: String::new(),
            servo: Vec::new(),
        }
    }

    /// What to print for `line`, which arrived at `now`.
    pub fn line(&mut self, line: &str, now: Instant) -> Output {
        if self.stdout_filter.as_ref().is_some_and(|re| re.is_match(line)) {
            return Output::Nothing;
        }
        match &self.mode {
            Mode::All => Output::Line,
            Mode::Basic => match sample(line, "master offset") {
                Some(s) if self.servo_changed(&s) => Output::Line,
                Some(_) => Output::Nothing,
                None => Output::Line,
            },
            Mode::Enhanced { .. } => self.enhanced(line, now),
        }
    }

    fn enhanced(&mut self, line: &str, now: Instant) -> Output {
        let Some(marker) = self.marker else { return Output::Line };
        let Some(s) = sample(line, marker) else { return Output::Line };
        let Some(offset) = s.offset else { return Output::Line };
        let changed = self.servo_changed(&s);
        let Mode::Enhanced { interval, threshold_ns, due, stats } = &mut self.mode else { return Output::Line };
        if changed || (*threshold_ns > 0 && offset.unsigned_abs() > *threshold_ns) {
            if stats.count == 0 {
                return Output::Line;
            }
            let summary = Self::flush(self.program, &self.tag, marker, stats);
            *due = now + *interval;
            return Output::SummaryThenLine(summary);
        }
        stats.add(offset);
        if now > *due {
            let summary = Self::flush(self.program, &self.tag, marker, stats);
            *due = now + *interval;
            return Output::Summary(summary);
        }
        Output::Nothing
    }

    fn flush(program: &'static str, tag: &str, what: &'static str, stats: &mut Stats) -> Summary {
        let summary = Summary {
            program,
            tag: tag.to_string(),
            what,
            count: stats.count,
            min: stats.min,
            max: stats.max,
            avg: stats.mean,
            sd: stats.sd(),
        };
        *stats = Stats::default();
        summary
    }

    /// Records `s`'s servo state: whether it differs from its clock's last one (or is the first).
    fn servo_changed(&mut self, s: &Sample<'_>) -> bool {
        match self.servo.iter().position(|(clock, _)| clock == s.clock) {
            Some(i) if self.servo[i].1 == s.servo => false,
            Some(i) => {
                self.servo[i].1 = s.servo.to_string();
                true
            }
            None if self.servo.len() < MAX_CLOCKS => {
                self.servo.push((s.clock.to_string(), s.servo.to_string()));
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
