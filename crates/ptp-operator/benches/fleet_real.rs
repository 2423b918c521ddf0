//! Fleet scale against the real control plane (issue #14): the release `ptp-operator` binary with
//! `FLEET_NODES` plain Node objects (no kubelets) and `FLEET_CONFIGS` PtpConfigs (the realistic
//! fleet of `benches/support/fleet.rs`), and one `ptp-agent` in API mode for one node of it.
//!
//! ```text
//! cargo build --release --workspace --bin ptp-agent   # the agent binary, beside the operator's
//! FLEET_NODES=50000 FLEET_CONFIGS=200 cargo bench --workspace --bench fleet_real
//! ```
//!
//! It starts a private control plane (`ControlPlane::private_for_test`, stopped when the bench
//! exits; a loud skip without the Kubernetes binaries) and prints, measured in that run (figures
//! and what they say: docs/scale.md):
//!
//! 1. the operator at fleet size (chart operator ServiceAccount): Node creation time, start to
//!    every PtpConfig status written (node counts as the render engine expects), peak and settled
//!    RSS, CPU per Node label change, the ConfigMap or `ConfigMapWithinLimit=False`, and its CPU
//!    and API requests over 20 s without changes (from the API server's `apiserver_request_total`);
//! 2. the largest fleet whose ConfigMap stays within 1 MiB with these profiles (render engine);
//! 3. one agent (`--profile-source api`, chart agent ServiceAccount, fake ptp4l) through a
//!    byte-counting proxy: Node label change and PtpConfig edit → new ptp4l argv running
//!    (median, p99), its RSS, and bytes received per unrelated change against the ConfigMap size.
//!
//! The operator's `--agent-node-selector` picks only the agent's node, so it keeps one
//! NodePtpDevice (not one per Node: no agent runs on the others). Other knobs:
//! `FLEET_LABEL_CHANGES` (operator, default 20), `FLEET_AGENT_CHANGES` (per kind, default 20),
//! `FLEET_UNRELATED` (per kind, default 5), `PTP_AGENT_BIN`, `FLEET_KEEP_LOGS=1` (keep the
//! binaries' logs in the temp dir).

#[path = "support/fleet.rs"]
#[allow(dead_code)]
mod fleet;
#[path = "support/procfs.rs"]
mod procfs;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/stats.rs"]
mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use ptp_api::PtpConfig;
use ptp_api::render::{IncrementalRender, NodeInfo, render};
use ptp_testkit::cluster::{ControlPlane, TestEnv};
use ptp_testkit::probe::free_port;
use ptp_testkit::sys_time::WITHOUT_SYS_TIME;
use serde_json::{Value, json};
use stats::{ms, stats};

use procfs::{Cpu, mib, status_kib};

const AGENT_LABEL: &str = "ptp-bench/agent";
const LIMIT: usize = 1024 * 1024;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// A child process killed and reaped on drop.
struct Proc(Child);

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    #[allow(unsafe_code)] // a syscall without a safe wrapper: see the SAFETY comment
    fn drop(&mut self) {
        // SIGTERM first (the agent stops its children), then SIGKILL.
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bench's PtpConfig `i`: the fixture's, with `--summary_interval <group % 5>` in ptp4lOpts so
/// that neighbouring groups run different ptp4l command lines.
fn config(i: usize, ns: &str) -> PtpConfig {
    let mut c = fleet::config(i);
    c.metadata.namespace = Some(ns.to_string());
    c.spec.profile[0].ptp4l_opts = Some(format!("-2 -s --summary_interval {}", i % 5));
    c
}

fn worker(i: usize) -> String {
    format!("worker-{i:05}")
}

/// The labels of a worker Node as a cluster shows them (kubelet's well-known labels, the role,
/// the fixture's `ptp/group`).
fn labels(i: usize, group: usize) -> BTreeMap<String, String> {
    let name = worker(i);
    let mut l = BTreeMap::new();
    for (k, v) in [
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/os", "linux"),
        ("node-role.kubernetes.io/worker", ""),
        ("node.openshift.io/os_id", "rhcos"),
    ] {
        l.insert(k.to_string(), v.to_string());
    }
    l.insert("kubernetes.io/hostname".into(), name);
    l.insert("topology.kubernetes.io/zone".into(), format!("zone-{}", i % 3));
    l.insert("ptp/group".into(), group.to_string());
    if i == 0 {
        l.insert(AGENT_LABEL.into(), "true".into());
    }
    l
}

fn node_info(i: usize, group: usize) -> NodeInfo {
    NodeInfo { name: worker(i), labels: labels(i, group) }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Polls `check` every `every` until it returns `Some` or `timeout` passes; panics naming `what`
/// and the last thing seen.
async fn poll<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

/// `apiserver_request_total` summed per `VERB resource[/subresource]` for the resources the
/// operator touches.
async fn request_totals(admin: &kube::Client) -> BTreeMap<String, f64> {
    let req = axum::http::Request::get("/metrics").body(Vec::new()).expect("request");
    let text = admin.request_text(req).await.expect("the API server's /metrics");
    let mut totals = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let label = |k: &str| {
            labels.split(&format!("{k}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string()
        };
        let resource = label("resource");
        if !["ptpconfigs", "configmaps", "nodeptpdevices", "events", "nodes", "leases"].contains(&resource.as_str()) {
            continue;
        }
        let sub = label("subresource");
        let key = if sub.is_empty() {
            format!("{} {resource}", label("verb"))
        } else {
            format!("{} {resource}/{sub}", label("verb"))
        };
        *totals.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    totals
}

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect()
}

fn binaries() -> (PathBuf, PathBuf) {
    let operator = PathBuf::from(env!("CARGO_BIN_EXE_ptp-operator"));
    let agent = std::env::var_os("PTP_AGENT_BIN").map_or_else(|| operator.with_file_name("ptp-agent"), PathBuf::from);
    assert!(
        agent.is_file(),
        "the agent binary is not at {} (set PTP_AGENT_BIN, or build it beside the operator's: `cargo build --release --workspace --bin ptp-agent`)",
        agent.display()
    );
    (operator, agent)
}

fn main() {
    let (operator_bin, agent_bin) = binaries();
    let nodes = env_usize("FLEET_NODES", 50_000).max(2);
    let configs = env_usize("FLEET_CONFIGS", 200).max(2);
    println!(
        "fleet_real: {} Nodes, {} PtpConfigs (operator {})",
        thousands(nodes as u64),
        configs,
        operator_bin.display()
    );

    // 2. The ConfigMap at the limit (pure; first, it needs no cluster).
    let all_configs: Vec<PtpConfig> = (0..configs).map(|i| config(i, "fleet")).collect();
    let mut engine = IncrementalRender::build(all_configs.clone(), []);
    let mut fits = 0;
    for i in 0.. {
        engine.upsert_node(node_info(i, i % fleet::GROUPS));
        if engine.data_bytes() > LIMIT {
            break;
        }
        fits = i + 1;
    }
    println!(
        "ConfigMap at the limit: the largest fleet ptp-configmap holds with these profiles is {} nodes ({} PtpConfigs; each node gets the profiles of the PtpConfigs of its group, {} bytes a node; {} nodes = {} bytes > 1 MiB)",
        thousands(fits as u64),
        configs,
        thousands((engine.data_bytes() / (fits + 1)) as u64),
        fits + 1,
        thousands(engine.data_bytes() as u64)
    );

    let Some(cp) = ControlPlane::private_for_test("fleet_real") else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = std::env::temp_dir().join(format!("ptp-fleet-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(run(cp, &dir, &operator_bin, &agent_bin, nodes, configs));
    }));
    drop(runtime);
    if std::env::var_os("FLEET_KEEP_LOGS").is_some() {
        println!("logs kept in {} (FLEET_KEEP_LOGS)", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn run(cp: &'static ControlPlane, dir: &Path, operator_bin: &Path, agent_bin: &Path, n: usize, n_configs: usize) {
    let env = cp.env("fleet").await.expect("namespace");
    env.install_chart_rbac().await.expect("the chart's RBAC");
    let operator_sa = env.service_account("ptp-operator").await.expect("operator ServiceAccount");
    let agent_sa = env.service_account("ptp-operator-agent").await.expect("agent ServiceAccount");
    let ns = env.ns.clone();
    let admin = env.admin.clone();
    let node_api: Api<Node> = Api::all(admin.clone());
    let config_api: Api<PtpConfig> = Api::namespaced(admin.clone(), &ns);

    // The Nodes, concurrently.
    let start = Instant::now();
    let created = futures::stream::iter(0..n)
        .map(|i| {
            let api = node_api.clone();
            async move {
                let node: Node = serde_json::from_value(
                    json!({"metadata": {"name": worker(i), "labels": labels(i, i % fleet::GROUPS)}}),
                )
                .expect("node");
                api.create(&PostParams::default(), &node).await.map(drop).map_err(|e| format!("{}: {e}", worker(i)))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    if let Some(Err(e)) = created.into_iter().find(Result::is_err) {
        panic!("creating the Nodes: {e}");
    }
    let took = start.elapsed();
    println!(
        "Nodes: {} created in {:.1} s ({:.0}/s, 64 concurrent creates, admin client)",
        thousands(n as u64),
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );

    let configs: Vec<PtpConfig> = (0..n_configs).map(|i| config(i, &ns)).collect();
    for c in &configs {
        config_api.create(&PostParams::default(), c).await.expect("PtpConfig create");
    }
    let infos: Vec<NodeInfo> = (0..n).map(|i| node_info(i, i % fleet::GROUPS)).collect();
    let expected = render(&configs, &infos);
    let expected_counts: BTreeMap<String, usize> =
        expected.configs.iter().map(|(k, o)| (k.name.clone(), o.node_count)).collect();
    let configmap_bytes = expected.data_bytes();
    drop(infos);
    drop(expected);

    // 1. The operator.
    let (metrics, health) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("ptp-operator.log")).expect("log");
    let start = Instant::now();
    let operator = Proc(
        Command::new(operator_bin)
            .args(["run", "--namespace", &ns, "--watch-namespace", &ns])
            .args(["--agent-node-selector", &format!("{AGENT_LABEL}=true")])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics}"), "--health-addr", &format!("127.0.0.1:{health}")])
            .env("KUBECONFIG", &operator_sa.kubeconfig)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ptp-operator starts"),
    );
    let pid = operator.pid();
    let all_written = async || -> Result<(), String> {
        let list = config_api.list(&ListParams::default()).await.map_err(|e| e.to_string())?.items;
        let wrong: Vec<String> = list
            .iter()
            .filter_map(|c| {
                let name = c.metadata.name.clone().unwrap_or_default();
                let status = c.status.as_ref();
                let count = status.and_then(|s| s.node_count).unwrap_or(-1);
                let want = expected_counts.get(&name).copied().unwrap_or(0) as i64;
                let seen = status.and_then(|s| s.observed_generation) == c.metadata.generation;
                (count != want || !seen || status.is_some_and(|s| s.match_list.len() as i64 != want))
                    .then(|| format!("{name}: nodeCount {count}, want {want}"))
            })
            .collect();
        if list.len() == n_configs && wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("{} PtpConfigs, {} not yet right, e.g. {:?}", list.len(), wrong.len(), wrong.first()))
        }
    };
    poll(
        "every PtpConfig status written by the operator",
        Duration::from_secs(600),
        Duration::from_millis(250),
        all_written,
    )
    .await;
    let ready = start.elapsed();
    println!(
        "operator: start → every PtpConfig status written (nodeCount and matchList as the render engine expects): {:.2} s (chart operator ServiceAccount)",
        ready.as_secs_f64()
    );

    // Settled: no more writes for a while (the ConfigMap decision and Events follow the statuses).
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    let size_condition = poll(
        "the ConfigMap or ConfigMapWithinLimit",
        Duration::from_secs(120),
        Duration::from_millis(250),
        async || {
            if let Some(cm) = cms.get_opt("ptp-configmap").await.map_err(|e| e.to_string())? {
                let bytes: usize = cm.data.unwrap_or_default().iter().map(|(k, v)| k.len() + v.len()).sum();
                return Ok(format!("ptp-configmap written ({} bytes of data)", thousands(bytes as u64)));
            }
            let c = config_api
                .get(&configs[0].metadata.name.clone().unwrap_or_default())
                .await
                .map_err(|e| e.to_string())?;
            let cond = c.status.and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "ConfigMapWithinLimit"));
            match cond {
                Some(c) if c.status == "False" => {
                    Ok(format!("ptp-configmap not written; ConfigMapWithinLimit=False ({}): {}", c.reason, c.message))
                }
                other => Err(format!("no ConfigMap, condition {other:?}")),
            }
        },
    )
    .await;
    println!("operator: {size_condition}");
    let peak = status_kib(pid, "VmHWM:");
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "operator: RSS peak (VmHWM) {:.1} MiB, after settling {:.1} MiB (goal < 300 MiB at 50,000 nodes)",
        mib(peak),
        mib(status_kib(pid, "VmRSS:"))
    );

    // CPU per Node label change: a worker moves to the next group; wait until the PtpConfig that
    // now wins lists it.
    let k = env_usize("FLEET_LABEL_CHANGES", 20);
    let mut latencies = Vec::new();
    let before = Cpu::of(pid);
    for r in 0..k {
        let i = 2 + (r * 7919) % (n - 2).max(1);
        let i = if i == 0 { 2 } else { i };
        let group = (i % fleet::GROUPS + 1 + r % 50) % fleet::GROUPS;
        let winner = winner_of(&configs, &node_info(i, group));
        let t = Instant::now();
        let patch = json!({"metadata": {"labels": {"ptp/group": group.to_string()}}});
        node_api.patch(&worker(i), &PatchParams::default(), &Patch::Merge(&patch)).await.expect("label patch");
        let node = worker(i);
        poll(
            &format!("{node} in {winner}'s matchList"),
            Duration::from_secs(60),
            Duration::from_millis(5),
            async || {
                let c = config_api.get(&winner).await.map_err(|e| e.to_string())?;
                c.status
                    .as_ref()
                    .is_some_and(|s| s.match_list.iter().any(|m| m.node_name == node))
                    .then_some(())
                    .ok_or_else(|| "not yet".to_string())
            },
        )
        .await;
        latencies.push(t.elapsed());
    }
    let cpu = Cpu::of(pid).since(&before);
    let s = stats(latencies);
    println!(
        "operator: Node label change (moves a node to another group): {:.2} ms CPU each (utime+stime over {k} changes made one at a time); label patch → PtpConfig status shows it: median {:.0} ms, p99 {:.0} ms",
        cpu * 1e3 / k as f64,
        ms(s.median),
        ms(s.p99)
    );

    // Idle: 20 s without changes, once the writes that follow the last change (Events) are done:
    // no request but lease renewals for 2 s.
    let mut last = request_totals(&admin).await;
    let mut still = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while still < 2 {
        assert!(Instant::now() < deadline, "the operator's writes never stopped after the label changes");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = request_totals(&admin).await;
        let busy = delta(&last, &now).iter().any(|(k, _)| !k.contains("leases"));
        still = if busy { 0 } else { still + 1 };
        last = now;
    }
    let before_requests = request_totals(&admin).await;
    let before = Cpu::of(pid);
    let idle = Duration::from_secs(20);
    tokio::time::sleep(idle).await;
    let cpu = Cpu::of(pid).since(&before);
    let requests = delta(&before_requests, &request_totals(&admin).await);
    println!(
        "operator: idle for {} s with no changes: {:.3} s CPU ({:.3}% of one core); API requests served meanwhile (apiserver_request_total, every client; the bench made only the two /metrics reads): {}",
        idle.as_secs(),
        cpu,
        cpu / idle.as_secs_f64() * 100.0,
        if requests.is_empty() {
            "none".to_string()
        } else {
            requests.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        }
    );

    agent(&env, &agent_sa.kubeconfig, dir, agent_bin, &configs, configmap_bytes).await;
    drop(operator);
}

/// The PtpConfigs whose profiles `node` gets (the render of that node alone), by name.
fn winners_of(configs: &[PtpConfig], node: &NodeInfo) -> Vec<String> {
    let out = render(configs, std::slice::from_ref(node));
    let winners: Vec<String> =
        out.configs.iter().filter(|(_, o)| o.node_count > 0).map(|(k, _)| k.name.clone()).collect();
    assert!(!winners.is_empty(), "no PtpConfig applies to {}", node.name);
    winners
}

/// The first of [`winners_of`].
fn winner_of(configs: &[PtpConfig], node: &NodeInfo) -> String {
    winners_of(configs, node).swap_remove(0)
}

/// 3. One agent in API mode for `worker-00000`.
async fn agent(
    env: &TestEnv,
    kubeconfig: &Path,
    dir: &Path,
    agent_bin: &Path,
    configs: &[PtpConfig],
    configmap_bytes: usize,
) {
    let ns = env.ns.clone();
    let node = worker(0);
    let node_api: Api<Node> = Api::all(env.admin.clone());
    let config_api: Api<PtpConfig> = Api::namespaced(env.admin.clone(), &ns);

    // Its API traffic through the counting proxy.
    let server = env.cp.server().trim_start_matches("https://").to_string();
    let upstream = tokio::net::lookup_host(&server).await.expect("server address").next().expect("an address");
    let (proxy, counts) = proxy::start(upstream).await.expect("proxy");
    let text = std::fs::read_to_string(kubeconfig).expect("agent kubeconfig");
    let proxied = dir.join("agent.kubeconfig");
    std::fs::write(&proxied, text.replace(env.cp.server(), &format!("https://{proxy}"))).expect("kubeconfig");

    // Fake linuxptp (phc2sys too: nothing touches this machine's clock).
    let bin = ptp_testkit::probe::fake_ptp4l(dir, &[5], "1").expect("fake ptp4l");
    let phc2sys = bin.join("phc2sys");
    // `sleep & wait`: a SIGTERM that lands between two sleeps runs the trap at once (with a
    // foreground sleep it waited for the next one, a whole second: the agent's stop took 1 s).
    std::fs::write(&phc2sys, "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n")
        .expect("fake phc2sys");
    std::fs::set_permissions(&phc2sys, <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755))
        .expect("chmod");
    let run_dir = dir.join("run");
    let run_dir_s = run_dir.display().to_string();
    let log = std::fs::File::create(dir.join("ptp-agent.log")).expect("log");
    let start = Instant::now();
    let agent = Proc(
        Command::new(WITHOUT_SYS_TIME[0])
            .args(&WITHOUT_SYS_TIME[1..])
            .arg(agent_bin)
            .args([
                "run",
                "--profile-source",
                "api",
                "--namespace",
                &ns,
                "--watch-namespace",
                &ns,
                "--node-name",
                &node,
            ])
            .arg("--run-dir")
            .arg(&run_dir)
            .arg("--bin-dir")
            .arg(&bin)
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--health-addr", &format!("127.0.0.1:{}", free_port())])
            .env("KUBECONFIG", &proxied)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ptp-agent starts"),
    );
    let pid = agent.pid();
    // Every ptp4l of the node (one per profile) runs with `--summary_interval opt`.
    let running = async |opt: String, count: usize| {
        let what = format!("{count} ptp4l running with --summary_interval {opt}");
        poll(&what, Duration::from_secs(30), Duration::from_millis(1), async || {
            let n = procfs::running_with("ptp4l", &run_dir_s, &["--summary_interval", &opt]);
            (n >= count).then_some(()).ok_or_else(|| format!("{n} running"))
        })
        .await;
    };
    let profiles = |group: usize| winners_of(configs, &node_info(0, group)).len();
    running("0".into(), profiles(0)).await;
    println!(
        "agent: start → its ptp4l running: {:.0} ms; received {} bytes while starting (lists and watches of {} PtpConfigs and its Node)",
        ms(start.elapsed()),
        thousands(counts.down()),
        configs.len()
    );

    // Node label changes: worker-00000 alternates between groups 1 and 0.
    let m = env_usize("FLEET_AGENT_CHANGES", 20);
    let mut times = Vec::new();
    for r in 0..m {
        let group = (r + 1) % 2;
        let patch = json!({"metadata": {"labels": {"ptp/group": group.to_string()}}});
        let t = Instant::now();
        node_api.patch(&node, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("label patch");
        running(group.to_string(), profiles(group)).await;
        times.push(t.elapsed());
    }
    let s = stats(times);
    println!(
        "agent: Node label change → new ptp4l argv running (every ptp4l of the node, one per profile): median {:.1} ms, p99 {:.1} ms, max {:.1} ms over {m} changes (goal p99 < 200 ms)",
        ms(s.median),
        ms(s.p99),
        ms(s.max)
    );

    // PtpConfig edits of the one that applies to the node.
    let group = m % 2;
    let winner = winner_of(configs, &node_info(0, group));
    let mut times = Vec::new();
    for r in 0..m {
        let value = (10 + r).to_string();
        let patch = json!([{"op": "replace", "path": "/spec/profile/0/ptp4lOpts", "value": format!("-2 -s --summary_interval {value}")}]);
        let t = Instant::now();
        config_api
            .patch(
                &winner,
                &PatchParams::default(),
                &Patch::<Value>::Json(serde_json::from_value(patch).expect("json patch")),
            )
            .await
            .expect("PtpConfig patch");
        running(value, 1).await;
        times.push(t.elapsed());
    }
    let s = stats(times);
    println!(
        "agent: PtpConfig edit ({winner}'s ptp4lOpts) → new ptp4l argv running: median {:.1} ms, p99 {:.1} ms, max {:.1} ms over {m} edits (goal p99 < 200 ms)",
        ms(s.median),
        ms(s.p99),
        ms(s.max)
    );

    // Bytes per unrelated change, each followed by a quiet second on the proxy.
    let quiet = async || {
        let mut last = counts.down();
        let mut since = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(30);
        while since.elapsed() < Duration::from_secs(1) {
            assert!(Instant::now() < deadline, "the agent's connection never went quiet");
            tokio::time::sleep(Duration::from_millis(50)).await;
            if counts.down() != last {
                last = counts.down();
                since = Instant::now();
            }
        }
    };
    quiet().await;
    let before = counts.down();
    let window = Instant::now();
    quiet().await;
    quiet().await;
    let baseline = (counts.down() - before) as f64 / window.elapsed().as_secs_f64();
    println!("agent: baseline with no changes: {baseline:.0} bytes/s received");

    let u = env_usize("FLEET_UNRELATED", 5);
    let unrelated = configs
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("config-050"))
        .unwrap_or(&configs[configs.len() - 1]);
    let name = unrelated.metadata.name.clone().unwrap_or_default();
    let original = unrelated.spec.profile[0].ptp4l_conf.clone().unwrap_or_default();
    // One edit of ptp4lConf, as the agent receives it: bytes, and the PtpConfig requests made
    // meanwhile (the bench's patch and reads, the operator's status writes).
    let edit = async |conf: String| -> (u64, BTreeMap<String, f64>) {
        let before_requests = request_totals(&env.admin).await;
        let patch = json!([{"op": "replace", "path": "/spec/profile/0/ptp4lConf", "value": conf}]);
        let b = counts.down();
        let edited = config_api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::<Value>::Json(serde_json::from_value(patch).expect("json patch")),
            )
            .await
            .expect("patch");
        let generation = edited.metadata.generation;
        poll(
            &format!("{name} status observedGeneration {generation:?}"),
            Duration::from_secs(30),
            Duration::from_millis(20),
            async || {
                let c = config_api.get(&name).await.map_err(|e| e.to_string())?;
                (c.status.and_then(|s| s.observed_generation) == generation).then_some(()).ok_or_else(String::new)
            },
        )
        .await;
        quiet().await;
        let bytes = counts.down() - b;
        let requests = delta(&before_requests, &request_totals(&env.admin).await)
            .into_iter()
            .filter(|(k, _)| k.contains("ptpconfigs"))
            .collect();
        (bytes, requests)
    };
    let per_edit = |results: &[(u64, BTreeMap<String, f64>)]| {
        let bytes = results.iter().map(|r| r.0).sum::<u64>() / results.len().max(1) as u64;
        let mut requests: BTreeMap<String, f64> = BTreeMap::new();
        for (_, r) in results {
            for (k, v) in r {
                *requests.entry(k.clone()).or_insert(0.0) += v / results.len() as f64;
            }
        }
        let requests = requests.iter().map(|(k, v)| format!("{k} {v:.1}")).collect::<Vec<_>>().join(", ");
        (bytes, requests)
    };
    // Same-size edits (a value changes, the ConfigMap size does not), after one edit that sets the size.
    edit(format!("{original}edit_0 1\n")).await;
    let mut same = Vec::new();
    for r in 1..=u {
        same.push(edit(format!("{original}edit_{} 1\n", r % 10)).await);
    }
    // Edits that change the size of the (unstored) ConfigMap.
    let mut grow = Vec::new();
    for r in 1..=u {
        grow.push(edit(format!("{original}edit_0 1\n{}\n", "#".repeat(r))).await);
    }
    let object = config_api.get(&name).await.expect("get");
    let object_bytes = serde_json::to_vec(&object).expect("json").len();
    let (bytes, requests) = per_edit(&same);
    println!(
        "agent: unrelated PtpConfig edit ({name}, matches other nodes; the PtpConfig is {} bytes as JSON with its status), one that keeps the ConfigMap's size: {} bytes received per edit; PtpConfig requests per edit (bench and operator): {requests}",
        thousands(object_bytes as u64),
        thousands(bytes)
    );
    let (bytes, requests) = per_edit(&grow);
    println!(
        "agent: unrelated PtpConfig edit that changes the ConfigMap's size (the ConfigMapWithinLimit message of every PtpConfig says the size): {} bytes received per edit; PtpConfig requests per edit (bench and operator): {requests}",
        thousands(bytes)
    );

    // A label change on another node that moves no profile, then one that moves it to another group.
    let other = 3;
    let mut bytes = 0;
    for r in 0..u {
        let patch = json!({"metadata": {"labels": {"bench/touched": r.to_string()}}});
        let b = counts.down();
        node_api.patch(&worker(other), &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
        quiet().await;
        bytes += counts.down() - b;
    }
    println!(
        "agent: label change on another node (no profile moves): {} bytes received per change",
        thousands(bytes / u as u64)
    );
    let mut bytes = 0;
    let mut touched = Vec::new();
    for r in 0..u {
        let group = 20 + r;
        let winner = winner_of(configs, &node_info(other, group));
        let patch = json!({"metadata": {"labels": {"ptp/group": group.to_string()}}});
        let b = counts.down();
        node_api.patch(&worker(other), &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
        let w = worker(other);
        poll(&format!("{w} in {winner}'s matchList"), Duration::from_secs(30), Duration::from_millis(20), async || {
            let c = config_api.get(&winner).await.map_err(|e| e.to_string())?;
            c.status
                .is_some_and(|s| s.match_list.iter().any(|m| m.node_name == w))
                .then_some(())
                .ok_or_else(String::new)
        })
        .await;
        quiet().await;
        bytes += counts.down() - b;
        let c = config_api.get(&winner).await.expect("get");
        touched.push(serde_json::to_vec(&c).expect("json").len());
    }
    let avg_touched = touched.iter().sum::<usize>() / touched.len().max(1);
    println!(
        "agent: label change on another node moving it to another group: {} bytes received per change (the operator rewrites the status, matchList included, of the PtpConfigs it leaves and joins (2 + 2 here), ~{} bytes each as JSON)",
        thousands(bytes / u as u64),
        thousands(avg_touched as u64)
    );
    println!(
        "agent: the old path (--profile-source configmap) receives the whole ptp-configmap on every change: {} bytes of data at this fleet size{}",
        thousands(configmap_bytes as u64),
        if configmap_bytes > LIMIT { " (over 1 MiB: it cannot even be stored)" } else { "" }
    );
    println!(
        "agent: RSS {:.1} MiB (peak {:.1} MiB); {} connections through the proxy",
        mib(status_kib(pid, "VmRSS:")),
        mib(status_kib(pid, "VmHWM:")),
        counts.connections.load(std::sync::atomic::Ordering::Relaxed)
    );
    drop(agent);
}
