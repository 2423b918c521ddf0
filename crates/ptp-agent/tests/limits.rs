//! What a child's output can cost the agent is bounded: label values and series per message tag
//! are capped, a stopped profile's series stay removed, the line queue is bounded, and a line
//! without a newline keeps the agent small. Fake linuxptp programs (shell scripts) print crafted
//! lines, so no root is needed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use ptp_agent::metrics::AgentMetrics;
use ptp_agent::runtime::{Runtime, RuntimeSettings};
use ptp_api::decode_node_profiles;
use ptp_testkit::probe::{agent_run, free_port, http_get, status_kib};

const LONG: Duration = Duration::from_secs(15);

/// A fresh directory with `bin/ptp4l` = the fixtures' fake prelude + `body`.
fn fake_ptp4l(tag: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ptp-limits-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ptp_testkit::fixtures::install_fake(&dir.join("bin"), "ptp4l", body).unwrap();
    dir
}

fn settings(dir: &Path) -> RuntimeSettings {
    RuntimeSettings {
        node: "n".into(),
        run_dir: dir.join("run"),
        bin_dir: Some(dir.join("bin")),
        linuxptp: Default::default(),
        supervisor: ptp_agent::supervise::SupervisorSettings::default(),
    }
}

const ONE_PROFILE: &str = r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"}]"#;

fn text(registry: &Registry) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
    out
}

/// The value of the sample line starting with `series` (name and labels), if any.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// Every label value of the sample lines.
fn label_values(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split("=\"").skip(1).map(|v| v.split_once('"').map_or(v, |(v, _)| v)))
        .collect()
}

/// The `openshift_ptp_*` sample lines.
fn ptp_series(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("openshift_ptp_")).collect()
}

/// The offset series of the fake ptp4l's `master offset` lines.
const OFFSET: &str = r#"openshift_ptp_offset_ns{from="master",process="ptp4l",node="n",iface="master"}"#;

/// A runtime for `dir`'s fake ptp4l whose metrics go to a fresh registry, its log lines consumed
/// and [`ONE_PROFILE`] applied.
async fn running(dir: &Path) -> (Registry, Runtime, tokio::task::JoinHandle<()>) {
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, "n");
    let (mut runtime, lines) = Runtime::new(settings(dir), metrics);
    let consumer = runtime.consume_logs(lines);
    runtime.apply(&decode_node_profiles(ONE_PROFILE).unwrap()).await;
    (registry, runtime, consumer)
}

/// Polls the registry every `every` until the offset series satisfies `done`.
async fn wait_for_offset(registry: &Registry, every: Duration, done: impl Fn(Option<f64>) -> bool) {
    let deadline = Instant::now() + LONG;
    while !done(value(&text(registry), OFFSET)) {
        assert!(Instant::now() < deadline, "no offset:\n{}", text(registry));
        tokio::time::sleep(every).await;
    }
}

/// Removes the profile, then checks every `every` for a second that its series stay gone,
/// whatever of its output was still queued.
async fn removed_series_stay_removed(runtime: &mut Runtime, registry: &Registry, every: Duration) {
    runtime.apply(&decode_node_profiles("[]").unwrap()).await;
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        runtime.tick();
        let t = text(registry);
        assert!(ptp_series(&t).is_empty(), "series of a removed profile: {:?}", ptp_series(&t));
        tokio::time::sleep(every).await;
    }
}

const CRAFTED: &str = r#"
echo "ptp4l[1.0]: [$cfg] master offset 99 s2 freq 1 path delay 10"
long=$(head -c 1000 /dev/zero | tr '\0' y)
echo "phc2sys[1.0]: [$cfg] $long phc offset 5 s2 freq 1 delay 10"
huge=$(head -c 100000 /dev/zero | tr '\0' z)
echo "phc2sys[1.0]: [$cfg] $huge phc offset 5 s2 freq 1 delay 10"
i=0; while [ $i -lt 100 ]; do echo "phc2sys[1.0]: [$cfg] eth$i phc offset 5 s2 freq 1 delay 10"; i=$((i+1)); done
i=1; while [ $i -le 40 ]; do echo "ptp4l[1.0]: [$cfg] port $i (p$i): LISTENING to MASTER on INIT_COMPLETE"; i=$((i+1)); done
echo "phc2sys[1.0]: [ptp4l.77.config] CLOCK_REALTIME phc offset 7 s2 freq 1 delay 10"
while :; do echo "ptp4l[2.0]: [$cfg] master offset 12 s2 freq 1 path delay 10"; sleep 0.1; done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_lines_stay_within_the_label_and_series_caps_and_go_with_their_profile() {
    let dir = fake_ptp4l("caps", CRAFTED);
    let (registry, mut runtime, consumer) = running(&dir).await;
    // The steady line comes after every crafted one, on the same stream.
    wait_for_offset(&registry, Duration::from_millis(50), |v| v == Some(12.0)).await;
    runtime.tick();
    let t = text(&registry);
    let longest = label_values(&t).into_iter().map(str::len).max().unwrap_or(0);
    assert!(longest <= 64, "a label value of {longest} bytes ({} bytes of metrics)", t.len());
    // (ptp4l, master) and the first 31 phc2sys interfaces: 32 series per tag.
    let offsets = t.lines().filter(|l| l.starts_with("openshift_ptp_offset_ns{")).count();
    assert_eq!(offsets, 32, "{t}");
    assert!(t.contains(r#"iface="eth30""#) && !t.contains(r#"iface="eth31""#), "{t}");
    assert!(!t.contains(r#"iface="p1""#), "port roles beyond the budget: {t}");
    assert!(!t.contains("CLOCK_REALTIME"), "a tag no profile uses made a series: {t}");
    assert_eq!(value(&t, r#"ptp_agent_ignored_log_lines_total{reason="label_too_long"}"#), Some(1.0), "{t}");
    // 69 phc2sys interfaces and 40 ports over the budget.
    assert_eq!(value(&t, r#"ptp_agent_ignored_log_lines_total{reason="too_many_series"}"#), Some(109.0), "{t}");
    assert_eq!(value(&t, r#"ptp_agent_ignored_log_lines_total{reason="line_too_long"}"#), Some(1.0), "{t}");
    let discarded = value(&t, r#"ptp_agent_discarded_log_bytes_total{process="ptp4l"}"#).unwrap_or(0.0);
    assert!(discarded > 95_000.0, "{discarded} bytes discarded: {t}");
    assert!(t.len() < 16 * 1024, "{} bytes of metrics", t.len());
    println!("metrics with the crafted lines: {} bytes, {} ptp series", t.len(), ptp_series(&t).len());

    // The profile goes: its series go, and stay gone whatever of its output was still queued.
    removed_series_stay_removed(&mut runtime, &registry, Duration::from_millis(50)).await;
    consumer.abort();
    let _ = std::fs::remove_dir_all(dir);
}

/// Offsets as fast as the shell prints them, the largest there is.
const FLOOD: &str = r#"
while :; do echo "ptp4l[2.0]: [$cfg] master offset 9223372036854775807 s2 freq 1 path delay 10"; done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_series_of_a_removed_profile_stay_removed_under_a_flood() {
    let dir = fake_ptp4l("flood", FLOOD);
    let (registry, mut runtime, consumer) = running(&dir).await;
    wait_for_offset(&registry, Duration::from_millis(20), |v| v.is_some()).await;
    runtime.tick();
    removed_series_stay_removed(&mut runtime, &registry, Duration::from_millis(20)).await;
    consumer.abort();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_the_parser_has_not_taken_are_bounded() {
    // 10000 lines, then a file saying so.
    let dir = fake_ptp4l(
        "queue",
        r#"
i=0; while [ $i -lt 10000 ]; do echo "ptp4l[2.0]: [$cfg] master offset 12 s2 freq 1 path delay 10"; i=$((i+1)); done
touch "$(dirname "$0")/printed"
exec sleep 1000
"#,
    );
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, "n");
    // Nobody consumes the lines.
    let (mut runtime, lines) = Runtime::new(settings(&dir), metrics);
    runtime.apply(&decode_node_profiles(ONE_PROFILE).unwrap()).await;
    let deadline = Instant::now() + LONG;
    while !dir.join("bin/printed").exists() {
        assert!(Instant::now() < deadline, "the fake did not print its lines");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The pipe holds at most 64 KiB of the 10000 lines (710 KB): most went through the reader.
    let deadline = Instant::now() + LONG;
    while value(&text(&registry), r#"ptp_agent_ignored_log_lines_total{reason="backlog"}"#).unwrap_or(0.0) < 7000.0 {
        assert!(Instant::now() < deadline, "{} lines queued:\n{}", lines.len(), text(&registry));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(lines.len() <= ptp_agent::runtime::LINE_QUEUE, "{} lines queued", lines.len());
    runtime.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_line_without_a_newline_keeps_the_agent_small() {
    // 100 MB without a newline, then ordinary lines.
    let dir = fake_ptp4l(
        "rss",
        r#"
head -c 100000000 /dev/zero | tr '\0' x
echo
while :; do echo "ptp4l[2.0]: [$cfg] master offset 12 s2 freq 1 path delay 10"; sleep 0.1; done
"#,
    );
    std::fs::write(dir.join("profiles.json"), ONE_PROFILE).unwrap();
    let port = free_port();
    let mut agent = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "n", &dir.join("profiles.json"), &dir.join("run"))
        .args(["--health-addr", "none", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .arg("--bin-dir")
        .arg(dir.join("bin"))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let t = http_get(port, "/metrics").map(|(_, t)| t).unwrap_or_default();
        if value(&t, OFFSET) == Some(12.0) {
            break t;
        }
        assert!(Instant::now() < deadline, "the lines after the long one were not parsed");
        assert!(agent.try_wait().unwrap().is_none(), "the agent exited");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (peak, now) = (status_kib(agent.id(), "VmHWM:"), status_kib(agent.id(), "VmRSS:"));
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("agent after a 100 MB line: peak RSS {} KiB, RSS {} KiB", peak, now);
    assert!(peak < 48 * 1024, "peak RSS {peak} KiB");
    assert_eq!(
        value(&metrics, r#"ptp_agent_discarded_log_bytes_total{process="ptp4l"}"#),
        Some(100_000_000.0 - 4096.0),
        "{metrics}"
    );
}
