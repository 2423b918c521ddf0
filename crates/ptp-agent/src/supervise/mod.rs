//! Supervision of the linuxptp processes (ptp4l, phc2sys, ts2phc): each child in its own process
//! group with a parent-death SIGKILL, its output read line by line into a [`LineSink`] and the
//! log, restarted with exponential backoff when it exits ([`backoff`], pure), stopped with
//! SIGTERM then SIGKILL after a grace period. Output lines are capped ([`lines`]); a child's
//! descendants outside its process group are found by a mark in their environment ([`tree`]);
//! the agent adopts and reaps orphans as a child subreaper ([`reaper`]); one agent runs per run
//! directory and cleans up what a previous one left ([`rundir`]).
//!
//! On SIGTERM the agent stops every child at once ([`Supervisor::stop_all`] after
//! [`terminated`]), well within 10 s with the default 5 s grace.

pub mod backoff;
pub mod child;
pub mod lines;
pub mod output_filter;
pub mod reaper;
pub mod rundir;
pub mod spec;
pub mod supervisor;
pub mod tree;

pub use backoff::{RestartPolicy, RestartState};
pub use child::{Discard, LineSink, LogLine, Stream};
pub use output_filter::{OutputConfig, OutputFilter};
pub use spec::{ProcessSpec, SchedPolicy, Scheduling};
pub use supervisor::{ChildSnapshot, ChildStatus, Gate, State, Supervisor, SupervisorSettings};

pub use ptp_serve::terminated;
