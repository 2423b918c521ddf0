//! Latency summaries the benches print.

use std::time::Duration;

pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Median, p99 and max of `times` (not empty).
pub fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats { median: at(0.5), p99: at(0.99), max: at(1.0) }
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
