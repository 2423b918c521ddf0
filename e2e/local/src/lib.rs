//! Helpers of the local end-to-end suite (`tests/local.rs`): finding the built binaries,
//! child processes that die with the test and step timings (HTTP probes and process lookup are
//! `ptp_testkit::probe`).

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// The path of a workspace binary: `$PTP_E2E_<NAME>_BIN`, else next to the test executable's
/// directory (`target/debug/`), where `cargo test --workspace` and `cargo build --bins` put it.
pub fn binary(name: &str) -> PathBuf {
    let var = format!("PTP_E2E_{}_BIN", name.replace('-', "_").to_uppercase());
    if let Some(path) = std::env::var_os(&var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/debug/deps/local-HASH → target/debug/NAME
    let path = exe.parent().and_then(Path::parent).map(|d| d.join(name)).unwrap_or_default();
    assert!(
        path.is_file(),
        "{name} not found at {} (or ${var}): build the binaries first, e.g. `cargo build --workspace --bins` \
         (`cargo test --workspace` builds them)",
        path.display()
    );
    path
}

/// A child process killed (SIGKILL) and reaped on drop, so a failing test leaves nothing behind.
pub struct Proc {
    pub name: &'static str,
    pub child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits up to `timeout` for the exit; `Some(exit code)` if it exited in time.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 50 ms until it returns `Ok`, or panics after `timeout`, naming
/// `what` and the last observation (the last `Err`).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match condition().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}; last seen: {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Step timings, printed as they happen and again as a table at the end.
pub struct Timeline {
    start: Instant,
    last: Instant,
    steps: Vec<(String, Duration, Duration)>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Self {
        let now = Instant::now();
        Timeline { start: now, last: now, steps: Vec::new() }
    }

    /// Records that `step` is done: its own duration (since the previous mark) and the total.
    pub fn mark(&mut self, step: &str) {
        let now = Instant::now();
        let (own, total) = (now - self.last, now - self.start);
        self.last = now;
        eprintln!("e2e: {step}: {} ms (at {} ms)", own.as_millis(), total.as_millis());
        self.steps.push((step.to_string(), own, total));
    }

    /// Restarts the clock of the next step (after work that is not a measured step).
    pub fn skip(&mut self) {
        self.last = Instant::now();
    }

    pub fn table(&self) -> String {
        let width = self.steps.iter().map(|(s, _, _)| s.len()).max().unwrap_or(4);
        let mut out = format!("{:width$}  {:>8}  {:>8}\n", "step", "ms", "at ms");
        for (step, own, total) in &self.steps {
            out.push_str(&format!("{step:width$}  {:>8}  {:>8}\n", own.as_millis(), total.as_millis()));
        }
        out
    }
}
