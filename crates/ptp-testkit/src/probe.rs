//! Looking at processes the tests start: plain HTTP GETs of their endpoints on loopback, free
//! ports for them, their PIDs by command line and their memory; polling with a deadline, and
//! stopping one with SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// `GET path` on `127.0.0.1:port` over plain HTTP/1.1: `(status code, body)`, or `None` when
/// nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((code, body))
}

/// PIDs of processes whose program (the file name of `argv[0]`) is `program` and whose other
/// arguments contain `needle`, sorted.
pub fn pids_of(program: &str, needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return pids };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let mut args = cmdline.split(|b| *b == 0).map(String::from_utf8_lossy);
        let first = args.next().unwrap_or_default();
        let is_program = Path::new(first.as_ref()).file_name().is_some_and(|f| f == program);
        if is_program && args.any(|a| a.contains(needle)) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// SIGKILLs every process of `programs` whose arguments contain `needle` (a test's directory):
/// what a SIGKILLed agent's children started and no parent-death signal reaches, such as
/// timemaster's chronyd, when a test fails.
pub fn kill_by_argument(programs: &[&str], needle: &str) {
    for program in programs {
        for pid in pids_of(program, needle) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

/// Writes a fake `ptp4l` into `dir/bin` and returns that directory (for the agent's `--bin-dir`):
/// a shell script that reads its `-f` file's name for the message tag, reports port 1 (`eth9`)
/// going to SLAVE, then prints an offset line every `period` (a `sleep` argument such as `1` or
/// `0.2`), cycling through `offsets`, until SIGTERM, which it obeys at once (`sleep & wait`: with
/// a foreground sleep, a SIGTERM landing between two sleeps waited for the next one).
pub fn fake_ptp4l(dir: &std::path::Path, offsets: &[i64], period: &str) -> std::io::Result<std::path::PathBuf> {
    let offsets: Vec<String> = offsets.iter().map(i64::to_string).collect();
    let body = format!(
        r#"echo "ptp4l[1.0]: [$cfg] port 1 (eth9): LISTENING to UNCALIBRATED on RS_SLAVE"
echo "ptp4l[1.1]: [$cfg] port 1 (eth9): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED"
while :; do for o in {offsets}; do echo "ptp4l[2.0]: [$cfg] master offset $o s2 freq 1 path delay 10"; sleep {period} & wait $!; done; done
"#,
        offsets = offsets.join(" "),
    );
    let bin = dir.join("bin");
    crate::fixtures::install_fake(&bin, "ptp4l", &body)?;
    Ok(bin)
}

/// Polls `condition` every 50 ms (blocking the thread) until it holds; panics naming `what` once
/// `within` has passed.
pub fn wait_for(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM to `child` and waits for it to exit; panics when it has not within `within`.
pub fn stop_with_sigterm(child: &mut Child, within: Duration) -> ExitStatus {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let stopping = Instant::now();
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            return status;
        }
        assert!(stopping.elapsed() < within, "pid {} did not exit within {within:?} of SIGTERM", child.id());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `/proc/PID/status` field in KiB (`VmRSS:`, `VmHWM:`), 0 when absent.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `ptp-agent run` (the binary at `agent`, a test's `env!("CARGO_BIN_EXE_ptp-agent")`) for
/// `node`, reading its profiles from the file `profile`, with its run directory `run_dir` and its
/// stdout and stderr discarded; the caller adds the other flags (endpoints, `--bin-dir`) and spawns it.
pub fn agent_run(agent: &str, node: &str, profile: &Path, run_dir: &Path) -> Command {
    let mut command = Command::new(agent);
    command
        .args(["run", "--node-name", node])
        .arg("--profile")
        .arg(profile)
        .arg("--run-dir")
        .arg(run_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// Runs `command(flag, taken, other)` for `--metrics-addr` and then `--health-addr` pointed at an
/// address another socket holds (`other` is the other flag, to be given `none`), and asserts that
/// the program exits with status 1 within 20 s, its stderr naming `listening on <address>`.
pub fn assert_taken_addresses_are_fatal(command: impl Fn(&str, &str, &str) -> Command) {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("bound").to_string();
    for (flag, other) in [("--metrics-addr", "--health-addr"), ("--health-addr", "--metrics-addr")] {
        let mut child = command(flag, &addr, other)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{flag} {addr} (taken): still running after 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        let _ = child.stderr.take().expect("stderr").read_to_string(&mut stderr);
        assert_eq!(status.code(), Some(1), "{flag}: {stderr}");
        assert!(stderr.contains(&format!("listening on {addr}")), "{flag}: {stderr}");
    }
}
