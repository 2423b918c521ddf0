//! Agent CPU while nothing changes (goal < 0.1% of one core), in file mode (`--profile`, as the
//! chart's `profileSource: file` and `scripts/lab.sh`) and in API mode (the chart's default
//! `profileSource: api`, against the real API server of `ptp_testkit::cluster`). The agent runs one profile whose ptp4l is a fake (a shell script printing
//! ptp4l's lines, one offset a second as ptp4l does), so it does its real work (supervision,
//! parsing, metrics, status) without root. Once it is ready, its CPU time (utime + stime of
//! /proc/PID/stat, every thread) is read over the interval.
//! `cargo bench -p ptp-agent --bench idle_cpu`; `IDLE_CPU_SECONDS=10` shortens the interval (default
//! 60); `PTP_AGENT_BIN=/path/to/ptp-agent` measures another build of the agent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::PostParams;
use ptp_api::{NodePtpDevice, NodePtpDeviceSpec, PtpConfig, PtpConfigSpec};
use ptp_testkit::cluster::ControlPlane;
use ptp_testkit::probe::{free_port, http_get, pids_of};

const NODE: &str = "bench-node";
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

#[allow(unsafe_code)] // a syscall without a safe wrapper: see the SAFETY comment
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

fn agent_command(bin: &Path, dir: &Path, health: u16, node: &str) -> Command {
    let program =
        std::env::var_os("PTP_AGENT_BIN").map_or(PathBuf::from(env!("CARGO_BIN_EXE_ptp-agent")), PathBuf::from);
    let mut command = Command::new(program);
    command
        .args(["run", "--node-name", node, "--metrics-addr", &format!("127.0.0.1:{}", free_port())])
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

/// The agent process, killed when dropped: also when the bench panics (an agent left running
/// after a failed run kept a core busy for half an hour).
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stop(agent: Agent) {
    drop(agent);
}

fn file_mode(dir: &Path, bin: &Path, interval: Duration) -> Idle {
    let profile = dir.join("profiles").join(NODE);
    std::fs::create_dir_all(profile.parent().expect("has a parent")).expect("profile dir");
    std::fs::write(&profile, profiles()).expect("profile file");
    let health = free_port();
    let mut agent =
        Agent(agent_command(bin, dir, health, NODE).arg("--profile").arg(&profile).spawn().expect("agent starts"));
    wait_ready(&mut agent.0, bin, health);
    let percent = measure(agent.0.id(), interval);
    stop(agent);
    percent
}

/// `apiserver_request_total` per (verb, resource) from the API server's own metrics.
fn server_requests(cp: &ControlPlane) -> BTreeMap<(String, String), f64> {
    let out = cp.kubectl().args(["get", "--raw", "/metrics"]).output().expect("kubectl get --raw /metrics");
    let text = String::from_utf8_lossy(&out.stdout);
    let label = |line: &str, name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        line[start..].split('"').next().map(str::to_string)
    };
    let mut totals = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let (Some(verb), Some(resource)) = (label(line, "verb"), label(line, "resource")) else { continue };
        let subresource = label(line, "subresource").filter(|s| !s.is_empty());
        let resource = subresource.map_or(resource.clone(), |s| format!("{resource}/{s}"));
        let n = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        *totals.entry((verb, resource)).or_insert(0.0) += n;
    }
    totals
}

/// The agent's CPU in API mode (the chart's default: it renders its node from a watch of the
/// PtpConfigs and of its Node, writes its NodePtpDevice status and reports its NICs) against the
/// real API server, as the chart's agent ServiceAccount, and the API requests the server counted
/// meanwhile (the agent is the only client then). `None` without a control plane.
fn api_mode(dir: &Path, bin: &Path, interval: Duration) -> Option<(Idle, String)> {
    let cp = ControlPlane::for_test("idle_cpu API mode")?;
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let (env, identity, node) = runtime.block_on(async {
        let env = cp.env("idle-cpu").await.expect("test namespace");
        env.install_chart_rbac().await.expect("chart RBAC");
        let identity = env.service_account("ptp-operator-agent").await.expect("agent ServiceAccount");
        let node = env.node("idle", serde_json::json!({"ptp/idle": "true"})).await.expect("Node");
        let mut device = NodePtpDevice::new(&node, NodePtpDeviceSpec {});
        device.metadata.namespace = Some(env.ns.clone());
        Api::<NodePtpDevice>::namespaced(env.admin.clone(), &env.ns)
            .create(&PostParams::default(), &device)
            .await
            .expect("NodePtpDevice");
        let spec: PtpConfigSpec = serde_json::from_value(serde_json::json!({
            "profile": serde_json::from_str::<serde_json::Value>(&profiles()).expect("profiles"),
            "recommend": [{"profile": "bench", "priority": 10, "match": [{"nodeLabel": "ptp/idle"}]}],
        }))
        .expect("PtpConfig spec");
        let mut config = PtpConfig::new("idle", spec);
        config.metadata.namespace = Some(env.ns.clone());
        Api::<PtpConfig>::namespaced(env.admin.clone(), &env.ns)
            .create(&PostParams::default(), &config)
            .await
            .expect("PtpConfig");
        (env, identity, node)
    });
    let health = free_port();
    let mut agent = Agent(
        agent_command(bin, dir, health, &node)
            .args(["--watch-namespace", &env.ns])
            .env("KUBECONFIG", &identity.kubeconfig)
            .env("POD_NAMESPACE", &env.ns)
            .spawn()
            .expect("agent starts"),
    );
    wait_ready(&mut agent.0, bin, health);
    let devices: Api<NodePtpDevice> = Api::namespaced(env.admin.clone(), &env.ns);
    runtime
        .block_on(ptp_testkit::cluster::wait_until(&devices, &node, Duration::from_secs(60), |d| {
            d.status.as_ref().is_some_and(|s| {
                s.processes.as_ref().is_some_and(|p| p.iter().any(|p| p.state == ptp_api::ProcessState::Running))
            })
        }))
        .expect("runtime status written");
    let before = server_requests(cp);
    let percent = measure(agent.0.id(), interval);
    let requests: Vec<String> = server_requests(cp)
        .into_iter()
        .filter_map(|(key, n)| {
            let during = n - before.get(&key).copied().unwrap_or(0.0);
            (during > 0.0).then(|| format!("{during} {} {}", key.0, key.1))
        })
        .collect();
    stop(agent);
    drop(env);
    Some((percent, if requests.is_empty() { "none".into() } else { requests.join(", ") }))
}

fn main() {
    let seconds = std::env::var("IDLE_CPU_SECONDS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(60).max(1);
    let interval = Duration::from_secs(seconds);
    let dir = std::env::temp_dir().join(format!("ptp-idle-cpu-{}", std::process::id()));
    // One offset line a second, as ptp4l with the default sync interval; the offset cycles over
    // three values so that it differs at each of the status writer's looks (every 10 s; with two
    // values every look would see the same one) and the NodePtpDevice status gets its periodic
    // offset update in API mode.
    let bin = ptp_testkit::probe::fake_ptp4l(&dir, &[5, -5, 7], "1").expect("fake ptp4l");
    let verdict = |idle: &Idle| if idle.percent() < GOAL_PERCENT { "met" } else { "NOT met" };
    let file = file_mode(&dir, &bin, interval);
    println!(
        "agent CPU idle, file mode (--profile, 1 profile, ptp4l printing 1 line/s), over {seconds} s: {}; goal < {GOAL_PERCENT}%: {}",
        file.describe(),
        verdict(&file)
    );
    match api_mode(&dir, &bin, interval) {
        Some((api, requests)) => println!(
            "agent CPU idle, API mode (renders its node from watches of the PtpConfigs and its Node, status writes, NIC report; real API server), over {seconds} s: {}; goal < {GOAL_PERCENT}%: {}; API requests the server counted meanwhile: {requests}",
            api.describe(),
            verdict(&api)
        ),
        None => println!("agent CPU idle, API mode: NOT MEASURED (no control plane, see the skip message above)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
