//! What /proc says about a process of a bench: memory, CPU time, and the running programs
//! whose command line holds given arguments.

pub use ptp_testkit::probe::status_kib;

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// utime + stime of `pid` (every thread, exited ones included) in seconds (tick-sampled).
#[allow(unsafe_code)] // a syscall without a safe wrapper: see the SAFETY comment
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start with field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a system constant; no pointers are involved.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    (field(14) + field(15)) as f64 / ticks
}

/// Time on CPU in seconds from the scheduler (precise, nanoseconds) of every live thread of `pid`.
pub fn sched_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    let mut ns = 0u64;
    for task in tasks.flatten() {
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += schedstat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    ns as f64 / 1e9
}

/// Both CPU clocks of a process, to take differences of.
#[derive(Clone, Copy)]
pub struct Cpu {
    pub stat: f64,
    pub sched: f64,
}

impl Cpu {
    pub fn of(pid: u32) -> Self {
        Cpu { stat: cpu_seconds(pid), sched: sched_seconds(pid) }
    }

    /// Seconds spent since `earlier`: the larger of the two clocks (the stat ticks include
    /// threads that exited, the scheduler's time is precise).
    pub fn since(&self, earlier: &Cpu) -> f64 {
        (self.stat - earlier.stat).max(self.sched - earlier.sched)
    }
}

/// How many processes named `comm` run whose arguments include `within` (a substring of one
/// argument) and the consecutive arguments `args`.
pub fn running_with(comm: &str, within: &str, args: &[&str]) -> usize {
    let mut found = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(c) = std::fs::read_to_string(entry.path().join("comm")) else { continue };
        if c.trim_end() != comm {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let argv: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if argv.iter().any(|a| a.contains(within)) && argv.windows(args.len()).any(|w| w == args) {
            found += 1;
        }
    }
    found
}
