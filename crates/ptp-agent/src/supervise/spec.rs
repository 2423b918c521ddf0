//! What to run: plain data, produced from the node's profiles.

use std::path::PathBuf;

use super::output_filter::OutputConfig;

/// One process to run and keep running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Name in logs and on every output line (`ptp4l`, or `ptp4l.0.config` to tell profiles apart).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Real-time scheduling of the process; `None` inherits the agent's (normally SCHED_OTHER).
    pub sched: Option<Scheduling>,
    /// Variables added to the agent's environment.
    pub env: Vec<(String, String)>,
    /// Which of its output lines reach the agent's log (`logReduce`, `stdoutFilter`); the
    /// parser gets every line whatever this says.
    pub output: OutputConfig,
}

impl ProcessSpec {
    /// A spec with no scheduling, no extra environment, and every output line logged.
    pub fn new(
        name: impl Into<String>,
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ProcessSpec {
            name: name.into(),
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            sched: None,
            env: Vec::new(),
            output: OutputConfig::default(),
        }
    }
}

/// A real-time scheduling policy with its priority (`ptpSchedulingPolicy`, `ptpSchedulingPriority`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheduling {
    pub policy: SchedPolicy,
    /// 1..=99 for the real-time policies.
    pub priority: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedPolicy {
    /// `SCHED_FIFO`.
    Fifo,
}

impl SchedPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SchedPolicy::Fifo => "SCHED_FIFO",
        }
    }

    /// The kernel's constant.
    pub(crate) fn to_libc(self) -> libc::c_int {
        match self {
            SchedPolicy::Fifo => libc::SCHED_FIFO,
        }
    }
}

impl Scheduling {
    /// SCHED_FIFO at `priority`.
    pub fn fifo(priority: i32) -> Self {
        Scheduling { policy: SchedPolicy::Fifo, priority }
    }

    /// Checks the priority against the kernel's range, so that a bad profile gets a clear error
    /// rather than the bare `EINVAL` the child would report.
    pub fn validate(&self) -> Result<(), String> {
        if (1..=99).contains(&self.priority) {
            Ok(())
        } else {
            Err(format!("{} priority {} is outside 1..=99", self.policy.as_str(), self.priority))
        }
    }
}

impl std::fmt::Display for Scheduling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} priority {}", self.policy.as_str(), self.priority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_outside_the_real_time_range_are_refused() {
        for p in [i32::MIN, -1, 0, 100, i32::MAX] {
            let e = Scheduling::fifo(p).validate().unwrap_err();
            assert!(e.contains("SCHED_FIFO") && e.contains(&p.to_string()), "{e}");
        }
        for p in [1, 10, 65, 99] {
            assert_eq!(Scheduling::fifo(p).validate(), Ok(()));
        }
        assert_eq!(Scheduling::fifo(10).to_string(), "SCHED_FIFO priority 10");
    }
}
