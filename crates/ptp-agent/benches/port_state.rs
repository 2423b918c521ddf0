//! Port state change → the agent: the management follower vs. ptp4l's log line, on the same
//! events in one run (issue #16).
//!
//! A real ptp4l slave, run by the agent's runtime in-process (as tests/mgmt_runtime.rs does: a
//! wrapper puts it in the node's network namespace without CAP_SYS_TIME; every ptp4l runs
//! `clock_servo nullf`, nothing touches this machine's clock), follows a software grandmaster in
//! another namespace over a veth pair. Each cycle takes the slave's interface down (the port goes
//! FAULTY), waits, brings it up (FAULTY → LISTENING), and waits for the port to follow the
//! grandmaster again. For each of these changes it records, with the monotonic clock:
//!
//! * `t0`: just before the SIOCSIFFLAGS ioctl that changes the link (from a thread inside the
//!   node's namespace; ptp4l learns the change from the kernel's RTM_NEWLINK);
//! * management: when the runtime published the state whose management view
//!   (`ProfileView::ptp`, only the follower writes it) holds the new port state — after the
//!   PORT_DATA_SET notification, the follower's GETs of CURRENT/PARENT/TIME_PROPERTIES, the
//!   `openshift_ptp_interface_role` update and the main loop's tick;
//! * log: when ptp4l's port line (`port 1 (IFACE): A to B on EVENT`) reached the agent, i.e.
//!   was taken from the supervisor's line queue; the bench sits between that queue and the log
//!   consumer ([`Runtime::consume_logs`]), timestamps port lines and passes every line on.
//!
//! Both timestamps are taken by the bench's own tasks, woken by the agent's channels, so both
//! include one tokio wakeup. No product hook is needed: the bench drives a [`Runtime`] with the
//! same loop as `run_loop` (tick on a clock change, a process change, a profile value).
//! Prints median and p99 of each path, their ratio, and the per-event difference.
//! `cargo bench -p ptp-agent --bench port_state` (root); `PORT_STATE_CYCLES=N` (default 20);
//! linuxptp 4.2 as well when scripts/linuxptp.sh built it (`PTP_LINUXPTP_42_DIR`).

use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use ptp_agent::logparse::{Kind, Role, parse};
use ptp_agent::metrics::AgentMetrics;
use ptp_agent::runtime::state::AgentState;
use ptp_agent::runtime::{LINE_QUEUE, Runtime, RuntimeSettings};
use ptp_testkit::linuxptp::{self, Killed, SOFTWARE_COMMON, Version, lab_bin};
use ptp_testkit::netns::{NetNs, unique_name};
use tokio::sync::{mpsc, watch};

const DOMAIN: u8 = 7;
const WAIT: Duration = Duration::from_secs(20);

/// Port 1's state changes as each path delivered them: (when, the new state).
type Events = Arc<Mutex<Vec<(Instant, String)>>>;

/// Sets an interface of a namespace up or down with SIOCSIFFLAGS, from a thread that entered the
/// namespace (setns applies to the calling thread only); answers with the instant just before
/// the ioctl.
struct LinkSwitch {
    requests: std_mpsc::Sender<(bool, std_mpsc::Sender<std::io::Result<Instant>>)>,
}

impl LinkSwitch {
    fn new(ns: &NetNs, iface: &str) -> std::io::Result<LinkSwitch> {
        let (requests, rx) = std_mpsc::channel::<(bool, std_mpsc::Sender<std::io::Result<Instant>>)>();
        let (ready_tx, ready) = std_mpsc::channel();
        let (path, iface) = (ns.path(), iface.to_string());
        std::thread::spawn(move || {
            let socket = std::fs::File::open(&path)
                .and_then(|f| nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from))
                .and_then(|()| std::net::UdpSocket::bind("127.0.0.1:0"));
            let socket = match socket {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            while let Ok((up, reply)) = rx.recv() {
                let _ = reply.send(set_link(&socket, &iface, up));
            }
        });
        ready.recv().map_err(std::io::Error::other)??;
        Ok(LinkSwitch { requests })
    }

    fn set(&self, up: bool) -> Instant {
        let (tx, rx) = std_mpsc::channel();
        self.requests.send((up, tx)).expect("link thread alive");
        rx.recv().expect("link thread answers").expect("SIOCSIFFLAGS")
    }
}

#[allow(unsafe_code)] // SIOCGIFFLAGS/SIOCSIFFLAGS have no safe wrapper: see the SAFETY comments
fn set_link(socket: &std::net::UdpSocket, iface: &str, up: bool) -> std::io::Result<Instant> {
    let mut name = [0 as libc::c_char; libc::IFNAMSIZ];
    for (slot, byte) in name.iter_mut().zip(iface.bytes().take(libc::IFNAMSIZ - 1)) {
        *slot = byte as libc::c_char;
    }
    let mut req = libc::ifreq { ifr_name: name, ifr_ifru: libc::__c_anonymous_ifr_ifru { ifru_flags: 0 } };
    let fd = socket.as_raw_fd();
    // SAFETY: `fd` is an open socket; `req` is a valid ifreq with a NUL-terminated name that
    // outlives the call; SIOCGIFFLAGS writes only ifr_flags.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel wrote ifru_flags (and the union was
    // created through that field).
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    let up_flag = libc::IFF_UP as libc::c_short;
    req.ifr_ifru.ifru_flags = if up { flags | up_flag } else { flags & !up_flag };
    let at = Instant::now();
    // SAFETY: as above; SIOCSIFFLAGS reads ifr_name and ifr_flags.
    if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(at)
}

fn grandmaster(ns: &NetNs, bin: &Path, dir: &Path, iface: &str) -> Killed {
    linuxptp::grandmaster(ns, bin, dir, "gm", iface, DOMAIN, "priority1 100\n")
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The first event after `since` whose state is `state`, waiting for it.
async fn first_after(events: &Events, since: Instant, state: &str, what: &str) -> Instant {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = events.lock().unwrap().iter().find(|(at, s)| *at >= since && s == state).map(|(at, _)| *at);
        if let Some(at) = found {
            return at;
        }
        assert!(Instant::now() < deadline, "{what}: no {state} within {WAIT:?}: {:?}", events.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until the last event says the port follows a master again.
async fn following(events: &Events, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = events.lock().unwrap().last().map(|(_, s)| s.clone());
        if last.as_deref().is_some_and(|s| matches!(s, "UNCALIBRATED" | "SLAVE")) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the port does not follow the grandmaster again: {last:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One transition's delays from t0: (management, log).
struct Sample {
    to: &'static str,
    mgmt: Duration,
    log: Duration,
}

async fn measure(version: &str, bin: &Path, cycles: usize) {
    let dir = tempfile::tempdir().unwrap();
    let gm_ns = NetNs::new("ptpbpsgm").unwrap();
    let node = NetNs::new("ptpbpsnode").unwrap();
    let (gm_if, node_if) = (unique_name("bpg"), unique_name("bpn"));
    gm_ns.add_veth_pair(&gm_if, &node_if).unwrap();
    gm_ns.ip(["link", "set", &node_if, "netns", node.name()]).unwrap();
    node.ip(["link", "set", &node_if, "up"]).unwrap();
    let _gm = grandmaster(&gm_ns, bin, dir.path(), &gm_if);

    // The runtime's "ptp4l": the real one, in the node's namespace, without CAP_SYS_TIME.
    let wrappers = linuxptp::ptp4l_wrapper(dir.path(), &node, bin);
    let conf = format!("[global]\nslaveOnly 1\ndomainNumber {DOMAIN}\n{SOFTWARE_COMMON}[{node_if}]\n");
    let profile = serde_json::json!([{"name": "bench", "ptp4lOpts": "-S", "ptp4lConf": conf}]).to_string();

    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, "bench");
    let settings = RuntimeSettings {
        node: "bench".into(),
        run_dir: dir.path().join("run"),
        bin_dir: Some(wrappers),
        linuxptp: Default::default(),
        supervisor: ptp_agent::supervise::SupervisorSettings::default(),
    };
    let (mut runtime, lines) = Runtime::new(settings, metrics);

    // Log path: port 1's lines, timestamped as they leave the supervisor's queue.
    let log_events: Events = Arc::default();
    let (tx, rx) = mpsc::channel(LINE_QUEUE);
    let tap = {
        let events = log_events.clone();
        let mut lines = lines;
        tokio::spawn(async move {
            while let Some(line) = lines.recv().await {
                let at = Instant::now();
                let parsed = parse(&line.line);
                if parsed.kind == Some(Kind::Port)
                    && parsed.port == Some(1)
                    && let Some(to) = parsed.to_state
                {
                    events.lock().unwrap().push((at, to.to_string()));
                }
                if tx.send(line).await.is_err() {
                    return;
                }
            }
        })
    };
    let consumer = runtime.consume_logs(rx);

    // Management path: the published state's management view of port 1.
    let mgmt_events: Events = Arc::default();
    let watcher = {
        let events = mgmt_events.clone();
        let mut state: watch::Receiver<Arc<AgentState>> = runtime.subscribe();
        tokio::spawn(async move {
            let mut last = None;
            while state.changed().await.is_ok() {
                let at = Instant::now();
                let port = state.borrow_and_update().profiles.first().and_then(|p| p.ptp.as_ref()?.port(1));
                if let Some(port) = port
                    && last != Some(port)
                {
                    events.lock().unwrap().push((at, port.as_str().to_string()));
                }
                last = port;
            }
        })
    };

    // The agent's main loop, as `run_loop` has it.
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(async move {
        let mut processes = runtime.supervisor().subscribe();
        runtime.take(Ok(profile), "bench").await;
        runtime.tick();
        loop {
            tokio::select! {
                () = tokio::time::sleep(ptp_agent::runtime::IDLE_TICK) => {}
                () = runtime.clocks_changed() => {}
                Ok(()) = processes.changed() => {}
                _ = &mut stop => break,
            }
            runtime.tick();
        }
        runtime.shutdown().await;
    });

    following(&mgmt_events, "management, at start").await;
    following(&log_events, "log, at start").await;
    let link = LinkSwitch::new(&node, &node_if).unwrap();
    let mut samples = Vec::with_capacity(cycles * 2);
    for _ in 0..cycles {
        for (up, to) in [(false, "FAULTY"), (true, "LISTENING")] {
            let t0 = link.set(up);
            let mgmt = first_after(&mgmt_events, t0, to, "management").await;
            let log = first_after(&log_events, t0, to, "log").await;
            samples.push(Sample { to, mgmt: mgmt - t0, log: log - t0 });
        }
        following(&mgmt_events, "management").await;
        following(&log_events, "log").await;
    }

    // The role metric follows too (both paths set it): the port is back, not FAULTY.
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let role = text
        .lines()
        .find(|l| l.starts_with("openshift_ptp_interface_role") && l.contains(&format!("iface=\"{node_if}\"")))
        .unwrap_or_else(|| panic!("no role series for {node_if} in\n{text}"));
    assert!(!role.ends_with(&format!(" {}", Role::Faulty.metric_value())), "{role}");

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), agent).await.expect("the agent stops").unwrap();
    consumer.abort();
    tap.abort();
    watcher.abort();
    report(version, &samples);
}

fn report(version: &str, samples: &[Sample]) {
    let sorted = |f: &dyn Fn(&Sample) -> Duration, to: Option<&str>| {
        let mut v: Vec<Duration> = samples.iter().filter(|s| to.is_none_or(|t| s.to == t)).map(f).collect();
        v.sort();
        v
    };
    println!("linuxptp {version}: {} port state changes (link down → FAULTY, up → LISTENING)", samples.len());
    for (label, to) in [("all", None), ("→ FAULTY", Some("FAULTY")), ("→ LISTENING", Some("LISTENING"))] {
        let mgmt = sorted(&|s| s.mgmt, to);
        let log = sorted(&|s| s.log, to);
        let (m50, m99, l50, l99) =
            (percentile(&mgmt, 50.0), percentile(&mgmt, 99.0), percentile(&log, 50.0), percentile(&log, 99.0));
        println!(
            "  {label:<12} management → published state: median {}, p99 {} | log line → agent: median {}, p99 {} | management/log: median {:.2}x, p99 {:.2}x",
            ms(m50),
            ms(m99),
            ms(l50),
            ms(l99),
            m50.as_secs_f64() / l50.as_secs_f64(),
            m99.as_secs_f64() / l99.as_secs_f64(),
        );
    }
    for (label, to) in [("all", None), ("→ FAULTY", Some("FAULTY")), ("→ LISTENING", Some("LISTENING"))] {
        let mut behind: Vec<f64> = samples
            .iter()
            .filter(|s| to.is_none_or(|t| s.to == t))
            .map(|s| (s.mgmt.as_secs_f64() - s.log.as_secs_f64()) * 1e3)
            .collect();
        behind.sort_by(f64::total_cmp);
        let first = samples.iter().filter(|s| to.is_none_or(|t| s.to == t) && s.mgmt < s.log).count();
        println!(
            "  {label:<12} per event, management minus log: median {:.3} ms, min {:.3} ms, max {:.3} ms; management first in {first} of {}",
            behind[behind.len() / 2],
            behind[0],
            behind[behind.len() - 1],
            behind.len()
        );
    }
}

fn main() {
    let cycles = std::env::var("PORT_STATE_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for version in [Version::V31, Version::V42] {
        if let Some(bin) = lab_bin(&format!("bench port_state {}", version.name()), version) {
            runtime.block_on(measure(version.name(), &bin, cycles));
        }
    }
}
