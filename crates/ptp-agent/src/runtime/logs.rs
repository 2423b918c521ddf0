//! The children's output on its way to the line observer: a bounded queue ([`LINE_QUEUE`]; a
//! consumer that falls behind drops lines, counted, rather than growing the agent) and the task
//! that consumes it ([`consume`]).
//!
//! The clocks' time-based transitions (samples gone stale, holdover over) are handled by the same
//! task, at their deadline, which each line moves on: while lines arrive the timer never fires,
//! and the lines are the only wakeups of an idle agent.

use std::time::Instant;

use tokio::sync::mpsc;
use tracing::debug;

use crate::metrics::{OutputCounters, REASON_BACKLOG};
use crate::supervise::{LineSink, LogLine};

/// Lines waiting for the consumer, at most (each at most the line cap, 4 KiB).
pub const LINE_QUEUE: usize = 1024;

/// Where the children's output goes: the bounded line queue, and the output counters.
pub(super) struct QueueSink {
    lines: mpsc::Sender<LogLine>,
    output: OutputCounters,
}

impl QueueSink {
    pub(super) fn new(lines: mpsc::Sender<LogLine>, output: OutputCounters) -> Self {
        QueueSink { lines, output }
    }
}

impl LineSink for QueueSink {
    fn deliver(&self, line: LogLine) {
        if let Err(mpsc::error::TrySendError::Full(line)) = self.lines.try_send(line) {
            debug!(process = %line.process, "output line dropped: the consumer is behind");
            self.output.ignored(REASON_BACKLOG);
        }
    }

    fn discarded(&self, process: &str, bytes: u64) {
        self.output.discarded(process, bytes);
    }

    fn suppressed(&self, process: &str) {
        self.output.suppressed(process);
    }
}

/// What the consumer hands to its handler.
pub enum Work {
    /// A line, and when it was taken from the queue.
    Line(LogLine, Instant),
    /// The deadline the handler last returned passed without a line.
    Time(Instant),
}

/// Hands each line, and each deadline that passes without one, to `handle`, which returns the
/// next deadline (`None`: none). Ends when every sender is gone.
pub async fn consume(mut lines: mpsc::Receiver<LogLine>, mut handle: impl FnMut(Work) -> Option<Instant>) {
    let mut deadline = None;
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(tokio::time::Instant::from_std(at), lines.recv()).await {
                Ok(line) => line,
                Err(_) => {
                    deadline = handle(Work::Time(Instant::now()));
                    continue;
                }
            },
            None => lines.recv().await,
        };
        let Some(line) = next else { break };
        deadline = handle(Work::Line(line, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::supervise::Stream;

    fn line(text: &str) -> LogLine {
        LogLine { process: "ptp4l".into(), stream: Stream::Stdout, line: text.into() }
    }

    /// Lines in order, then the deadline the handler asked for, once; none after `None`.
    #[tokio::test(start_paused = true)]
    async fn lines_then_the_deadline_the_handler_asked_for() {
        let (tx, rx) = mpsc::channel(4);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let start = Instant::now();
        let consumer = tokio::spawn(consume(rx, move |work| {
            let mut log = log.lock().unwrap();
            match work {
                Work::Line(l, _) => {
                    log.push(l.line);
                    Some(Instant::now() + Duration::from_secs(3))
                }
                Work::Time(_) => {
                    log.push("time".into());
                    None
                }
            }
        }));
        tx.send(line("a")).await.unwrap();
        tx.send(line("b")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(*seen.lock().unwrap(), ["a", "b", "time"], "one deadline after the last line, then none");
        assert!(start.elapsed() < Duration::from_secs(10), "paused clock: no real time passes");
        drop(tx);
        consumer.await.unwrap();
    }
}
