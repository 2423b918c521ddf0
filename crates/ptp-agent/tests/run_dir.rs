//! One agent per run directory, and no process left behind: real `ptp-agent run` processes with a
//! fake ptp4l (a shell script) that double-forks a sleeper into a session of its own, the way a
//! daemon (gpsd) does.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use ptp_testkit::probe::{free_port, http_get};

const LONG: Duration = Duration::from_secs(15);

/// A `ptp-agent run`, SIGKILLed if a test fails with it still running.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Agent {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends `signal` and waits for the exit.
    fn stop(&mut self, signal: Signal) -> std::process::ExitStatus {
        kill(Pid::from_raw(self.pid() as i32), signal).expect("signal the agent");
        let deadline = Instant::now() + LONG;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not exit after {signal}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A fresh directory with `profiles.json` (one profile) and `bin/ptp4l` = `script`.
fn setup(tag: &str, script: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ptp-rundir-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    // It answers `-v` as ptp4l does (the agent asks at its start) before doing what it does.
    let script = script.replacen("#!/bin/sh\n", "#!/bin/sh\n[ \"$1\" = -v ] && { echo 3.1.1; exit 0; }\n", 1);
    std::fs::write(dir.join("bin/ptp4l"), script).unwrap();
    std::fs::set_permissions(dir.join("bin/ptp4l"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("profiles.json"), r#"[{"name":"p","interface":"eth9","ptp4lOpts":"-S"}]"#).unwrap();
    dir
}

/// Starts an agent; its log (stderr) goes to `log` (piped only for one that exits at once).
fn start(dir: &Path, run_dir: &Path, health: Option<u16>, log: Stdio) -> Agent {
    let health = health.map_or("none".to_string(), |p| format!("127.0.0.1:{p}"));
    Agent(
        Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
            .args(["run", "--node-name", "n", "--metrics-addr", "none", "--health-addr", &health])
            .arg("--profile")
            .arg(dir.join("profiles.json"))
            .arg("--run-dir")
            .arg(run_dir)
            .arg("--bin-dir")
            .arg(dir.join("bin"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the agent"),
    )
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + LONG;
    while http_get(port, "/readyz").map(|(code, _)| code) != Some(200) {
        assert!(Instant::now() < deadline, "agent never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` is a live process (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    ptp_agent::supervise::tree::stat(pid).is_some_and(|s| !s.zombie)
}

fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// SIGKILLs the sleepers noted in the file when dropped (a failing test leaves none behind).
struct Sleepers(PathBuf);

impl Drop for Sleepers {
    fn drop(&mut self) {
        let noted = std::fs::read_to_string(&self.0).unwrap_or_default();
        for pid in noted.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let is_sleep = std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep");
            if alive(pid) && is_sleep {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// The pids the fakes appended to `file`, once there are `n`.
fn pids(file: &Path, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + LONG;
    loop {
        let found: Vec<i32> =
            std::fs::read_to_string(file).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect();
        if found.len() >= n {
            return found;
        }
        assert!(Instant::now() < deadline, "{n} pids expected in {}, got {found:?}", file.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_agent_on_the_same_run_dir_refuses_to_start_naming_the_dir_and_the_holder() {
    let dir = setup("lock", "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 0.2; done\n");
    let run_dir = dir.join("run");
    let port = free_port();
    let mut first = start(&dir, &run_dir, Some(port), Stdio::null());
    wait_ready(port);
    // The same directory, directly and through a symbolic link.
    std::os::unix::fs::symlink(&run_dir, dir.join("alias")).unwrap();
    for path in [run_dir.clone(), dir.join("alias")] {
        let mut second = start(&dir, &path, None, Stdio::piped());
        let status = second.stop_within(LONG);
        let mut stderr = String::new();
        second.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(!status.success(), "the second agent ran");
        assert!(
            stderr.contains(&format!("run directory {} is in use", path.display()))
                && stderr.contains(&format!("(pid {})", first.pid())),
            "{stderr}"
        );
    }
    // The first one is untouched, and once it is gone (even SIGKILLed) the directory is free.
    assert_eq!(http_get(port, "/readyz").map(|(code, _)| code), Some(200));
    first.stop(Signal::SIGKILL);
    let port = free_port();
    let _third = start(&dir, &run_dir, Some(port), Stdio::null());
    wait_ready(port);
    drop(_third);
    let _ = std::fs::remove_dir_all(dir);
}

impl Agent {
    /// Waits for the agent to exit by itself.
    fn stop_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not exit by itself");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// ptp4l that double-forks a sleeper into a session of its own (`setsid`), notes its pid in
/// `<dir>/sleepers`, and runs on.
const DAEMONIZING: &str = r#"#!/bin/sh
trap 'exit 0' TERM
(setsid sleep 1000 & echo $! >> "$(dirname "$0")/../sleepers")
while :; do sleep 0.2; done
"#;

#[test]
fn what_a_sigkilled_agent_left_is_killed_by_the_next_one_and_a_normal_stop_leaves_nothing() {
    let dir = setup("leftovers", DAEMONIZING);
    let sleepers = dir.join("sleepers");
    let _cleanup = Sleepers(sleepers.clone());
    let mut first = start(&dir, &dir.join("run"), None, Stdio::null());
    let left = pids(&sleepers, 1)[0];
    assert!(alive(left));
    first.stop(Signal::SIGKILL);
    // The parent-death signal took ptp4l; the sleeper, in a session of its own, escaped it.
    assert!(alive(left), "the sleeper {left} should have outlived the SIGKILLed agent");

    let mut second = start(&dir, &dir.join("run"), None, Stdio::null());
    assert!(gone_within(left, LONG), "the sleeper {left} a SIGKILLed agent left survived the next agent's start");
    // The second agent's own ptp4l and sleeper run; SIGTERM ends them all.
    let own = pids(&sleepers, 2)[1];
    assert!(alive(own));
    assert!(second.stop(Signal::SIGTERM).success());
    assert!(gone_within(own, Duration::from_secs(2)), "the sleeper {own} outlived the agent's stop");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_orphan_that_cleared_its_environment_is_adopted_and_killed_at_the_stop() {
    // Without the environment, the sleeper carries no mark: the agent finds it as its own child
    // (a child subreaper adopts the orphans of its descendants).
    let dir = setup(
        "subreaper",
        r#"#!/bin/sh
trap 'exit 0' TERM
(env -i setsid sleep 1000 & echo $! >> "$(dirname "$0")/../sleepers")
while :; do sleep 0.2; done
"#,
    );
    let _cleanup = Sleepers(dir.join("sleepers"));
    let mut agent = start(&dir, &dir.join("run"), None, Stdio::null());
    let sleeper = pids(&dir.join("sleepers"), 1)[0];
    let deadline = Instant::now() + LONG;
    while ptp_agent::supervise::tree::stat(sleeper).map(|s| s.ppid) != Some(agent.pid() as i32) {
        assert!(Instant::now() < deadline, "the orphan {sleeper} was not adopted by the agent {}", agent.pid());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(agent.stop(Signal::SIGTERM).success());
    assert!(gone_within(sleeper, Duration::from_secs(2)), "the orphan {sleeper} outlived the agent's stop");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_adopted_orphan_that_exits_is_reaped() {
    // The orphan exits after a moment, while the agent runs: adopted, it must not stay a zombie.
    let dir = setup(
        "reap",
        r#"#!/bin/sh
trap 'exit 0' TERM
(setsid sleep 0.5 & echo $! >> "$(dirname "$0")/../sleepers")
while :; do sleep 0.2; done
"#,
    );
    let _cleanup = Sleepers(dir.join("sleepers"));
    let mut agent = start(&dir, &dir.join("run"), None, Stdio::null());
    let orphan = pids(&dir.join("sleepers"), 1)[0];
    let deadline = Instant::now() + LONG;
    while let Some(s) = ptp_agent::supervise::tree::stat(orphan) {
        assert!(Instant::now() < deadline, "the orphan is still there: {s:?} (the agent is {})", agent.pid());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(agent.stop(Signal::SIGTERM).success());
    let _ = std::fs::remove_dir_all(dir);
}
