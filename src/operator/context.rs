//! What every reconcile shares: the Kubernetes client, the event reporter, the clock, metrics,
//! the bound on simultaneous runs, the retry policy and the Secrets' metadata.

use std::sync::Arc;

use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, Recorder, Reporter};
use tokio::sync::Semaphore;

use super::clock::Clock;
use super::metrics::{Metrics, StatusLabels};
use super::retry::{Backoff, FailedInputs, ReconcileFailures};
use super::watch::SecretIndex;
use crate::docspace::ResponseObserver;

/// Shared state of the reconciler.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Publishes Kubernetes Events.
    pub reporter: Reporter,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Bounds simultaneous report runs.
    pub runs: Semaphore,
    /// The longest a run may fetch and render.
    pub run_timeout: std::time::Duration,
    /// Delays between attempts at a failed run.
    pub backoff: Backoff,
    /// Consecutive failed reconciles (Kubernetes API errors) per report.
    pub reconcile_failures: ReconcileFailures,
    /// What each report's last failed run saw.
    pub failed_inputs: FailedInputs,
    /// The Secrets' metadata.
    pub secrets: SecretIndex,
    /// Portals resources may name.
    pub allowed_portals: super::allowed::AllowedPortals,
    /// One request limiter per portal, shared by every run against it.
    pub limiters: Arc<crate::docspace::PortalLimiters>,
}

impl Context {
    /// Publishes `event` about `report` as a new Event. (kube's `Recorder` folds every later
    /// event of the same reason into the first one's series and keeps the first note, which
    /// would show the first retry's delay for every retry; so each publish gets a fresh one.)
    pub async fn publish(
        &self,
        event: &Event,
        report: &crate::spec::ComplianceReport,
    ) -> Result<(), kube::Error> {
        let event = Event {
            type_: event.type_,
            reason: event.reason.clone(),
            note: event.note.as_deref().map(crate::text::safe_message),
            action: event.action.clone(),
            secondary: event.secondary.clone(),
        };
        Recorder::new(self.client.clone(), self.reporter.clone())
            .publish(&event, &report.object_ref(&()))
            .await
    }
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
