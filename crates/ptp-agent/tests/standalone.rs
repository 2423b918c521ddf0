//! `ptp-agent run --profile FILE` waits for a missing file (in a cluster the ConfigMap key appears
//! once the operator has rendered the node), becomes ready once it is applied, and stops on SIGTERM;
//! it reads the file only when it changes; a value it cannot use changes nothing that runs.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ptp_testkit::probe::{agent_run, free_port, http_get, pids_of, stop_with_sigterm, wait_for};

fn readyz(port: u16) -> Option<u16> {
    http_get(port, "/readyz").map(|(code, _)| code)
}

#[test]
fn waits_for_the_profile_file_then_becomes_ready() {
    let dir = std::env::temp_dir().join(format!("ptp-standalone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("node-1");
    let port = free_port();
    let log = dir.join("agent.log");
    let mut agent = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "node-1", &profile, &dir.join("run"))
        .args(["--metrics-addr", "none", "--health-addr", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The agent has looked for the file and found none.
    wait_until("health endpoint up and the missing file seen", || {
        readyz(port).is_some()
            && std::fs::read_to_string(&log).unwrap_or_default().contains("waiting for the profile file")
    });
    assert_eq!(readyz(port), Some(503), "not ready while the file is missing");
    assert!(agent.try_wait().unwrap().is_none(), "still running");
    std::fs::write(&profile, "[]").unwrap();
    wait_until("ready once the (empty) profile list is applied", || readyz(port) == Some(200));
    stop_with_sigterm(&mut agent, Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(dir);
}

fn metrics(port: u16) -> String {
    http_get(port, "/metrics").map(|(_, text)| text).unwrap_or_default()
}

/// Writes `value` the way kubelet updates a mounted ConfigMap: a new timestamped directory, then
/// an atomic rename of the `..data` symlink; the key itself is a symlink through `..data`.
fn kubelet_write(dir: &std::path::Path, key: &str, value: &str, generation: u32) {
    let versioned = dir.join(format!("..2026_11_24_{generation}"));
    std::fs::create_dir_all(&versioned).unwrap();
    std::fs::write(versioned.join(key), value).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(versioned.file_name().unwrap(), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join(key);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(format!("..data/{key}"), &link).unwrap();
    }
}

#[test]
fn a_kubelet_style_configmap_update_is_seen_through_inotify() {
    let dir = std::env::temp_dir().join(format!("ptp-kubelet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    kubelet_write(&dir, "node-1", "[]", 1);
    let port = free_port();
    let log = dir.join("agent.log");
    let mut agent = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "node-1", &dir.join("node-1"), &dir.join("run"))
        .args(["--health-addr", "none", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // (CI once timed out here after 10 s, without a clue: an agent that exits, or a slow one,
    // now says so with its log.)
    let started = Instant::now();
    while !metrics(port).contains("ptp_agent_refused_profiles 0") {
        let log = || std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(status) = agent.try_wait().unwrap() {
            panic!("the agent exited ({status}) before serving its metrics:\n{}", log());
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no metrics after 20 s; the agent's log:\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // An update with an invalid profile: seen well before the 10 s fallback poll.
    let changed = Instant::now();
    kubelet_write(&dir, "node-1", r#"[{"name":"bad","ptp4lConf":"[global]\nslaveOnly\n"}]"#, 2);
    while !metrics(port).contains("ptp_agent_refused_profiles 1") {
        assert!(changed.elapsed() < Duration::from_secs(5), "inotify reported the ..data swap");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits until `ok` holds, for at most 10 s.
fn wait_until(what: &str, ok: impl FnMut() -> bool) {
    wait_for(what, Duration::from_secs(10), ok);
}

/// `ptp-agent run --profile FILE` with metrics and health on free ports.
fn start_agent(profile: &Path, run_dir: &Path, bin_dir: Option<&Path>) -> (Child, u16, u16) {
    let (metrics_port, health_port) = (free_port(), free_port());
    let mut command = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "node-1", profile, run_dir);
    command
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .args(["--health-addr", &format!("127.0.0.1:{health_port}")]);
    if let Some(bin) = bin_dir {
        command.arg("--bin-dir").arg(bin);
    }
    (command.spawn().unwrap(), metrics_port, health_port)
}

/// Counts the opens of `file` that inotify reports on its directory.
fn count_opens(file: &Path) -> (notify::RecommendedWatcher, Arc<AtomicUsize>) {
    let opens = Arc::new(AtomicUsize::new(0));
    let (counter, target) = (opens.clone(), file.to_path_buf());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event
            && matches!(e.kind, notify::EventKind::Access(notify::event::AccessKind::Open(_)))
            && e.paths.contains(&target)
        {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    notify::Watcher::watch(&mut watcher, file.parent().unwrap(), notify::RecursiveMode::NonRecursive).unwrap();
    (watcher, opens)
}

/// Regression: the agent re-read its file on every inotify event of the directory, the open and
/// close its own read causes included (~28,000 opens/s while nothing changed). Now it reads it
/// when something may have changed it: the test's own reads of the file and writes of another
/// file in the directory cause no read, a change of the file one.
#[test]
fn an_unchanged_profile_file_is_not_read_again() {
    let dir = std::env::temp_dir().join(format!("ptp-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("node-1");
    std::fs::write(&profile, "[]").unwrap();
    let (watcher, opens) = count_opens(&profile);
    let (mut agent, port, _) = start_agent(&profile, &dir.join("run"), None);
    wait_until("the first value applied", || metrics(port).contains("ptp_agent_refused_profiles 0"));

    let before = opens.load(Ordering::SeqCst);
    let mut own_opens = 0;
    for i in 0..50 {
        assert_eq!(std::fs::read_to_string(&profile).unwrap(), "[]");
        own_opens += 1;
        std::fs::write(dir.join("other-node"), format!("[{i}]")).unwrap();
    }
    // A change is read (once): the interval ends when the agent has applied it.
    std::fs::write(&profile, r#"[{"name":"bad","ptp4lConf":"[global]\nslaveOnly\n"}]"#).unwrap();
    own_opens += 1;
    wait_until("the change applied", || metrics(port).contains("ptp_agent_refused_profiles 1"));
    let agent_opens = opens.load(Ordering::SeqCst) - before - own_opens;
    assert!(agent_opens <= 2, "the agent opened its unchanged file {agent_opens} times");
    let _ = agent.kill();
    let _ = agent.wait();
    drop(watcher);
    let _ = std::fs::remove_dir_all(dir);
}

fn fake_bin(dir: &Path) -> PathBuf {
    ptp_testkit::probe::fake_ptp4l(dir, &[5], "1").unwrap()
}

/// Regression: `{}` or `[{"nmae":"typo"}]` decoded to zero profiles and stopped every ptp4l,
/// silently. A value the agent cannot use at all keeps what runs (same PID), shows in
/// `ptp_agent_profile_source_valid`/`_errors_total` and leaves the pod ready; only `[]` stops.
#[test]
fn a_value_without_names_or_not_json_keeps_what_runs_and_only_an_empty_list_stops_it() {
    let dir = std::env::temp_dir().join(format!("ptp-nameless-{}", std::process::id()));
    let bin = fake_bin(&dir);
    let profile = dir.join("node-1");
    std::fs::write(&profile, r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"}]"#).unwrap();
    let (mut agent, port, health) = start_agent(&profile, &dir.join("run"), Some(&bin));
    let fake = bin.join("ptp4l").display().to_string();
    let ptp4l = || pids_of("sh", &fake);
    wait_until("ptp4l runs", || ptp4l().len() == 1 && metrics(port).contains("openshift_ptp_process_status"));
    let pid = ptp4l();

    for (i, value) in
        ["{}", r#"[{"nmae":"typo"}]"#, "not json", r#"[{"name":null}]"#, r#"[{"name":"p"},7]"#].into_iter().enumerate()
    {
        std::fs::write(&profile, value).unwrap();
        let errors = format!("ptp_agent_profile_source_errors_total {}", i + 1);
        // Counted, or (the defect) ptp4l stopped: either ends the wait.
        wait_until(&format!("{value} counted"), || metrics(port).contains(&errors) || ptp4l() != pid);
        assert_eq!(ptp4l(), pid, "{value}: ptp4l keeps running with the same PID");
        let text = metrics(port);
        assert!(text.contains("ptp_agent_profile_source_valid 0"), "{value}: {text}");
        assert!(
            text.contains(r#"openshift_ptp_process_status{process="ptp4l",node="node-1",config="ptp4l.0.config"} 1"#)
        );
        assert_eq!(readyz(health), Some(200), "{value}: the pod stays ready while what runs keeps running");
    }

    std::fs::write(&profile, "[]").unwrap();
    // The agent marks the value applied once its processes stopped: wait for both.
    wait_until("[] stops ptp4l and counts as applied", || {
        ptp4l().is_empty() && metrics(port).contains("ptp_agent_profile_source_valid 1")
    });
    let text = metrics(port);
    assert!(text.contains("ptp_agent_profile_source_errors_total 5"), "{text}");
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = std::fs::remove_dir_all(dir);
}
