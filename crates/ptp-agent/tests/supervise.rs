//! The supervisor with real child processes (/bin/sh, sleep): output capture, restarts with
//! backoff, graceful and forced stops of whole process groups, readiness gates, SCHED_FIFO, and
//! no orphan when the agent itself dies (this test binary re-executed as the "agent").

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use ptp_agent::supervise::child;
use ptp_agent::supervise::{
    ChildSnapshot, Gate, LogLine, ProcessSpec, RestartPolicy, Scheduling, State, Stream, Supervisor, SupervisorSettings,
};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};

const LONG: Duration = Duration::from_secs(10);

fn sh(name: &str, script: &str) -> ProcessSpec {
    ProcessSpec::new(name, "/bin/sh", ["-c", script])
}

fn supervisor(settings: SupervisorSettings) -> (Supervisor, mpsc::UnboundedReceiver<LogLine>) {
    let (sup, rx, _sink) = supervisor_with_sink(settings);
    (sup, rx)
}

/// [`supervisor`], and the line sink it writes to: every supervising task and output reader holds
/// a clone of it, so its count tells when nothing of a stopped process is left.
fn supervisor_with_sink(
    settings: SupervisorSettings,
) -> (Supervisor, mpsc::UnboundedReceiver<LogLine>, Arc<mpsc::UnboundedSender<LogLine>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = Arc::new(tx);
    (Supervisor::new(settings, sink.clone()), rx, sink)
}

/// Waits until only the test and the supervisor hold `sink`: no supervising task (which could
/// start the process again) and no output reader (which could deliver a line) is left.
async fn nothing_left_running(sup: &Supervisor, sink: &Arc<mpsc::UnboundedSender<LogLine>>) {
    let deadline = Instant::now() + LONG;
    while Arc::strong_count(sink) > 2 {
        assert!(Instant::now() < deadline, "a task still holds the line sink: {:?}", sup.snapshot());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn quick_settings() -> SupervisorSettings {
    SupervisorSettings {
        policy: RestartPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(400),
            healthy_after: Duration::from_secs(30),
        },
        grace: Duration::from_secs(5),
    }
}

/// [`quick_settings`] with a restart a minute away: a crashed child stays in backoff.
fn no_restart_settings() -> SupervisorSettings {
    SupervisorSettings {
        policy: RestartPolicy {
            initial: Duration::from_secs(60),
            max: Duration::from_secs(60),
            ..quick_settings().policy
        },
        ..quick_settings()
    }
}

/// The next output line, failing the test after a while.
async fn next_line(rx: &mut mpsc::UnboundedReceiver<LogLine>) -> LogLine {
    timeout(LONG, rx.recv()).await.expect("no output line in time").expect("line channel closed")
}

/// The next line starting with `prefix` (others skipped), and the rest of it.
async fn line_starting(rx: &mut mpsc::UnboundedReceiver<LogLine>, prefix: &str) -> String {
    loop {
        let l = next_line(rx).await;
        if let Some(rest) = l.line.strip_prefix(prefix) {
            return rest.trim().to_string();
        }
    }
}

/// The times between `n` starts of a child printing `started <ns since the epoch>` first.
async fn start_gaps(rx: &mut mpsc::UnboundedReceiver<LogLine>, n: usize) -> Vec<Duration> {
    let mut starts = Vec::new();
    for _ in 0..n {
        let ns: u64 = line_starting(rx, "started").await.parse().expect("a time");
        starts.push(Duration::from_nanos(ns));
    }
    starts.windows(2).map(|w| w[1].saturating_sub(w[0])).collect()
}

async fn wait_status(sup: &Supervisor, what: &str, pred: impl FnMut(&ChildSnapshot) -> bool) -> ChildSnapshot {
    let mut rx = sup.subscribe();
    let snapshot =
        timeout(LONG, rx.wait_for(pred)).await.unwrap_or_else(|_| panic!("status never {what}: {:?}", sup.snapshot()));
    snapshot.expect("status sender gone").clone()
}

/// Whether `pid` is a live process (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

async fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    !alive(pid)
}

fn pgid(pid: i32) -> Option<i32> {
    ptp_agent::supervise::tree::stat(pid).map(|s| s.pgid)
}

fn running_pid(snapshot: &ChildSnapshot, key: &str) -> Option<i32> {
    match snapshot.get(key)?.state {
        State::Running { pid, .. } => Some(pid),
        _ => None,
    }
}

#[tokio::test]
async fn output_lines_reach_the_sink_with_their_process_and_stream() {
    let (sup, mut rx) = supervisor(no_restart_settings());
    // The last line has no newline: it comes at the end of the output.
    sup.start("p", sh("ptp4l.0.config", "echo out one; echo err one >&2; printf 'no newline'"));
    let mut lines = Vec::new();
    for _ in 0..3 {
        let l = next_line(&mut rx).await;
        assert_eq!(&*l.process, "ptp4l.0.config");
        lines.push((l.stream, l.line));
    }
    lines.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        lines,
        [
            (Stream::Stderr, "err one".to_string()),
            (Stream::Stdout, "no newline".to_string()),
            (Stream::Stdout, "out one".to_string())
        ]
    );
    let snapshot = wait_status(&sup, "in backoff", |s| matches!(s["p"].state, State::Backoff { .. })).await;
    assert_eq!((snapshot["p"].restarts, snapshot["p"].last_exit.as_deref()), (0, Some("exit status: 0")));
    sup.stop_all().await;
    assert_eq!(sup.status("p").map(|s| s.state), Some(State::Stopped));
}

#[tokio::test]
async fn an_exiting_child_is_restarted_after_doubling_delays_and_counted() {
    let (sup, mut rx, sink) = supervisor_with_sink(quick_settings());
    sup.start("p", sh("quick", "echo started $(date +%s%N); exit 3"));
    let gaps = start_gaps(&mut rx, 5).await;
    // Each start comes at least its delay after the previous one (which ran a little): 100, 200,
    // then 400 ms (the cap) twice. The upper bound is generous, for loaded machines.
    for (gap, delay) in gaps.iter().zip([100u64, 200, 400, 400]) {
        let delay = Duration::from_millis(delay);
        assert!(*gap >= delay && *gap < delay + Duration::from_secs(2), "gaps {gaps:?}");
    }
    let snapshot = wait_status(&sup, "4 restarts", |s| s["p"].restarts >= 4).await;
    assert_eq!(snapshot["p"].last_exit.as_deref(), Some("exit status: 3"));
    // Stopping during the backoff is immediate and final.
    let t = Instant::now();
    sup.stop("p").await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let restarts = sup.status("p").map(|s| (s.state, s.restarts));
    // Nothing that could start it again or deliver its output is left.
    nothing_left_running(&sup, &sink).await;
    assert_eq!(sup.status("p").map(|s| (s.state, s.restarts)), restarts);
    assert_eq!(restarts.map(|r| r.0), Some(State::Stopped));
    assert!(rx.try_recv().is_err(), "output after the stop");
}

#[tokio::test]
async fn a_run_longer_than_healthy_after_resets_the_delay() {
    let settings = SupervisorSettings {
        policy: RestartPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(5),
            healthy_after: Duration::from_millis(300),
        },
        ..quick_settings()
    };
    let (sup, mut rx) = supervisor(settings);
    // Every run lasts 400 ms (healthy): without the reset the delays would be 50, 100, 200, ... ms.
    sup.start("p", sh("healthy", "echo started $(date +%s%N); sleep 0.4; exit 1"));
    let gaps = start_gaps(&mut rx, 6).await;
    // Without the reset the last would be 400 ms + 800 ms.
    assert!(gaps.iter().all(|g| *g >= Duration::from_millis(450) && *g < Duration::from_secs(1)), "{gaps:?}");
    sup.stop_all().await;
}

#[tokio::test]
async fn stop_sends_sigterm_and_does_not_restart() {
    let (sup, mut rx, sink) = supervisor_with_sink(quick_settings());
    sup.start("p", sh("polite", "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done"));
    line_starting(&mut rx, "ready").await;
    let t = Instant::now();
    sup.stop("p").await;
    assert!(t.elapsed() < Duration::from_secs(3), "waited for the grace: {:?}", t.elapsed());
    assert_eq!(line_starting(&mut rx, "got").await, "TERM");
    let status = sup.status("p").expect("status");
    assert_eq!((status.state, status.last_exit.as_deref()), (State::Stopped, Some("exit status: 0")));
    nothing_left_running(&sup, &sink).await;
    assert_eq!(sup.status("p").map(|s| (s.state, s.restarts)), Some((State::Stopped, 0)));
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_killed_after_the_grace() {
    let grace = Duration::from_millis(300);
    let (sup, mut rx) = supervisor(SupervisorSettings { grace, ..quick_settings() });
    sup.start("p", sh("stubborn", "trap '' TERM; echo ready; while :; do sleep 0.05; done"));
    line_starting(&mut rx, "ready").await;
    let pid = running_pid(&sup.snapshot(), "p").expect("running");
    let t = Instant::now();
    sup.stop("p").await;
    let took = t.elapsed();
    assert!(took >= grace && took < grace + Duration::from_secs(2), "{took:?}");
    assert_eq!(sup.status("p").and_then(|s| s.last_exit), Some("killed by SIGKILL".to_string()));
    assert!(!alive(pid));
}

#[tokio::test]
async fn stop_ends_the_whole_process_group() {
    let (sup, mut rx) = supervisor(quick_settings());
    sup.start("p", sh("forks", "sleep 1000 & echo grandchild $!; wait"));
    let grandchild: i32 = line_starting(&mut rx, "grandchild").await.parse().expect("pid");
    assert!(alive(grandchild));
    sup.stop("p").await;
    assert!(gone_within(grandchild, Duration::from_secs(2)).await, "grandchild {grandchild} outlived the stop");
}

#[tokio::test]
async fn a_grandchild_ignoring_sigterm_gets_the_grace_then_sigkill() {
    let grace = Duration::from_millis(400);
    let (sup, mut rx) = supervisor(SupervisorSettings { grace, ..quick_settings() });
    // The leader exits on SIGTERM at once; its child ignores it.
    sup.start("p", sh("leaves-one", "(trap '' TERM; exec sleep 1000) & echo grandchild $!; wait"));
    let grandchild: i32 = line_starting(&mut rx, "grandchild").await.parse().expect("pid");
    let t = Instant::now();
    sup.stop("p").await;
    let took = t.elapsed();
    assert!(took >= grace && took < grace + Duration::from_secs(2), "{took:?}");
    assert!(gone_within(grandchild, Duration::from_secs(2)).await, "grandchild {grandchild} survived");
}

/// Runs `script` (which prints `grandchild PID`, then exits 1) until it is in backoff, and checks
/// that the grandchild went with it.
async fn exit_takes_the_grandchild_along(name: &str, script: &str) {
    let (sup, mut rx) = supervisor(no_restart_settings());
    sup.start("p", sh(name, script));
    let grandchild: i32 = line_starting(&mut rx, "grandchild").await.parse().expect("pid");
    wait_status(&sup, "in backoff", |s| matches!(s["p"].state, State::Backoff { .. })).await;
    assert!(gone_within(grandchild, Duration::from_secs(2)).await, "grandchild {grandchild} outlived its parent");
    sup.stop_all().await;
}

#[tokio::test]
async fn a_child_exiting_by_itself_takes_its_group_along() {
    exit_takes_the_grandchild_along("crashes", "sleep 1000 & echo grandchild $!; sleep 0.2; exit 1").await;
}

#[tokio::test]
async fn a_normal_stop_ends_the_descendants_that_left_the_group() {
    let (sup, mut rx) = supervisor(quick_settings());
    // A double fork: the subshell starts a sleeper in a session of its own, then exits.
    sup.start("p", sh("daemonizes", "(setsid sleep 1000 & echo grandchild $!); echo ready; exec sleep 1000"));
    let grandchild: i32 = line_starting(&mut rx, "grandchild").await.parse().expect("pid");
    line_starting(&mut rx, "ready").await;
    // `$!` is known before the sleeper has called setsid(): wait for it to lead a group of its own.
    let deadline = Instant::now() + LONG;
    while pgid(grandchild) != Some(grandchild) {
        assert!(Instant::now() < deadline, "the sleeper {grandchild} never left the group: {:?}", pgid(grandchild));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(alive(grandchild));
    let t = Instant::now();
    sup.stop("p").await;
    assert!(gone_within(grandchild, Duration::from_secs(2)).await, "grandchild {grandchild} outlived the stop");
    assert!(t.elapsed() < Duration::from_secs(3), "SIGTERM was enough: {:?}", t.elapsed());
}

#[tokio::test]
async fn a_child_exiting_by_itself_takes_the_descendants_that_left_the_group_along() {
    exit_takes_the_grandchild_along("daemonizes", "(setsid sleep 1000 & echo grandchild $!); sleep 0.2; exit 1").await;
}

#[tokio::test]
async fn a_line_without_a_newline_is_capped_and_the_next_lines_still_come() {
    let (sup, mut rx) = supervisor(quick_settings());
    // 50 MB without a newline, then ordinary lines.
    sup.start("p", sh("chatty", "head -c 50000000 /dev/zero | tr '\\0' x; echo; echo after; exec sleep 1000"));
    let first = next_line(&mut rx).await;
    assert_eq!(first.line, "after", "the long line reached the sink ({} bytes)", first.line.len());
    sup.stop_all().await;
}

#[derive(Default)]
struct CountingSink {
    lines: std::sync::Mutex<Vec<String>>,
    discarded: std::sync::Mutex<Vec<(String, u64)>>,
}

impl ptp_agent::supervise::LineSink for CountingSink {
    fn deliver(&self, line: LogLine) {
        self.lines.lock().unwrap().push(line.line);
    }

    fn discarded(&self, process: &str, bytes: u64) {
        self.discarded.lock().unwrap().push((process.to_string(), bytes));
    }
}

#[tokio::test]
async fn the_bytes_beyond_the_line_cap_are_counted() {
    let sink = Arc::new(CountingSink::default());
    let sup = Supervisor::new(quick_settings(), sink.clone());
    sup.start(
        "p",
        sh("chatty", "echo before; head -c 10000 /dev/zero | tr '\\0' x; echo; echo after; exec sleep 1000"),
    );
    let deadline = Instant::now() + LONG;
    while sink.lines.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "lines: {:?}", sink.lines.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*sink.lines.lock().unwrap(), ["before", "after"]);
    let cap = ptp_agent::supervise::lines::MAX_LINE_BYTES as u64;
    assert_eq!(*sink.discarded.lock().unwrap(), [("chatty".to_string(), 10_000 - cap)]);
    sup.stop_all().await;
}

#[tokio::test]
async fn a_failing_start_is_retried_with_backoff_and_reported() {
    let (sup, _rx) = supervisor(quick_settings());
    sup.start("p", ProcessSpec::new("missing", "/nonexistent/ptp4l", ["-f", "x"]));
    let snapshot = wait_status(&sup, "2 restarts", |s| s.get("p").is_some_and(|p| p.restarts >= 2)).await;
    let error = snapshot["p"].last_error.clone().expect("an error");
    assert!(error.contains("missing") && error.contains("/nonexistent/ptp4l"), "{error}");
    sup.stop_all().await;
}

#[tokio::test]
async fn start_under_a_used_key_replaces_the_process() {
    let (sup, mut rx) = supervisor(quick_settings());
    sup.start("p", sh("old", "trap 'echo old stopped; exit 0' TERM; echo old; while :; do sleep 0.05; done"));
    line_starting(&mut rx, "old").await;
    sup.start("p", sh("new", "echo new; exec sleep 1000"));
    // The old one is stopped before the new one starts.
    assert_eq!(line_starting(&mut rx, "old").await, "stopped");
    line_starting(&mut rx, "new").await;
    let snapshot = wait_status(&sup, "running the new spec", |s| s["p"].name == "new").await;
    assert!(running_pid(&snapshot, "p").is_some());
    sup.stop_all().await;
}

#[tokio::test]
async fn a_gated_process_waits_for_readiness() {
    let (sup, mut rx) = supervisor(quick_settings());
    let (ready, gate) = watch::channel(false);
    let spec = sh("phc2sys", "echo started $(date +%s%N); exec sleep 1000");
    sup.start_gated("phc2sys", spec, Gate { ready: gate, max_wait: LONG });
    wait_status(&sup, "waiting", |s| matches!(s.get("phc2sys").map(|p| p.state), Some(State::Waiting { .. }))).await;
    // A while with the gate closed gives a supervisor that ignores it the time to start the
    // process; what is asserted is the start itself: it comes after the gate opened.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let opened = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    ready.send_replace(true);
    let started = Duration::from_nanos(line_starting(&mut rx, "started").await.parse().expect("a time"));
    assert!(started >= opened, "started {:?} before the gate opened", opened - started);
    sup.stop_all().await;
}

#[tokio::test]
async fn a_gated_process_starts_anyway_after_the_longest_wait() {
    let (sup, mut rx) = supervisor(quick_settings());
    let (_ready, gate) = watch::channel(false);
    let t = Instant::now();
    sup.start_gated(
        "phc2sys",
        sh("phc2sys", "echo started; exec sleep 1000"),
        Gate { ready: gate, max_wait: Duration::from_millis(300) },
    );
    line_starting(&mut rx, "started").await;
    assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
    // Stopping while waiting is immediate too.
    let (_ready2, gate2) = watch::channel(false);
    sup.start_gated("other", sh("other", "echo x"), Gate { ready: gate2, max_wait: LONG });
    let t = Instant::now();
    sup.stop_all().await;
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn sched_fifo_and_its_priority_are_applied_to_the_child() {
    if !ptp_testkit::root::require_root("sched_fifo_and_its_priority_are_applied_to_the_child") {
        return;
    }
    let spec = ProcessSpec { sched: Some(Scheduling::fifo(10)), ..ProcessSpec::new("rt", "sleep", ["1000"]) };
    let running = child::spawn(&spec, Arc::new(child::Discard)).await.expect("spawn");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", running.pid())).expect("stat");
    // Fields 40 (rt_priority) and 41 (policy); the first after the comm's ')' is field 3.
    let fields: Vec<&str> = stat.rsplit_once(')').expect("comm").1.split_whitespace().collect();
    assert_eq!((fields[40 - 3], fields[41 - 3]), ("10", "1"), "rt_priority and policy (1 = SCHED_FIFO)");
    // The agent itself is untouched.
    let own = std::fs::read_to_string("/proc/self/stat").expect("stat");
    assert_eq!(own.rsplit_once(')').expect("comm").1.split_whitespace().nth(41 - 3), Some("0"));
    running.terminate(Duration::from_secs(1)).await.expect("terminate");
}

#[tokio::test]
async fn an_invalid_priority_fails_the_spawn_clearly() {
    let spec = ProcessSpec { sched: Some(Scheduling::fifo(0)), ..ProcessSpec::new("rt", "sleep", ["1000"]) };
    let e = child::spawn(&spec, Arc::new(child::Discard)).await.expect_err("priority 0");
    let text = e.to_string();
    assert!(text.contains("rt") && text.contains("SCHED_FIFO priority 0"), "{text}");
}

// The "agent" for the tests below: this test binary re-executed with HELPER_ENV set.

const HELPER_ENV: &str = "PTP_SUPERVISE_AGENT_HELPER";

/// Not a test on its own: in a re-executed copy, runs a supervisor with one long-running child,
/// prints its pid, and stops everything on SIGTERM.
#[test]
fn agent_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (sup, mut rx) = supervisor(SupervisorSettings { grace: Duration::from_secs(5), ..quick_settings() });
        sup.start("a", sh("polite", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"));
        // The slow one uses its whole grace: the agent still exits within 10 s.
        sup.start("b", sh("stubborn", "trap '' TERM; echo ready; while :; do sleep 0.05; done"));
        for _ in 0..2 {
            line_starting(&mut rx, "ready").await;
        }
        // A child's first line can arrive before the supervisor has published it as running.
        let both = |s: &ChildSnapshot| ["a", "b"].iter().all(|k| running_pid(s, k).is_some());
        let snapshot = wait_status(&sup, "both children running", both).await;
        let pids: Vec<String> =
            ["a", "b"].iter().filter_map(|k| running_pid(&snapshot, k)).map(|p| p.to_string()).collect();
        let terminated = ptp_agent::supervise::terminated().expect("signal handlers");
        println!("CHILD_PIDS={}", pids.join(","));
        terminated.await;
        sup.stop_all().await;
        println!("STOPPED");
    });
    std::process::exit(0);
}

/// The helper agent, SIGKILLed if a test fails with it still running.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the helper agent; returns it and its children's pids.
fn start_agent() -> (Agent, Vec<i32>) {
    let mut agent = Agent(
        std::process::Command::new(std::env::current_exe().expect("current exe"))
            .args(["--exact", "agent_helper", "--nocapture", "--test-threads=1"])
            .env(HELPER_ENV, "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("agent"),
    );
    let stdout = agent.0.stdout.take().expect("stdout");
    // Read on a thread (to the end, so that the agent never blocks on a full pipe), wait here
    // with a limit.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + LONG;
    let pids = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).expect("the agent printed no CHILD_PIDS line in time");
        // The harness prints `test agent_helper ... ` before it on the same line.
        if let Some((_, pids)) = line.split_once("CHILD_PIDS=") {
            break pids.split(',').map(|p| p.parse().expect("pid")).collect::<Vec<i32>>();
        }
    };
    assert_eq!(pids.len(), 2, "{pids:?}");
    (agent, pids)
}

#[tokio::test]
async fn no_child_outlives_a_sigkilled_agent() {
    let (agent, pids) = start_agent();
    assert!(pids.iter().all(|&p| alive(p)));
    drop(agent); // SIGKILL, reap
    for pid in pids {
        assert!(gone_within(pid, Duration::from_secs(2)).await, "child {pid} outlived the SIGKILLed agent");
    }
}

#[tokio::test]
async fn sigterm_to_the_agent_stops_every_child_within_ten_seconds() {
    let (mut agent, pids) = start_agent();
    let t = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.0.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("SIGTERM the agent");
    let status = loop {
        if let Some(status) = agent.0.try_wait().expect("wait") {
            break status;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "the agent did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = t.elapsed();
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The stubborn child used the 5 s grace: the stop was graceful first.
    assert!(took >= Duration::from_secs(5), "{took:?}");
    for pid in pids {
        assert!(!alive(pid), "child {pid} outlived the agent");
    }
}
