//! Our management client against real ptp4l and real pmc of the same linuxptp version: 3.1.1
//! (/usr/sbin) and 4.2 (built by scripts/linuxptp.sh into ~/.cache/ptp-operator/linuxptp-4.2, or
//! `PTP_LINUXPTP_42_DIR`; skipped loudly when missing). ptp4l runs with software timestamping
//! on a veth pair inside a network namespace, servo `nullf` and without CAP_SYS_TIME (never
//! touching this machine's clock). For every supported GET, each field `pmc -u -b 0` prints must
//! equal ours; our GET runs just before and just after pmc's, and pmc's value must be one of
//! the two (or, for a counter, lie between them). Needs root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ptp_agent::mgmt::socket::{Session, SessionSettings};
use ptp_agent::mgmt::{Body, Event, ManagementId, Message, Request, Tlv, text};
use ptp_testkit::linuxptp::{self, Killed, Version, lab_bin};
use ptp_testkit::netns::NetNs;

const DOMAIN: u8 = 24;

const GETS: [ManagementId; 9] = [
    ManagementId::DEFAULT_DATA_SET,
    ManagementId::CURRENT_DATA_SET,
    ManagementId::PARENT_DATA_SET,
    ManagementId::TIME_PROPERTIES_DATA_SET,
    ManagementId::PORT_DATA_SET,
    ManagementId::TIME_STATUS_NP,
    ManagementId::PORT_PROPERTIES_NP,
    ManagementId::PORT_STATS_NP,
    ManagementId::GRANDMASTER_SETTINGS_NP,
];

/// One reply as pmc prints it (parsed from pmc, or ours through `text::fields`): the header line's source and id, and the fields.
#[derive(Debug)]
struct PmcReply {
    source: String,
    id: String,
    fields: Vec<(String, String)>,
}

/// pmc's batch output: `\t<source> seq <n> RESPONSE MANAGEMENT <ID> ` then `\t\t<name> <value>`.
fn parse_pmc(out: &str) -> Vec<PmcReply> {
    let mut replies: Vec<PmcReply> = Vec::new();
    for line in out.lines() {
        if let Some(field) = line.strip_prefix("\t\t") {
            let (name, value) = field.split_once(' ').unwrap_or((field, ""));
            if let Some(r) = replies.last_mut() {
                r.fields.push((name.to_string(), value.trim().to_string()));
            }
        } else if let Some(head) = line.strip_prefix('\t') {
            let words: Vec<&str> = head.split_whitespace().collect();
            replies.push(PmcReply {
                source: words[0].to_string(),
                id: words.last().unwrap().to_string(),
                fields: Vec::new(),
            });
        }
    }
    replies
}

fn ours(messages: &[Message]) -> Vec<PmcReply> {
    messages
        .iter()
        .map(|m| match &m.body {
            Body::Data(tlv) => {
                PmcReply { source: m.header.source.to_string(), id: tlv.id().to_string(), fields: text::fields(tlv).1 }
            }
            Body::Error(e) => panic!("error reply {e:?}"),
        })
        .collect()
}

fn agrees(pmc: &str, before: &str, after: &str) -> bool {
    if pmc == before || pmc == after {
        return true;
    }
    match (pmc.parse::<u64>(), before.parse::<u64>(), after.parse::<u64>()) {
        (Ok(p), Ok(b), Ok(a)) => b <= p && p <= a,
        _ => false,
    }
}

struct Instance {
    _ns: NetNs,
    _ptp4l: Killed,
    socket: PathBuf,
    pmc: PathBuf,
    conf: PathBuf,
    bin: PathBuf,
}

impl Instance {
    fn spawn(&self) -> Killed {
        spawn_ptp4l(&self._ns, &self.bin, &self.conf)
    }
}

fn spawn_ptp4l(ns: &NetNs, bin: &Path, conf: &Path) -> Killed {
    linuxptp::spawn_ptp4l(ns, bin, &["mga", "mgb"], conf)
}

fn start(version: &str, bin: &Path, dir: &Path) -> Instance {
    let ns = NetNs::new("ptpmgmt").unwrap();
    ns.add_veth_pair("mga", "mgb").unwrap();
    let name = format!("ptp4l.{version}");
    let conf_path = linuxptp::write_conf(bin, dir, &name, DOMAIN, "");
    let socket = dir.join(format!("{name}.socket"));
    let ptp4l = spawn_ptp4l(&ns, bin, &conf_path);
    Instance { _ns: ns, _ptp4l: ptp4l, socket, pmc: bin.join("pmc"), conf: conf_path, bin: bin.to_path_buf() }
}

fn settings() -> SessionSettings {
    let mut s = SessionSettings { timeout: Duration::from_millis(500), ..SessionSettings::default() };
    s.header.domain = DOMAIN;
    s
}

async fn wait_ready(session: &mut Session) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while session.get(ManagementId::DEFAULT_DATA_SET).await.is_err() {
        assert!(Instant::now() < deadline, "ptp4l did not answer on {}", session.server().display());
    }
}

async fn compare_with_pmc(version: &str, bin: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let instance = start(version, bin, dir.path());
    let mut session = Session::connect(&instance.socket, settings()).unwrap();
    wait_ready(&mut session).await;
    // Compare a busy clock: ports past LISTENING, counters moving (PORT_STATS_NP byte order).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let stats = session.get_ports(ManagementId::PORT_STATS_NP).await.unwrap();
        let states = session.get_ports(ManagementId::PORT_DATA_SET).await.unwrap();
        let sending = stats.iter().all(|t| matches!(t, Tlv::PortStatsNp(s) if s.tx[11] > 0 && s.tx[11] < 1_000_000));
        let master = states.iter().any(|t| matches!(t, Tlv::PortDataSet(p) if p.port_state.as_str() == "MASTER"));
        if sending && master {
            break;
        }
        assert!(Instant::now() < deadline, "{version}: ports never reached MASTER with plausible counters: {stats:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in GETS {
        let before = ours(&session.request(&Request::get(id)).await.unwrap());
        let out = Command::new(&instance.pmc)
            .args(["-u", "-b", "0", "-d", &DOMAIN.to_string(), "-s"])
            .arg(&instance.socket)
            .arg(format!("GET {id}"))
            .output()
            .unwrap();
        let pmc = parse_pmc(&String::from_utf8_lossy(&out.stdout));
        let after = ours(&session.request(&Request::get(id)).await.unwrap());
        assert!(!pmc.is_empty(), "{version} GET {id}: pmc printed no reply: {}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(pmc.len(), before.len(), "{version} GET {id}: number of replies (ports)");
        assert_eq!(pmc.len(), after.len(), "{version} GET {id}: number of replies (ports)");
        for ((p, b), a) in pmc.iter().zip(&before).zip(&after) {
            assert_eq!((&p.source, &p.id), (&b.source, &b.id), "{version} GET {id}: reply header");
            assert!(!p.fields.is_empty(), "{version} GET {id}: pmc printed no fields");
            for (name, value) in &p.fields {
                let find = |fields: &[(String, String)]| {
                    fields
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| panic!("{version} GET {id}: pmc prints {name}, we do not"))
                };
                let (vb, va) = (find(&b.fields), find(&a.fields));
                assert!(agrees(value, &vb, &va), "{version} GET {id} {name}: pmc {value}, ours {vb} / {va}");
            }
            eprintln!("{version} GET {id} from {}: {} fields agree with pmc", p.source, p.fields.len());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agrees_with_pmc_3_1() {
    if let Some(bin) = lab_bin("agrees_with_pmc_3_1", Version::V31) {
        compare_with_pmc(Version::V31.name(), &bin).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agrees_with_pmc_4_2() {
    if let Some(bin) = lab_bin("agrees_with_pmc_4_2", Version::V42) {
        compare_with_pmc(Version::V42.name(), &bin).await;
    }
}

/// SUBSCRIBE_EVENTS_NP, then a port state change (the veth goes down: FAULTY) arrives as a
/// PORT_DATA_SET notification; a wrong domain times out with an error that says so.
async fn notifications(version: &str, bin: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let instance = start(version, bin, dir.path());
    let mut session = Session::connect(&instance.socket, settings()).unwrap();
    wait_ready(&mut session).await;
    let events = [Event::NotifyPortState, Event::NotifyParentDataSet];
    session.subscribe(&events, 60).await.unwrap();
    instance._ns.ip(["link", "set", "mgb", "down"]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = tokio::time::timeout_at(deadline, session.next_notification())
            .await
            .unwrap_or_else(|_| panic!("{version}: no FAULTY port notification"))
            .unwrap();
        if let Body::Data(Tlv::PortDataSet(p)) = &m.body
            && p.port_state.as_str() == "FAULTY"
        {
            break;
        }
    }
    let mut wrong = settings();
    wrong.header.domain = DOMAIN + 1;
    wrong.timeout = Duration::from_millis(200);
    let mut other = Session::connect(&instance.socket, wrong).unwrap();
    let e = other.get(ManagementId::PARENT_DATA_SET).await.unwrap_err().to_string();
    assert!(e.contains("domain number 25"), "{e}");
    let local = other.local_path().to_path_buf();
    drop(other);
    assert!(!local.exists(), "the session's socket file is removed on drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_state_notifications_3_1() {
    if let Some(bin) = lab_bin("port_state_notifications_3_1", Version::V31) {
        notifications(Version::V31.name(), &bin).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_state_notifications_4_2() {
    if let Some(bin) = lab_bin("port_state_notifications_4_2", Version::V42) {
        notifications(Version::V42.name(), &bin).await;
    }
}

/// The follower: a view that equals what pmc says, port states as notifications move them,
/// the view gone when ptp4l is killed and back once it runs again (noticed by the renewal
/// without a pid, and at once with one).
async fn follower(version: &str, bin: &Path) {
    use ptp_agent::mgmt::follow::{FollowSettings, follow};
    use ptp_agent::mgmt::view::PtpView;
    let dir = tempfile::tempdir().unwrap();
    let mut instance = start(version, bin, dir.path());
    let mut settings = FollowSettings::new(instance.socket.clone(), DOMAIN);
    settings.subscription = 2;
    settings.backoff = (Duration::from_millis(20), Duration::from_secs(1));
    settings.local_dir = Some(dir.path().to_path_buf());
    let (pid_tx, pid_rx) = tokio::sync::watch::channel(Some(1));
    let (view_tx, mut views) = tokio::sync::watch::channel::<Option<PtpView>>(None);
    let task = tokio::spawn(follow(settings, pid_rx, move |v| {
        view_tx.send_replace(v.cloned());
    }));
    let wait = async |views: &mut tokio::sync::watch::Receiver<Option<PtpView>>,
                      what: &str,
                      f: &dyn Fn(&Option<PtpView>) -> bool| {
        let seen =
            tokio::time::timeout(Duration::from_secs(20), views.wait_for(|v| f(v))).await.map(|r| r.unwrap().clone());
        seen.unwrap_or_else(|_| panic!("{version}: timed out waiting for {what}: {:?}", *views.borrow()))
    };
    let view = wait(&mut views, "both ports MASTER", &|v| {
        v.as_ref().is_some_and(|v| v.ports.len() == 2 && v.ports.iter().all(|p| p.state.as_str() == "MASTER"))
    })
    .await
    .unwrap();
    let out = Command::new(&instance.pmc)
        .args(["-u", "-b", "0", "-d", &DOMAIN.to_string(), "-s"])
        .arg(&instance.socket)
        .arg("GET PARENT_DATA_SET")
        .output()
        .unwrap();
    let pmc = parse_pmc(&String::from_utf8_lossy(&out.stdout));
    let field = |name: &str| pmc[0].fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(view.gm_identity.to_string(), field("grandmasterIdentity"));
    assert_eq!(view.gm_clock_class.to_string(), field("gm.ClockClass"));
    assert_eq!(format!("0x{:02x}", view.gm_clock_accuracy), field("gm.ClockAccuracy"));
    assert_eq!(format!("0x{:04x}", view.gm_offset_scaled_log_variance), field("gm.OffsetScaledLogVariance"));

    instance._ns.ip(["link", "set", "mgb", "down"]).unwrap();
    let t = Instant::now();
    wait(&mut views, "port 2 FAULTY", &|v| {
        v.as_ref().is_some_and(|v| v.port(2).is_some_and(|s| s.as_str() == "FAULTY"))
    })
    .await;
    eprintln!("{version}: port 2 FAULTY in the view {} ms after the link went down", t.elapsed().as_millis());
    instance._ns.ip(["link", "set", "mgb", "up"]).unwrap();

    // Killed, no pid change: the renewal finds out.
    drop(std::mem::replace(&mut instance._ptp4l, Killed(Command::new("true").spawn().unwrap())));
    wait(&mut views, "the view gone", &|v| v.is_none()).await;
    instance._ptp4l = instance.spawn();
    wait(&mut views, "the view back after a restart", &|v| v.is_some()).await;
    // Killed and restarted with a new pid: the follower starts over at once, in a new session
    // (its socket file is a new one; the view itself may look the same, so it is not the sign).
    let master = |v: &Option<PtpView>| v.as_ref().is_some_and(|v| v.port(1).is_some_and(|s| s.as_str() == "MASTER"));
    wait(&mut views, "port 1 MASTER", &master).await;
    let sessions = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("ptp-agent-mgmt"))
            .collect();
        names.sort();
        names
    };
    let before = sessions();
    drop(std::mem::replace(&mut instance._ptp4l, Killed(Command::new("true").spawn().unwrap())));
    instance._ptp4l = instance.spawn();
    let t = Instant::now();
    pid_tx.send_replace(Some(2));
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions().is_empty() || sessions() == before {
        assert!(Instant::now() < deadline, "{version}: no new session after a new pid: {before:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait(&mut views, "the new instance's port 1 MASTER", &master).await;
    eprintln!("{version}: new session {} ms after the new pid", t.elapsed().as_millis());
    pid_tx.send_replace(None);
    wait(&mut views, "no view while not running", &|v| v.is_none()).await;
    drop(pid_tx);
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("the follower ends with its pid channel").unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("ptp-agent-mgmt"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "the follower's socket file is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_3_1() {
    if let Some(bin) = lab_bin("follower_3_1", Version::V31) {
        follower(Version::V31.name(), &bin).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_4_2() {
    if let Some(bin) = lab_bin("follower_4_2", Version::V42) {
        follower(Version::V42.name(), &bin).await;
    }
}

/// `ptp-agent pmc ... | head`: a closed stdout ends the command with an error, not a panic.
#[test]
fn pmc_command_survives_a_closed_stdout() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
        .args(["pmc", "--timeout-ms", "50", "-s", "/nonexistent/ptp4l.sock", "GET PARENT_DATA_SET"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}
