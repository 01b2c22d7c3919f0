//! What every reconcile shares: the Kubernetes client, the event recorder, the clock, metrics,
//! the bound on simultaneous runs and the per-resource error backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::Recorder;
use tokio::sync::Semaphore;

use super::clock::Clock;
use super::metrics::{Metrics, StatusLabels};
use crate::docspace::ResponseObserver;

/// Per-resource exponential backoff after failed reconciles.
#[derive(Debug)]
pub struct ErrorBackoff {
    base: Duration,
    cap: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl ErrorBackoff {
    /// Backoff starting at `base`, doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key` and returns how long to wait before the next attempt.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.to_owned()).or_insert(0);
        let delay = self
            .base
            .saturating_mul(2u32.saturating_pow(*count))
            .min(self.cap);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key`.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Shared state of the reconciler.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Publishes Kubernetes Events.
    pub recorder: Recorder,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Bounds simultaneous report runs.
    pub runs: Semaphore,
    /// Backoff after failures.
    pub backoff: ErrorBackoff,
    /// Portals resources may name.
    pub allowed_portals: super::allowed::AllowedPortals,
}

/// Counts DocSpace answers into the metrics.
#[derive(Debug)]
pub struct MetricsObserver(pub Arc<Metrics>);

impl ResponseObserver for MetricsObserver {
    fn observed(&self, _: &'static str, status: u16) {
        self.0
            .docspace_requests
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let b = ErrorBackoff::new(Duration::from_secs(5), Duration::from_secs(30));
        let delays: Vec<u64> = (0..5).map(|_| b.failed("a").as_secs()).collect();
        assert_eq!(delays, vec![5, 10, 20, 30, 30]);
        assert_eq!(b.failed("b").as_secs(), 5, "per resource");
        b.succeeded("a");
        assert_eq!(b.failed("a").as_secs(), 5);
    }
}
