//! The agent's runtime (the `run` loop, in-process) follows its ptp4l over the management
//! socket: a real ptp4l slave (3.1.1 from /usr/sbin, and 4.2 when scripts/linuxptp.sh built it)
//! with two ports against two software grandmasters in another network namespace. The slave runs
//! through a wrapper in the runtime's bin dir that enters the node's namespace without
//! CAP_SYS_TIME; every ptp4l runs `clock_servo nullf`: nothing touches this machine's clock.
//!
//! Checked: the clock class metric, the published state and the status equal what
//! `pmc -u -b 0 'GET PARENT_DATA_SET'` says; a second grandmaster with a better priority1 (and
//! clock class 6) is seen within 1 s of pmc seeing it (the times are printed); killing the
//! slave's ptp4l (the supervisor restarts it) brings the view back. Needs root.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ptp_agent::run::{RunSettings, run_loop};
use ptp_agent::runtime::RuntimeSettings;
use ptp_agent::runtime::state::AgentState;
use ptp_agent::serve::Endpoints;
use ptp_testkit::linuxptp::{self, Killed, SOFTWARE_COMMON, Version, lab_bin};
use ptp_testkit::netns::NetNs;
use ptp_testkit::probe::{http_get, pids_of};
use tokio::sync::watch;

const DOMAIN: u8 = 5;

fn grandmaster(ns: &NetNs, bin: &Path, dir: &Path, name: &str, iface: &str, extra: &str) -> Killed {
    linuxptp::grandmaster(ns, bin, dir, name, iface, DOMAIN, extra)
}

/// pmc's `GET PARENT_DATA_SET` on `socket`: (grandmasterIdentity, gm.ClockClass).
fn pmc_parent(pmc: &Path, socket: &Path) -> Option<(String, String)> {
    let out = Command::new(pmc)
        .args(["-u", "-b", "0", "-d", &DOMAIN.to_string(), "-s"])
        .arg(socket)
        .arg("GET PARENT_DATA_SET")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string())).filter(|v| !v.is_empty())
    };
    Some((field("grandmasterIdentity")?, field("gm.ClockClass")?))
}

fn metrics(port: u16) -> String {
    http_get(port, "/metrics").map(|(_, body)| body).unwrap_or_default()
}

/// The profile's (gm identity, clock class) in the published state.
fn seen(state: &AgentState) -> Option<(String, String)> {
    let v = state.profiles.first()?.ptp.as_ref()?;
    Some((v.gm_identity.to_string(), v.gm_clock_class.to_string()))
}

async fn wait_state(
    state: &mut watch::Receiver<Arc<AgentState>>,
    what: &str,
    timeout: Duration,
    f: impl Fn(&AgentState) -> bool,
) -> Arc<AgentState> {
    let got = tokio::time::timeout(timeout, state.wait_for(|s| f(s))).await.map(|s| s.unwrap().clone());
    got.unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for {what}: {:?}", state.borrow()))
}

async fn follows_grandmasters(version: &str, bin: &Path) {
    let metrics_port = ptp_testkit::probe::free_port();
    let dir = tempfile::tempdir().unwrap();
    let gm_ns = NetNs::new("ptpmrgm").unwrap();
    let node = NetNs::new("ptpmrnode").unwrap();
    for (g, n) in [("mrgm1", "mrnode1"), ("mrgm2", "mrnode2")] {
        gm_ns.add_veth_pair(g, n).unwrap();
        gm_ns.ip(["link", "set", n, "netns", node.name()]).unwrap();
        node.ip(["link", "set", n, "up"]).unwrap();
    }
    let _gm1 = grandmaster(&gm_ns, bin, dir.path(), "gm1", "mrgm1", "priority1 100\n");

    // The runtime's "ptp4l": the real one, in the node's namespace, without CAP_SYS_TIME.
    let wrappers = linuxptp::ptp4l_wrapper(dir.path(), &node, bin);
    let run_dir = dir.path().join("run");
    let conf = format!("[global]\nslaveOnly 1\ndomainNumber {DOMAIN}\n{SOFTWARE_COMMON}[mrnode1]\n[mrnode2]\n");
    let profile = serde_json::json!([{"name": "mgmt", "ptp4lOpts": "-S", "ptp4lConf": conf}]);
    let settings = RunSettings {
        profile: None,
        runtime: RuntimeSettings {
            node: "n".into(),
            run_dir: run_dir.clone(),
            bin_dir: Some(wrappers),
            linuxptp: Default::default(),
            supervisor: ptp_agent::supervise::SupervisorSettings::default(),
        },
        endpoints: Endpoints {
            metrics: Some(format!("127.0.0.1:{metrics_port}").parse().unwrap()),
            ..Endpoints::default()
        },
    };
    let (texts_tx, texts) = tokio::sync::mpsc::channel(1);
    let (state_tx, state_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let agent =
        tokio::spawn(run_loop(settings, "test".into(), texts, move |s| state_tx.send(s).unwrap(), async move {
            let _ = stop.await;
        }));
    texts_tx.send(Ok(profile.to_string())).await.unwrap();
    let mut state = state_rx.recv().unwrap();
    let socket = run_dir.join("ptp4l.0.socket");
    let pmc = bin.join("pmc");

    // GM1 followed: the state, the status and the metric say what pmc says.
    // (With the nullf servo the port stays UNCALIBRATED: it never reports a lock.)
    let s = wait_state(&mut state, "GM1 one step away", Duration::from_secs(30), |s| {
        s.profiles.first().and_then(|p| p.ptp.as_ref()).is_some_and(|v| {
            v.steps_removed == 1 && v.port(1).is_some_and(|p| matches!(p.as_str(), "UNCALIBRATED" | "SLAVE"))
        })
    })
    .await;
    let (gm1, class1) = pmc_parent(&pmc, &socket).expect("pmc answers");
    assert_eq!(seen(&s), Some((gm1.clone(), class1.clone())), "{version}: the state says what pmc says");
    let status = ptp_agent::status::runtime_status(&s);
    let ptp4l = status.processes.unwrap().into_iter().find(|p| p.process == "ptp4l").unwrap();
    assert_eq!(ptp4l.gm_identity.as_deref(), Some(gm1.as_str()));
    assert_eq!(ptp4l.clock_class.map(|c| c.to_string()), Some(class1.clone()));
    assert_eq!(status.clock_class.map(|c| c.to_string()), Some(class1.clone()));
    let series = format!(r#"openshift_ptp_clock_class{{process="ptp4l",node="n",config="ptp4l.0.config"}} {class1}"#);
    assert!(metrics(metrics_port).contains(&series), "{version}: {series} in\n{}", metrics(metrics_port));
    eprintln!("{version}: GM1 {gm1} class {class1}: state, status and metric agree with pmc");

    // GM2, better priority1 and class 6, on the other port: pmc, the metric and the state.
    let started = Instant::now();
    let _gm2 = grandmaster(&gm_ns, bin, dir.path(), "gm2", "mrgm2", "priority1 50\nclockClass 6\n");
    let watch_pmc = {
        let (pmc, socket, gm1) = (pmc.clone(), socket.clone(), gm1.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Some((gm, class)) = pmc_parent(&pmc, &socket)
                    && gm != gm1
                {
                    return Some((Instant::now(), gm, class));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            None
        })
    };
    let watch_metric = std::thread::spawn(move || {
        let series = r#"openshift_ptp_clock_class{process="ptp4l",node="n",config="ptp4l.0.config"} 6"#;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if metrics(metrics_port).contains(series) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });
    let s = wait_state(&mut state, "a new grandmaster", Duration::from_secs(30), |s| {
        seen(s).is_some_and(|(gm, _)| gm != gm1)
    })
    .await;
    let state_at = Instant::now();
    let (pmc_at, gm2, class2) = watch_pmc.join().unwrap().expect("pmc sees GM2");
    let metric_at = watch_metric.join().unwrap().expect("the metric shows class 6");
    assert_eq!(seen(&s), Some((gm2.clone(), class2.clone())), "{version}: the new grandmaster is pmc's");
    assert_eq!(class2, "6");
    let after = |t: Instant| t.saturating_duration_since(pmc_at);
    eprintln!(
        "{version}: after GM2 started: pmc (polled every 20 ms) saw {gm2} at {} ms, the agent's clock class metric (polled every 5 ms) at {} ms, its published state at {} ms",
        (pmc_at - started).as_millis(),
        (metric_at - started).as_millis(),
        (state_at - started).as_millis(),
    );
    assert!(after(metric_at) < Duration::from_secs(1), "{version}: the metric within 1 s of pmc");
    assert!(after(state_at) < Duration::from_secs(1), "{version}: the state within 1 s of pmc");

    // The slave's ptp4l killed: the supervisor restarts it and the follower comes back.
    let slave_conf = run_dir.join("ptp4l.0.config").display().to_string();
    let pids = pids_of("ptp4l", &slave_conf);
    assert_eq!(pids.len(), 1, "one slave ptp4l: {pids:?}");
    let killed_at = Instant::now();
    Command::new("kill").args(["-KILL", &pids[0].to_string()]).status().unwrap();
    wait_state(&mut state, "the view gone", Duration::from_secs(10), |s| seen(s).is_none()).await;
    let s = wait_state(&mut state, "the view back on GM2", Duration::from_secs(30), |s| {
        seen(s).is_some_and(|(gm, _)| gm == gm2)
    })
    .await;
    let restarts = s.profiles[0].processes.iter().find(|p| p.key.program == ptp_api::Program::Ptp4l).unwrap().restarts;
    assert!(restarts >= 1, "{version}: ptp4l was restarted");
    eprintln!("{version}: ptp4l killed; view back {} ms later", killed_at.elapsed().as_millis());

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), agent).await.expect("the agent stops").unwrap().unwrap();
    assert!(pids_of("ptp4l", &slave_conf).is_empty(), "no slave left");
    let left: Vec<_> = std::fs::read_dir(&run_dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("ptp-agent-mgmt"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "no follower socket left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_follows_grandmasters_3_1() {
    if let Some(bin) = lab_bin("the_runtime_follows_grandmasters_3_1", Version::V31) {
        follows_grandmasters(Version::V31.name(), &bin).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_follows_grandmasters_4_2() {
    if let Some(bin) = lab_bin("the_runtime_follows_grandmasters_4_2", Version::V42) {
        follows_grandmasters(Version::V42.name(), &bin).await;
    }
}
