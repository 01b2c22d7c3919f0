//! Prometheus metrics: runs by result, run duration, events fetched, DocSpace requests by
//! status and the next scheduled run per report.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a run outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or the failure reason.
    pub result: String,
}

/// Labels of a DocSpace response.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// HTTP status, or 0 when no answer came.
    pub status: String,
}

/// Labels naming a report.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReportLabels {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    /// Runs by result.
    pub runs: Family<ResultLabels, Counter>,
    /// Run durations in seconds.
    pub run_duration: Histogram,
    /// Events fetched from DocSpace.
    pub events_fetched: Counter,
    /// DocSpace answers by status.
    pub docspace_requests: Family<StatusLabels, Counter>,
    /// Next scheduled run per report, as a Unix timestamp.
    pub next_run: Family<ReportLabels, Gauge<i64, AtomicI64>>,
    /// 1 while this replica holds the leader Lease (and runs reports), else 0.
    pub leader: Gauge<i64, AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("docspace_compliance");
        let runs = Family::<ResultLabels, Counter>::default();
        let run_duration = Histogram::new(exponential_buckets(0.1, 2.0, 14));
        let events_fetched = Counter::default();
        let docspace_requests = Family::<StatusLabels, Counter>::default();
        let next_run = Family::<ReportLabels, Gauge<i64, AtomicI64>>::default();
        registry.register("runs", "Report runs by result", runs.clone());
        registry.register(
            "run_duration_seconds",
            "Duration of report runs",
            run_duration.clone(),
        );
        registry.register(
            "events_fetched",
            "Audit and login events fetched from DocSpace",
            events_fetched.clone(),
        );
        registry.register(
            "docspace_requests",
            "DocSpace answers by HTTP status (0: no answer)",
            docspace_requests.clone(),
        );
        registry.register(
            "next_run_timestamp_seconds",
            "Next scheduled run of each report (Unix time)",
            next_run.clone(),
        );
        let leader = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and runs reports",
            leader.clone(),
        );
        Self {
            registry,
            leader,
            runs,
            run_duration,
            events_fetched,
            docspace_requests,
            next_run,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
