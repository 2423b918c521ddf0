//! The runtime starts a profile's phc2sys only once its ptp4l reports |offset| < 1 s (as the Go
//! daemon does), with fake linuxptp programs (shell scripts), so no root is needed.

use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use ptp_agent::metrics::AgentMetrics;
use ptp_agent::runtime::{Runtime, RuntimeSettings};
use ptp_agent::supervise::State;
use ptp_api::decode_node_profiles;

/// ptp4l two seconds off until the file `$0.release` exists (the test creates it), then 12 ns.
const FAKE_PTP4L: &str = r#"while [ ! -e "$0.release" ]; do echo "ptp4l[1.0]: [$cfg] master offset 2000000000 s0 freq 0 path delay 10"; sleep 0.2; done
while :; do echo "ptp4l[2.0]: [$cfg] master offset 12 s2 freq 1 path delay 10"; sleep 0.2; done
"#;

const FAKE_PHC2SYS: &str = "while :; do sleep 0.2; done\n";

/// The value of the first series in `registry` whose exported line starts with `prefix`.
fn metric(registry: &Registry, prefix: &str) -> Option<f64> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines().filter(|l| l.starts_with(prefix)).find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
}

fn state(runtime: &Runtime, key: &str) -> Option<State> {
    runtime.supervisor().status(key).map(|s| s.state)
}

/// A runtime whose ptp4l and phc2sys are the given scripts, in a fresh directory, with its
/// metrics registry; one profile `p` with both programs applied.
async fn runtime_with(tag: &str, ptp4l: &str) -> (Runtime, tokio::task::JoinHandle<()>, Registry, std::path::PathBuf) {
    runtime_with_profiles(tag, ptp4l, r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S","phc2sysOpts":"-a -r"}]"#)
        .await
}

/// [`runtime_with`] for another profile value.
async fn runtime_with_profiles(
    tag: &str,
    ptp4l: &str,
    value: &str,
) -> (Runtime, tokio::task::JoinHandle<()>, Registry, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ptp-{tag}-{}", std::process::id()));
    let bin = dir.join("bin");
    for (name, body) in [("ptp4l", ptp4l), ("phc2sys", FAKE_PHC2SYS)] {
        ptp_testkit::fixtures::install_fake(&bin, name, body).unwrap();
    }
    let settings = RuntimeSettings {
        node: "n".into(),
        run_dir: dir.join("run"),
        bin_dir: Some(bin),
        linuxptp: Default::default(),
        supervisor: ptp_agent::supervise::SupervisorSettings::default(),
    };
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, "n");
    let (mut runtime, lines) = Runtime::new(settings, metrics);
    let consumer = runtime.consume_logs(lines);
    runtime.apply(&decode_node_profiles(value).unwrap()).await;
    (runtime, consumer, registry, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phc2sys_waits_for_ptp4l_to_come_within_a_second() {
    let (runtime, consumer, registry, dir) = runtime_with("gate", FAKE_PTP4L).await;

    // The runtime has taken in a sample two seconds off (the gate's input) ...
    let offset = r#"openshift_ptp_offset_ns{from="master",process="ptp4l",node="n","#;
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&registry, offset) != Some(2e9) {
        assert!(Instant::now() < deadline, "ptp4l's offset of 2 s never reached the metrics");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... and phc2sys still waits.
    assert!(matches!(state(&runtime, "ptp4l.0.config"), Some(State::Running { .. })));
    assert!(
        matches!(state(&runtime, "phc2sys.0.config"), Some(State::Waiting { .. })),
        "phc2sys waits while ptp4l is a second or more off: {:?}",
        state(&runtime, "phc2sys.0.config")
    );
    let released = tokio::time::Instant::now();
    std::fs::write(dir.join("bin/ptp4l.release"), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let since = loop {
        if let Some(State::Running { since, .. }) = state(&runtime, "phc2sys.0.config") {
            break since;
        }
        assert!(Instant::now() < deadline, "phc2sys starts once ptp4l is within a second");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(since >= released, "phc2sys started {:?} before ptp4l's small offsets", released - since);
    runtime.shutdown().await;
    consumer.abort();
    let _ = std::fs::remove_dir_all(dir);
}

/// ptp4l with `summary_interval` above `logSyncInterval` prints only summaries.
const FAKE_PTP4L_SUMMARIES: &str = r#"echo "ptp4l[1.0]: [$cfg] port 1 (eth9): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED"
while :; do echo "ptp4l[2.0]: [$cfg] rms   21 max   64 freq  -1234 +/-  30 delay   900 +/-   5"; sleep 0.2; done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_lines_give_a_clock_state_and_open_the_phc2sys_gate() {
    let (runtime, consumer, registry, dir) = runtime_with("summary", FAKE_PTP4L_SUMMARIES).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(state(&runtime, "phc2sys.0.config"), Some(State::Running { .. })) {
        assert!(Instant::now() < deadline, "phc2sys starts once a summary shows ptp4l within a second");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    runtime.tick();
    assert_eq!(runtime.clock_summary(), (Some(ptp_api::ClockState::Locked), Some(21)), "LOCKED, offset = rms");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"openshift_ptp_clock_state{process="ptp4l",node="n",iface="eth9"} 1"#),
        "clock state from summaries:\n{text}"
    );
    assert!(text.contains(r#"openshift_ptp_max_offset_ns{from="master",process="ptp4l",node="n",iface="eth9"} 64"#));
    runtime.shutdown().await;
    consumer.abort();
    let _ = std::fs::remove_dir_all(dir);
}

/// ptp4l that locks, then stays alive but prints nothing more.
const FAKE_PTP4L_FALLS_SILENT: &str = r#"i=0
while [ $i -lt 3 ]; do echo "ptp4l[2.0]: [$cfg] master offset 12 s2 freq 1 path delay 10"; sleep 0.2; i=$((i+1)); done
while :; do sleep 1; done
"#;

/// Time alone moves a clock: samples that stop turn LOCKED into HOLDOVER and, after
/// `holdOverTimeout`, FREERUN. The log consumer does it at the clocks' deadlines and tells the
/// main loop (`clocks_changed`), which no longer ticks every second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_turns_locked_into_holdover_then_freerun_without_a_tick() {
    use ptp_api::ClockState;
    let value = r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S","ptpClockThreshold":{"holdOverTimeout":1}}]"#;
    let (runtime, consumer, registry, dir) = runtime_with_profiles("silent", FAKE_PTP4L_FALLS_SILENT, value).await;

    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.last() != Some(&ClockState::Freerun) || !seen.contains(&ClockState::Holdover) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            tokio::time::timeout(left, runtime.clocks_changed()).await.is_ok(),
            "the log consumer reports each change (seen {seen:?})"
        );
        if let Some(state) = runtime.clock_summary().0
            && seen.last() != Some(&state)
        {
            seen.push(state);
        }
    }
    assert_eq!(seen, [ClockState::Locked, ClockState::Holdover, ClockState::Freerun]);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"openshift_ptp_clock_state{process="ptp4l",node="n",iface="master"} 0"#)
            || text.contains(r#"openshift_ptp_clock_state{process="ptp4l",node="n",iface="eth9"} 0"#),
        "FREERUN (0) in the metrics without a tick:\n{text}"
    );
    runtime.shutdown().await;
    consumer.abort();
    let _ = std::fs::remove_dir_all(dir);
}

/// A profile with ptp4l gets one management follower while it runs; stopping the profile (or
/// restarting it) leaves no follower task behind. The fake ptp4l has no socket: the follower
/// keeps retrying, which is what it does while a real ptp4l starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_per_running_ptp4l_and_none_left_after_the_profile_stops() {
    let value = r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"},{"name":"q","interface":"eth8","ptp4lOpts":"-S"},{"name":"r","ptp4lOpts":"","phc2sysOpts":"-a"}]"#;
    let (mut runtime, consumer, _registry, dir) = runtime_with_profiles("followers", FAKE_PHC2SYS, value).await;
    runtime.tick();
    assert_eq!(runtime.live_followers(), 2, "p and q run ptp4l, r does not");
    let wait_for = async |runtime: &Runtime, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while runtime.live_followers() != n {
            assert!(Instant::now() < deadline, "{} followers alive, expected {n}", runtime.live_followers());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let q_changed =
        r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"},{"name":"q","interface":"eth8","ptp4lOpts":"-S -2"}]"#;
    runtime.apply(&decode_node_profiles(q_changed).unwrap()).await;
    wait_for(&runtime, 2).await;
    runtime.apply(&decode_node_profiles(r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"}]"#).unwrap()).await;
    wait_for(&runtime, 1).await;
    runtime.apply(&decode_node_profiles("[]").unwrap()).await;
    wait_for(&runtime, 0).await;
    runtime.apply(&decode_node_profiles(r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"}]"#).unwrap()).await;
    assert_eq!(runtime.live_followers(), 1);
    runtime.shutdown().await;
    wait_for(&runtime, 0).await;
    let state = runtime.subscribe().borrow().clone();
    assert!(state.profiles.iter().all(|p| p.ptp.is_none()), "no ptp4l answers: no view");
    consumer.abort();
    let _ = std::fs::remove_dir_all(dir);
}

/// The run directory records each applied profile's run id (`run-ids.json`, read by
/// `ptp-agent pmc --profile`), and follows updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_directory_records_each_profiles_run_id() {
    let two = r#"[{"name":"a","interface":"eth9","ptp4lOpts":"-S"},{"name":"b","interface":"eth8","ptp4lOpts":"-S"}]"#;
    let (mut runtime, consumer, _registry, dir) = runtime_with_profiles("run-ids", FAKE_PTP4L, two).await;
    let index = || {
        let text = std::fs::read_to_string(dir.join("run").join(ptp_agent::render::RUN_IDS_FILE)).unwrap();
        ptp_agent::render::parse_index(&text).unwrap()
    };
    assert_eq!(index(), [("a".to_string(), 0), ("b".to_string(), 1)].into());
    runtime.apply(&decode_node_profiles(r#"[{"name":"b","interface":"eth8","ptp4lOpts":"-S"}]"#).unwrap()).await;
    assert_eq!(index(), [("b".to_string(), 1)].into(), "b keeps its id; a is gone");
    runtime.shutdown().await;
    consumer.abort();
    let _ = std::fs::remove_dir_all(dir);
}
