//! The I/O edge: starting one child process, reading its output, signalling its process tree.
//!
//! Every child runs in its own process group (so that a stop reaches whatever it forked) with a
//! parent-death signal of SIGKILL (so that it does not outlive the agent, even when the agent is
//! SIGKILLed). The kernel sends the parent-death signal when the *thread* that forked the child
//! exits, not the process: children are therefore forked from one dedicated thread that lives as
//! long as the agent (see [`spawn_on_forker`]), never from a tokio worker or blocking-pool thread,
//! which may come and go. Descendants that left the group (`setsid`) are found by the mark in
//! their environment ([`super::tree`]) and signalled with it.
//!
//! Output is read in lines of at most [`MAX_LINE_BYTES`]: the rest of a longer line is thrown
//! away as it arrives (counted through [`LineSink::discarded`]), and its head goes to the log
//! only, not to the sink.
//!
//! Every line goes to the sink; which lines also go to the log is the spec's
//! [`super::output_filter`] (each stream of each instance has its own); the lines it keeps out of
//! the log are counted through [`LineSink::suppressed`].

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::lines::{LineAssembler, MAX_LINE_BYTES};
use super::output_filter::{Output, OutputFilter};
use super::reaper;
use super::spec::ProcessSpec;
use super::tree::{self, CHILD_ENV, Stat};
use crate::Error;

/// The tracing target of the children's output lines, so that a filter can quieten them
/// (`RUST_LOG=info,ptp_agent::child_output=warn`).
pub const OUTPUT_TARGET: &str = "ptp_agent::child_output";

/// How often a stop checks whether the process group is gone during the grace period.
const GROUP_POLL: Duration = Duration::from_millis(50);

/// Which of the child's output streams a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a child's output, without its line ending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The spec's name.
    pub process: Arc<str>,
    pub stream: Stream,
    pub line: String,
}

/// Where output lines go (the log parser). `deliver` must not block: the reader calling it is
/// all that keeps the child's pipe drained, and a child blocked on a full pipe stops working.
pub trait LineSink: Send + Sync + 'static {
    fn deliver(&self, line: LogLine);

    /// `bytes` of a line of `process` longer than [`MAX_LINE_BYTES`] were thrown away (its head
    /// went to the log, not to [`LineSink::deliver`]).
    fn discarded(&self, process: &str, bytes: u64) {
        let _ = (process, bytes);
    }

    /// A line of `process` was kept out of the log by its output filter (it was delivered).
    fn suppressed(&self, process: &str) {
        let _ = process;
    }
}

/// Every line is kept; the receiver must keep up.
impl LineSink for mpsc::UnboundedSender<LogLine> {
    fn deliver(&self, line: LogLine) {
        // A closed receiver means nobody wants lines any more; the log still has them.
        let _ = self.send(line);
    }
}

/// Lines beyond the channel's capacity are dropped rather than stalling the child.
impl LineSink for mpsc::Sender<LogLine> {
    fn deliver(&self, line: LogLine) {
        if let Err(mpsc::error::TrySendError::Full(line)) = self.try_send(line) {
            debug!(process = %line.process, "output line dropped: the line channel is full");
        }
    }
}

/// Lines go to the log only.
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl LineSink for Discard {
    fn deliver(&self, _line: LogLine) {}
}

/// A started child: the leader of its own process group.
#[derive(Debug)]
pub struct Running {
    name: Arc<str>,
    child: Child,
    pid: Pid,
    /// SIGKILLs the group if this is dropped before the group was cleaned up (task aborted,
    /// runtime shut down).
    guard: GroupGuard,
}

/// Starts `spec`, its stdout and stderr read line by line into `sink` and the log.
#[allow(unsafe_code)] // a syscall without a safe wrapper: see the SAFETY comment
pub async fn spawn(spec: &ProcessSpec, sink: Arc<dyn LineSink>) -> Result<Running, Error> {
    let name: Arc<str> = Arc::from(spec.name.as_str());
    let fail = |message: String| Error::Process { process: spec.name.clone(), message };
    if let Some(sched) = &spec.sched {
        sched.validate().map_err(fail)?;
    }
    let child_id = tree::new_child_id();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env(CHILD_ENV, &child_id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, set by the child before it execs: a stop signals the group.
        .process_group(0);
    let parent = nix::unistd::getpid();
    let sched = spec.sched.map(|s| (s.policy.to_libc(), s.priority));
    let before_exec = move || {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
        // The agent may have died between fork and prctl: then the signal will never come.
        if nix::unistd::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        if let Some((policy, priority)) = sched {
            let param = libc::sched_param { sched_priority: priority };
            // SAFETY: a plain syscall on the calling process (pid 0) with a pointer to a local;
            // nix has no wrapper for sched_setscheduler.
            if unsafe { libc::sched_setscheduler(0, policy, &param) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: `before_exec` runs in the forked child before exec, where only async-signal-safe
    // calls are allowed: it makes three syscalls (prctl, getppid, sched_setscheduler), allocates
    // nothing, takes no lock, and touches only its captured plain values.
    unsafe {
        cmd.pre_exec(before_exec);
    }
    let mut child = spawn_on_forker(cmd).await.map_err(|e| {
        let with = spec.sched.map(|s| format!(" with {s}")).unwrap_or_default();
        fail(format!("starting {}{with}: {e}", spec.program.display()))
    })?;
    let raw_pid = child.id().ok_or_else(|| fail("exited before its pid was read".into()))?;
    let pid = Pid::from_raw(i32::try_from(raw_pid).map_err(|_| fail(format!("pid {raw_pid} out of range")))?);
    let guard = GroupGuard { pgid: Some(pid), child_id };
    let filter = || {
        OutputFilter::new(&spec.output, std::time::Instant::now()).unwrap_or_else(|e| {
            // The profile's settings were checked: not expected. Every line is logged.
            warn!(process = %name, error = %e, "output filter not applied");
            OutputFilter::everything()
        })
    };
    if let Some(out) = child.stdout.take() {
        let span = tracing::debug_span!("output", process = %name, stream = "stdout");
        tokio::spawn(tracing::Instrument::instrument(
            read_lines(out, name.clone(), Stream::Stdout, sink.clone(), filter()),
            span,
        ));
    }
    if let Some(err) = child.stderr.take() {
        let span = tracing::debug_span!("output", process = %name, stream = "stderr");
        tokio::spawn(tracing::Instrument::instrument(
            read_lines(err, name.clone(), Stream::Stderr, sink, filter()),
            span,
        ));
    }
    info!(process = %name, pid = pid.as_raw(), program = %spec.program.display(), "started");
    Ok(Running { name, child, pid, guard })
}

impl Running {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the child to exit by itself, then SIGKILLs whatever is left of its tree.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.reaped();
        self.guard.kill_now();
        status
    }

    /// Stops the child: SIGTERM to its group and to its descendants outside it, SIGKILL to all of
    /// them once `grace` has passed with any still there. Returns the leader's exit status.
    pub async fn terminate(mut self, grace: Duration) -> io::Result<ExitStatus> {
        let deadline = Instant::now() + grace;
        debug!(process = %self.name, pid = self.pid.as_raw(), "SIGTERM to the process group and its strays");
        signal_group(self.pid, Signal::SIGTERM);
        let strays = self.guard.strays();
        tree::signal_all(&strays, Signal::SIGTERM);
        let status = match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(status) => {
                // The leader is gone; give the rest of the tree the rest of the grace.
                let left = |strays: &[Stat]| group_exists(self.pid) || strays.iter().any(tree::alive);
                while left(&strays) && Instant::now() < deadline {
                    tokio::time::sleep(GROUP_POLL).await;
                }
                if left(&strays) {
                    warn!(process = %self.name, "the process tree outlived the grace period: SIGKILL");
                }
                status
            }
            Err(_) => {
                warn!(process = %self.name, pid = self.pid.as_raw(), ?grace, "still running after the grace period: SIGKILL");
                signal_group(self.pid, Signal::SIGKILL);
                self.child.wait().await
            }
        };
        self.reaped();
        self.guard.kill_now();
        status
    }

    /// tokio has reaped the child: it is no child of the agent's any more.
    fn reaped(&self) {
        reaper::spawned().remove(&self.pid.as_raw());
    }
}

/// Describes an exit for logs and status: `exit status: 1`, `signal: 9 (SIGKILL)`.
pub fn describe(status: &ExitStatus) -> String {
    match status.signal().and_then(|s| Signal::try_from(s).ok()) {
        Some(signal) => format!("killed by {signal}"),
        None => status.to_string(),
    }
}

/// SIGKILLs a child's tree (its process group, and the marked descendants outside it) when
/// dropped, unless it was cleaned up already.
#[derive(Debug)]
struct GroupGuard {
    pgid: Option<Pid>,
    /// The child's [`CHILD_ENV`] mark.
    child_id: String,
}

impl GroupGuard {
    /// SIGKILLs the tree's leftovers (its leader has been reaped) and disarms. The pgid cannot
    /// name another group while any member of this one lives; once it is empty the number could
    /// in theory be reused, which is why this runs right after the leader's exit.
    fn kill_now(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, Signal::SIGKILL);
            let strays = tree::marked(CHILD_ENV, &self.child_id);
            if !strays.is_empty() {
                debug!(pids = ?strays.iter().map(|s| s.pid).collect::<Vec<_>>(), "SIGKILL to the descendants outside the group");
                tree::signal_all(&strays, Signal::SIGKILL);
            }
        }
    }

    /// The child's marked descendants outside its process group.
    fn strays(&self) -> Vec<Stat> {
        match self.pgid {
            Some(pgid) => {
                let mut found = tree::marked(CHILD_ENV, &self.child_id);
                found.retain(|s| s.pgid != pgid.as_raw());
                found
            }
            None => Vec::new(),
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill_now();
    }
}

fn signal_group(pgid: Pid, signal: Signal) {
    match killpg(pgid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => warn!(pgid = pgid.as_raw(), %signal, error = %e, "signalling the process group failed"),
    }
}

/// Whether any process (zombies included) is left in the group.
fn group_exists(pgid: Pid) -> bool {
    killpg(pgid, None) != Err(Errno::ESRCH)
}

async fn read_lines(
    stream: impl AsyncRead + Unpin,
    process: Arc<str>,
    which: Stream,
    sink: Arc<dyn LineSink>,
    mut filter: OutputFilter,
) {
    let mut reader = BufReader::new(stream);
    let mut lines = LineAssembler::new(MAX_LINE_BYTES);
    let mut line = |bytes: &[u8], discarded: u64| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        if discarded > 0 {
            warn!(process = %process, stream = ?which, kept = bytes.len(), discarded, head = %text,
                "output line longer than {MAX_LINE_BYTES} bytes: its head is logged, the rest thrown away, nothing parsed");
            sink.discarded(&process, discarded);
            return;
        }
        let log = |text: &str| match which {
            Stream::Stdout => info!(target: OUTPUT_TARGET, process = %process, "{text}"),
            Stream::Stderr => info!(target: OUTPUT_TARGET, process = %process, stream = "stderr", "{text}"),
        };
        let output = filter.line(&text, std::time::Instant::now());
        if let Output::Summary(summary) | Output::SummaryThenLine(summary) = &output {
            log(&summary.line(unix_now()));
        }
        if output.prints_line() {
            log(&text);
        } else {
            sink.suppressed(&process);
        }
        sink.deliver(LogLine { process: process.clone(), stream: which, line: text });
    };
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) => {
                warn!(process = %process, stream = ?which, error = %e, "reading the output failed");
                break;
            }
        };
        lines.push(chunk, &mut line);
        let used = chunk.len();
        reader.consume(used);
    }
    lines.finish(&mut line);
}

/// The wall-clock time since the Unix epoch (0 before it), for summary lines.
fn unix_now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

type ForkJob = Box<dyn FnOnce() + Send>;

/// Forks `cmd` on the forker thread: one thread that lives as long as the agent, so that the
/// children's parent-death signal fires when the agent dies and only then.
async fn spawn_on_forker(mut cmd: Command) -> io::Result<Child> {
    static FORKER: OnceLock<std_mpsc::Sender<ForkJob>> = OnceLock::new();
    let forker = FORKER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel::<ForkJob>();
        let started = std::thread::Builder::new().name("ptp-forker".into()).spawn(move || {
            for job in rx {
                // A panicking job must not end the thread, and with it every child.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        });
        if let Err(e) = started {
            // The receiver is gone with the closure: every spawn fails with the error below.
            warn!(error = %e, "starting the forker thread failed");
        }
        tx
    });
    let runtime = tokio::runtime::Handle::current();
    let (reply, answer) = oneshot::channel();
    let job: ForkJob = Box::new(move || {
        // The child is registered with the caller's runtime (its reaper), forked from here.
        let _entered = runtime.enter();
        // Registered before the orphan reaper can look again: it must not reap this child.
        let mut spawned = reaper::spawned();
        let child = cmd.spawn();
        if let Some(pid) = child.as_ref().ok().and_then(Child::id) {
            spawned.insert(pid as i32);
        }
        drop(spawned);
        let _ = reply.send(child);
    });
    let unavailable = || io::Error::other("the forker thread is not running");
    forker.send(job).map_err(|_| unavailable())?;
    answer.await.map_err(|_| unavailable())?
}
