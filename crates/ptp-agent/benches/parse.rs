//! Log parser throughput, in-process and as the `ptp-agent parse` command a user runs
//! (`kubectl logs ... | ptp-agent parse`), over 1,000,000 generated lines in the shapes ptp4l,
//! phc2sys and ts2phc print (offsets, rms summaries, port state changes, clock selection,
//! holdover, the agent's own log prefix, unrecognised lines), with varying numbers.
//!
//! `cargo bench -p ptp-agent --bench parse` (goal: the parser >= 1 M lines/s on one core; the
//! command's figure is what a user gets: parse + JSON output + pipes).
//! `PTP_PARSE_BASELINE=/path/to/an/older/ptp-agent` also measures that binary's command on the
//! same input (before/after figures).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ptp_agent::logparse::{Kind, PortTracker, parse, strip_agent_log_prefix};
use ptp_agent::parse_command::ParseCommand;

const LINES: usize = 1_000_000;
const RUNS: usize = 3;

/// A deterministic pseudo-random sequence (xorshift), so every run parses the same input.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn signed(&mut self, n: u64) -> i64 {
        self.below(2 * n + 1) as i64 - n as i64
    }
}

fn generate(count: usize) -> String {
    let mut n = Numbers(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(count * 100);
    let states = ["LISTENING", "UNCALIBRATED", "SLAVE", "MASTER", "PASSIVE", "FAULTY"];
    let events = ["RS_SLAVE", "RS_MASTER", "RS_PASSIVE", "MASTER_CLOCK_SELECTED", "INIT_COMPLETE", "FAULT_DETECTED"];
    let mut uptime = 365_195.391_f64;
    for i in 0..count {
        uptime += 0.0625;
        let config = n.below(3);
        let servo = ["s0", "s1", "s2", "s2", "s2", "s3"][n.below(6) as usize];
        // One line in eight comes through the agent's own log (`kubectl logs` of the agent).
        if i % 8 == 7 {
            out.push_str("2026-03-01T10:00:00.123456Z  INFO ptp_agent::child_output: ");
        }
        let line = match n.below(100) {
            0..=44 => format!(
                "ptp4l[{uptime:.3}]: [ptp4l.{config}.config] master offset {:>10} {servo} freq {:>7} path delay {:>9}",
                n.signed(2000),
                n.signed(60000),
                n.below(2000)
            ),
            45..=74 => format!(
                "phc2sys[{uptime:.3}]: [ptp4l.{config}.config:6] CLOCK_REALTIME phc offset {:>9} {servo} freq {:>7} delay {:>6}",
                n.signed(500),
                n.signed(90000),
                n.below(1500)
            ),
            75..=84 => format!(
                "ts2phc[{uptime:.3}]: [ts2phc.{config}.config] ens{}f{} master offset {:>10} {servo} freq {:>6}",
                n.below(8),
                n.below(4),
                n.signed(100),
                n.signed(900)
            ),
            85..=91 => format!(
                "ptp4l[{uptime:.3}]: [ptp4l.{config}.config] rms {:>4} max {:>4} freq {:>6} +/- {:>3} delay {:>5} +/- {:>3}",
                n.below(500),
                n.below(900),
                n.signed(70000),
                n.below(100),
                n.below(2000),
                n.below(50)
            ),
            92..=95 => format!(
                "ptp4l[{uptime:.3}]: [ptp4l.{config}.config] port {} (ens{}f{}): {} to {} on {}",
                n.below(4) + 1,
                n.below(8),
                n.below(4),
                states[n.below(6) as usize],
                states[n.below(6) as usize],
                events[n.below(6) as usize]
            ),
            96 => format!("ptp4l[{uptime:.3}]: [ptp4l.{config}.config:6] selected /dev/ptp{} as PTP clock", n.below(8)),
            97 => format!("ts2phc[{uptime:.3}]: [ts2phc.{config}.config] ens{}f0 holdover {}", n.below(8), n.below(60)),
            98 => format!("ptp4l[{uptime:.3}]: [ptp4l.{config}.config] timed out while polling for tx timestamp"),
            _ => format!("ptp4l[{uptime:.3}]: [ptp4l.{config}.config] assuming the grand master role"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn rate(lines: usize, took: Duration) -> f64 {
    lines as f64 / took.as_secs_f64()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn main() {
    let input = generate(LINES);
    let lines: Vec<&str> = input.lines().collect();
    assert_eq!(lines.len(), LINES);

    // The parser alone (what the runtime does per child line): parse + port tracking.
    let parser = median(
        (0..RUNS)
            .map(|_| {
                let mut tracker = PortTracker::default();
                let mut offsets = 0u64;
                let start = Instant::now();
                for text in &lines {
                    let line = parse(strip_agent_log_prefix(std::hint::black_box(text)));
                    if line.kind == Some(Kind::Port) {
                        tracker.observe(&line);
                    }
                    offsets += line.offset_ns.map_or(0, i64::unsigned_abs);
                }
                let took = start.elapsed();
                std::hint::black_box(offsets);
                took
            })
            .collect(),
    );

    // The command's loop in-process: parse + JSON into a buffer.
    let mut json = Vec::with_capacity(input.len() * 2);
    let in_process = median(
        (0..RUNS)
            .map(|_| {
                json.clear();
                let start = Instant::now();
                let count = ParseCommand::default().run(&mut input.as_bytes(), &mut json).expect("parses");
                let took = start.elapsed();
                assert_eq!(count as usize, LINES);
                took
            })
            .collect(),
    );
    let output_bytes = json.len();

    // The command as a user runs it: the binary, the input file on stdin, stdout to a pipe we drain.
    let dir = std::env::temp_dir().join(format!("ptp-bench-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("input.log");
    std::fs::File::create(&file).and_then(|mut f| f.write_all(input.as_bytes())).expect("writes the input");
    let run_command = |binary: &str, check_output: bool| {
        median(
            (0..RUNS)
                .map(|_| {
                    let start = Instant::now();
                    let mut child = Command::new(binary)
                        .arg("parse")
                        .stdin(std::fs::File::open(&file).expect("opens the input"))
                        .stdout(Stdio::piped())
                        .spawn()
                        .expect("starts ptp-agent parse");
                    let mut stdout = child.stdout.take().expect("stdout");
                    let written = std::io::copy(&mut stdout, &mut std::io::sink()).expect("reads the output");
                    assert!(child.wait().expect("waits").success(), "{binary} parse failed");
                    let took = start.elapsed();
                    if check_output {
                        assert_eq!(written as usize, output_bytes, "the command prints what the loop prints");
                    }
                    took
                })
                .collect(),
        )
    };
    let command = run_command(env!("CARGO_BIN_EXE_ptp-agent"), true);
    let baseline = std::env::var("PTP_PARSE_BASELINE").ok().map(|binary| (run_command(&binary, false), binary));
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "log parse over {LINES} generated lines ({:.0} MB in, {:.0} MB of JSON out), medians of {RUNS} runs:",
        input.len() as f64 / 1e6,
        output_bytes as f64 / 1e6
    );
    let rows = [
        ("parser alone (parse + port tracking, in-process)", parser),
        ("`ptp-agent parse` loop in-process (parse + JSON into memory)", in_process),
        ("`ptp-agent parse < file > pipe` (the command, end to end)", command),
    ];
    for (what, took) in rows {
        println!("  {what:<62} {:>8.0} ms  {:>5.2} M lines/s", took.as_secs_f64() * 1e3, rate(LINES, took) / 1e6);
    }
    if let Some((took, binary)) = &baseline {
        println!(
            "  {:<62} {:>8.0} ms  {:>5.2} M lines/s",
            format!("baseline {binary} parse"),
            took.as_secs_f64() * 1e3,
            rate(LINES, *took) / 1e6
        );
    }
    let parser_rate = rate(LINES, parser);
    println!(
        "parser: {:.2} M lines/s (goal >= 1 M lines/s: {}); the command: {:.2} M lines/s; JSON output is {:.0}% of the loop",
        parser_rate / 1e6,
        if parser_rate >= 1e6 { "met" } else { "NOT met" },
        rate(LINES, command) / 1e6,
        100.0 * (1.0 - parser.as_secs_f64() / in_process.as_secs_f64()).max(0.0)
    );
}
