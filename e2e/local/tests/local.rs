//! The whole product on one machine, without a cluster: the API-server double over HTTP, the
//! real `ptp-operator` and `ptp-agent` binaries started as processes with a kubeconfig, and a
//! software grandmaster (real ptp4l) in a network namespace, linked to the agent's host-side
//! veth ends. A user's path, step by step and timed:
//!
//! 1. the operator is ready and creates the node's NodePtpDevice; the agent reports the NICs;
//! 2. two PtpConfigs whose rules match the node → the node's ConfigMap key holds both profiles;
//! 3. the agent starts one ptp4l per profile; the NodePtpDevice status shows the applied
//!    profiles, running processes, LOCKED and an offset (also through `kubectl get` when a
//!    kubectl is installed); the PtpConfigs report their node;
//! 4. one PtpConfig changes → only its ptp4l restarts;
//! 5. both are deleted → every ptp4l stops and the key becomes `[]`;
//! 6. SIGTERM stops both binaries in time, nothing is left behind.
//!
//! Nothing may adjust this machine's clock: ptp4l runs without CAP_SYS_TIME (checked first), so
//! every adjustment fails with EPERM, and the profiles never step. Needs root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use ptp_api::{ClockState, NodePtpDevice, PtpConfig};
use ptp_e2e_local::{Proc, Timeline, binary, eventually, kubectl};
use ptp_testkit::ApiServer;
use ptp_testkit::netns::{HostVeth, NetNs, unique_name};
use ptp_testkit::probe::{free_port, http_get, pids_of};
use ptp_testkit::root::require_root;
use ptp_testkit::sys_time::{WITHOUT_SYS_TIME, check_without_sys_time};
use serde_json::{Value, json};

const NS: &str = "openshift-ptp";
const NODE: &str = "e2e-node";
const CONFIGMAP: &str = "ptp-configmap";
const LOCK_TIMEOUT: Duration = Duration::from_secs(90);
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A PtpConfig as a user writes it: one profile `slave` on `iface`, recommended to the nodes
/// labelled `ptp/e2e`. In the ConfigMap and the status it is `{name}_slave`, as with the Go
/// operator.
fn ptp_config(name: &str, iface: &str, ptp4l_opts: &str) -> PtpConfig {
    let conf = "[global]\nslaveOnly 1\ndomainNumber 0\nnetwork_transport L2\ntime_stamping software\n\
                clock_servo linreg\nfirst_step_threshold 0.0\nstep_threshold 0.0\nlogSyncInterval 0\n\
                summary_interval 0\n";
    serde_json::from_value(json!({
        "apiVersion": "ptp.openshift.io/v1",
        "kind": "PtpConfig",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "profile": [{"name": "slave", "interface": iface, "ptp4lOpts": ptp4l_opts, "ptp4lConf": conf,
                         "ptpClockThreshold": {"holdOverTimeout": 5, "maxOffsetThreshold": 1_000_000,
                                               "minOffsetThreshold": -1_000_000}}],
            "recommend": [{"profile": "slave", "priority": 10, "match": [{"nodeLabel": "ptp/e2e"}]}]
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

fn key_profiles(server: &ApiServer) -> Option<Vec<String>> {
    let cm: ConfigMap = server.get(NS, CONFIGMAP)?;
    let value = cm.data?.get(NODE)?.clone();
    let items: Vec<Value> = serde_json::from_str(&value).ok()?;
    Some(items.iter().filter_map(|p| p["name"].as_str().map(str::to_string)).collect())
}

fn npd_status(server: &ApiServer) -> Option<ptp_api::NodePtpDeviceStatus> {
    server.get::<NodePtpDevice>(NS, NODE)?.status
}

fn describe_npd(server: &ApiServer) -> impl Fn() -> String + '_ {
    move || format!("{:?}", npd_status(server))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_agent_binaries_run_ptp4l_from_ptpconfigs() {
    if !require_root("operator_and_agent_binaries_run_ptp4l_from_ptpconfigs") {
        return;
    }
    check_without_sys_time().expect("setpriv must drop CAP_SYS_TIME");
    let (operator_bin, agent_bin) = (binary("ptp-operator"), binary("ptp-agent"));
    let dir = std::env::temp_dir().join(format!("ptp-e2e-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run_dir = dir.join("run");
    let mut time = Timeline::new();

    // The cluster: a namespace and one labelled node.
    let server = ApiServer::start().await.unwrap();
    let kubeconfig = server.kubeconfig_path().to_path_buf();
    let mut ns = Namespace::default();
    ns.metadata.name = Some(NS.into());
    server.seed(&ns).unwrap();
    let mut node = Node::default();
    node.metadata.name = Some(NODE.into());
    node.metadata.labels = Some(BTreeMap::from([
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/hostname".to_string(), NODE.to_string()),
        ("ptp/e2e".to_string(), String::new()),
    ]));
    server.seed(&node).unwrap();

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
            .args(["run", "--namespace", NS, "--debounce-ms", "100"])
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{operator_metrics}"),
                "--health-addr",
                &format!("127.0.0.1:{operator_health}"),
            ])
            .env("KUBECONFIG", &kubeconfig)
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
            .args(["run", "--namespace", NS, "--node-name", NODE, "--run-dir"])
            .arg(&run_dir)
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{agent_metrics}"),
                "--health-addr",
                &format!("127.0.0.1:{agent_health}"),
            ])
            .env("KUBECONFIG", &kubeconfig)
            .env("PTP_INCLUDE_SOFTWARE", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(agent_log)
            .spawn()
            .expect("ptp-agent"),
    };
    let _logs =
        Logs(vec![("ptp-operator", op_log_path), ("ptp-agent", agent_log_path), ("grandmaster ptp4l", gm_log_path)]);
    time.mark("lab, API server, grandmaster and both binaries started");

    // 1. Ready; the operator creates the NodePtpDevice, the agent reports the veth ends.
    eventually(
        "the operator's /readyz",
        STEP_TIMEOUT,
        || http_get(operator_health, "/readyz").filter(|r| r.0 == 200),
        || format!("{:?}", http_get(operator_health, "/readyz")),
    )
    .await;
    eventually(
        "the agent's /readyz",
        STEP_TIMEOUT,
        || http_get(agent_health, "/readyz").filter(|r| r.0 == 200),
        || format!("{:?}", http_get(agent_health, "/readyz")),
    )
    .await;
    time.mark("operator and agent ready");
    eventually(
        "the operator creates the node's NodePtpDevice",
        STEP_TIMEOUT,
        || server.get::<NodePtpDevice>(NS, NODE),
        || "no NodePtpDevice".into(),
    )
    .await;
    time.mark("NodePtpDevice created by the operator");
    let node_ends: Vec<String> = pairs.iter().map(|p| p.a.clone()).collect();
    eventually(
        "the agent reports both veth ends in status.devices",
        STEP_TIMEOUT,
        || {
            let devices = npd_status(&server)?.devices;
            node_ends.iter().all(|n| devices.iter().any(|d| &d.name == n)).then_some(())
        },
        describe_npd(&server),
    )
    .await;
    time.mark("devices reported by the agent");

    // 2. Two PtpConfigs → the node's key holds both profiles.
    let client = server.client().unwrap();
    let configs: Api<PtpConfig> = Api::namespaced(client.clone(), NS);
    configs.create(&PostParams::default(), &ptp_config("e2e-a", &node_ends[0], "-S")).await.unwrap();
    configs.create(&PostParams::default(), &ptp_config("e2e-b", &node_ends[1], "-S")).await.unwrap();
    time.skip();
    eventually(
        "both profiles in the node's ConfigMap key",
        STEP_TIMEOUT,
        || key_profiles(&server).filter(|p| p == &["e2e-a_slave", "e2e-b_slave"]),
        || format!("{:?}", server.get::<ConfigMap>(NS, CONFIGMAP).and_then(|c| c.data)),
    )
    .await;
    time.mark("PtpConfigs applied → ConfigMap key written");

    // 3. One ptp4l per profile; the status shows them running, LOCKED, with an offset.
    let needle = run_dir.display().to_string();
    let pids = eventually(
        "one ptp4l per profile",
        STEP_TIMEOUT,
        || {
            let pids = pids_of("ptp4l", &needle);
            (pids.len() == 2).then_some(pids)
        },
        || format!("{:?}", pids_of("ptp4l", &needle)),
    )
    .await;
    time.mark("ptp4l started by the agent");
    let status = eventually(
        "applied profiles, running processes each LOCKED with an offset, in the NodePtpDevice status",
        LOCK_TIMEOUT,
        || {
            let s = npd_status(&server)?;
            let applied =
                s.applied_profiles.as_deref() == Some(&["e2e-a_slave".to_string(), "e2e-b_slave".to_string()][..]);
            // Each ptp4l locked on its own slave port (the node's clockState is the worst of the
            // processes that reported samples, so it alone could run ahead of one of them).
            let running = s.processes.as_ref().is_some_and(|p| {
                p.len() == 2
                    && p.iter().all(|p| {
                        p.state == "Running"
                            && p.clock_state == Some(ClockState::Locked)
                            && p.offset_ns.is_some()
                            && p.iface.as_ref().is_some_and(|i| node_ends.contains(i))
                    })
            });
            (applied && running && s.clock_state == Some(ClockState::Locked) && s.offset_ns.is_some()).then_some(s)
        },
        describe_npd(&server),
    )
    .await;
    time.mark("NodePtpDevice status: profiles applied, LOCKED, offset");
    eprintln!("e2e: status offsetNs={:?}, processes={:?}", status.offset_ns, status.processes);
    let (code, metrics) = http_get(agent_metrics, "/metrics").expect("agent /metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains(&format!(
            "openshift_ptp_offset_ns{{from=\"master\",process=\"ptp4l\",node=\"{NODE}\",iface=\"{}\"}}",
            node_ends[0]
        )),
        "offset metric of the slave port:\n{metrics}"
    );
    eventually(
        "each PtpConfig reports its node",
        STEP_TIMEOUT,
        || {
            let all = server.list::<PtpConfig>(Some(NS));
            (all.len() == 2 && all.iter().all(|c| c.status.as_ref().and_then(|s| s.node_count) == Some(1)))
                .then_some(())
        },
        || format!("{:?}", server.list::<PtpConfig>(Some(NS)).iter().map(|c| c.status.clone()).collect::<Vec<_>>()),
    )
    .await;
    if let Some(table) = kubectl(&kubeconfig, &["get", "nodeptpdevices", "-n", NS]) {
        eprintln!("$ kubectl get nodeptpdevices -n {NS}\n{table}");
        assert!(
            table.contains(NODE) && table.contains("LOCKED") && table.contains("e2e-a_slave"),
            "kubectl shows it:\n{table}"
        );
        let configs_table = kubectl(&kubeconfig, &["get", "ptpconfigs", "-n", NS]).unwrap_or_default();
        eprintln!("$ kubectl get ptpconfigs -n {NS}\n{configs_table}");
    } else {
        eprintln!("e2e: no kubectl on PATH; the status above was read through the API");
    }
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
    eventually(
        "e2e-b_slave's ptp4l restarted",
        STEP_TIMEOUT,
        || {
            let now = pid_of(&node_ends[1]);
            (now.len() == 1 && now != pid_b).then_some(())
        },
        || format!("e2e-b_slave: {:?} (was {pid_b:?})", pid_of(&node_ends[1])),
    )
    .await;
    time.mark("changed PtpConfig → only its ptp4l restarted");
    assert_eq!(pid_of(&node_ends[0]), pid_a, "the unchanged profile keeps its ptp4l");
    let restarts = eventually(
        "the restarted profile running again in the status",
        STEP_TIMEOUT,
        || {
            let s = npd_status(&server)?;
            let p = s.processes?;
            (p.len() == 2 && p.iter().all(|p| p.state == "Running")).then_some(p)
        },
        describe_npd(&server),
    )
    .await;
    assert!(restarts.iter().all(|p| p.restarts == 0), "a profile change is not a crash restart: {restarts:?}");

    // 5. Deleting both PtpConfigs stops every ptp4l and empties the key.
    time.skip();
    configs.delete("e2e-a", &DeleteParams::default()).await.unwrap();
    configs.delete("e2e-b", &DeleteParams::default()).await.unwrap();
    eventually(
        "the node's key becomes []",
        STEP_TIMEOUT,
        || server.get::<ConfigMap>(NS, CONFIGMAP)?.data?.get(NODE).filter(|v| v.as_str() == "[]").map(drop),
        || format!("{:?}", server.get::<ConfigMap>(NS, CONFIGMAP).and_then(|c| c.data)),
    )
    .await;
    time.mark("PtpConfigs deleted → key is []");
    eventually(
        "no ptp4l left",
        STEP_TIMEOUT,
        || pids_of("ptp4l", &needle).is_empty().then_some(()),
        || format!("{:?}", pids_of("ptp4l", &needle)),
    )
    .await;
    time.mark("every ptp4l stopped");
    eventually(
        "an empty runtime status",
        STEP_TIMEOUT,
        || {
            let s = npd_status(&server)?;
            (s.applied_profiles.as_ref().is_none_or(Vec::is_empty) && s.processes.as_ref().is_none_or(Vec::is_empty))
                .then_some(())
        },
        describe_npd(&server),
    )
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
