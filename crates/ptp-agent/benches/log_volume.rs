//! Log volume (issue #17): how many of ptp4l's lines reach the agent's log per second while
//! LOCKED, for each `logReduce` mode, against how many the parser saw.
//!
//! A software-timestamping grandmaster (`logSyncInterval -4`: 16 syncs a second) in one network
//! namespace serves four veth pairs; the agent binary (`ptp-agent run --profile`) runs in another
//! with four profiles, one per pair, all with `logSyncInterval -4` and `summary_interval -4` (a
//! `master offset` line per sync) and `logReduce` `false`, `basic`, `enhanced` (30 s) and
//! `enhanced 5s`. Every process runs without CAP_SYS_TIME (setpriv, checked first): the linreg
//! servo locks while each clock adjustment fails with EPERM, so nothing adjusts this machine's
//! clock. The agent's `--bin-dir` has a `ptp4l` wrapper that copies what the real ptp4l prints to
//! a file per configuration (`tee`): what the agent read, i.e. what its parser saw.
//!
//! Once every profile is LOCKED (`openshift_ptp_clock_state` 1), the bench counts over a window
//! (`LOG_VOLUME_WINDOW_S`, default 30) the lines each ptp4l printed and the child output lines the
//! agent logged for its profile, and prints lines per second and their ratio.
//! `cargo bench -p ptp-agent --bench log_volume` (root); linuxptp 4.2 as well when
//! scripts/linuxptp.sh built it (`PTP_LINUXPTP_42_DIR`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ptp_agent::nic::netns::in_netns;
use ptp_testkit::linuxptp::{DEBIAN_BIN, Killed, Version, lab_bin};
use ptp_testkit::netns::{NetNs, unique_name};
use ptp_testkit::probe::http_get;
use ptp_testkit::sys_time::WITHOUT_SYS_TIME;

const METRICS_PORT: u16 = 9391;
const MODES: [&str; 4] = ["false", "basic", "enhanced", "enhanced 5s"];

/// The slave's servo. 3.1's linreg locks (s2) although each adjustment fails (EPERM, two error
/// lines per sample). 4.2 resets its servo when an adjustment fails and then prints no sample at
/// all, so it cannot lock without CAP_SYS_TIME: it runs `free_running 1` (no adjustment) with
/// `freq_est_interval -4` (a `master offset ... s0` line per sync: the same volume; clock FREERUN).
fn servo(bin: &Path) -> &'static str {
    if bin == Path::new(DEBIAN_BIN) {
        "clock_servo linreg\nfirst_step_threshold 0.0\nstep_threshold 0.0\n"
    } else {
        "free_running 1\nfreq_est_interval -4\n"
    }
}

fn profile(index: usize, iface: &str, mode: &str, servo: &str) -> String {
    let conf = format!(
        "[global]\nslaveOnly 1\ndomainNumber 0\nnetwork_transport L2\ntime_stamping software\n{servo}logSyncInterval -4\nsummary_interval -4\nlogAnnounceInterval -2\nannounceReceiptTimeout 3\n"
    );
    let threshold =
        serde_json::json!({"holdOverTimeout": 5, "maxOffsetThreshold": 1_000_000, "minOffsetThreshold": -1_000_000});
    serde_json::json!({"name": format!("p{index}"), "interface": iface, "ptp4lOpts": "-S", "ptp4lConf": conf,
        "ptpClockThreshold": threshold, "ptpSettings": {"logReduce": mode}})
    .to_string()
}

/// `/metrics` of the agent, fetched from inside its namespace.
fn metrics(ns: &NetNs) -> String {
    in_netns(&ns.path(), || Ok(http_get(METRICS_PORT, "/metrics").map(|(_, body)| body).unwrap_or_default()))
        .unwrap_or_default()
}

/// The complete lines of `path`.
fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_string).collect()
}

/// What ptp4l's error lines end with when an adjustment fails (no CAP_SYS_TIME): a lab artefact.
const EPERM: &str = "Operation not permitted";

/// Per profile: (lines ptp4l printed, lines the agent logged for it, of which summaries, of which
/// [`EPERM`] lines).
fn counts(dir: &Path, log: &[String]) -> Vec<(usize, usize, usize, usize)> {
    (0..MODES.len())
        .map(|id| {
            let tag = format!("[ptp4l.{id}.config]");
            let printed = lines(&dir.join(format!("out/ptp4l.{id}.config.log"))).len();
            let mine = log.iter().filter(|l| l.contains("ptp_agent::child_output") && l.contains(&tag));
            let (logged, summaries, eperm) = mine.fold((0, 0, 0), |(n, s, e), l| {
                (n + 1, s + usize::from(l.contains("summary: cnt=")), e + usize::from(l.contains(EPERM)))
            });
            (printed, logged, summaries, eperm)
        })
        .collect()
}

fn suppressed(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("ptp_agent_suppressed_log_lines_total{process=\"ptp4l\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn measure(version: &str, bin: &Path, window: Duration) {
    let dir = std::env::temp_dir().join(format!("ptp-log-volume-{}-{version}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let gm = NetNs::new("ptplvgm").unwrap();
    let node = NetNs::new("ptplvnode").unwrap();
    let mut gm_ifaces = Vec::new();
    let mut profiles = Vec::new();
    for (i, mode) in MODES.iter().enumerate() {
        let (g, n) = (unique_name("lvg"), unique_name("lvn"));
        gm.add_veth_pair(&g, &n).unwrap();
        gm.ip(["link", "set", &n, "netns", node.name()]).unwrap();
        node.ip(["link", "set", &n, "up"]).unwrap();
        profiles.push(profile(i, &n, mode, servo(bin)));
        gm_ifaces.push(g);
    }
    let mut gm_conf = "[global]\npriority1 10\ndomainNumber 0\nnetwork_transport L2\ntime_stamping software\nclock_servo nullf\nlogSyncInterval -4\nlogAnnounceInterval -2\nmasterOnly 1\n".to_string();
    gm_conf.push_str(&format!("uds_address {}\n", dir.join("gm.socket").display()));
    if bin != Path::new(DEBIAN_BIN) {
        gm_conf.push_str(&format!("uds_ro_address {}\n", dir.join("gm.ro").display()));
    }
    std::fs::write(dir.join("gm.conf"), gm_conf).unwrap();
    let mut command = gm.command(WITHOUT_SYS_TIME[0]);
    command.args(&WITHOUT_SYS_TIME[1..]).arg(bin.join("ptp4l")).arg("-S");
    for g in &gm_ifaces {
        command.args(["-i", g]);
    }
    let _grandmaster =
        Killed(command.arg("-f").arg(dir.join("gm.conf")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());

    // The agent's ptp4l: the real one, its output copied to out/<config>.log (killed with the
    // shell, should the agent SIGKILL it).
    let wrappers = dir.join("bin");
    std::fs::create_dir_all(&wrappers).unwrap();
    let real = bin.join("ptp4l");
    let script = format!(
        "#!/bin/sh\ncfg=\"\"; prev=\"\"\nfor a in \"$@\"; do [ \"$prev\" = \"-f\" ] && cfg=$(basename \"$a\"); prev=\"$a\"; done\n[ -z \"$cfg\" ] && exec {real} \"$@\"\nsetpriv --pdeathsig KILL {real} \"$@\" 2>&1 | tee -a {out}/$cfg.log\n",
        real = real.display(),
        out = dir.join("out").display()
    );
    std::fs::write(wrappers.join("ptp4l"), script).unwrap();
    std::fs::set_permissions(wrappers.join("ptp4l"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let profile_file = dir.join("profiles.json");
    std::fs::write(&profile_file, format!("[{}]", profiles.join(","))).unwrap();
    let log_file = dir.join("agent.log");
    let agent = Stopped(
        node.command(WITHOUT_SYS_TIME[0])
            .args(&WITHOUT_SYS_TIME[1..])
            .arg(env!("CARGO_BIN_EXE_ptp-agent"))
            .args(["run", "--node-name", "lv", "--health-addr", "none"])
            .args(["--metrics-addr", &format!("127.0.0.1:{METRICS_PORT}"), "--profile"])
            .arg(&profile_file)
            .arg("--run-dir")
            .arg(dir.join("run"))
            .arg("--bin-dir")
            .arg(&wrappers)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_file).unwrap())
            .spawn()
            .unwrap(),
    );

    let started = Instant::now();
    let locked = |m: &str| {
        m.lines().filter(|l| l.starts_with("openshift_ptp_clock_state{process=\"ptp4l\"") && l.ends_with(" 1")).count()
    };
    if bin == Path::new(DEBIAN_BIN) {
        wait_until("every profile LOCKED", Duration::from_secs(120), || locked(&metrics(&node)) == MODES.len());
    } else {
        wait_until("every ptp4l sampling", Duration::from_secs(120), || {
            (0..MODES.len()).all(|id| {
                let out = lines(&dir.join(format!("out/ptp4l.{id}.config.log")));
                out.iter().filter(|l| l.contains("master offset")).count() >= 32
            })
        });
    }
    let locked_after = started.elapsed();
    let before = counts(&dir, &lines(&log_file));
    let suppressed_before = suppressed(&metrics(&node));
    let t0 = Instant::now();
    std::thread::sleep(window);
    let after = counts(&dir, &lines(&log_file));
    let m = metrics(&node);
    let elapsed = t0.elapsed().as_secs_f64();
    let still_locked = locked(&m);

    println!(
        "linuxptp {version}: LOCKED (3.1) / sampling (4.2) after {:.1} s; window {elapsed:.1} s; still LOCKED at its end: {still_locked}/{}",
        locked_after.as_secs_f64(),
        MODES.len()
    );
    println!(
        "| logReduce | parser lines/s | logged lines/s | logged / parser | summaries | logged lines/s without `{EPERM}` (lab artefact) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut printed_total = 0;
    let mut child_lines_logged = 0;
    for (i, mode) in MODES.iter().enumerate() {
        let printed = after[i].0 - before[i].0;
        let logged = after[i].1 - before[i].1;
        let summaries = after[i].2 - before[i].2;
        let eperm = after[i].3 - before[i].3;
        printed_total += printed;
        child_lines_logged += logged - summaries;
        println!(
            "| `{mode}` | {:.2} | {:.3} | {:.4} | {summaries} | {:.3} |",
            printed as f64 / elapsed,
            logged as f64 / elapsed,
            logged as f64 / printed.max(1) as f64,
            (logged - eperm) as f64 / elapsed,
        );
    }
    // What the logged lines are: the text after the message tag, digits dropped, most frequent first.
    let log = lines(&log_file);
    for (i, mode) in MODES.iter().enumerate() {
        let tag = format!("[ptp4l.{i}.config] ");
        let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
        for l in log.iter().filter(|l| l.contains("ptp_agent::child_output")) {
            if let Some((_, rest)) = l.split_once(&tag) {
                let rest = rest.rsplit_once(" process=").map_or(rest, |(text, _)| text);
                let kind: String = rest.chars().filter(|c| !c.is_ascii_digit()).collect();
                *kinds.entry(kind.split_whitespace().collect::<Vec<_>>().join(" ")).or_default() += 1;
            }
        }
        let mut kinds: Vec<_> = kinds.into_iter().collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
        println!("`{mode}`: logged since the start: {:?}", &kinds[..kinds.len().min(4)]);
    }
    let suppressed_delta = suppressed(&m) - suppressed_before;
    println!(
        "suppressed_log_lines_total{{process=\"ptp4l\"}} grew by {suppressed_delta} over the window; parser lines - logged child lines = {}",
        printed_total as i64 - child_lines_logged as i64
    );

    drop(agent);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The agent, stopped with SIGTERM when dropped (it stops each child's process group), SIGKILLed
/// after 10 s; then the namespaces go with their guards.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let stopping = Instant::now();
        while self.0.try_wait().ok().flatten().is_none() && stopping.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let window = std::env::var("LOG_VOLUME_WINDOW_S").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    for version in [Version::V31, Version::V42] {
        if let Some(bin) = lab_bin(&format!("bench log_volume {}", version.name()), version) {
            measure(version.name(), &bin, Duration::from_secs(window));
        }
    }
}
