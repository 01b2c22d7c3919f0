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
use super::decide::{Decision, decide};
use super::metrics::{ReportLabels, ResultLabels};
use super::secret::{SecretError, read_api_key, read_value};
use super::status;
use crate::docspace::RetryPolicy;
use crate::integrity::SigningKey;
use crate::report::{PreviousTotals, Privacy, PrivacyKey};
use crate::run::{Delivery, NoProgress, ResourceRef, RunOutcome, RunRequest, run_once};
use crate::spec::{
    ComplianceReport, ComplianceReportStatus, PeriodStatus, UploadStatus, ValidatedSpec, validate,
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

/// Reconciles one `ComplianceReport`.
pub async fn reconcile(
    report: Arc<ComplianceReport>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
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
        }
    }

    async fn reconcile(&mut self) -> Result<Action, ReconcileError> {
        let validated = match self.check() {
            Ok(validated) => validated,
            Err(blocked) => return self.block(blocked).await,
        };
        if self.report.spec.suspend {
            self.status.next_schedule_time = None;
            self.ctx.metrics.next_run.remove(&self.labels);
            self.settle(None, None).await?;
            return Ok(self.wake(None));
        }
        let since = self
            .status
            .last_schedule_time
            .or_else(|| creation_time(self.report))
            .unwrap_or(self.now);
        match decide(
            &validated.schedule,
            since,
            self.now,
            self.report.spec.starting_deadline_seconds,
        ) {
            Decision::Wait { next } => {
                self.set_next(next);
                self.settle(None, None).await?;
                Ok(self.wake(next))
            }
            Decision::DeadlinePassed { scheduled, next } => self.skip(scheduled, next).await,
            Decision::Run { scheduled, missed } => self.due(validated, scheduled, missed).await,
        }
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

    /// A report that cannot run until someone changes something: the conditions say what,
    /// a Warning event says it once, and no requeue (the change re-triggers).
    async fn block(&mut self, blocked: Blocked) -> Result<Action, ReconcileError> {
        self.status.next_schedule_time = None;
        self.ctx.metrics.next_run.remove(&self.labels);
        let before = self.ready().map(|c| (c.reason.clone(), c.message.clone()));
        let (reason, message) = (blocked.reason, blocked.message.clone());
        self.settle(Some(blocked), None).await?;
        if before != Some((reason.as_str().to_owned(), message.clone())) {
            self.publish(EventType::Warning, reason.as_str(), message)
                .await;
        }
        Ok(self.wake(None))
    }

    /// The most recent instant is past its starting deadline: skip it.
    async fn skip(
        &mut self,
        scheduled: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<Action, ReconcileError> {
        self.publish(
            EventType::Warning,
            "MissedSchedule",
            format!(
                "the run scheduled at {} could not start within startingDeadlineSeconds; it is skipped",
                scheduled.to_rfc3339()
            ),
        )
        .await;
        self.status.last_schedule_time = Some(scheduled);
        self.status.active_schedule_time = None;
        self.status.failed_attempts = None;
        self.status.next_retry_time = None;
        self.ctx.failed_inputs.forget(&self.key);
        self.set_next(next);
        self.settle(None, None).await?;
        Ok(self.wake(next))
    }

    /// A scheduled instant is due: run it, unless its failed run waits for a retry and
    /// nothing it depends on changed.
    async fn due(
        &mut self,
        validated: ValidatedSpec,
        scheduled: DateTime<Utc>,
        missed: usize,
    ) -> Result<Action, ReconcileError> {
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
        let settled = crate::schedule::period_for(
            self.report.spec.period,
            &validated.schedule,
            scheduled,
            self.status.last_schedule_time,
        )
        .ok()
        .map(|period| period.settled_at(self.report.spec.settle_seconds));
        if let Some(settled) = settled
            && self.now < settled
        {
            self.settling_until = Some(settled);
            self.settle(None, None).await?;
            return Ok(requeue_at(settled, self.now));
        }
        // The cache may trail our own last status write: ask the API server whether this
        // instant already ran before running it (a run is expensive and must not repeat).
        let fresh = self.api.get_status(&self.report.name_any()).await?;
        if let Some(done) = fresh.status.as_ref().and_then(|s| s.last_schedule_time)
            && done >= scheduled
        {
            let next = validated.schedule.next_after(self.now.max(done));
            return Ok(self.wake(next));
        }
        if missed > 0 {
            self.publish(
                EventType::Warning,
                "MissedSchedules",
                format!(
                    "{missed} earlier scheduled run(s) were missed; running only the one of {}",
                    scheduled.to_rfc3339()
                ),
            )
            .await;
        }
        self.run(validated, scheduled).await
    }

    /// Runs the report of `scheduled` and records the outcome.
    async fn run(
        &mut self,
        validated: ValidatedSpec,
        scheduled: DateTime<Utc>,
    ) -> Result<Action, ReconcileError> {
        let _permit = self
            .ctx
            .runs
            .acquire()
            .await
            .map_err(|_| ReconcileError::ShuttingDown)?;
        let resume = self.status.active_schedule_time == Some(scheduled);
        if !resume {
            self.status.failed_attempts = None;
            self.status.next_retry_time = None;
        }
        self.status.active_schedule_time = Some(scheduled);
        self.settle(None, Some(scheduled)).await?;
        self.publish(
            EventType::Normal,
            "RunStarted",
            format!("running the report scheduled at {}", scheduled.to_rfc3339()),
        )
        .await;
        let inputs = self.ctx.secrets.fingerprint(self.report);
        let request = match self.prepare(&validated, scheduled, resume).await {
            Ok(prepared) => prepared,
            Err((reason, message)) => {
                return self
                    .failed(&validated, scheduled, reason, message, inputs)
                    .await;
            }
        };
        let started = Instant::now();
        let result = run_once(request, Arc::new(NoProgress)).await;
        self.ctx
            .metrics
            .run_duration
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(outcome) => self.succeeded(&validated, scheduled, &outcome).await,
            Err(e) => {
                let reason = ReadyReason::of_failure(e.reason());
                let message = e.to_string();
                self.failed(&validated, scheduled, reason, message, inputs)
                    .await
            }
        }
    }

    /// Reads the keys and builds the run's request.
    async fn prepare(
        &self,
        validated: &ValidatedSpec,
        scheduled: DateTime<Utc>,
        resume: bool,
    ) -> Result<RunRequest, (ReadyReason, String)> {
        let (client, namespace) = (&self.ctx.client, &self.labels.namespace);
        let spec = &self.report.spec;
        let secret_failure = |e: SecretError| {
            let reason = match e {
                SecretError::NotFound { .. } => ReadyReason::SecretNotFound,
                SecretError::MissingKey { .. } => ReadyReason::SecretKeyMissing,
                SecretError::Api { .. } => ReadyReason::SecretUnreadable,
            };
            (reason, e.to_string())
        };
        let api_key = read_api_key(client, namespace, &spec.portal.token_secret_ref)
            .await
            .map_err(secret_failure)?;
        let privacy_key = match &spec.report.privacy.key_secret_ref {
            Some(reference) => Some(
                read_value(client, namespace, reference)
                    .await
                    .map_err(secret_failure)?,
            ),
            None => None,
        };
        let signing_key = match &spec.report.signing_key_secret_ref {
            Some(reference) => Some(
                read_value(client, namespace, reference)
                    .await
                    .map_err(secret_failure)?,
            ),
            None => None,
        };
        let unusable = |message: String| (ReadyReason::KeyUnusable, message);
        let signing_key = signing_key
            .map(|k| SigningKey::from_secret_bytes(k.as_bytes()))
            .transpose()
            .map_err(|e| unusable(format!("spec.report.signingKeySecretRef: {e}")))?
            .map(Arc::new);
        let privacy = Privacy::new(&spec.report.privacy, privacy_key.and_then(PrivacyKey::new))
            .map_err(|e| unusable(e.to_string()))?;
        let status = &self.status;
        let request = RunRequest {
            resource: ResourceRef {
                namespace: namespace.clone(),
                name: self.labels.name.clone(),
            },
            spec: spec.clone(),
            validated: validated.clone(),
            api_key,
            scheduled_at: scheduled,
            last_scheduled: status.last_schedule_time,
            generated_at: self.ctx.clock.now(),
            delivery: Delivery::Upload,
            out_dir: None,
            retry: RetryPolicy::default(),
            resume,
            observer: Some(Arc::new(MetricsObserver(self.ctx.metrics.clone()))),
            privacy,
            previous_manifest_sha256: status.last_manifest_sha256.clone(),
            previous_manifest_origin: "resource's status (status.lastManifestSha256)".to_owned(),
            look_up_previous_manifest: true,
            signing_key,
            timeout: Some(self.ctx.run_timeout),
            limiters: Arc::clone(&self.ctx.limiters),
            // The previous period's count sizes this one's concurrent read.
            expected_events: status.last_fetched_count,
            previous: status.last_event_count.map(|events| PreviousTotals {
                events,
                by_category: status.last_category_counts.clone(),
            }),
        };
        Ok(request)
    }

    async fn succeeded(
        &mut self,
        validated: &ValidatedSpec,
        scheduled: DateTime<Utc>,
        outcome: &RunOutcome,
    ) -> Result<Action, ReconcileError> {
        self.now = self.ctx.clock.now();
        let metrics = &self.ctx.metrics;
        metrics.events_fetched.inc_by(outcome.fetched_count);
        metrics
            .runs
            .get_or_create(&ResultLabels {
                result: "success".into(),
            })
            .inc();
        let next = validated.schedule.next_after(self.now.max(scheduled));
        let summary = success_message(outcome);
        record_success(&mut self.status, outcome, scheduled, self.now);
        self.status.key_expires_at = outcome.key_expires_at;
        self.status.last_run_result = Some(ReadyReason::Succeeded.as_str().to_owned());
        self.status.last_run_message = Some(summary.clone());
        self.set_next(next);
        self.settle(None, None).await?;
        self.publish(EventType::Normal, "RunSucceeded", summary)
            .await;
        self.ctx.failed_inputs.forget(&self.key);
        Ok(self.wake(next))
    }

    /// Records a failed attempt and schedules the next one after the report's backoff (or
    /// lets the starting deadline skip the instant when the retry would come too late).
    async fn failed(
        &mut self,
        validated: &ValidatedSpec,
        scheduled: DateTime<Utc>,
        reason: ReadyReason,
        message: String,
        inputs: String,
    ) -> Result<Action, ReconcileError> {
        self.now = self.ctx.clock.now();
        self.ctx
            .metrics
            .runs
            .get_or_create(&ResultLabels {
                result: reason.as_str().to_owned(),
            })
            .inc();
        let attempts = self.status.failed_attempts.unwrap_or(0).saturating_add(1);
        let delay = self.ctx.backoff.delay(attempts);
        let retry_at = self.now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
        let deadline = self
            .report
            .spec
            .starting_deadline_seconds
            .map(|seconds| scheduled + TimeDelta::seconds(seconds));
        self.status.last_run_time = Some(self.now);
        self.status.last_run_result = Some(reason.as_str().to_owned());
        self.status.last_run_message = Some(message.clone());
        self.status.failed_attempts = Some(attempts);
        let (action, retrying) = match deadline {
            Some(deadline) if retry_at > deadline => {
                self.status.next_retry_time = None;
                (requeue_at(deadline + RETRY_SLACK, self.now), None)
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
        };
        let next = validated.schedule.next_after(self.now.max(scheduled));
        self.set_next(next);
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
        self.ctx.failed_inputs.remember(&self.key, inputs);
        Ok(action)
    }

    fn set_next(&mut self, next: Option<DateTime<Utc>>) {
        self.status.next_schedule_time = next;
        match next {
            Some(next) => {
                self.ctx
                    .metrics
                    .next_run
                    .get_or_create(&self.labels)
                    .set(next.timestamp());
            }
            None => {
                self.ctx.metrics.next_run.remove(&self.labels);
            }
        }
    }

    /// Requeues at `next` (a scheduled instant) or when `KeyExpiring` changes, whichever comes
    /// first; otherwise waits for a change.
    fn wake(&self, next: Option<DateTime<Utc>>) -> Action {
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
        status::write(&self.api, self.report, &mut self.status).await
    }

    async fn publish(&self, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note.chars().take(1000).collect()),
            action: "Report".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.ctx.publish(&event, self.report).await {
            tracing::warn!(report = %self.key, error = %e, "could not publish an event");
        }
    }
}

fn record_success(
    status: &mut ComplianceReportStatus,
    outcome: &RunOutcome,
    scheduled: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    status.last_schedule_time = Some(scheduled);
    status.last_run_time = Some(now);
    status.last_successful_time = Some(now);
    status.active_schedule_time = None;
    status.failed_attempts = None;
    status.next_retry_time = None;
    status.last_period = Some(PeriodStatus {
        from: outcome.period.from_local(),
        to: outcome.period.to_local(),
    });
    status.last_event_count = Some(outcome.event_count);
    status.last_fetched_count = Some(outcome.fetched_count);
    status.last_category_counts = outcome.by_category.clone();
    status.last_manifest_sha256 = Some(outcome.manifest_sha256.clone());
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

fn success_message(outcome: &RunOutcome) -> String {
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
