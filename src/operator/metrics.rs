//! Prometheus metrics: runs by result, run duration, events fetched, DocSpace requests by
//! status, and per report its next scheduled run, last success, last failure, last run's
//! duration and schedule interval (removed when the report is deleted).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64};

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
    /// When each report's last successful run ended, as a Unix timestamp.
    pub last_success: Family<ReportLabels, Gauge<i64, AtomicI64>>,
    /// When each report's last failed run ended, as a Unix timestamp.
    pub last_failure: Family<ReportLabels, Gauge<i64, AtomicI64>>,
    /// How long each report's last run took, in seconds.
    pub last_duration: Family<ReportLabels, Gauge<f64, AtomicU64>>,
    /// Seconds between each report's scheduled instants (around the next one).
    pub schedule_interval: Family<ReportLabels, Gauge<i64, AtomicI64>>,
    /// The reports that have series, so that deleted ones can be found.
    reports: Mutex<HashSet<ReportLabels>>,
}

/// What a report's series show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportSeries {
    /// The next scheduled instant (Unix time).
    pub next_run: Option<i64>,
    /// The last success (Unix time).
    pub last_success: Option<i64>,
    /// The last failure (Unix time).
    pub last_failure: Option<i64>,
    /// The last run's duration in seconds.
    pub last_duration: Option<f64>,
    /// Seconds between scheduled instants.
    pub schedule_interval: Option<i64>,
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
        let last_success = Family::<ReportLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "report_last_success_timestamp_seconds",
            "When each report's last successful run ended (Unix time)",
            last_success.clone(),
        );
        let last_failure = Family::<ReportLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "report_last_failure_timestamp_seconds",
            "When each report's last failed run ended (Unix time)",
            last_failure.clone(),
        );
        let last_duration = Family::<ReportLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "report_run_duration_seconds",
            "How long each report's last run took",
            last_duration.clone(),
        );
        let schedule_interval = Family::<ReportLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "report_schedule_interval_seconds",
            "Seconds between each report's scheduled runs",
            schedule_interval.clone(),
        );
        Self {
            registry,
            leader,
            last_success,
            last_failure,
            last_duration,
            schedule_interval,
            reports: Mutex::default(),
            runs,
            run_duration,
            events_fetched,
            docspace_requests,
            next_run,
        }
    }
}

impl Metrics {
    /// Sets the series of one report to `series`; absent values remove their series.
    pub fn show_report(&self, labels: &ReportLabels, series: &ReportSeries) {
        fn set<N, A>(
            family: &Family<ReportLabels, Gauge<N, A>>,
            labels: &ReportLabels,
            value: Option<N>,
        ) where
            Gauge<N, A>: Default,
            A: prometheus_client::metrics::gauge::Atomic<N>,
        {
            match value {
                Some(value) => {
                    family.get_or_create(labels).set(value);
                }
                None => {
                    family.remove(labels);
                }
            }
        }
        set(&self.next_run, labels, series.next_run);
        set(&self.last_success, labels, series.last_success);
        set(&self.last_failure, labels, series.last_failure);
        set(&self.last_duration, labels, series.last_duration);
        set(&self.schedule_interval, labels, series.schedule_interval);
        if let Ok(mut reports) = self.reports.lock() {
            reports.insert(labels.clone());
        }
    }

    /// Removes the series of every report `keep` rejects (deleted reports).
    pub fn forget_reports(&self, keep: impl Fn(&ReportLabels) -> bool) {
        let gone: Vec<ReportLabels> = match self.reports.lock() {
            Ok(mut reports) => {
                let gone = reports.iter().filter(|l| !keep(l)).cloned().collect();
                reports.retain(|l| keep(l));
                gone
            }
            Err(_) => return,
        };
        for labels in &gone {
            self.next_run.remove(labels);
            self.last_success.remove(labels);
            self.last_failure.remove(labels);
            self.last_duration.remove(labels);
            self.schedule_interval.remove(labels);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> ReportLabels {
        ReportLabels {
            namespace: "team".into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_reports_series_follow_its_status_and_go_with_it() {
        let metrics = Metrics::default();
        let series = ReportSeries {
            next_run: Some(1_700_003_600),
            last_success: Some(1_700_000_000),
            last_failure: None,
            last_duration: Some(2.5),
            schedule_interval: Some(3600),
        };
        metrics.show_report(&labels("a"), &series);
        metrics.show_report(&labels("b"), &series);
        let text = metrics.render().unwrap();
        assert!(
            text.contains(
                "docspace_compliance_report_last_success_timestamp_seconds{namespace=\"team\",name=\"a\"} 1700000000"
            ),
            "{text}"
        );
        assert!(text.contains(
            "docspace_compliance_report_run_duration_seconds{namespace=\"team\",name=\"a\"} 2.5"
        ));
        assert!(!text.contains("report_last_failure_timestamp_seconds{"));
        metrics.forget_reports(|l| l.name == "b");
        let text = metrics.render().unwrap();
        assert!(!text.contains("name=\"a\""), "{text}");
        assert!(text.contains(
            "docspace_compliance_report_schedule_interval_seconds{namespace=\"team\",name=\"b\"} 3600"
        ));
    }
}
