//! The whole product on one machine: a real control plane (kube-apiserver, etcd,
//! kube-controller-manager; `ptp_testkit::cluster`) with the CRDs and the chart's RBAC, the real
//! `ptp-operator` and `ptp-agent` binaries started as processes, each with its ServiceAccount's
//! kubeconfig as in the chart, and a software grandmaster (real ptp4l) in a network namespace,
//! linked to the agent's host-side veth ends. The test has a namespace of its own, a Node with a
//! name of its own and a label only its operator selects, so it can share the control plane.
//! A user's path, step by step and timed:
//!
//! 1. the operator is ready and creates the node's NodePtpDevice; the agent reports the NICs;
//! 2. two PtpConfigs whose rules match the node → the node's ConfigMap key holds both profiles;
//! 3. the agent, rendering its own node from the PtpConfigs (the chart's default), starts one
//!    ptp4l per profile; the NodePtpDevice status shows the applied profiles (their SHA-256
//!    equal to the ConfigMap key's), running processes, LOCKED and an offset (also through
//!    `kubectl get` when a kubectl of the control plane); the PtpConfigs report their node;
//! 4. one PtpConfig changes → only its ptp4l restarts;
//! 5. both are deleted → every ptp4l stops and the key becomes `[]`;
//! 6. SIGTERM stops both binaries in time, nothing is left behind.
//!
//! Nothing may adjust this machine's clock: ptp4l runs without CAP_SYS_TIME (checked first), so
//! every adjustment fails with EPERM, and the profiles never step. Needs root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use ptp_api::{ClockState, NodePtpDevice, NodePtpDeviceStatus, PtpConfig};
use ptp_e2e_local::{Proc, Timeline, binary, eventually};
use ptp_testkit::cluster::{ControlPlane, TestEnv};
use ptp_testkit::netns::{HostVeth, NetNs, unique_name};
use ptp_testkit::probe::{free_port, http_get, pids_of};
use ptp_testkit::root::require_root;
use ptp_testkit::sys_time::{WITHOUT_SYS_TIME, check_without_sys_time};
use serde_json::{Value, json};

/// The label that puts the test's Node in front of its operator only.
const TEST_LABEL: &str = "ptp-test.example/env";
const CONFIGMAP: &str = "ptp-configmap";
const LOCK_TIMEOUT: Duration = Duration::from_secs(90);
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A PtpConfig as a user writes it: one profile `slave` on `iface`, recommended to the nodes
/// labelled `<ns>.example/e2e` (a label of this test's own: a PtpConfig's status counts every
/// Node its rules match, and a shared control plane may hold other Nodes). In the ConfigMap and the status it is `{name}_slave`, as with the Go
/// operator.
fn ptp_config(ns: &str, name: &str, iface: &str, ptp4l_opts: &str) -> PtpConfig {
    let conf = "[global]\nslaveOnly 1\ndomainNumber 0\nnetwork_transport L2\ntime_stamping software\n\
                clock_servo linreg\nfirst_step_threshold 0.0\nstep_threshold 0.0\nlogSyncInterval 0\n\
                summary_interval 0\n";
    serde_json::from_value(json!({
        "apiVersion": "ptp.openshift.io/v1",
        "kind": "PtpConfig",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "profile": [{"name": "slave", "interface": iface, "ptp4lOpts": ptp4l_opts, "ptp4lConf": conf,
                         "ptpClockThreshold": {"holdOverTimeout": 5, "maxOffsetThreshold": 1_000_000,
                                               "minOffsetThreshold": -1_000_000}}],
            "recommend": [{"profile": "slave", "priority": 10, "match": [{"nodeLabel": format!("{ns}.example/e2e")}]}]
        }
    }))
    .expect("a valid PtpConfig")
}

/// Log files of the children, printed when the test fails.
struct Logs(Vec<(&'static str, PathBuf)>);

impl Drop for Logs {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (name, path) in &self.0 {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("----- last lines of {name} ({}) -----", path.display());
            for line in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{line}");
            }
        }
    }
}

fn log_file(dir: &Path, name: &str) -> (std::fs::File, PathBuf) {
    let path = dir.join(format!("{name}.log"));
    (std::fs::File::create(&path).expect("log file"), path)
}

/// Reads of the test's objects through the admin client, for the waits.
struct Cluster {
    env: TestEnv,
    node: String,
}

impl Cluster {
    fn configmaps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.env.admin.clone(), &self.env.ns)
    }

    fn configs(&self) -> Api<PtpConfig> {
        Api::namespaced(self.env.admin.clone(), &self.env.ns)
    }

    fn devices(&self) -> Api<NodePtpDevice> {
        Api::namespaced(self.env.admin.clone(), &self.env.ns)
    }

    /// The node's ConfigMap key, or what there is instead.
    async fn key(&self) -> Result<String, String> {
        let cm = self.configmaps().get_opt(CONFIGMAP).await.map_err(|e| e.to_string())?;
        let data = cm.ok_or("no ConfigMap")?.data.unwrap_or_default();
        data.get(&self.node).cloned().ok_or_else(|| format!("no key {}: {data:?}", self.node))
    }

    async fn key_profiles(&self) -> Result<Vec<String>, String> {
        let value = self.key().await?;
        let items: Vec<Value> = serde_json::from_str(&value).map_err(|e| format!("{e}: {value}"))?;
        Ok(items.iter().filter_map(|p| p["name"].as_str().map(str::to_string)).collect())
    }

    async fn npd(&self) -> Result<NodePtpDevice, String> {
        self.devices().get_opt(&self.node).await.map_err(|e| e.to_string())?.ok_or_else(|| "no NodePtpDevice".into())
    }

    async fn npd_status(&self) -> Result<NodePtpDeviceStatus, String> {
        self.npd().await?.status.ok_or_else(|| "no status".into())
    }

    /// `kubectl ARGS -n NS` of the control plane, as the admin: its stdout (stderr on a failure).
    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.env.cp.kubectl().args(args).args(["-n", &self.env.ns]).output().expect("kubectl runs");
        String::from_utf8_lossy(if out.status.success() { &out.stdout } else { &out.stderr }).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_agent_binaries_run_ptp4l_from_ptpconfigs() {
    if !require_root("operator_and_agent_binaries_run_ptp4l_from_ptpconfigs") {
        return;
    }
    let Some(cp) = ControlPlane::for_test("operator_and_agent_binaries_run_ptp4l_from_ptpconfigs") else { return };
    check_without_sys_time().expect("setpriv must drop CAP_SYS_TIME");
    let (operator_bin, agent_bin) = (binary("ptp-operator"), binary("ptp-agent"));
    let dir = std::env::temp_dir().join(format!("ptp-e2e-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run_dir = dir.join("run");
    let mut time = Timeline::new();

    // The cluster: the test's namespace with the chart's RBAC, both ServiceAccounts, one labelled node.
    let env = cp.env("e2e-local").await.unwrap();
    env.install_chart_rbac().await.unwrap();
    let operator_sa = env.service_account("ptp-operator").await.unwrap();
    let agent_sa = env.service_account("ptp-operator-agent").await.unwrap();
    let ns = env.ns.clone();
    let selector = format!("{TEST_LABEL}={ns}");
    let node_name = env.name("node");
    let labels = json!({"kubernetes.io/os": "linux", "kubernetes.io/hostname": node_name, (format!("{ns}.example/e2e")): "", (TEST_LABEL): ns});
    env.node("node", labels).await.unwrap();
    let c = Cluster { node: node_name.clone(), env };

    // The lab: a grandmaster in its namespace, two veth pairs whose node ends stay in this one.
    let gm = NetNs::new("e2g").unwrap();
    let mut pairs = Vec::new();
    for _ in 0..2 {
        let (node_end, gm_end) = (unique_name("e2n"), unique_name("e2m"));
        let pair = HostVeth::new(&node_end, &gm_end).unwrap();
        ptp_testkit::netns::run("ip", ["link", "set", &gm_end, "netns", gm.name()]).unwrap();
        gm.ip(["link", "set", &gm_end, "up"]).unwrap();
        pairs.push(pair);
    }
    let gm_conf = dir.join("gm.conf");
    std::fs::write(&gm_conf, "[global]\npriority1 10\ndomainNumber 0\nnetwork_transport L2\ntime_stamping software\nlogSyncInterval 0\nmasterOnly 1\n").unwrap();
    let (gm_log, gm_log_path) = log_file(&dir, "grandmaster");
    let _grandmaster = Proc {
        name: "grandmaster",
        child: gm
            .command(WITHOUT_SYS_TIME[0])
            .args(&WITHOUT_SYS_TIME[1..])
            .args(["ptp4l", "-S", "-m", "-i", &pairs[0].b, "-i", &pairs[1].b, "-f"])
            .arg(&gm_conf)
            .stdout(gm_log)
            .stderr(Stdio::null())
            .spawn()
            .expect("ptp4l (apt-get install linuxptp)"),
    };

    // The binaries, as a Deployment and a DaemonSet would run them.
    let (operator_metrics, operator_health) = (free_port(), free_port());
    let (op_log, op_log_path) = log_file(&dir, "ptp-operator");
    let mut operator = Proc {
        name: "ptp-operator",
        child: Command::new(&operator_bin)
            .args(["run", "--namespace", &ns, "--watch-namespace", &ns, "--agent-node-selector", &selector])
            .args(["--debounce-ms", "100"])
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{operator_metrics}"),
                "--health-addr",
                &format!("127.0.0.1:{operator_health}"),
            ])
            .env("KUBECONFIG", &operator_sa.kubeconfig)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(op_log)
            .spawn()
            .expect("ptp-operator"),
    };
    let (agent_metrics, agent_health) = (free_port(), free_port());
    let (agent_log, agent_log_path) = log_file(&dir, "ptp-agent");
    let mut agent = Proc {
        name: "ptp-agent",
        child: Command::new(WITHOUT_SYS_TIME[0])
            .args(&WITHOUT_SYS_TIME[1..])
            .arg(&agent_bin)
            .args(["run", "--namespace", &ns, "--watch-namespace", &ns, "--node-name", &node_name, "--run-dir"])
            .arg(&run_dir)
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{agent_metrics}"),
                "--health-addr",
                &format!("127.0.0.1:{agent_health}"),
            ])
            .env("KUBECONFIG", &agent_sa.kubeconfig)
            .env("PTP_INCLUDE_SOFTWARE", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(agent_log)
            .spawn()
            .expect("ptp-agent"),
    };
    let _logs =
        Logs(vec![("ptp-operator", op_log_path), ("ptp-agent", agent_log_path), ("grandmaster ptp4l", gm_log_path)]);
    time.mark("namespace, RBAC, lab, grandmaster and both binaries started");

    // 1. Ready; the operator creates the NodePtpDevice, the agent reports the veth ends.
    let ready = |port: u16| {
        move || async move {
            let r = http_get(port, "/readyz");
            r.as_ref().filter(|r| r.0 == 200).map(drop).ok_or_else(|| format!("{r:?}"))
        }
    };
    eventually("the operator's /readyz", STEP_TIMEOUT, ready(operator_health)).await;
    eventually("the agent's /readyz", STEP_TIMEOUT, ready(agent_health)).await;
    time.mark("operator and agent ready");
    eventually("the operator creates the node's NodePtpDevice", STEP_TIMEOUT, || c.npd()).await;
    time.mark("NodePtpDevice created by the operator");
    let node_ends: Vec<String> = pairs.iter().map(|p| p.a.clone()).collect();
    eventually("the agent reports both veth ends in status.devices", STEP_TIMEOUT, || async {
        let s = c.npd_status().await?;
        node_ends.iter().all(|n| s.devices.iter().any(|d| &d.name == n)).then_some(()).ok_or(format!("{s:?}"))
    })
    .await;
    time.mark("devices reported by the agent");

    // 2. Two PtpConfigs → the node's key holds both profiles.
    let configs = c.configs();
    configs.create(&PostParams::default(), &ptp_config(&ns, "e2e-a", &node_ends[0], "-S")).await.unwrap();
    configs.create(&PostParams::default(), &ptp_config(&ns, "e2e-b", &node_ends[1], "-S")).await.unwrap();
    time.skip();
    eventually("both profiles in the node's ConfigMap key", STEP_TIMEOUT, || async {
        let p = c.key_profiles().await?;
        (p == ["e2e-a_slave", "e2e-b_slave"]).then_some(()).ok_or(format!("{p:?}"))
    })
    .await;
    time.mark("PtpConfigs applied → ConfigMap key written");

    // 3. One ptp4l per profile; the status shows them running, LOCKED, with an offset.
    let needle = run_dir.display().to_string();
    let pids = eventually("one ptp4l per profile", STEP_TIMEOUT, || async {
        let pids = pids_of("ptp4l", &needle);
        if pids.len() == 2 { Ok(pids) } else { Err(format!("{pids:?}")) }
    })
    .await;
    time.mark("ptp4l started by the agent");
    let status = eventually(
        "applied profiles, running processes each LOCKED with an offset, in the NodePtpDevice status",
        LOCK_TIMEOUT,
        || async {
            let s = c.npd_status().await?;
            let applied =
                s.applied_profiles.as_deref() == Some(&["e2e-a_slave".to_string(), "e2e-b_slave".to_string()][..]);
            // Each ptp4l locked on its own slave port (the node's clockState is the worst of the
            // processes that reported samples, so it alone could run ahead of one of them).
            let running = s.processes.as_ref().is_some_and(|p| {
                p.len() == 2
                    && p.iter().all(|p| {
                        p.state == ptp_api::ProcessState::Running
                            && p.clock_state == Some(ClockState::Locked)
                            && p.offset_ns.is_some()
                            && p.iface.as_ref().is_some_and(|i| node_ends.contains(i))
                    })
            });
            if applied && running && s.clock_state == Some(ClockState::Locked) && s.offset_ns.is_some() {
                Ok(s)
            } else {
                Err(format!("{s:?}"))
            }
        },
    )
    .await;
    time.mark("NodePtpDevice status: profiles applied, LOCKED, offset");
    eprintln!("e2e: status offsetNs={:?}, processes={:?}", status.offset_ns, status.processes);
    // The agent rendered its node itself (`--profile-source api`, the default): the same bytes as
    // the operator's ConfigMap key.
    let key = c.key().await.unwrap();
    let sha256: String = ring::digest::digest(&ring::digest::SHA256, key.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(status.profiles_hash.as_deref(), Some(sha256.as_str()), "the agent's render is the operator's: {key}");
    let (code, metrics) = http_get(agent_metrics, "/metrics").expect("agent /metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains(&format!(
            "openshift_ptp_offset_ns{{from=\"master\",process=\"ptp4l\",node=\"{node_name}\",iface=\"{}\"}}",
            node_ends[0]
        )),
        "offset metric of the slave port:\n{metrics}"
    );
    eventually("each PtpConfig reports its node", STEP_TIMEOUT, || async {
        let all = configs.list(&ListParams::default()).await.map_err(|e| e.to_string())?.items;
        (all.len() == 2 && all.iter().all(|c| c.status.as_ref().and_then(|s| s.node_count) == Some(1)))
            .then_some(())
            .ok_or_else(|| format!("{:?}", all.iter().map(|c| c.status.clone()).collect::<Vec<_>>()))
    })
    .await;
    let table = c.kubectl(&["get", "nodeptpdevices"]);
    eprintln!("$ kubectl get nodeptpdevices -n {ns}\n{table}");
    assert!(
        table.contains(&node_name) && table.contains("LOCKED") && table.contains("e2e-a_slave"),
        "kubectl shows it:\n{table}"
    );
    eprintln!("$ kubectl get ptpconfigs -n {ns}\n{}", c.kubectl(&["get", "ptpconfigs"]));
    time.skip();

    // 4. Changing e2e-b restarts only its ptp4l.
    let pid_of = |iface: &str| -> Vec<u32> {
        pids_of("ptp4l", &needle)
            .into_iter()
            .filter(|pid| {
                let conf = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let conf = String::from_utf8_lossy(&conf).replace('\0', " ");
                conf.split_whitespace()
                    .filter(|a| a.ends_with(".config"))
                    .any(|path| std::fs::read_to_string(path).is_ok_and(|text| text.contains(&format!("[{iface}]"))))
            })
            .collect()
    };
    let (pid_a, pid_b) = (pid_of(&node_ends[0]), pid_of(&node_ends[1]));
    assert_eq!((pid_a.len(), pid_b.len()), (1, 1), "one ptp4l per interface among {pids:?}");
    let mut b = configs.get("e2e-b").await.unwrap();
    b.spec.profile[0].ptp4l_opts = Some("-S -l 6".into());
    configs.replace("e2e-b", &PostParams::default(), &b).await.unwrap();
    eventually("e2e-b_slave's ptp4l restarted", STEP_TIMEOUT, || async {
        let now = pid_of(&node_ends[1]);
        (now.len() == 1 && now != pid_b).then_some(()).ok_or(format!("e2e-b_slave: {now:?} (was {pid_b:?})"))
    })
    .await;
    time.mark("changed PtpConfig → only its ptp4l restarted");
    assert_eq!(pid_of(&node_ends[0]), pid_a, "the unchanged profile keeps its ptp4l");
    let restarts = eventually("the restarted profile running again in the status", STEP_TIMEOUT, || async {
        let p = c.npd_status().await?.processes.unwrap_or_default();
        if p.len() == 2 && p.iter().all(|p| p.state == ptp_api::ProcessState::Running) {
            Ok(p)
        } else {
            Err(format!("{p:?}"))
        }
    })
    .await;
    assert!(restarts.iter().all(|p| p.restarts == 0), "a profile change is not a crash restart: {restarts:?}");

    // 5. Deleting both PtpConfigs stops every ptp4l and empties the key.
    time.skip();
    configs.delete("e2e-a", &DeleteParams::default()).await.unwrap();
    configs.delete("e2e-b", &DeleteParams::default()).await.unwrap();
    eventually("the node's key becomes []", STEP_TIMEOUT, || async {
        let key = c.key().await?;
        (key == "[]").then_some(()).ok_or(key)
    })
    .await;
    time.mark("PtpConfigs deleted → key is []");
    eventually("no ptp4l left", STEP_TIMEOUT, || async {
        let pids = pids_of("ptp4l", &needle);
        pids.is_empty().then_some(()).ok_or(format!("{pids:?}"))
    })
    .await;
    time.mark("every ptp4l stopped");
    eventually("an empty runtime status", STEP_TIMEOUT, || async {
        let s = c.npd_status().await?;
        (s.applied_profiles.as_ref().is_none_or(Vec::is_empty) && s.processes.as_ref().is_none_or(Vec::is_empty))
            .then_some(())
            .ok_or(format!("{s:?}"))
    })
    .await;
    time.mark("NodePtpDevice status emptied");

    // 6. SIGTERM: both binaries exit in time.
    assert_eq!(agent.terminate(Duration::from_secs(10)), Some(0), "{} exits 0 within 10 s of SIGTERM", agent.name);
    assert_eq!(
        operator.terminate(Duration::from_secs(10)),
        Some(0),
        "{} exits 0 within 10 s of SIGTERM",
        operator.name
    );
    time.mark("both binaries stopped on SIGTERM");

    eprintln!("\ne2e timings\n{}", time.table());
    let _ = std::fs::remove_dir_all(&dir);
}
