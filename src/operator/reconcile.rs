//! The reconciler. Each pass looks at the report as it is now (spec, allow-list, Secrets,
//! schedule, pending retry), recomputes its conditions, and runs the report when a scheduled
//! instant is due. A failed run is retried with per-report backoff; a change to the spec or to
//! one of its Secrets retries at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, ResourceExt};

use super::conditions::{
    self, Blocked, LastRun, Observation, PendingRetry, READY, ReadyReason, desired_conditions,
};
use super::context::{Context, MetricsObserver};
use super::decide::{Decision, SkipReason, Skipped, decide};
use super::gaps::{self, Following};
use super::metrics::{ReportLabels, ReportSeries, ResultLabels};
use super::run_request::{self, RUN_REQUESTED_AT};
use super::secret::SecretKeys;
use super::status;
use crate::cycle::keys::{self, KeyError};
use crate::cycle::{CycleOutcome, CycleRequest, NoProgress, ResourceRef, execute};
use crate::report::PreviousTotals;
use crate::schedule::Schedule;
use crate::spec::{
    ComplianceReport, ComplianceReportStatus, GAPS_LIMIT, Gap, HISTORY_LIMIT, PeriodStatus,
    RunRecord, UploadStatus, ValidatedSpec, validate,
};

/// Why a reconcile failed; the controller retries it with per-report backoff. (A failed
/// report run is not a failed reconcile: its retry is part of the report's status.)
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The operator is shutting down.
    #[error("the operator is shutting down")]
    ShuttingDown,
}

/// A pending retry wakes this much early at most without running yet: timers and clocks
/// may disagree by a little.
const RETRY_SLACK: TimeDelta = TimeDelta::seconds(1);

fn creation_time(report: &ComplianceReport) -> Option<DateTime<Utc>> {
    let t = report.metadata.creation_timestamp.as_ref()?;
    DateTime::from_timestamp(
        t.0.as_second(),
        u32::try_from(t.0.subsec_nanosecond()).unwrap_or(0),
    )
}

fn requeue_until(next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Action {
    match next {
        Some(next) => requeue_at(next, now),
        None => Action::await_change(),
    }
}

fn requeue_at(at: DateTime<Utc>, now: DateTime<Utc>) -> Action {
    Action::requeue(
        (at - now)
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(1)),
    )
}

fn key(report: &ComplianceReport) -> String {
    format!(
        "{}/{}",
        report.namespace().unwrap_or_default(),
        report.name_any()
    )
}

/// How the last run ended, from the status (older statuses only tell of a success).
fn last_run(status: &ComplianceReportStatus) -> Option<LastRun> {
    match (&status.last_run_result, &status.last_run_message) {
        (Some(result), message) => Some(LastRun {
            reason: ReadyReason::of_failure(result),
            message: message.clone().unwrap_or_default(),
        }),
        (None, _) => status.last_successful_time.map(|_| LastRun {
            reason: ReadyReason::Succeeded,
            message: conditions::find(&status.conditions, READY)
                .map(|c| c.message.clone())
                .unwrap_or_else(|| "the last run succeeded".to_owned()),
        }),
    }
}

/// Reconciles one `ComplianceReport`, in a `reconcile` span with its `namespace` and its name
/// as `report` (the run it starts logs in a `cycle` span inside it).
#[tracing::instrument(
    name = "reconcile",
    skip_all,
    fields(namespace = %report.namespace().unwrap_or_default(), report = %report.name_any())
)]
pub async fn reconcile(
    report: Arc<ComplianceReport>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    // The status as the API server has it now: the cache may trail our own last write (a run
    // that just ended), and a pass working from an older one would write it back, or run an
    // instant (or a run request) that was already handled. Nothing later reads it again.
    let api: Api<ComplianceReport> =
        Api::namespaced(ctx.client.clone(), &report.namespace().unwrap_or_default());
    let fresh = api.get_status(&report.name_any()).await?;
    let report = ComplianceReport {
        status: fresh.status,
        ..(*report).clone()
    };
    let mut pass = Pass::new(&report, &ctx);
    let action = pass.reconcile().await?;
    ctx.reconcile_failures.succeeded(&pass.key);
    Ok(action)
}

/// After a failed reconcile (the Kubernetes API failed): back off per report.
pub fn error_policy(
    report: Arc<ComplianceReport>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let delay = ctx.reconcile_failures.failed(&key(&report));
    tracing::warn!(report = %key(&report), error = %error, retry_in_s = delay.as_secs(), "reconcile failed");
    Action::requeue(delay)
}

/// Why a run happens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Trigger {
    /// Its scheduled instant came.
    Schedule,
    /// A missed instant; `remaining` more run after it.
    Backfill {
        /// Missed instants still to run after this one.
        remaining: usize,
    },
    /// The run-requested-at annotation asked to run again an instant the schedule had
    /// already handled; the schedule's own bookkeeping (retries, the next instant) stays as
    /// it was.
    Requested {
        /// The annotation's value.
        token: String,
    },
}

impl Trigger {
    /// The word in `status.history`.
    fn label(&self) -> &'static str {
        match self {
            Self::Schedule => "Schedule",
            Self::Backfill { .. } => "Backfill",
            Self::Requested { .. } => "RunRequested",
        }
    }

    fn is_rerun(&self) -> bool {
        matches!(self, Self::Requested { .. })
    }
}

/// A run about to be made.
#[derive(Debug, Clone)]
struct Planned {
    /// The scheduled instant it reports on.
    scheduled: DateTime<Utc>,
    /// Why it runs.
    trigger: Trigger,
    /// Where a `SinceLastRun` period starts: the previous run's instant, or the start of the
    /// instants skipped before this one (so that their time is covered).
    period_start: Option<DateTime<Utc>>,
}

/// One reconcile of one report.
struct Pass<'a> {
    report: &'a ComplianceReport,
    ctx: &'a Context,
    api: Api<ComplianceReport>,
    key: String,
    labels: ReportLabels,
    now: DateTime<Utc>,
    /// The status being built; written by `settle`.
    status: ComplianceReportStatus,
    /// A due run waits until then for late writes.
    settling_until: Option<DateTime<Utc>>,
    /// The report's schedule, once the spec validated.
    schedule: Option<Schedule>,
    /// A run request names this instant, which the schedule must skip first (it is past its
    /// starting deadline and not handled yet): once it has, the next pass comes at once.
    request_after_skip: Option<DateTime<Utc>>,
}

impl<'a> Pass<'a> {
    fn new(report: &'a ComplianceReport, ctx: &'a Context) -> Self {
        let namespace = report.namespace().unwrap_or_default();
        let mut status = report.status.clone().unwrap_or_default();
        status.observed_generation = report.metadata.generation;
        Self {
            report,
            ctx,
            api: Api::namespaced(ctx.client.clone(), &namespace),
            key: key(report),
            labels: ReportLabels {
                namespace,
                name: report.name_any(),
            },
            now: ctx.clock.now(),
            status,
            settling_until: None,
            schedule: None,
            request_after_skip: None,
        }
    }

    async fn reconcile(&mut self) -> Result<Action, ReconcileError> {
        let validated = match self.check() {
            Ok(validated) => validated,
            Err(blocked) => return self.block(blocked).await,
        };
        self.schedule = Some(validated.schedule.clone());
        self.warn_deprecated(&validated).await;
        if let Some(request) = run_request::pending(self.report, &self.status)
            && let Some(action) = self.requested(&validated, request).await?
        {
            return Ok(action);
        }
        if self.report.spec.suspend {
            return self.wait(None).await;
        }
        match decide(
            &validated.schedule,
            self.since(),
            self.now,
            self.report.spec.starting_deadline_seconds,
            self.report.spec.missed_runs,
        ) {
            Decision::Wait { next } => self.wait(next).await,
            Decision::DeadlinePassed { skipped, next } => {
                self.skip(&validated, skipped, next).await
            }
            Decision::Run {
                scheduled,
                skipped,
                backlog,
            } => {
                let planned = self.plan(&validated, scheduled, &skipped, backlog);
                self.due(validated, planned, skipped).await
            }
        }
    }

    /// Nothing runs now: records the next instant (none while suspended) and sleeps until it.
    async fn wait(&mut self, next: Option<DateTime<Utc>>) -> Result<Action, ReconcileError> {
        self.status.next_schedule_time = next;
        self.settle(None, None).await?;
        Ok(self.wake(next))
    }

    /// The run of the due instant `scheduled`, `backlog` missed instants before the newest.
    fn plan(
        &self,
        validated: &ValidatedSpec,
        scheduled: DateTime<Utc>,
        skipped: &Skipped,
        backlog: usize,
    ) -> Planned {
        let period_start = self.status.last_schedule_time.or_else(|| {
            let (first, _) = skipped.instants.first()?;
            validated.schedule.latest_before(*first)
        });
        let trigger = match backlog {
            0 => Trigger::Schedule,
            remaining => Trigger::Backfill { remaining },
        };
        Planned {
            scheduled,
            trigger,
            period_start,
        }
    }

    /// The last scheduled instant handled, else the resource's creation: schedules at or
    /// before it never run again on their own.
    fn since(&self) -> DateTime<Utc> {
        self.status
            .last_schedule_time
            .or_else(|| creation_time(self.report))
            .unwrap_or(self.now)
    }

    /// What stops any run before trying: the spec, the allow-list, a missing Secret.
    fn check(&self) -> Result<ValidatedSpec, Blocked> {
        let validated = validate(&self.report.spec).map_err(|e| Blocked {
            reason: ReadyReason::InvalidSpec,
            message: e.to_string(),
        })?;
        if !self.ctx.allowed_portals.allows(&validated.portal_url) {
            return Err(Blocked {
                reason: ReadyReason::PortalNotAllowed,
                message: format!(
                    "spec.portal.url: {} is not among the portals this operator may call (allowedPortals)",
                    validated.portal_url
                ),
            });
        }
        if let Some(message) = self.ctx.secrets.missing(self.report) {
            return Err(Blocked {
                reason: ReadyReason::SecretNotFound,
                message,
            });
        }
        Ok(validated)
    }

    /// A Warning event, once per generation, for values in a deprecated spelling.
    async fn warn_deprecated(&self, validated: &ValidatedSpec) {
        let observed = self
            .report
            .status
            .as_ref()
            .and_then(|s| s.observed_generation);
        if validated.deprecations.is_empty() || observed == self.report.metadata.generation {
            return;
        }
        self.publish(
            EventType::Warning,
            "DeprecatedSpelling",
            validated.deprecations.join("; "),
        )
        .await;
    }

    /// Acts on a new run-requested-at annotation. `None`: the request is handled (or needs
    /// nothing but the schedule) and the pass goes on as usual.
    async fn requested(
        &mut self,
        validated: &ValidatedSpec,
        request: run_request::PendingRequest,
    ) -> Result<Option<Action>, ReconcileError> {
        let Some((token, scheduled)) = self.requested_instant(validated, request).await else {
            return Ok(None);
        };
        let expired = self
            .report
            .spec
            .starting_deadline_seconds
            .is_some_and(|seconds| self.now - scheduled > TimeDelta::seconds(seconds));
        if scheduled > self.since() {
            if expired {
                // The schedule has not handled the instant, and will skip it: that records
                // its gap and ends any pending retry of an earlier instant. The request is
                // taken up on the next pass, as a re-run of a handled instant.
                self.request_after_skip = Some(scheduled);
            } else {
                self.run_due_request(token, scheduled).await;
            }
            return Ok(None);
        }
        self.rerun(validated, token, scheduled).await.map(Some)
    }

    /// The scheduled instant a run request names; `None` when the request is ignored (a
    /// Warning event says why, and it counts as handled).
    async fn requested_instant(
        &mut self,
        validated: &ValidatedSpec,
        request: run_request::PendingRequest,
    ) -> Option<(String, DateTime<Utc>)> {
        let token = request.token;
        let at = match request.at {
            Ok(_) if self.report.spec.suspend => Err(
                "the report is suspended (spec.suspend); resume it and request the run again"
                    .to_owned(),
            ),
            at => at,
        };
        let at = match at {
            Ok(at) => at.min(self.now),
            Err(message) => {
                self.ignore_request(token, message).await;
                return None;
            }
        };
        let Some(scheduled) = validated.schedule.latest_at_or_before(at) else {
            let message = format!(
                "the schedule has no instant at or before {}",
                at.to_rfc3339()
            );
            self.ignore_request(token, message).await;
            return None;
        };
        Some((token, scheduled))
    }

    /// Marks the run request `token` handled without running anything, saying why.
    async fn ignore_request(&mut self, token: String, message: String) {
        self.status.last_handled_run_request = Some(token);
        self.publish(EventType::Warning, "RunRequestIgnored", message)
            .await;
    }

    /// The request names an instant the schedule runs anyway: it runs now, without waiting
    /// for a retry.
    async fn run_due_request(&mut self, token: String, scheduled: DateTime<Utc>) {
        if self.status.active_schedule_time.is_some() {
            self.status.next_retry_time = None;
        }
        self.status.last_handled_run_request = Some(token);
        self.publish(
            EventType::Normal,
            "RunRequested",
            format!(
                "the run scheduled at {} is due; running it now",
                scheduled.to_rfc3339()
            ),
        )
        .await;
    }

    /// A re-run: the period of an instant handled already (or skipped by its deadline), once
    /// it has settled and unless the request was handled already.
    async fn rerun(
        &mut self,
        validated: &ValidatedSpec,
        token: String,
        scheduled: DateTime<Utc>,
    ) -> Result<Action, ReconcileError> {
        let period_start = self
            .status
            .last_schedule_time
            .filter(|last| *last < scheduled);
        let planned = Planned {
            scheduled,
            trigger: Trigger::Requested { token },
            period_start,
        };
        if let Some(action) = self.wait_to_settle(validated, &planned).await? {
            return Ok(action);
        }
        self.publish(
            EventType::Normal,
            "RunRequested",
            format!(
                "running the report scheduled at {} again, as requested ({RUN_REQUESTED_AT})",
                scheduled.to_rfc3339()
            ),
        )
        .await;
        self.run(validated.clone(), planned).await
    }

    /// Waits (requeues) while the run's period may still receive late writes.
    async fn wait_to_settle(
        &mut self,
        validated: &ValidatedSpec,
        planned: &Planned,
    ) -> Result<Option<Action>, ReconcileError> {
        let settled = crate::schedule::period_for(
            self.report.spec.period,
            &validated.schedule,
            planned.scheduled,
            planned.period_start,
        )
        .ok()
        .map(|period| period.settled_at(self.report.spec.settle_seconds));
        match settled {
            Some(settled) if self.now < settled => {
                self.settling_until = Some(settled);
                self.settle(None, None).await?;
                Ok(Some(requeue_at(settled, self.now)))
            }
            _ => Ok(None),
        }
    }

    /// A report that cannot run until someone changes something: the conditions say what,
    /// a Warning event says it once, and no requeue (the change re-triggers).
    async fn block(&mut self, blocked: Blocked) -> Result<Action, ReconcileError> {
        self.status.next_schedule_time = None;
        let before = self.ready().map(|c| (c.reason.clone(), c.message.clone()));
        let (reason, message) = (blocked.reason, blocked.message.clone());
        self.settle(Some(blocked), None).await?;
        if before != Some((reason.as_str().to_owned(), message.clone())) {
            self.publish(EventType::Warning, reason.as_str(), message)
                .await;
        }
        Ok(self.wake(None))
    }

    /// Every due instant is past its starting deadline: skip them.
    async fn skip(
        &mut self,
        validated: &ValidatedSpec,
        skipped: Skipped,
        next: Option<DateTime<Utc>>,
    ) -> Result<Action, ReconcileError> {
        let newest = skipped.instants.last().map(|(at, _)| *at);
        self.record_skipped(validated, &skipped, Following::Waits(next))
            .await;
        if let Some(newest) = newest {
            self.status.last_schedule_time = Some(newest);
        }
        self.status.active_schedule_time = None;
        self.status.failed_attempts = None;
        self.status.next_retry_time = None;
        self.ctx.failed_inputs.forget(&self.key);
        self.wait(next).await
    }

    /// Says which scheduled instants will never run, and records the periods no report
    /// covers because of it in `status.gaps`.
    async fn record_skipped(
        &mut self,
        validated: &ValidatedSpec,
        skipped: &Skipped,
        following: Following,
    ) {
        let (Some((first, _)), Some((last, reason))) =
            (skipped.instants.first(), skipped.instants.last())
        else {
            return;
        };
        let gaps = gaps::uncovered(
            self.report.spec.period,
            &validated.schedule,
            skipped,
            self.status.last_schedule_time,
            following,
        );
        let first_attempt = match following {
            Following::RunsNow(at) => self.status.active_schedule_time != Some(at),
            Following::Waits(_) => true,
        };
        if !first_attempt {
            return;
        }
        let message = missed_message(skipped, (*first, *last), *reason, &gaps);
        self.publish(EventType::Warning, "MissedSchedules", message)
            .await;
        for gap in gaps.into_iter().rev() {
            gaps::insert(&mut self.status.gaps, gap);
        }
        self.status.gaps.truncate(GAPS_LIMIT);
    }

    /// A scheduled instant is due: run it, unless its failed run waits for a retry and
    /// nothing it depends on changed.
    async fn due(
        &mut self,
        validated: ValidatedSpec,
        planned: Planned,
        skipped: Skipped,
    ) -> Result<Action, ReconcileError> {
        let scheduled = planned.scheduled;
        if self.status.active_schedule_time == Some(scheduled)
            && let Some(retry_at) = self.status.next_retry_time
            && self.now + RETRY_SLACK < retry_at
            && !self
                .ctx
                .failed_inputs
                .changed(&self.key, &self.ctx.secrets.fingerprint(self.report))
        {
            self.settle(None, None).await?;
            return Ok(requeue_at(retry_at, self.now));
        }
        // The period's last moments may still be written: wait for them (spec.settleSeconds).
        if let Some(action) = self.wait_to_settle(&validated, &planned).await? {
            return Ok(action);
        }
        self.record_skipped(&validated, &skipped, Following::RunsNow(scheduled))
            .await;
        if let Trigger::Backfill { remaining } = planned.trigger {
            self.publish(
                EventType::Normal,
                "Backfill",
                format!(
                    "running the missed run scheduled at {} ({remaining} more missed run(s) after it)",
                    scheduled.to_rfc3339()
                ),
            )
            .await;
        }
        self.run(validated, planned).await
    }

    /// Runs the report of `planned` and records the outcome.
    async fn run(
        &mut self,
        validated: ValidatedSpec,
        planned: Planned,
    ) -> Result<Action, ReconcileError> {
        let _permit = self
            .ctx
            .runs
            .acquire()
            .await
            .map_err(|_| ReconcileError::ShuttingDown)?;
        let resume = self.start_run(&planned).await?;
        let inputs = self.ctx.secrets.fingerprint(self.report);
        let started_at = self.ctx.clock.now();
        let started = Instant::now();
        let result = match self.prepare(&validated, &planned, resume).await {
            Ok(request) => execute(request, Arc::new(NoProgress))
                .await
                .map_err(|e| (ReadyReason::of_failure(e.reason()), e.to_string())),
            Err(failure) => Err(failure),
        };
        let took = started.elapsed();
        self.ctx.metrics.run_duration.observe(took.as_secs_f64());
        self.now = self.ctx.clock.now();
        self.record_attempt(&planned, started_at, took, &result);
        match result {
            Ok(outcome) => self.succeeded(&validated, &planned, &outcome).await,
            Err((reason, message)) => {
                self.failed(&validated, &planned, reason, message, inputs)
                    .await
            }
        }
    }

    /// Marks the run active (its status says Running) and says it started. Returns whether
    /// it resumes an earlier attempt at the same instant.
    async fn start_run(&mut self, planned: &Planned) -> Result<bool, ReconcileError> {
        let scheduled = planned.scheduled;
        let rerun = planned.trigger.is_rerun();
        // A re-run's files exist from the run it repeats, so none of them can count as
        // uploaded by an earlier attempt: after a crash it uploads the whole set again.
        let resume = !rerun && self.status.active_schedule_time == Some(scheduled);
        if !resume && !rerun {
            self.status.failed_attempts = None;
            self.status.next_retry_time = None;
        }
        // A re-run marks itself active only when no scheduled run waits for a retry.
        if !rerun || self.status.active_schedule_time.is_none() {
            self.status.active_schedule_time = Some(scheduled);
        }
        self.settle(None, Some(scheduled)).await?;
        self.publish(
            EventType::Normal,
            "RunStarted",
            format!("running the report scheduled at {}", scheduled.to_rfc3339()),
        )
        .await;
        Ok(resume)
    }

    /// Adds the attempt to `status.history` and ends a re-run's own bookkeeping (the
    /// outcome's is the caller's).
    fn record_attempt(
        &mut self,
        planned: &Planned,
        started_at: DateTime<Utc>,
        took: Duration,
        result: &Result<CycleOutcome, (ReadyReason, String)>,
    ) {
        let scheduled = planned.scheduled;
        let record = |result: &str, outcome: Option<&CycleOutcome>| RunRecord {
            schedule_time: scheduled,
            trigger: planned.trigger.label().to_owned(),
            result: result.to_owned(),
            start_time: started_at,
            duration_seconds: (took.as_millis() as f64) / 1000.0,
            events: outcome.map(|o| o.event_count),
            manifest_sha256: outcome.map(|o| o.manifest_sha256.clone()),
        };
        let record = match result {
            Ok(outcome) => record(ReadyReason::Succeeded.as_str(), Some(outcome)),
            Err((reason, _)) => record(reason.as_str(), None),
        };
        self.status.history.insert(0, record);
        self.status.history.truncate(HISTORY_LIMIT);
        if planned.trigger.is_rerun() && self.status.active_schedule_time == Some(scheduled) {
            self.status.active_schedule_time = None;
        }
        if let Trigger::Requested { token } = &planned.trigger {
            self.status.last_handled_run_request = Some(token.clone());
        }
    }

    /// Reads the keys and builds the run's request.
    async fn prepare(
        &self,
        validated: &ValidatedSpec,
        planned: &Planned,
        resume: bool,
    ) -> Result<CycleRequest, (ReadyReason, String)> {
        let spec = &self.report.spec;
        let source = SecretKeys {
            client: &self.ctx.client,
            namespace: &self.labels.namespace,
        };
        let keys = keys::resolve(&source, spec).await.map_err(|e| {
            let reason = match e {
                KeyError::NotFound { .. } => ReadyReason::SecretNotFound,
                KeyError::Empty { .. } => ReadyReason::SecretKeyMissing,
                KeyError::Unreadable { .. } => ReadyReason::SecretUnreadable,
                KeyError::Unusable { .. } => ReadyReason::KeyUnusable,
            };
            (reason, e.to_string())
        })?;
        let resource = ResourceRef {
            namespace: self.labels.namespace.clone(),
            name: self.labels.name.clone(),
        };
        let status = &self.status;
        let request = CycleRequest::new(
            resource,
            spec.clone(),
            validated.clone(),
            keys.api_key,
            keys.privacy_key,
            planned.scheduled,
            self.ctx.clock.now(),
        )
        .map_err(|e| (ReadyReason::KeyUnusable, e.to_string()))?;
        let request = CycleRequest {
            last_scheduled: planned.period_start,
            resume,
            observer: Some(Arc::new(MetricsObserver(self.ctx.metrics.clone()))),
            previous_manifest_sha256: status.last_manifest_sha256.clone(),
            previous_manifest_origin: "resource's status (status.lastManifestSha256)".to_owned(),
            signing_key: keys.signing_key,
            // spec.activeDeadlineSeconds, within the operator's cap.
            timeout: request.timeout.map(|limit| limit.min(self.ctx.run_timeout)),
            limiters: Arc::clone(&self.ctx.limiters),
            // The previous period's count sizes this one's concurrent read.
            expected_events: status.last_fetched_count,
            previous: status.last_event_count.map(|events| PreviousTotals {
                events,
                by_category: status.last_category_counts.clone(),
            }),
            ..request
        };
        Ok(request)
    }

    async fn succeeded(
        &mut self,
        validated: &ValidatedSpec,
        planned: &Planned,
        outcome: &CycleOutcome,
    ) -> Result<Action, ReconcileError> {
        let scheduled = planned.scheduled;
        let metrics = &self.ctx.metrics;
        metrics.events_fetched.inc_by(outcome.fetched_count);
        metrics
            .runs
            .get_or_create(&ResultLabels {
                result: "success".into(),
            })
            .inc();
        let summary = success_message(outcome);
        // The chain links every manifest uploaded, re-runs included, in the order uploaded.
        self.status.last_manifest_sha256 = Some(outcome.manifest_sha256.clone());
        // A period reported is no gap any more (a re-run can fill one).
        gaps::cover(
            &mut self.status.gaps,
            self.report.spec.period,
            &validated.schedule,
            (outcome.period.from, outcome.period.to),
        );
        // A split gap is one entry more.
        self.status.gaps.truncate(GAPS_LIMIT);
        self.status.key_expires_at = outcome.key_expires_at;
        if self.describes_latest_run(planned) {
            record_success(&mut self.status, outcome, self.now);
            self.status.last_run_result = Some(ReadyReason::Succeeded.as_str().to_owned());
            self.status.last_run_message = Some(summary.clone());
        }
        if !planned.trigger.is_rerun() {
            self.status.last_schedule_time = Some(scheduled);
            self.status.active_schedule_time = None;
            self.status.failed_attempts = None;
            self.status.next_retry_time = None;
            self.ctx.failed_inputs.forget(&self.key);
        }
        let next = self.next_after_run(validated, planned);
        self.status.next_schedule_time = next;
        self.settle(None, None).await?;
        self.publish(EventType::Normal, "RunSucceeded", summary)
            .await;
        Ok(self.after_run(planned, next))
    }

    /// Whether the outcome of `planned` becomes the report's last run (its result, period,
    /// counts, files and the baselines the next period is compared with): a scheduled run
    /// always; a re-run only of the latest instant the schedule handled and while no
    /// scheduled run waits for a retry. A re-run of an older period is in the history and
    /// its events only, so the status keeps describing the schedule's own latest run.
    fn describes_latest_run(&self, planned: &Planned) -> bool {
        !planned.trigger.is_rerun()
            || (Some(planned.scheduled) >= self.status.last_schedule_time
                && self.status.active_schedule_time.is_none())
    }

    /// The next scheduled instant after `planned` ran: the one after its instant (which may be
    /// due already, when the run took long), or for a re-run of an earlier instant, the next
    /// one from now.
    fn next_after_run(
        &self,
        validated: &ValidatedSpec,
        planned: &Planned,
    ) -> Option<DateTime<Utc>> {
        match planned.trigger {
            Trigger::Requested { .. } => validated.schedule.next_after(self.now.max(self.since())),
            _ => validated.schedule.next_after(planned.scheduled),
        }
    }

    /// When to look again after a run: at once while missed runs or a pending retry wait,
    /// else at the next instant.
    fn after_run(&self, planned: &Planned, next: Option<DateTime<Utc>>) -> Action {
        match planned.trigger {
            Trigger::Backfill { .. } | Trigger::Requested { .. } => requeue_at(self.now, self.now),
            Trigger::Schedule => self.wake(next),
        }
    }

    /// Records a failed attempt and schedules the next one after the report's backoff (or
    /// lets the starting deadline skip the instant when the retry would come too late). A
    /// failed re-run is not retried: it is requested again if still wanted.
    async fn failed(
        &mut self,
        validated: &ValidatedSpec,
        planned: &Planned,
        reason: ReadyReason,
        message: String,
        inputs: String,
    ) -> Result<Action, ReconcileError> {
        let scheduled = planned.scheduled;
        self.ctx
            .metrics
            .runs
            .get_or_create(&ResultLabels {
                result: reason.as_str().to_owned(),
            })
            .inc();
        if self.describes_latest_run(planned) {
            self.status.last_run_time = Some(self.now);
            self.status.last_failed_time = Some(self.now);
            self.status.last_run_result = Some(reason.as_str().to_owned());
            self.status.last_run_message = Some(message.clone());
        }
        let next = self.next_after_run(validated, planned);
        self.status.next_schedule_time = next;
        let (action, retrying) = if planned.trigger.is_rerun() {
            (self.after_run(planned, next), None)
        } else {
            self.schedule_retry(scheduled, reason)
        };
        self.settle(None, None).await?;
        self.publish(
            EventType::Warning,
            "RunFailed",
            format!("{}: {message}", reason.as_str()),
        )
        .await;
        if let Some(note) = retrying {
            self.publish(EventType::Normal, "RunRetrying", note).await;
        }
        if !planned.trigger.is_rerun() {
            self.ctx.failed_inputs.remember(&self.key, inputs);
        }
        Ok(action)
    }

    /// Counts a failed attempt at `scheduled` and sets when the next one starts: after the
    /// report's backoff, or never when that would be past the starting deadline. Returns when
    /// to look again and what the `RunRetrying` event says.
    fn schedule_retry(
        &mut self,
        scheduled: DateTime<Utc>,
        reason: ReadyReason,
    ) -> (Action, Option<String>) {
        let attempts = self.status.failed_attempts.unwrap_or(0).saturating_add(1);
        let delay = self.ctx.backoff.delay(attempts);
        let retry_at = self.now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
        let deadline = self
            .report
            .spec
            .starting_deadline_seconds
            .map(|seconds| scheduled + TimeDelta::seconds(seconds));
        self.status.failed_attempts = Some(attempts);
        match deadline {
            Some(deadline) if retry_at > deadline => {
                // No retry before the deadline skips the instant; until then nothing reruns it.
                let skip_at = deadline + RETRY_SLACK;
                self.status.next_retry_time = Some(skip_at);
                (requeue_at(skip_at, self.now), None)
            }
            _ => {
                self.status.next_retry_time = Some(retry_at);
                (
                    Action::requeue(delay),
                    Some(format!(
                        "attempt {attempts} failed ({}); retrying in {}s, at {}",
                        reason.as_str(),
                        delay.as_secs(),
                        retry_at.to_rfc3339()
                    )),
                )
            }
        }
    }

    /// Requeues at `next` (a scheduled instant) or when `KeyExpiring` changes, whichever comes
    /// first; otherwise waits for a change.
    fn wake(&self, next: Option<DateTime<Utc>>) -> Action {
        if let Some(requested) = self.request_after_skip
            && self.status.last_schedule_time >= Some(requested)
        {
            return requeue_at(self.now, self.now);
        }
        let key_change = conditions::next_key_change(self.status.key_expires_at, self.now);
        let at = match (next, key_change) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        requeue_until(at, self.now)
    }

    fn ready(&self) -> Option<&crate::spec::Condition> {
        conditions::find(&self.status.conditions, READY)
    }

    /// The report's metrics, as its status shows it.
    fn series(&self) -> ReportSeries {
        let status = &self.status;
        let interval = match (&self.schedule, status.next_schedule_time) {
            (Some(schedule), Some(next)) => schedule
                .next_after(next)
                .map(|after| (after - next).num_seconds()),
            _ => None,
        };
        ReportSeries {
            next_run: status.next_schedule_time.map(|t| t.timestamp()),
            last_success: status.last_successful_time.map(|t| t.timestamp()),
            last_failure: status.last_failed_time.map(|t| t.timestamp()),
            last_duration: status.history.first().map(|r| r.duration_seconds),
            schedule_interval: interval,
        }
    }

    /// Recomputes the conditions from what this pass saw and writes the status if it changed.
    async fn settle(
        &mut self,
        blocked: Option<Blocked>,
        running: Option<DateTime<Utc>>,
    ) -> Result<(), kube::Error> {
        let status = &self.status;
        let retry = match (status.failed_attempts, status.next_retry_time) {
            (Some(attempts), Some(at)) => Some(PendingRetry { attempts, at }),
            _ => None,
        };
        let observation = Observation {
            generation: self.report.metadata.generation,
            blocked,
            suspended: self.report.spec.suspend,
            running,
            last_run: last_run(status),
            retry,
            next_run: status.next_schedule_time,
            settling_until: self.settling_until,
            key_expires_at: status.key_expires_at,
        };
        let conditions = desired_conditions(&observation, &status.conditions, self.now);
        let newly_expiring = conditions::find(&conditions, conditions::KEY_EXPIRING)
            .filter(|_| conditions::find(&status.conditions, conditions::KEY_EXPIRING).is_none())
            .map(|c| c.message.clone());
        self.status.conditions = conditions;
        if let Some(message) = newly_expiring {
            self.publish(EventType::Warning, "KeyExpiring", message)
                .await;
        }
        self.ctx.metrics.show_report(&self.labels, &self.series());
        status::write(&self.api, self.report, &mut self.status).await
    }

    async fn publish(&self, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            // Redacted before it is cut, so that a cut never leaves part of a secret.
            note: Some(
                crate::text::safe_message(&note)
                    .chars()
                    .take(1000)
                    .collect(),
            ),
            action: "Report".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.ctx.publish(&event, self.report).await {
            tracing::warn!(report = %self.key, error = %e, "could not publish an event");
        }
    }
}

/// The `MissedSchedules` event: how many instants from `first` to `last` will not run, why
/// (the newest's reason), and which time no report covers because of it.
fn missed_message(
    skipped: &Skipped,
    (first, last): (DateTime<Utc>, DateTime<Utc>),
    reason: SkipReason,
    gaps: &[Gap],
) -> String {
    let count = if skipped.at_least {
        format!("more than {}", skipped.total)
    } else {
        skipped.total.to_string()
    };
    let why = match reason {
        SkipReason::StartingDeadlineExceeded => {
            "they could not start within startingDeadlineSeconds"
        }
        SkipReason::MissedRunsLatest => "missedRuns is Latest",
        SkipReason::BackfillLimit => "more were missed than one backfill runs",
    };
    let coverage = if gaps.is_empty() {
        "the report that runs next covers their time".to_owned()
    } else {
        let spans: Vec<String> = gaps
            .iter()
            .map(|g| format!("[{}, {})", g.from, g.to))
            .collect();
        format!(
            "no report covers {} (listed in status.gaps)",
            spans.join(", ")
        )
    };
    format!(
        "{count} earlier scheduled run(s) were missed and will not run, from {} to {} ({why}); {coverage}",
        first.to_rfc3339(),
        last.to_rfc3339()
    )
}

/// Writes what a successful run reported into `status`; the schedule's bookkeeping and the
/// chain head are the caller's.
fn record_success(status: &mut ComplianceReportStatus, outcome: &CycleOutcome, now: DateTime<Utc>) {
    status.last_run_time = Some(now);
    status.last_successful_time = Some(now);
    status.last_period = Some(PeriodStatus {
        from: outcome.period.from_local(),
        to: outcome.period.to_local(),
    });
    status.last_event_count = Some(outcome.event_count);
    status.last_fetched_count = Some(outcome.fetched_count);
    status.last_category_counts = outcome.by_category.clone();
    status.last_uploads = outcome
        .uploads
        .iter()
        .map(|u| UploadStatus {
            format: u.kind.label().to_owned(),
            file_name: u
                .stored_title
                .clone()
                .unwrap_or_else(|| u.file_name.clone()),
            file_id: u.file_id.clone(),
            sha256: u.sha256.clone(),
        })
        .collect();
    status.last_uploaded_file_id = outcome.uploads.first().and_then(|u| u.file_id.clone());
    status.last_report_sha256 = outcome.uploads.first().map(|u| u.sha256.clone());
}

fn success_message(outcome: &CycleOutcome) -> String {
    let files: Vec<String> = outcome
        .uploads
        .iter()
        .map(|u| {
            let file = match (&u.file_id, u.skipped_existing) {
                (Some(id), _) => format!("{} (file {id})", u.file_name),
                (None, true) => format!("{} (already in the folder)", u.file_name),
                (None, false) => u.file_name.clone(),
            };
            match &u.note {
                Some(note) => format!("{file}: {note}"),
                None => file,
            }
        })
        .collect();
    format!(
        "{} of {} events from {} to {}: {}",
        outcome.event_count,
        outcome.fetched_count,
        outcome.period.from_local(),
        outcome.period.to_local(),
        files.join(", ")
    )
}
