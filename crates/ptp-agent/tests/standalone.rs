//! `ptp-agent run --profile FILE` waits for a missing file (in a cluster the ConfigMap key appears
//! once the operator has rendered the node), becomes ready once it is applied, and stops on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ptp_testkit::probe::{free_port, http_get};

fn readyz(port: u16) -> Option<u16> {
    http_get(port, "/readyz").map(|(code, _)| code)
}

#[test]
fn waits_for_the_profile_file_then_becomes_ready() {
    let dir = std::env::temp_dir().join(format!("ptp-standalone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("node-1");
    let port = free_port();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
        .args(["run", "--node-name", "node-1", "--metrics-addr", "none", "--health-addr", &format!("127.0.0.1:{port}")])
        .arg("--profile")
        .arg(&profile)
        .arg("--run-dir")
        .arg(dir.join("run"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while readyz(port).is_none() {
        assert!(Instant::now() < deadline, "health endpoint up");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(readyz(port), Some(503), "not ready while the file is missing");
    assert!(agent.try_wait().unwrap().is_none(), "still running");
    std::fs::write(&profile, "[]").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while readyz(port) != Some(200) {
        assert!(Instant::now() < deadline, "ready once the (empty) profile list is applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-TERM", &agent.id().to_string()]).status();
    let stopping = Instant::now();
    while agent.try_wait().unwrap().is_none() {
        assert!(stopping.elapsed() < Duration::from_secs(10), "exits within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    let mut agent = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
        .args(["run", "--node-name", "node-1", "--health-addr", "none", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .arg("--profile")
        .arg(dir.join("node-1"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !metrics(port).contains("ptp_agent_refused_profiles 0") {
        assert!(Instant::now() < deadline, "first value applied");
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
