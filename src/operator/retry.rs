//! When to try again after a failure: per-report exponential backoff with jitter, and the
//! inputs a failed run saw, so that a change to the spec or a Secret retries at once while an
//! unrelated wake-up waits for the backoff.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Exponential backoff: `base` for the first failure, doubling up to `cap`, each delay
/// spread by ±10 % so that reports failing together do not retry together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// Backoff starting at `base`, doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
        }
    }

    /// The delay after `failures` consecutive failures (1 for the first), before jitter.
    pub fn nominal(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.cap)
    }

    /// The delay after `failures` consecutive failures, jittered by ±10 %.
    pub fn delay(&self, failures: u32) -> Duration {
        self.nominal(failures)
            .mul_f64(0.9 + fastrand::f64() * 0.2)
            .max(Duration::from_secs(1))
    }
}

/// Consecutive failed reconciles per report (Kubernetes API errors, not run failures, which
/// count in the report's status).
#[derive(Debug)]
pub struct ReconcileFailures {
    backoff: Backoff,
    failures: Mutex<HashMap<String, u32>>,
}

impl ReconcileFailures {
    /// Counts failures and spaces them by `backoff`.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key`; returns how long to wait before the next attempt.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        self.backoff.delay(*count)
    }

    /// Forgets the failures of `key`.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// The inputs (spec generation, Secret versions) each report's last failed run saw. A pending
/// retry starts early only when they changed: the user fixed something.
#[derive(Debug, Default)]
pub struct FailedInputs(Mutex<HashMap<String, String>>);

impl FailedInputs {
    /// Remembers what the failed run of `key` saw.
    pub fn remember(&self, key: &str, inputs: String) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), inputs);
    }

    /// Forgets `key` (its run succeeded, or it was skipped).
    pub fn forget(&self, key: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Whether `inputs` differ from what the failed run of `key` saw. Unknown after a restart:
    /// then the retry waits for its time.
    pub fn changed(&self, key: &str, inputs: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .is_some_and(|seen| seen != inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_bounded_jitter() {
        let backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(900));
        let nominal: Vec<u64> = (1..=9).map(|n| backoff.nominal(n).as_secs()).collect();
        assert_eq!(nominal, [10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(backoff.nominal(u32::MAX).as_secs(), 900);
        let delays: Vec<Duration> = (0..200).map(|_| backoff.delay(1)).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_secs(9) && *d <= Duration::from_secs(11))
        );
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "the delays are spread"
        );
    }

    #[test]
    fn reconcile_failures_count_per_report_and_reset() {
        let failures = ReconcileFailures::new(Backoff::new(
            Duration::from_secs(5),
            Duration::from_secs(30),
        ));
        let delays: Vec<u64> = (0..5)
            .map(|_| failures.failed("a").as_secs_f64().round() as u64)
            .collect();
        for (delay, nominal) in delays.iter().zip([5, 10, 20, 30, 30]) {
            assert!(delay.abs_diff(nominal) <= nominal / 10 + 1, "{delays:?}");
        }
        assert!(failures.failed("b").as_secs() <= 6, "per report");
        failures.succeeded("a");
        assert!(failures.failed("a").as_secs() <= 6);
    }

    #[test]
    fn failed_inputs_tell_a_fix_from_a_wake_up() {
        let inputs = FailedInputs::default();
        assert!(!inputs.changed("a", "gen=1"), "unknown: wait");
        inputs.remember("a", "gen=1".to_owned());
        assert!(!inputs.changed("a", "gen=1"));
        assert!(inputs.changed("a", "gen=2"));
        inputs.forget("a");
        assert!(!inputs.changed("a", "gen=2"));
    }
}
