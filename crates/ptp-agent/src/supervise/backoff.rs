//! The restart decision, pure: how long to wait before starting a process again after it exited,
//! from how long it ran, and how many restarts there have been.

use std::time::Duration;

/// When to restart a process that exited: after `initial`, doubling on every quick exit up to
/// `max`; a run of at least `healthy_after` counts as health and resets the delay to `initial`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    /// 1 s doubling to 60 s, reset after 60 s of health.
    fn default() -> Self {
        RestartPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
        }
    }
}

/// The state of one supervised process's restarts: the delay the next quick exit gets, and the
/// number of restarts so far (never reset: it is a counter for metrics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartState {
    policy: RestartPolicy,
    next: Duration,
    starts: u64,
}

impl RestartState {
    pub fn new(policy: RestartPolicy) -> Self {
        RestartState { policy, next: policy.initial.min(policy.max), starts: 0 }
    }

    /// A start (spawn attempt) is being made; every start after the first is a restart.
    pub fn on_start(&mut self) {
        self.starts = self.starts.saturating_add(1);
    }

    /// The process exited (or failed to start) after running for `ran_for`: the delay before the
    /// next start. A healthy run resets the sequence first, so its exit waits `initial`.
    pub fn on_exit(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.policy.healthy_after {
            self.next = self.policy.initial.min(self.policy.max);
        }
        let delay = self.next;
        self.next = delay.checked_mul(2).unwrap_or(self.policy.max).min(self.policy.max);
        delay
    }

    /// Restarts so far: starts after the first.
    pub fn restarts(&self) -> u64 {
        self.starts.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Duration = Duration::from_millis(10);

    fn secs(d: Duration) -> u64 {
        d.as_secs()
    }

    #[test]
    fn quick_exits_double_from_one_second_to_the_sixty_second_cap() {
        let mut s = RestartState::new(RestartPolicy::default());
        let delays: Vec<u64> = (0..9).map(|_| secs(s.on_exit(QUICK))).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn a_healthy_run_resets_the_delay_and_a_shorter_one_does_not() {
        let policy = RestartPolicy::default();
        let mut s = RestartState::new(policy);
        for _ in 0..4 {
            s.on_exit(QUICK);
        }
        // Just short of healthy: the sequence goes on.
        assert_eq!(s.on_exit(policy.healthy_after - Duration::from_millis(1)), Duration::from_secs(16));
        // Exactly healthy: back to the start, and the next quick exit doubles from there.
        assert_eq!(s.on_exit(policy.healthy_after), Duration::from_secs(1));
        assert_eq!(s.on_exit(QUICK), Duration::from_secs(2));
        // Long after the cap was reached.
        for _ in 0..20 {
            s.on_exit(QUICK);
        }
        assert_eq!(s.on_exit(Duration::from_secs(3600)), Duration::from_secs(1));
    }

    #[test]
    fn every_run_length_gives_initial_after_health_and_doubling_otherwise() {
        // Exhaustive over run lengths 0..=120 s and a few positions in the sequence.
        let policy = RestartPolicy::default();
        for position in 0..10u32 {
            for ran in 0..=120u64 {
                let mut s = RestartState::new(policy);
                for _ in 0..position {
                    s.on_exit(QUICK);
                }
                let expected = if ran >= 60 { 1 } else { 2u64.pow(position).min(60) };
                assert_eq!(secs(s.on_exit(Duration::from_secs(ran))), expected, "position {position}, ran {ran} s");
            }
        }
    }

    #[test]
    fn restarts_count_starts_after_the_first_and_survive_resets() {
        let mut s = RestartState::new(RestartPolicy::default());
        assert_eq!(s.restarts(), 0);
        s.on_start();
        assert_eq!(s.restarts(), 0, "the first start is no restart");
        for n in 1..=5 {
            s.on_exit(Duration::from_secs(3600));
            s.on_start();
            assert_eq!(s.restarts(), n);
        }
    }

    #[test]
    fn odd_policies_neither_panic_nor_exceed_the_cap() {
        // initial above max: clamped to max.
        let mut s = RestartState::new(RestartPolicy {
            initial: Duration::from_secs(100),
            max: Duration::from_secs(5),
            healthy_after: Duration::from_secs(1),
        });
        assert_eq!(s.on_exit(QUICK), Duration::from_secs(5));
        assert_eq!(s.on_exit(Duration::from_secs(2)), Duration::from_secs(5));
        // Doubling that would overflow Duration saturates at max.
        let mut s = RestartState::new(RestartPolicy {
            initial: Duration::MAX / 2 + Duration::from_secs(1),
            max: Duration::MAX,
            healthy_after: Duration::MAX,
        });
        s.on_exit(QUICK);
        assert_eq!(s.on_exit(QUICK), Duration::MAX);
        // Zero initial delay stays zero (the test policies use milliseconds instead).
        let mut s = RestartState::new(RestartPolicy { initial: Duration::ZERO, ..RestartPolicy::default() });
        assert_eq!([s.on_exit(QUICK), s.on_exit(QUICK)], [Duration::ZERO; 2]);
    }
}
