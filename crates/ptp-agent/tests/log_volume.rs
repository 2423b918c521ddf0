//! `ptp-agent run --profile FILE` with a fake ptp4l (a shell script) and two profiles, one with
//! `logReduce: enhanced 1s 1000` and an `stdoutFilter`, one with `logReduce: true`: the lines they
//! suppress are absent from the agent's log, port state changes, the first sample, a sample beyond
//! the threshold and the summaries are in it, and the metrics still follow every line (the offset
//! is the last, suppressed, sample's; the suppressed lines are counted), and each clock state
//! change is logged by the agent.

use std::time::Duration;

use ptp_testkit::linuxptp::Killed;
use ptp_testkit::probe::{agent_run, free_port, http_get, stop_with_sigterm, wait_for};

/// Port 1 (`eth<run id>`) to SLAVE, 40 samples (offsets 10..14) each with a `chatter` line, a
/// sample beyond 1000 ns, a last sample of 77 ns, then an end marker; then nothing.
const FAKE: &str = r#"
n=${cfg#ptp4l.}; n=${n%.config}; port="port 1 (eth$n)"
echo "ptp4l[1.0]: [$cfg] $port: LISTENING to UNCALIBRATED on RS_SLAVE"
echo "ptp4l[1.1]: [$cfg] $port: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED"
i=0
while [ $i -lt 40 ]; do
  echo "ptp4l[2.0]: [$cfg] master offset $((i % 5 + 10)) s2 freq 1 path delay 10"
  echo "ptp4l[2.0]: [$cfg] chatter $i"
  sleep 0.05
  i=$((i + 1))
done
echo "ptp4l[3.0]: [$cfg] master offset 5000 s2 freq 1 path delay 10"
echo "ptp4l[3.0]: [$cfg] master offset 77 s2 freq 1 path delay 10"
echo "ptp4l[3.1]: [$cfg] the end"
sleep 1000 & wait $!
"#;

const PROFILES: &str = r#"[
  {"name":"p","interface":"eth0","ptp4lOpts":"-S","ptpSettings":{"logReduce":"enhanced 1s 1000","stdoutFilter":"chatter"}},
  {"name":"q","interface":"eth1","ptp4lOpts":"-S","ptpSettings":{"logReduce":"true"}}
]"#;

fn metrics(port: u16) -> String {
    http_get(port, "/metrics").map(|(_, text)| text).unwrap_or_default()
}

fn offset(iface: &str) -> String {
    format!(r#"openshift_ptp_offset_ns{{from="master",process="ptp4l",node="node-1",iface="{iface}"}} "#)
}

/// The child output lines of the agent's log that carry `tag`.
fn logged<'a>(log: &'a str, tag: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains("ptp_agent::child_output") && l.contains(tag)).collect()
}

#[test]
fn suppressed_lines_stay_out_of_the_log_and_are_parsed_all_the_same() {
    let dir = std::env::temp_dir().join(format!("ptp-log-volume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("bin");
    ptp_testkit::fixtures::install_fake(&bin, "ptp4l", FAKE).unwrap();
    let profile = dir.join("node-1");
    std::fs::write(&profile, PROFILES).unwrap();
    let log_file = dir.join("agent.log");
    let port = free_port();
    // Killed (and its children with it) should an assertion fail.
    let mut agent = Killed(
        agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "node-1", &profile, &dir.join("run"))
            .args(["--health-addr", "none", "--metrics-addr", &format!("127.0.0.1:{port}")])
            .arg("--bin-dir")
            .arg(&bin)
            .stderr(std::fs::File::create(&log_file).unwrap())
            .spawn()
            .unwrap(),
    );
    let read_log = || std::fs::read_to_string(&log_file).unwrap_or_default();
    wait_for("both fakes' last line logged", Duration::from_secs(20), || {
        let log = read_log();
        ["[ptp4l.0.config] the end", "[ptp4l.1.config] the end"].iter().all(|end| log.contains(end))
    });
    // The last sample, suppressed in both profiles, is in the metrics.
    let mut text = String::new();
    wait_for("the last samples in the metrics", Duration::from_secs(10), || {
        text = metrics(port);
        text.contains(&format!("{}77\n", offset("eth0"))) && text.contains(&format!("{}77\n", offset("eth1")))
    });
    // p: 39 samples within the threshold, the last one, 40 chatter lines; q: every sample but the first.
    assert!(text.contains("ptp_agent_suppressed_log_lines_total{process=\"ptp4l\"} 121\n"), "{text}");

    let log = read_log();
    let p = logged(&log, "[ptp4l.0.config]");
    let samples: Vec<&&str> = p.iter().filter(|l| l.contains("master offset") && !l.contains("summary")).collect();
    assert_eq!(samples.len(), 2, "p: the first sample and the one beyond the threshold: {samples:#?}");
    assert!(samples[0].contains("master offset 10 s2") && samples[1].contains("master offset 5000 s2"), "{samples:#?}");
    assert!(p.iter().any(|l| l.contains("[ptp4l.0.config] master offset summary: cnt=")), "p: a summary: {p:#?}");
    assert!(!p.iter().any(|l| l.contains("chatter")), "p: stdoutFilter: {p:#?}");
    assert!(p.iter().any(|l| l.contains("(eth0): LISTENING to UNCALIBRATED")), "{p:#?}");
    assert!(p.iter().any(|l| l.contains("(eth0): UNCALIBRATED to SLAVE")), "{p:#?}");

    let q = logged(&log, "[ptp4l.1.config]");
    let samples: Vec<&&str> = q.iter().filter(|l| l.contains("master offset")).collect();
    assert_eq!(samples.len(), 1, "q: only the first sample (basic has no threshold): {samples:#?}");
    assert_eq!(q.iter().filter(|l| l.contains("chatter")).count(), 40, "q has no stdoutFilter");
    assert!(q.iter().any(|l| l.contains("(eth1): UNCALIBRATED to SLAVE")), "{q:#?}");

    // Every clock state change is in the agent's log though the samples are not: q's 5000 ns
    // crosses maxOffsetThreshold (100 ns) and 77 ns comes back within it.
    let states: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("clock state") && l.contains("config=ptp4l.1.config") && l.contains("iface=eth1"))
        .map(|l| l.split("to=").nth(1).unwrap_or_default())
        .collect();
    assert_eq!(states, ["Locked", "Freerun", "Locked"], "q's clock state changes in the log:\n{log}");

    stop_with_sigterm(&mut agent.0, Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(dir);
}
