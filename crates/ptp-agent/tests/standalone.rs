//! `ptp-agent run --profile FILE` waits for a missing file (in a cluster the ConfigMap key appears
//! once the operator has rendered the node), becomes ready once it is applied, and stops on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn readyz(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn waits_for_the_profile_file_then_becomes_ready() {
    let dir = std::env::temp_dir().join(format!("ptp-standalone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("node-1");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
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
