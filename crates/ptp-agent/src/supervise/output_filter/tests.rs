use std::time::{Duration, Instant};

use ptp_api::Program;
use ptp_api::settings::{LogReduce, ProfileSettings};

use super::*;

const TAG: &str = "[ptp4l.0.config]";

fn ptp4l(offset: i64, servo: &str) -> String {
    format!("ptp4l[100.000]: {TAG} master offset {offset} {servo} freq -5 path delay 300")
}

fn phc2sys(clock: &str, offset: i64, servo: &str) -> String {
    format!("phc2sys[100.000]: {TAG} {clock} phc offset {offset} {servo} freq -5 delay 900")
}

fn ts2phc(iface: &str, offset: i64) -> String {
    format!("ts2phc[100.000]: [ts2phc.0.config] {iface} master offset {offset} s2 freq -5")
}

const PORT: &str = "ptp4l[100.000]: [ptp4l.0.config] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED";
const RMS: &str = "ptp4l[100.000]: [ptp4l.0.config] rms 5 max 9 freq -3 +/- 2 delay 300 +/- 0";
const ERROR: &str = "ptp4l[100.000]: [ptp4l.0.config] timed out while polling for tx timestamp";

fn config(program: Program, log_reduce: LogReduce, stdout_filter: Option<&str>) -> OutputConfig {
    let settings =
        ProfileSettings { log_reduce, stdout_filter: stdout_filter.map(str::to_string), ..ProfileSettings::default() };
    OutputConfig::new(&settings, program, if program == Program::Ts2phc { "[ts2phc.0.config]" } else { TAG })
}

fn filter(program: Program, log_reduce: LogReduce, stdout_filter: Option<&str>, start: Instant) -> OutputFilter {
    OutputFilter::new(&config(program, log_reduce, stdout_filter), start).unwrap()
}

fn enhanced(interval_s: u64, threshold_ns: u64) -> LogReduce {
    LogReduce::Enhanced { interval: Duration::from_secs(interval_s), threshold_ns }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// The summary's (count, min, max) and its avg and SD to two decimals, as printed.
fn figures(out: &Output) -> (u64, i64, i64, String, String) {
    let s = match out {
        Output::Summary(s) | Output::SummaryThenLine(s) => s,
        other => panic!("no summary: {other:?}"),
    };
    (s.count, s.min, s.max, format!("{:.2}", s.avg), format!("{:.2}", s.sd))
}

#[test]
fn the_default_configuration_and_false_print_every_line() {
    let t = Instant::now();
    let lines =
        [ptp4l(5, "s2"), phc2sys("CLOCK_REALTIME", 3, "s2"), PORT.into(), RMS.into(), ERROR.into(), String::new()];
    let mut default = OutputFilter::new(&OutputConfig::default(), t).unwrap();
    let mut off = filter(Program::Ptp4l, LogReduce::Off, None, t);
    let mut everything = OutputFilter::everything();
    for i in 0..3 {
        for line in &lines {
            let now = t + secs(f64::from(i) * 40.0);
            assert_eq!(default.line(line, now), Output::Line, "{line}");
            assert_eq!(off.line(line, now), Output::Line, "{line}");
            assert_eq!(everything.line(line, now), Output::Line, "{line}");
        }
    }
}

#[test]
fn stdout_filter_hides_what_it_matches_in_every_mode_and_nothing_else() {
    let t = Instant::now();
    for mode in [LogReduce::Off, LogReduce::Basic, enhanced(30, 0), enhanced(1, 100)] {
        let mut f = filter(Program::Ptp4l, mode, Some("rms|UNCALIBRATED"), t);
        assert_eq!(f.line(RMS, t), Output::Nothing, "{mode:?}");
        assert_eq!(f.line(PORT, t), Output::Nothing, "{mode:?}: even a port state change, the user asked");
        assert_eq!(f.line(ERROR, t), Output::Line, "{mode:?}");
    }
    // A sample it hides is neither printed nor summarised, even beyond the threshold.
    let mut f = filter(Program::Ptp4l, enhanced(1, 100), Some("offset -?[0-9]{4}"), t);
    assert_eq!(f.line(&ptp4l(1, "s2"), t), Output::Line, "first sample");
    assert_eq!(f.line(&ptp4l(5000, "s2"), t), Output::Nothing, "hidden, beyond the threshold or not");
    assert_eq!(f.line(&ptp4l(2, "s2"), t + secs(0.5)), Output::Nothing);
    let out = f.line(&ptp4l(4, "s2"), t + secs(1.5));
    assert_eq!(figures(&out), (2, 2, 4, "3.00".into(), "1.41".into()), "the hidden 5000 is not in it");
}

#[test]
fn an_invalid_stdout_filter_is_an_error() {
    let e = OutputFilter::new(&config(Program::Ptp4l, LogReduce::Off, Some("(")), Instant::now()).unwrap_err();
    assert!(e.starts_with("stdoutFilter \"(\""), "{e}");
}

#[test]
fn basic_hides_master_offset_lines_but_the_first_and_servo_state_changes() {
    let t = Instant::now();
    let mut f = filter(Program::Ptp4l, LogReduce::Basic, None, t);
    assert_eq!(f.line(&ptp4l(-900, "s0"), t), Output::Line, "the first sample");
    assert_eq!(f.line(&ptp4l(-800, "s0"), t), Output::Nothing);
    assert_eq!(f.line(&ptp4l(-30, "s1"), t), Output::Line, "s0 -> s1");
    assert_eq!(f.line(&ptp4l(-3, "s2"), t), Output::Line, "s1 -> s2");
    for i in 0..1000_i32 {
        assert_eq!(f.line(&ptp4l(i64::from(i % 7 - 3), "s2"), t + secs(f64::from(i))), Output::Nothing);
    }
    assert_eq!(f.line(PORT, t), Output::Line);
    assert_eq!(f.line(RMS, t), Output::Line);
    assert_eq!(f.line(ERROR, t), Output::Line);
    assert_eq!(f.line(&ptp4l(5_000_000, "s2"), t), Output::Nothing, "basic has no threshold");
    assert_eq!(f.line(&ptp4l(-900, "s0"), t), Output::Line, "s2 -> s0");

    // As in Go: phc2sys's `phc offset` lines are printed; ts2phc's `master offset` lines are not.
    let mut phc = filter(Program::Phc2sys, LogReduce::Basic, None, t);
    for _ in 0..3 {
        assert_eq!(phc.line(&phc2sys("CLOCK_REALTIME", 3, "s2"), t), Output::Line);
    }
    let mut ts = filter(Program::Ts2phc, LogReduce::Basic, None, t);
    assert_eq!(ts.line(&ts2phc("ens2f0", 1), t), Output::Line, "first of ens2f0");
    assert_eq!(ts.line(&ts2phc("ens2f0", 1), t), Output::Nothing);
    assert_eq!(ts.line(&ts2phc("ens3f0", 1), t), Output::Line, "first of another clock");
    assert_eq!(ts.line(&ts2phc("ens3f0", 1), t), Output::Nothing);
}

#[test]
fn enhanced_summarises_once_per_interval_with_the_sample_that_arrives_after_it() {
    let t = Instant::now();
    let mut f = filter(Program::Ptp4l, enhanced(10, 0), None, t);
    assert_eq!(f.line(&ptp4l(7, "s2"), t), Output::Line, "the first sample");
    for (i, offset) in [1, 2, 3].into_iter().enumerate() {
        assert_eq!(f.line(&ptp4l(offset, "s2"), t + secs(i as f64 + 1.0)), Output::Nothing);
    }
    assert_eq!(f.line(&ptp4l(99, "s2"), t + secs(10.0)), Output::Nothing, "due after 10 s, not at 10 s");
    let out = f.line(&ptp4l(4, "s2"), t + secs(10.001));
    assert!(matches!(out, Output::Summary(_)) && !out.prints_line(), "{out:?}");
    assert_eq!(figures(&out), (5, 1, 99, "21.80".into(), "43.17".into()), "the sample that brought it included");
    // The next interval counts from the summary.
    assert_eq!(f.line(&ptp4l(-5, "s2"), t + secs(15.0)), Output::Nothing);
    assert_eq!(f.line(&ptp4l(-6, "s2"), t + secs(20.0)), Output::Nothing, "10 s after the first one at 10.001");
    let out = f.line(&ptp4l(-7, "s2"), t + secs(20.002));
    assert_eq!(figures(&out), (3, -7, -5, "-6.00".into(), "1.00".into()));
    // No line, no summary: there is no timer.
    let out = f.line(&ptp4l(-8, "s2"), t + secs(500.0));
    assert_eq!(figures(&out), (1, -8, -8, "-8.00".into(), "NaN".into()), "one sample: SD NaN, as Go printed it");
}

#[test]
fn enhanced_prints_a_sample_beyond_the_threshold_at_once_after_a_summary() {
    let t = Instant::now();
    let mut f = filter(Program::Ptp4l, enhanced(30, 100), None, t);
    assert_eq!(f.line(&ptp4l(0, "s2"), t), Output::Line, "the first sample");
    assert_eq!(f.line(&ptp4l(-101, "s2"), t + secs(1.0)), Output::Line, "beyond, nothing gathered: only the line");
    assert_eq!(f.line(&ptp4l(100, "s2"), t + secs(2.0)), Output::Nothing, "at the threshold is not beyond it");
    assert_eq!(f.line(&ptp4l(-100, "s2"), t + secs(3.0)), Output::Nothing);
    let out = f.line(&ptp4l(250, "s2"), t + secs(4.0));
    assert!(matches!(out, Output::SummaryThenLine(_)) && out.prints_line(), "{out:?}");
    assert_eq!(figures(&out), (2, -100, 100, "0.00".into(), "141.42".into()), "the crossing sample is not in it");
    assert_eq!(f.line(&ptp4l(i64::MIN, "s2"), t + secs(5.0)), Output::Line, "i64::MIN is beyond");
    // The flush restarted the interval: due 30 s after 4 s.
    assert_eq!(f.line(&ptp4l(1, "s2"), t + secs(33.0)), Output::Nothing);
    assert_eq!(f.line(&ptp4l(1, "s2"), t + secs(34.0)), Output::Nothing);
    assert!(matches!(f.line(&ptp4l(1, "s2"), t + secs(34.1)), Output::Summary(_)));
}

#[test]
fn enhanced_prints_servo_state_changes_after_a_summary() {
    let t = Instant::now();
    let mut f = filter(Program::Ptp4l, enhanced(30, 0), None, t);
    assert_eq!(f.line(&ptp4l(-900_000, "s0"), t), Output::Line);
    assert_eq!(f.line(&ptp4l(-800_000, "s0"), t), Output::Nothing);
    let out = f.line(&ptp4l(-50, "s1"), t + secs(1.0));
    assert_eq!(figures(&out), (1, -800_000, -800_000, "-800000.00".into(), "NaN".into()));
    assert!(out.prints_line());
    assert_eq!(f.line(&ptp4l(-5, "s2"), t + secs(2.0)), Output::Line, "s1 -> s2, nothing gathered");
    assert_eq!(f.line(&ptp4l(-4, "s2"), t + secs(3.0)), Output::Nothing);
}

#[test]
fn enhanced_prints_every_other_line_and_samples_whose_offset_does_not_read() {
    let t = Instant::now();
    let mut f = filter(Program::Ptp4l, enhanced(30, 0), None, t);
    let _ = f.line(&ptp4l(1, "s2"), t);
    for line in [
        PORT,
        RMS,
        ERROR,
        "",
        "ptp4l[1.0]: [ptp4l.0.config] master offset x s2 freq 1",
        "ptp4l[1.0]: [ptp4l.0.config] master offset",
    ] {
        assert_eq!(f.line(line, t + secs(100.0)), Output::Line, "{line:?}");
    }
    assert_eq!(f.line(&phc2sys("CLOCK_REALTIME", 3, "s2"), t), Output::Line, "not ptp4l's kind of sample");
}

#[test]
fn enhanced_summarises_phc2sys_phc_offsets_and_ts2phc_master_offsets() {
    let t = Instant::now();
    let mut f = filter(Program::Phc2sys, enhanced(1, 0), None, t);
    assert_eq!(f.line(&phc2sys("CLOCK_REALTIME", 3, "s2"), t), Output::Line);
    assert_eq!(f.line(&phc2sys("ens1f0", 30, "s2"), t), Output::Line, "first of another clock");
    assert_eq!(f.line(&phc2sys("CLOCK_REALTIME", 5, "s2"), t), Output::Nothing);
    assert_eq!(f.line(&phc2sys("ens1f0", 31, "s2"), t), Output::Nothing);
    assert_eq!(f.line(&ptp4l(3, "s2"), t + secs(5.0)), Output::Line, "a master offset in phc2sys's output");
    let Output::Summary(s) = f.line(&phc2sys("CLOCK_REALTIME", 7, "s2"), t + secs(5.0)) else { panic!() };
    assert_eq!((s.count, s.min, s.max), (3, 5, 31), "one summary for every clock of the process, as in Go");
    assert_eq!(
        s.line(Duration::from_millis(1_700_000_000_123)),
        "phc2sys[1700000000.123]: [ptp4l.0.config] phc offset summary: cnt=3, min=5, max=31, avg=14.33, SD=14.47"
    );

    let mut f = filter(Program::Ts2phc, enhanced(1, 0), None, t);
    assert_eq!(f.line(&ts2phc("ens2f0", 1), t), Output::Line);
    assert_eq!(f.line(&ts2phc("ens2f0", -1), t), Output::Nothing);
    let Output::Summary(s) = f.line(&ts2phc("ens2f0", 2), t + secs(2.0)) else { panic!() };
    assert_eq!(
        s.line(Duration::from_secs(5)),
        "ts2phc[5.000]: [ts2phc.0.config] master offset summary: cnt=2, min=-1, max=2, avg=0.50, SD=2.12"
    );
}

#[test]
fn the_summary_line_is_in_the_go_daemons_format() {
    let s = Summary {
        program: "ptp4l",
        tag: TAG.into(),
        what: "master offset",
        count: 48,
        min: -10,
        max: 13,
        avg: 0.27,
        sd: 5.2271,
    };
    assert_eq!(
        s.line(Duration::from_millis(1_700_000_000_500)),
        "ptp4l[1700000000.500]: [ptp4l.0.config] master offset summary: cnt=48, min=-10, max=13, avg=0.27, SD=5.23"
    );
}

#[test]
fn the_statistics_match_a_direct_computation() {
    let t = Instant::now();
    let mut f = filter(Program::Ptp4l, enhanced(1, 0), None, t);
    let _ = f.line(&ptp4l(0, "s2"), t);
    let values: Vec<i64> =
        (0..5000).map(|i: i64| (i * 7919) % 2001 - 1000 + i64::from(i % 3 == 0) * 1_000_000).collect();
    for v in &values[..values.len() - 1] {
        assert_eq!(f.line(&ptp4l(*v, "s2"), t), Output::Nothing);
    }
    let Output::Summary(s) = f.line(&ptp4l(values[values.len() - 1], "s2"), t + secs(2.0)) else { panic!() };
    let n = values.len() as f64;
    let mean = values.iter().map(|v| *v as f64).sum::<f64>() / n;
    let sd = (values.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert_eq!(s.count, values.len() as u64);
    assert_eq!((s.min, s.max), (*values.iter().min().unwrap(), *values.iter().max().unwrap()));
    assert!((s.avg - mean).abs() < 1e-6 && (s.sd - sd).abs() < 1e-6, "{s:?} vs {mean} {sd}");
}

#[test]
fn the_servo_states_of_at_most_max_clocks_are_remembered() {
    let t = Instant::now();
    let mut f = filter(Program::Phc2sys, LogReduce::Basic, None, t);
    let mut f2 = filter(Program::Ts2phc, LogReduce::Basic, None, t);
    for i in 0..MAX_CLOCKS {
        assert_eq!(f2.line(&ts2phc(&format!("eth{i}"), 1), t), Output::Line);
    }
    assert_eq!(f2.line(&ts2phc("eth99", 1), t), Output::Nothing, "beyond the budget: reduced without the first line");
    assert_eq!(f2.line(&ts2phc("eth0", 1), t), Output::Nothing);
    assert_eq!(f.line(&phc2sys("CLOCK_REALTIME", 1, "s2"), t), Output::Line);
}

/// The goal: at 16 samples a second while locked, at most one line a second.
#[test]
fn sixteen_samples_a_second_make_at_most_a_line_a_second() {
    let t = Instant::now();
    for (mode, most) in [(LogReduce::Basic, 0), (enhanced(30, 0), 10), (enhanced(5, 0), 60), (enhanced(1, 0), 300)] {
        let mut f = filter(Program::Ptp4l, mode, None, t);
        let _ = f.line(&ptp4l(0, "s2"), t);
        let mut printed = 0;
        for i in 1..=16 * 300 {
            let out = f.line(&ptp4l(i64::from(i % 11) - 5, "s2"), t + Duration::from_millis(62) * i as u32);
            printed += u32::from(out != Output::Nothing) + u32::from(matches!(out, Output::SummaryThenLine(_)));
        }
        assert!(printed <= most, "{mode:?}: {printed} lines in 300 s");
    }
}
