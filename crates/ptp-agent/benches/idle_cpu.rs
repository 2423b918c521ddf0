//! Agent CPU while nothing changes (goal < 0.1% of one core), in file mode (`--profile`, as the
//! chart's `profileSource: file` and `scripts/lab.sh`) and in API mode (against the in-process API
//! server double). The agent runs one profile whose ptp4l is a fake (a shell script printing
//! ptp4l's lines, one offset a second as ptp4l does), so it does its real work (supervision,
//! parsing, metrics, status) without root. Once it is ready, its CPU time (utime + stime of
//! /proc/PID/stat, every thread) is read over the interval.
//! `cargo bench -p ptp-agent --bench idle_cpu`; `IDLE_CPU_SECONDS=10` shortens the interval (default
//! 60); `PTP_AGENT_BIN=/path/to/ptp-agent` measures another build of the agent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use ptp_api::{NodePtpDevice, NodePtpDeviceSpec};
use ptp_testkit::ApiServer;
use ptp_testkit::probe::{free_port, http_get, pids_of};

const NODE: &str = "bench-node";
const NS: &str = "openshift-ptp";
const GOAL_PERCENT: f64 = 0.1;

fn profiles() -> String {
    serde_json::json!([{"name": "bench", "interface": "eth9", "ptp4lOpts": "-S", "ptp4lConf": "[global]\nslaveOnly 1\n"}])
        .to_string()
}

/// utime + stime of `pid` (all its threads, exited ones included), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("agent alive");
    // Fields after the command name (which may hold spaces) start with field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(14) + field(15)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant; no pointers are involved.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Time on CPU (ns, from the scheduler: precise, unlike the tick-sampled stat fields) and
/// context switches (each a wakeup) of every live thread of `pid`.
fn sched_totals(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return (0, 0) };
    let mut on_cpu = 0;
    let mut switches = 0;
    for task in tasks.flatten() {
        let path = task.path();
        let schedstat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        on_cpu += schedstat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        switches += status
            .lines()
            .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
            .sum::<u64>();
    }
    (on_cpu, switches)
}

/// The agent over an interval: CPU in % of one core (from the stat ticks, which include threads
/// that exited; and from the scheduler's precise time of the live threads) and wakeups a second.
struct Idle {
    stat_percent: f64,
    sched_percent: f64,
    wakeups_per_second: f64,
}

impl Idle {
    fn percent(&self) -> f64 {
        self.sched_percent.max(self.stat_percent)
    }

    fn describe(&self) -> String {
        format!(
            "{:.3}% of one core (stat ticks {:.3}%, scheduler {:.3}%), {:.2} wakeups/s",
            self.percent(),
            self.stat_percent,
            self.sched_percent,
            self.wakeups_per_second
        )
    }
}

/// The agent's CPU over `interval`.
fn measure(pid: u32, interval: Duration) -> Idle {
    let before = cpu_ticks(pid);
    let (on_cpu, switches) = sched_totals(pid);
    let start = Instant::now();
    std::thread::sleep(interval);
    let ticks = cpu_ticks(pid) - before;
    let (on_cpu_after, switches_after) = sched_totals(pid);
    let seconds = start.elapsed().as_secs_f64();
    Idle {
        stat_percent: ticks as f64 / clock_ticks_per_second() / seconds * 100.0,
        sched_percent: on_cpu_after.saturating_sub(on_cpu) as f64 / 1e9 / seconds * 100.0,
        wakeups_per_second: switches_after.saturating_sub(switches) as f64 / seconds,
    }
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn agent_command(bin: &Path, dir: &Path, health: u16) -> Command {
    let program =
        std::env::var_os("PTP_AGENT_BIN").map_or(PathBuf::from(env!("CARGO_BIN_EXE_ptp-agent")), PathBuf::from);
    let mut command = Command::new(program);
    command
        .args(["run", "--node-name", NODE, "--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .args(["--health-addr", &format!("127.0.0.1:{health}")])
        .arg("--run-dir")
        .arg(dir.join("run"))
        .arg("--bin-dir")
        .arg(bin)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Waits until the agent is ready and its fake ptp4l runs.
fn wait_ready(agent: &mut Child, bin: &Path, health: u16) {
    let fake = bin.join("ptp4l").display().to_string();
    wait_until("agent ready with ptp4l running", || {
        assert!(agent.try_wait().ok().flatten().is_none(), "the agent exited");
        http_get(health, "/readyz").is_some_and(|(code, _)| code == 200) && pids_of("sh", &fake).len() == 1
    });
}

fn stop(mut agent: Child) {
    let _ = agent.kill();
    let _ = agent.wait();
}

fn file_mode(dir: &Path, bin: &Path, interval: Duration) -> Idle {
    let profile = dir.join("profiles").join(NODE);
    std::fs::create_dir_all(profile.parent().expect("has a parent")).expect("profile dir");
    std::fs::write(&profile, profiles()).expect("profile file");
    let health = free_port();
    let mut agent = agent_command(bin, dir, health).arg("--profile").arg(&profile).spawn().expect("agent starts");
    wait_ready(&mut agent, bin, health);
    let percent = measure(agent.id(), interval);
    stop(agent);
    percent
}

/// The agent's CPU in API mode, and its API requests during the interval.
fn api_mode(dir: &Path, bin: &Path, interval: Duration) -> (Idle, String) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let server = runtime.block_on(async {
        let server = ApiServer::start().await.expect("API server double");
        let mut ns = Namespace::default();
        ns.metadata.name = Some(NS.into());
        server.seed(&ns).expect("namespace");
        let mut device = NodePtpDevice::new(NODE, NodePtpDeviceSpec {});
        device.metadata.namespace = Some(NS.into());
        server.seed(&device).expect("NodePtpDevice");
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("ptp-configmap".into());
        cm.metadata.namespace = Some(NS.into());
        cm.data = Some(BTreeMap::from([(NODE.to_string(), profiles())]));
        server.seed(&cm).expect("ConfigMap");
        server
    });
    let health = free_port();
    let mut agent = agent_command(bin, dir, health)
        .env("KUBECONFIG", server.kubeconfig_path())
        .env("POD_NAMESPACE", NS)
        .spawn()
        .expect("agent starts");
    wait_ready(&mut agent, bin, health);
    runtime
        .block_on(server.wait_until(NS, NODE, Duration::from_secs(60), |d: &NodePtpDevice| {
            d.status
                .as_ref()
                .is_some_and(|s| s.processes.as_ref().is_some_and(|p| p.iter().any(|p| p.state == "Running")))
        }))
        .expect("runtime status written");
    let before = server.requests().snapshot();
    let percent = measure(agent.id(), interval);
    let requests: Vec<String> = server
        .requests()
        .snapshot()
        .into_iter()
        .filter_map(|((verb, resource), n)| {
            let during = n - before.get(&(verb, resource.clone())).copied().unwrap_or(0);
            (during > 0).then(|| format!("{during} {verb:?} {resource}"))
        })
        .collect();
    stop(agent);
    drop(server);
    (percent, if requests.is_empty() { "none".into() } else { requests.join(", ") })
}

fn main() {
    let seconds = std::env::var("IDLE_CPU_SECONDS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(60).max(1);
    let interval = Duration::from_secs(seconds);
    let dir = std::env::temp_dir().join(format!("ptp-idle-cpu-{}", std::process::id()));
    // One offset line a second, as ptp4l with the default sync interval; the offset alternates so
    // the NodePtpDevice status gets its periodic offset update in API mode.
    let bin = ptp_testkit::probe::fake_ptp4l(&dir, &[5, -5], "1").expect("fake ptp4l");
    let verdict = |idle: &Idle| if idle.percent() < GOAL_PERCENT { "met" } else { "NOT met" };
    let file = file_mode(&dir, &bin, interval);
    println!(
        "agent CPU idle, file mode (--profile, 1 profile, ptp4l printing 1 line/s), over {seconds} s: {}; goal < {GOAL_PERCENT}%: {}",
        file.describe(),
        verdict(&file)
    );
    let (api, requests) = api_mode(&dir, &bin, interval);
    println!(
        "agent CPU idle, API mode (ConfigMap watch, status writes, NIC report), over {seconds} s: {}; goal < {GOAL_PERCENT}%: {}; API requests meanwhile: {requests}",
        api.describe(),
        verdict(&api)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
