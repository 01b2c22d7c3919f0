//! The reconciler: validate, decide with CronJob semantics, run the report cycle when due, and
//! write the outcome to the status with an Event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};

use super::context::{Context, MetricsObserver};
use super::decide::{Decision, decide};
use super::metrics::{ReportLabels, ResultLabels};
use super::secret::{SecretError, read_api_key, read_value};
use super::status::{self, set_ready};
use crate::docspace::RetryPolicy;
use crate::integrity::SigningKey;
use crate::report::{PreviousTotals, Privacy, PrivacyKey};
use crate::run::{Delivery, NoProgress, ResourceRef, RunOutcome, RunRequest, run_once};
use crate::spec::{
    ComplianceReport, ComplianceReportStatus, PeriodStatus, UploadStatus, ValidatedSpec, validate,
};

/// Why a reconcile failed; the controller retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The API key could not be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The report run failed (message already free of the key).
    #[error("report run failed: {0}")]
    Run(String),
}

fn creation_time(report: &ComplianceReport) -> Option<DateTime<Utc>> {
    let t = report.metadata.creation_timestamp.as_ref()?;
    DateTime::from_timestamp(
        t.0.as_second(),
        u32::try_from(t.0.subsec_nanosecond()).unwrap_or(0),
    )
}

fn requeue_until(next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Action {
    match next {
        Some(next) => Action::requeue(
            (next - now)
                .to_std()
                .unwrap_or_default()
                .max(Duration::from_secs(1)),
        ),
        None => Action::await_change(),
    }
}

fn key(report: &ComplianceReport) -> String {
    format!(
        "{}/{}",
        report.namespace().unwrap_or_default(),
        report.name_any()
    )
}

async fn publish(
    ctx: &Context,
    report: &ComplianceReport,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.chars().take(1000).collect()),
        action: "Report".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &report.object_ref(&())).await {
        tracing::warn!(report = %key(report), error = %e, "could not publish an event");
    }
}

/// A resource that cannot run until someone changes it: a `Ready=False` condition, no next
/// run, and a Warning event when the condition is new; no requeue (a change re-triggers).
async fn refuse(
    api: &Api<ComplianceReport>,
    report: &ComplianceReport,
    ctx: &Context,
    current: &ComplianceReportStatus,
    mut status: ComplianceReportStatus,
    reason: &str,
    message: String,
) -> Result<Action, ReconcileError> {
    let changed = status::ready(current).is_none_or(|c| c.reason != reason || c.message != message);
    set_ready(
        &mut status,
        "False",
        reason,
        message.clone(),
        report.metadata.generation,
        ctx.clock.now(),
    );
    status.next_schedule_time = None;
    status::write(api, report, &status).await?;
    if changed {
        publish(ctx, report, EventType::Warning, reason, message).await;
    }
    Ok(Action::await_change())
}

/// Reconciles one `ComplianceReport`.
pub async fn reconcile(
    report: Arc<ComplianceReport>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = report.namespace().unwrap_or_default();
    let api: Api<ComplianceReport> = Api::namespaced(ctx.client.clone(), &namespace);
    let now = ctx.clock.now();
    let generation = report.metadata.generation;
    let current = report.status.clone().unwrap_or_default();
    let mut status = current.clone();
    status.observed_generation = generation;

    let validated = match validate(&report.spec) {
        Ok(validated) => validated,
        Err(e) => {
            return refuse(
                &api,
                &report,
                &ctx,
                &current,
                status,
                "InvalidSpec",
                e.to_string(),
            )
            .await;
        }
    };
    if !ctx.allowed_portals.allows(&validated.portal_url) {
        let message = format!(
            "spec.portal.url: {} is not among the portals this operator may call (allowedPortals)",
            validated.portal_url
        );
        return refuse(
            &api,
            &report,
            &ctx,
            &current,
            status,
            "PortalNotAllowed",
            message,
        )
        .await;
    }
    let labels = ReportLabels {
        namespace: namespace.clone(),
        name: report.name_any(),
    };
    if report.spec.suspend {
        set_ready(
            &mut status,
            "False",
            "Suspended",
            "runs are suspended (spec.suspend)",
            generation,
            now,
        );
        status.next_schedule_time = None;
        ctx.metrics.next_run.remove(&labels);
        status::write(&api, &report, &status).await?;
        return Ok(Action::await_change());
    }

    let since = current
        .last_schedule_time
        .or_else(|| creation_time(&report))
        .unwrap_or(now);
    match decide(
        &validated.schedule,
        since,
        now,
        report.spec.starting_deadline_seconds,
    ) {
        Decision::Wait { next } => {
            status.next_schedule_time = next;
            if let Some(next) = next {
                ctx.metrics
                    .next_run
                    .get_or_create(&labels)
                    .set(next.timestamp());
            }
            let never_ran = current.last_successful_time.is_none();
            let ready_is_stale = status::ready(&status)
                .is_none_or(|c| c.reason == "Suspended" || c.reason == "InvalidSpec");
            if never_ran && ready_is_stale {
                let when = next.map_or_else(|| "never".to_owned(), |n| n.to_rfc3339());
                set_ready(
                    &mut status,
                    "False",
                    "Scheduled",
                    format!("waiting for the first run at {when}"),
                    generation,
                    now,
                );
            } else if let Some(ready) = status
                .conditions
                .iter_mut()
                .find(|c| c.type_ == status::READY)
            {
                ready.observed_generation = generation;
            }
            status::write(&api, &report, &status).await?;
            Ok(requeue_until(next, now))
        }
        Decision::DeadlinePassed { scheduled, next } => {
            publish(
                &ctx,
                &report,
                EventType::Warning,
                "MissedSchedule",
                format!(
                    "the run scheduled at {} could not start within startingDeadlineSeconds; it is skipped",
                    scheduled.to_rfc3339()
                ),
            )
            .await;
            status.last_schedule_time = Some(scheduled);
            status.active_schedule_time = None;
            status.next_schedule_time = next;
            status::write(&api, &report, &status).await?;
            Ok(requeue_until(next, now))
        }
        Decision::Run { scheduled, missed } => {
            // The cache may trail our own last status write: ask the API server whether this
            // instant already ran before running it (a run is expensive and must not repeat).
            let fresh = api.get_status(&report.name_any()).await?;
            if let Some(done) = fresh.status.as_ref().and_then(|s| s.last_schedule_time)
                && done >= scheduled
            {
                let next = validated.schedule.next_after(now.max(done));
                return Ok(requeue_until(next, now));
            }
            if missed > 0 {
                publish(
                    &ctx,
                    &report,
                    EventType::Warning,
                    "MissedSchedules",
                    format!(
                        "{missed} earlier scheduled run(s) were missed; running only the one of {}",
                        scheduled.to_rfc3339()
                    ),
                )
                .await;
            }
            run_due(&api, &report, &ctx, validated, status, scheduled).await
        }
    }
}

/// Runs the report of `scheduled` and records the outcome.
async fn run_due(
    api: &Api<ComplianceReport>,
    report: &ComplianceReport,
    ctx: &Context,
    validated: ValidatedSpec,
    mut status: ComplianceReportStatus,
    scheduled: DateTime<Utc>,
) -> Result<Action, ReconcileError> {
    let namespace = report.namespace().unwrap_or_default();
    let generation = report.metadata.generation;
    let secrets = async {
        let api_key = read_api_key(
            &ctx.client,
            &namespace,
            &report.spec.portal.token_secret_ref,
        )
        .await?;
        let privacy_key = match &report.spec.report.privacy.key_secret_ref {
            Some(reference) => Some(read_value(&ctx.client, &namespace, reference).await?),
            None => None,
        };
        let signing_key = match &report.spec.report.signing_key_secret_ref {
            Some(reference) => Some(read_value(&ctx.client, &namespace, reference).await?),
            None => None,
        };
        Ok::<_, SecretError>((api_key, privacy_key.and_then(PrivacyKey::new), signing_key))
    };
    let (api_key, privacy_key, signing_key) = match secrets.await {
        Ok(keys) => keys,
        Err(e) => {
            let reason = match e {
                SecretError::Api { .. } => "SecretUnreadable",
                _ => "SecretNotFound",
            };
            set_ready(
                &mut status,
                "False",
                reason,
                e.to_string(),
                generation,
                ctx.clock.now(),
            );
            status::write(api, report, &status).await?;
            publish(ctx, report, EventType::Warning, reason, e.to_string()).await;
            return Err(e.into());
        }
    };
    let keys = signing_key
        .map(|k| SigningKey::from_secret_bytes(k.as_bytes()))
        .transpose()
        .map_err(|e| format!("spec.report.signingKeySecretRef: {e}"))
        .and_then(|key| {
            Privacy::new(&report.spec.report.privacy, privacy_key)
                .map(|privacy| (key.map(Arc::new), privacy))
                .map_err(|e| e.to_string())
        });
    let (signing_key, privacy) = match keys {
        Ok(keys) => keys,
        Err(message) => {
            return refuse(
                api,
                report,
                ctx,
                &status.clone(),
                status,
                "InvalidSpec",
                message,
            )
            .await;
        }
    };
    let _permit = ctx
        .runs
        .acquire()
        .await
        .map_err(|_| ReconcileError::Run("the operator is shutting down".to_owned()))?;
    let resume = status.active_schedule_time == Some(scheduled);
    status.active_schedule_time = Some(scheduled);
    status::write(api, report, &status).await?;
    publish(
        ctx,
        report,
        EventType::Normal,
        "RunStarted",
        format!("running the report scheduled at {}", scheduled.to_rfc3339()),
    )
    .await;

    let started = Instant::now();
    let request = RunRequest {
        resource: ResourceRef {
            namespace,
            name: report.name_any(),
        },
        spec: report.spec.clone(),
        validated: validated.clone(),
        api_key: api_key.clone(),
        scheduled_at: scheduled,
        last_scheduled: status.last_schedule_time,
        generated_at: ctx.clock.now(),
        delivery: Delivery::Upload,
        out_dir: None,
        retry: RetryPolicy::default(),
        resume,
        observer: Some(Arc::new(MetricsObserver(ctx.metrics.clone()))),
        privacy,
        previous_manifest_sha256: status.last_manifest_sha256.clone(),
        signing_key,
        previous: status.last_event_count.map(|events| PreviousTotals {
            events,
            by_category: status.last_category_counts.clone(),
        }),
    };
    let result = run_once(request, &NoProgress).await;
    ctx.metrics
        .run_duration
        .observe(started.elapsed().as_secs_f64());
    let now = ctx.clock.now();
    status.last_run_time = Some(now);
    match result {
        Ok(outcome) => {
            ctx.metrics.events_fetched.inc_by(outcome.fetched_count);
            ctx.metrics
                .runs
                .get_or_create(&ResultLabels {
                    result: "success".into(),
                })
                .inc();
            let next = validated.schedule.next_after(now.max(scheduled));
            record_success(&mut status, &outcome, scheduled, now, next);
            let summary = success_message(&outcome);
            set_ready(
                &mut status,
                "True",
                "Succeeded",
                summary.clone(),
                generation,
                now,
            );
            status::write(api, report, &status).await?;
            publish(ctx, report, EventType::Normal, "RunSucceeded", summary).await;
            ctx.backoff.succeeded(&key(report));
            if let Some(next) = next {
                ctx.metrics
                    .next_run
                    .get_or_create(&ReportLabels {
                        namespace: report.namespace().unwrap_or_default(),
                        name: report.name_any(),
                    })
                    .set(next.timestamp());
            }
            Ok(requeue_until(next, now))
        }
        Err(e) => {
            let reason = e.reason();
            let message = api_key.scrub(&e.to_string());
            ctx.metrics
                .runs
                .get_or_create(&ResultLabels {
                    result: reason.to_owned(),
                })
                .inc();
            set_ready(
                &mut status,
                "False",
                reason,
                message.clone(),
                generation,
                now,
            );
            status::write(api, report, &status).await?;
            publish(
                ctx,
                report,
                EventType::Warning,
                "RunFailed",
                format!("{reason}: {message}"),
            )
            .await;
            Err(ReconcileError::Run(message))
        }
    }
}

fn record_success(
    status: &mut ComplianceReportStatus,
    outcome: &RunOutcome,
    scheduled: DateTime<Utc>,
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) {
    status.last_schedule_time = Some(scheduled);
    status.last_successful_time = Some(now);
    status.active_schedule_time = None;
    status.next_schedule_time = next;
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
        .map(|u| match (&u.file_id, u.skipped_existing) {
            (Some(id), _) => format!("{} (file {id})", u.file_name),
            (None, true) => format!("{} (already in the folder)", u.file_name),
            (None, false) => u.file_name.clone(),
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

/// After a failed reconcile: back off per resource.
pub fn error_policy(
    report: Arc<ComplianceReport>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let delay = ctx.backoff.failed(&key(&report));
    tracing::warn!(report = %key(&report), error = %error, retry_in_s = delay.as_secs(), "reconcile failed");
    Action::requeue(delay)
}
