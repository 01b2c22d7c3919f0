//! One report cycle: plan → keys and fetch → filter → render → seal (manifest, signature, hash
//! chain) → upload → outcome.
//!
//! The operator and the one-shot CLI both call [`execute`]; nothing of the cycle exists
//! anywhere else. A failed step uploads nothing: fetching and rendering finish before the first
//! upload, and files this run created are deleted again if a later upload fails.

mod chain;
mod compress;
mod error;
pub mod keys;
mod manifest;
mod spool;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::Instrument;

use crate::docspace::{
    ApiKey, AuditLifetime, Batch, ClientConfig, DocSpaceClient, DocSpaceError, FetchWindow,
    LoginPager, Pager, PagingStats, PortalLimiters, READ_SCOPE, ResponseObserver, RetryPolicy,
    SlicedAuditFetch, Source, UPLOAD_SCOPE,
};
use crate::integrity::SigningKey;
use crate::report::{
    AnalysisOptions, Artefact, ArtefactKind, FetchFacts, PreviousTotals, Privacy, PrivacyError,
    PrivacyKey, ReportContext, ReportWriter, file_stem,
};
use crate::schedule::{ReportPeriod, period_for};
use crate::spec::{ComplianceReportSpec, SectionName, ValidatedSpec};

/// Notable events listed per section; the rest are counted (and all are in the appendix).
const LIST_LIMIT: usize = 100;
/// Days of login history read before the period, to tell new sign-in countries.
pub use error::{CycleError, Step};

/// Which resource a run is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

/// Whether the run uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Render only.
    DryRun,
    /// Render and upload.
    Upload,
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct CycleRequest {
    /// The resource.
    pub resource: ResourceRef,
    /// Its spec.
    pub spec: ComplianceReportSpec,
    /// The spec's validated parts.
    pub validated: ValidatedSpec,
    /// The DocSpace API key.
    pub api_key: ApiKey,
    /// The scheduled instant the period derives from.
    pub scheduled_at: DateTime<Utc>,
    /// The previous run's scheduled instant, for `SinceLastRun`.
    pub last_scheduled: Option<DateTime<Utc>>,
    /// When the report is generated (shown in it).
    pub generated_at: DateTime<Utc>,
    /// Upload or not.
    pub delivery: Delivery,
    /// Where to keep local copies, if anywhere.
    pub out_dir: Option<PathBuf>,
    /// Retry policy for DocSpace requests.
    pub retry: RetryPolicy,
    /// A previous attempt at this same scheduled run may have uploaded some files: files of
    /// the period that already exist count as uploaded, whatever `onExisting` says.
    pub resume: bool,
    /// Told about every DocSpace answer.
    pub observer: Option<Arc<dyn ResponseObserver>>,
    /// Privacy settings, applied to every kept event before rendering.
    pub privacy: Privacy,
    /// The previous report's totals, for the change against the previous period.
    pub previous: Option<PreviousTotals>,
    /// SHA-256 of the previous run's manifest as the caller knows it (the status, or a file
    /// named on the command line); linked from this run's manifest unless the folder holds a
    /// newer earlier manifest of the report (see `look_up_previous_manifest`).
    pub previous_manifest_sha256: Option<String>,
    /// Where `previous_manifest_sha256` came from, e.g. `the resource's status`.
    pub previous_manifest_origin: String,
    /// Look for the previous manifest in the upload folder (where the evidence lives) before
    /// trusting `previous_manifest_sha256`; only when uploading.
    pub look_up_previous_manifest: bool,
    /// Signs the manifest when present.
    pub signing_key: Option<Arc<SigningKey>>,
    /// The longest the run may take, fetching, rendering and uploading; past it the run fails
    /// and the folder keeps nothing of it (what it had uploaded is removed again).
    pub timeout: Option<std::time::Duration>,
    /// About how many audit events the period holds (e.g. the previous period's count): the
    /// read is cut into concurrent slices at once instead of after a first page.
    pub expected_events: Option<u64>,
    /// The request limiters of the process, one per portal: every run against a portal shares
    /// its limiter.
    pub limiters: Arc<PortalLimiters>,
}

impl CycleRequest {
    /// A request for the report of `scheduled_at`, generated at `generated_at`, with the
    /// defaults of a first attempt: it uploads; no previous run is known (the previous manifest
    /// is looked up in the folder); no local copies; default retries; the spec's privacy (with
    /// `privacy_key` for `Hash` and `Pseudonym`) and time limit (`activeDeadlineSeconds`); a
    /// request limiter of its own. Set the fields that differ afterwards.
    pub fn new(
        resource: ResourceRef,
        spec: ComplianceReportSpec,
        validated: ValidatedSpec,
        api_key: ApiKey,
        privacy_key: Option<PrivacyKey>,
        scheduled_at: DateTime<Utc>,
        generated_at: DateTime<Utc>,
    ) -> Result<Self, PrivacyError> {
        let privacy = Privacy::new(&spec.report.privacy, privacy_key)?;
        let timeout = std::time::Duration::from_secs(u64::from(spec.active_deadline_seconds));
        Ok(Self {
            resource,
            spec,
            validated,
            api_key,
            scheduled_at,
            last_scheduled: None,
            generated_at,
            delivery: Delivery::Upload,
            out_dir: None,
            retry: RetryPolicy::default(),
            resume: false,
            observer: None,
            privacy,
            previous: None,
            previous_manifest_sha256: None,
            previous_manifest_origin: "none".to_owned(),
            look_up_previous_manifest: true,
            signing_key: None,
            timeout: Some(timeout),
            expected_events: None,
            limiters: Arc::default(),
        })
    }
}

/// Notified as pages arrive, e.g. to draw a progress indicator.
pub trait Progress: Send + Sync {
    /// `events` events fetched from `source` so far; `requests` requests sent to the portal
    /// by the run so far.
    fn fetched(&self, source: Source, events: u64, requests: u64);

    /// The portal is rate-limiting: requests wait `wait` (zero when only fewer are sent at
    /// once).
    fn throttled(&self, wait: std::time::Duration) {
        let _ = wait;
    }
}

/// Passes every answer to the caller's observer and rate limiting to the progress display,
/// and counts the run's requests.
struct RunObserver {
    inner: Option<Arc<dyn ResponseObserver>>,
    progress: Arc<dyn Progress>,
    requests: std::sync::atomic::AtomicU64,
    throttled: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for RunObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunObserver").finish_non_exhaustive()
    }
}

impl ResponseObserver for RunObserver {
    fn sending(&self, endpoint: &'static str) {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(inner) = &self.inner {
            inner.sending(endpoint);
        }
    }

    fn observed(&self, endpoint: &'static str, status: u16) {
        if status == 429 {
            self.throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(inner) = &self.inner {
            inner.observed(endpoint, status);
        }
    }

    fn throttled(&self, endpoint: &'static str, wait: std::time::Duration) {
        if let Some(inner) = &self.inner {
            inner.throttled(endpoint, wait);
        }
        self.progress.throttled(wait);
    }
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn fetched(&self, _: Source, _: u64, _: u64) {}
}

/// One artefact and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOutcome {
    /// The format.
    pub kind: ArtefactKind,
    /// The file name rendered.
    pub file_name: String,
    /// The DocSpace file id; `None` on dry runs and when an existing file was kept.
    pub file_id: Option<String>,
    /// The title DocSpace stored it under, if uploaded.
    pub stored_title: Option<String>,
    /// Whether an existing file made the run skip this upload.
    pub skipped_existing: bool,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The local copy, if one was kept.
    pub local_path: Option<PathBuf>,
    /// Something the user should know about this upload, e.g. that DocSpace stored a second
    /// file with the same title instead of a new version.
    pub note: Option<String>,
}

/// What a successful run did.
#[derive(Debug, Clone)]
pub struct CycleOutcome {
    /// The period covered.
    pub period: ReportPeriod,
    /// Events fetched, before filtering.
    pub fetched_count: u64,
    /// Events in the report.
    pub event_count: u64,
    /// Paging counters per source.
    pub paging: Vec<(Source, PagingStats)>,
    /// Events in the report by compliance category.
    pub by_category: std::collections::BTreeMap<String, u64>,
    /// SHA-256 of the run's manifest: the next run's chain link.
    pub manifest_sha256: String,
    /// One entry per format.
    pub uploads: Vec<UploadOutcome>,
    /// When the API key expires, as the portal says (`GET keys/@self`).
    pub key_expires_at: Option<DateTime<Utc>>,
    /// How long reading the events took (from the first page request to the last answer).
    pub fetch_duration: std::time::Duration,
    /// Requests this run sent to the portal (uploads included) and how many were answered 429.
    pub requests: RequestCounts,
}

/// Requests of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Requests sent (each retry counts).
    pub sent: u64,
    /// Answered 429 by the portal's rate limiter.
    pub throttled: u64,
}

/// The period a request covers.
pub fn plan(request: &CycleRequest) -> Result<ReportPeriod, CycleError> {
    period_for(
        request.spec.period,
        &request.validated.schedule,
        request.scheduled_at,
        request.last_scheduled,
    )
    .map_err(CycleError::Plan)
}

/// Asks the portal what the key may do: fails fast naming a missing scope (or a deactivated
/// key) before anything is read; returns when the key expires.
async fn check_key(
    client: &DocSpaceClient,
    delivery: Delivery,
) -> Result<Option<DateTime<Utc>>, CycleError> {
    let fetch = |e| CycleError::Fetch(Step::Connect, e);
    let Some(key) = client.key_info().await.map_err(fetch)? else {
        return Ok(None);
    };
    if !key.is_active {
        return Err(fetch(DocSpaceError::InactiveKey));
    }
    let needed: &[&str] = match delivery {
        Delivery::Upload => &[READ_SCOPE, UPLOAD_SCOPE],
        Delivery::DryRun => &[READ_SCOPE],
    };
    let missing = key.missing(needed);
    if !missing.is_empty() {
        return Err(fetch(DocSpaceError::MissingScope {
            missing: missing.join(", "),
            granted: key.permissions.join(", "),
        }));
    }
    Ok(key.expires())
}

/// What fetching and rendering produced, ready to upload.
struct Rendered {
    client: DocSpaceClient,
    key_expires_at: Option<DateTime<Utc>>,
    period: ReportPeriod,
    /// Holds the artefacts until they are uploaded or moved; removed when dropped.
    _work_dir: spool::Spool,
    artefacts: Vec<Artefact>,
    fetched_count: u64,
    event_count: u64,
    paging: Vec<(Source, PagingStats)>,
    by_category: std::collections::BTreeMap<String, u64>,
    manifest_sha256: String,
    fetch_duration: std::time::Duration,
    observer: Arc<RunObserver>,
}

/// How long before the API key expires a run starts warning.
pub const KEY_EXPIRY_WARNING: TimeDelta = TimeDelta::days(14);

/// A warning when the key expires within [`KEY_EXPIRY_WARNING`] of `now`.
pub fn key_expiry_warning(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<String> {
    let expires = expires?;
    if expires <= now {
        Some(format!(
            "the DocSpace API key expired at {}; create a new one and update the Secret",
            expires.to_rfc3339()
        ))
    } else if expires - now <= KEY_EXPIRY_WARNING {
        Some(format!(
            "the DocSpace API key expires at {} ({} days from now); create a new one and update the Secret before then",
            expires.to_rfc3339(),
            (expires - now).num_days()
        ))
    } else {
        None
    }
}

/// Runs one cycle: wait until the period has settled, fetch and render within the request's
/// timeout, then upload.
///
/// Everything the cycle logs (its requests' retries and an upload's rollback included) is in
/// a `cycle` span with the report's `namespace`, its name as `report` (JSON logs give every
/// span a `name` key of its own: the span's) and the `scheduled` instant; the API key is
/// never a field.
#[tracing::instrument(
    name = "cycle",
    skip_all,
    fields(
        namespace = %request.resource.namespace,
        report = %request.resource.name,
        scheduled = %request.scheduled_at.to_rfc3339(),
    )
)]
pub async fn execute(
    request: CycleRequest,
    progress: Arc<dyn Progress>,
) -> Result<CycleOutcome, CycleError> {
    // `generated_at` is the caller's now (the operator's clock, the CLI's start).
    let period = plan(&request)?;
    if period.to > request.generated_at {
        return Err(CycleError::PeriodNotOver {
            ends_at: period.to.to_rfc3339(),
        });
    }
    let settled = period.settled_at(request.spec.settle_seconds);
    if let Ok(wait) = (settled - request.generated_at).to_std() {
        tracing::info!(until = %settled.to_rfc3339(), "waiting for late audit writes to settle (spec.settleSeconds)");
        tokio::time::sleep(wait).await;
    }
    let deadline = request
        .timeout
        .map(|limit| (tokio::time::Instant::now() + limit, limit.as_secs()));
    let fetching = fetch_and_render(&request, period, &progress);
    let rendered = match deadline {
        Some((at, seconds)) => tokio::time::timeout_at(at, fetching).await.map_err(|_| {
            CycleError::DeadlineExceeded {
                seconds,
                stage: "fetching and rendering",
                rollback: "; nothing was uploaded".to_owned(),
            }
        })??,
        None => fetching.await?,
    };
    deliver(&request, rendered, deadline).await
}

/// A client for the request's portal, sharing the portal's limiter, with an observer that
/// counts the run's requests.
fn client_for(
    request: &CycleRequest,
    progress: &Arc<dyn Progress>,
) -> Result<(DocSpaceClient, Arc<RunObserver>), CycleError> {
    let mut config = ClientConfig::new(
        request.validated.portal_url.clone(),
        request.api_key.clone(),
    );
    config.retry = request.retry.clone();
    // A request never waits out a rate-limiting portal for longer than the whole run may take
    // (uploads are not cut off in flight, so their waits must end by themselves).
    if let Some(limit) = request.timeout {
        config.retry.max_throttle_wait = config.retry.max_throttle_wait.min(limit);
    }
    let observer = Arc::new(RunObserver {
        inner: request.observer.clone(),
        progress: Arc::clone(progress),
        requests: 0.into(),
        throttled: 0.into(),
    });
    config.observer = Some(Arc::clone(&observer) as Arc<dyn ResponseObserver>);
    config.limiter = request.limiters.for_portal(
        request.validated.portal_url.as_str(),
        request.spec.portal.limits(),
    );
    let client = DocSpaceClient::new(config).map_err(|e| CycleError::Fetch(Step::Connect, e))?;
    Ok((client, observer))
}

/// What the report says about its own making; the chain link is filled in once known.
fn report_context(request: &CycleRequest, period: &ReportPeriod) -> ReportContext {
    ReportContext {
        resource: format!("{}/{}", request.resource.namespace, request.resource.name),
        portal: request.validated.portal_url.to_string(),
        period: period.clone(),
        generated_at: request.generated_at,
        filter: describe_filter(&request.spec, &request.validated.filter.server_side()),
        privacy: request.privacy.describe(),
        sections: if request.spec.report.sections.is_empty() {
            SectionName::ALL.to_vec()
        } else {
            request.spec.report.sections.clone()
        },
        analysis: AnalysisOptions {
            time_zone: period.time_zone,
            business_hours: request.validated.business_hours.clone(),
            mass_download_per_hour: request.spec.report.mass_download_per_hour,
            list_limit: LIST_LIMIT,
        },
        settle_seconds: request.spec.settle_seconds,
        chain: String::new(),
    }
}

/// Fetches every event of the period and renders the artefacts and the manifest into a
/// temporary directory. Dropping the future (a timeout) removes that directory.
async fn fetch_and_render(
    request: &CycleRequest,
    period: ReportPeriod,
    progress: &Arc<dyn Progress>,
) -> Result<Rendered, CycleError> {
    // The file names first: a bad name fails before any request.
    let stem = report_stem(request, &period)?;
    let (client, observer) = client_for(request, progress)?;
    let key_expires_at = check_key(&client, request.delivery).await?;
    let work_dir = create_work_dir(request)?;
    let work_path = work_dir.path().display().to_string();
    let mut writer = ReportWriter::new(
        report_context(request, &period),
        &request.spec.report.formats,
        work_dir.path(),
    )
    .map_err(render_error(&work_path))?;

    // The questions the report needs besides the events go out with the first pages; none of
    // them holds the events up.
    let fetch_started = tokio::time::Instant::now();
    let questions = side_questions(&client, request, &period);
    let reader = Reading {
        client: &client,
        request,
        period: &period,
        progress,
        work_path: &work_path,
    };
    let reading = reader.events(&mut writer);
    // The first failure on either side ends both.
    let (answers, paging) = tokio::try_join!(questions, reading)?;
    let fetch_duration = fetch_started.elapsed();
    let link = answers
        .link
        .unwrap_or_else(|| chain::ChainLink::given(request));
    writer.set_chain(link.describe());
    let facts = fetch_facts(request, answers.audit_plan, answers.retention, &paging);
    let fetched_count = writer.fetched_count();
    let event_count = writer.reported_count();
    let by_category = writer.counts_by_category();

    let finished = finish_render(writer, facts, request, &period, &link, &work_dir, &stem).await?;
    Ok(Rendered {
        client,
        key_expires_at,
        period,
        _work_dir: work_dir,
        artefacts: finished.artefacts,
        fetched_count,
        event_count,
        paging,
        by_category,
        manifest_sha256: finished.manifest_sha256,
        fetch_duration,
        observer,
    })
}

/// Turns a failure to write into the working directory at `work_path` into the run's error.
fn render_error(work_path: &str) -> impl Fn(std::io::Error) -> CycleError + '_ {
    move |e| CycleError::Render(work_path.to_owned(), e)
}

/// The stem of the report's file names (`spec.report.fileName` expanded for the period).
fn report_stem(request: &CycleRequest, period: &ReportPeriod) -> Result<String, CycleError> {
    file_stem(
        &request.spec.report.file_name,
        &request.resource.name,
        &request.resource.namespace,
        period,
    )
    .map_err(|e| CycleError::Render("spec.report.fileName".to_owned(), std::io::Error::other(e)))
}

/// A private working directory for the artefacts, under the output directory if any, else
/// the system's temporary directory.
fn create_work_dir(request: &CycleRequest) -> Result<spool::Spool, CycleError> {
    let work_parent = request.out_dir.clone().unwrap_or_else(std::env::temp_dir);
    spool::Spool::create(&work_parent)
        .map_err(|e| CycleError::Render(work_parent.display().to_string(), e))
}

/// What the portal answered besides the events.
struct SideAnswers {
    /// Whether the plan includes the audit trail (`None`: could not be checked).
    audit_plan: Option<bool>,
    /// The portal's retention settings, if readable.
    retention: Option<AuditLifetime>,
    /// The previous manifest found in the upload folder, when it was looked up.
    link: Option<chain::ChainLink>,
}

/// Asks the portal's plan, its retention and (when uploading) the previous manifest, all at
/// once; a plan without the audit trail fails the run.
async fn side_questions(
    client: &DocSpaceClient,
    request: &CycleRequest,
    period: &ReportPeriod,
) -> Result<SideAnswers, CycleError> {
    let uploading = request.look_up_previous_manifest && request.delivery == Delivery::Upload;
    let (audit_plan, retention, link) =
        tokio::join!(client.audit_in_plan(), client.audit_lifetime(), async {
            if uploading {
                Some(chain::resolve(client, request, period).await)
            } else {
                None
            }
        });
    let audit_plan = audit_plan.map_err(|e| CycleError::Fetch(Step::Fetch, e))?;
    if audit_plan == Some(false) {
        return Err(CycleError::Fetch(
            Step::Fetch,
            DocSpaceError::PlanLacksAudit {
                evidence: "/api/2.0/portal/quota reports audit: false".to_owned(),
            },
        ));
    }
    let retention = retention.map_err(|e| CycleError::Fetch(Step::Fetch, e))?;
    Ok(SideAnswers {
        audit_plan,
        retention,
        link,
    })
}

/// What the report states about its own reading.
fn fetch_facts(
    request: &CycleRequest,
    audit_plan: Option<bool>,
    retention: Option<AuditLifetime>,
    paging: &[(Source, PagingStats)],
) -> FetchFacts {
    FetchFacts {
        paging: paging.to_vec(),
        retention,
        audit_plan,
        previous: request.previous.clone(),
        generated_at: request.generated_at,
    }
}

/// The finished artefacts, the manifest's among them.
struct Finished {
    artefacts: Vec<Artefact>,
    manifest_sha256: String,
}

/// Renders the artefacts (off the async threads), compresses them as the spec says, and
/// writes the manifest (signed when a key is given) beside them.
async fn finish_render(
    writer: ReportWriter,
    facts: FetchFacts,
    request: &CycleRequest,
    period: &ReportPeriod,
    link: &chain::ChainLink,
    work_dir: &spool::Spool,
    stem: &str,
) -> Result<Finished, CycleError> {
    let work_path = work_dir.path().display().to_string();
    let render_error = render_error(&work_path);
    let dir = work_dir.path().to_owned();
    let finish_stem = stem.to_owned();
    // The rendering thread logs under the run's span.
    let span = tracing::Span::current();
    let (mut artefacts, events) = tokio::task::spawn_blocking(move || {
        span.in_scope(|| writer.finish(facts, &dir, &finish_stem))
    })
    .await
    .map_err(|e| CycleError::Render("render task".to_owned(), std::io::Error::other(e)))?
    .map_err(&render_error)?;
    compress::apply(request.spec.report.compress, &mut artefacts).map_err(&render_error)?;
    let manifest = manifest::build(request, period, &artefacts, events, link);
    let manifest_sha256 = manifest.sha256();
    artefacts.extend(
        manifest::write(
            &manifest,
            request.signing_key.as_deref(),
            work_dir.path(),
            stem,
        )
        .map_err(&render_error)?,
    );
    Ok(Finished {
        artefacts,
        manifest_sha256,
    })
}

/// What reading the events of one run needs.
struct Reading<'a> {
    client: &'a DocSpaceClient,
    request: &'a CycleRequest,
    period: &'a ReportPeriod,
    progress: &'a Arc<dyn Progress>,
    /// The working directory, named in errors writing to it.
    work_path: &'a str,
}

impl Reading<'_> {
    /// Reads the audit trail (as concurrent slices) and the login history of the period into
    /// `writer`; returns the paging counters of each source read.
    async fn events(
        &self,
        writer: &mut ReportWriter,
    ) -> Result<Vec<(Source, PagingStats)>, CycleError> {
        let mut paging = Vec::new();
        if self.request.spec.sources.audit_trail {
            paging.push((Source::Audit, self.audit(writer).await?));
        }
        if self.request.spec.sources.login_history {
            paging.push((Source::Login, self.logins(writer).await?));
        }
        Ok(paging)
    }

    /// The period as the pagers read it.
    fn window(&self) -> FetchWindow {
        FetchWindow {
            from: self.period.from,
            to_inclusive: self.period.to_inclusive(),
        }
    }

    /// Reads the audit trail of the period into `writer`, as concurrent slices filtered by the
    /// portal where it can.
    async fn audit(&self, writer: &mut ReportWriter) -> Result<PagingStats, CycleError> {
        let server_filter = self.request.validated.filter.server_side();
        if !server_filter.is_empty() {
            let parameters: Vec<&str> = server_filter.query().iter().map(|(k, _)| *k).collect();
            tracing::debug!(?parameters, "the portal filters audit events before paging");
        }
        let fetch = SlicedAuditFetch::new(
            self.client,
            self.window(),
            &server_filter,
            self.request.expected_events,
        );
        self.read(Source::Audit, fetch, writer).await
    }

    /// Reads the login history into `writer`, from further back than the period, to know the
    /// countries users signed in from.
    async fn logins(&self, writer: &mut ReportWriter) -> Result<PagingStats, CycleError> {
        let login_window = FetchWindow {
            from: self.period.from - TimeDelta::days(crate::report::LOGIN_LOOKBACK_DAYS),
            ..self.window()
        };
        let pager = LoginPager::new(self.client.clone(), login_window);
        self.read(Source::Login, pager, writer).await
    }

    /// Reads every batch of `pager` into `writer` as one `source`. Pages are requested, read
    /// and parsed in a task of their own, so that rendering a batch never holds up the next
    /// requests; the channel bounds what waits in memory.
    async fn read(
        &self,
        source: Source,
        pager: impl Pager,
        writer: &mut ReportWriter,
    ) -> Result<PagingStats, CycleError> {
        let render_error = render_error(self.work_path);
        let fetch_error = |e| CycleError::Fetch(Step::Fetch, e);
        writer.begin_source(source);
        let (mut batches, task) = spawn_read(pager);
        let mut events = 0;
        while let Some(batch) = batches.recv().await {
            let batch = batch.map_err(fetch_error)?;
            events += batch.events.len() as u64;
            keep_matching(
                writer,
                self.request,
                self.period.from,
                batch.order,
                batch.events,
            )
            .map_err(&render_error)?;
            let requests = self.client.config.limiter.stats().requests;
            self.progress.fetched(source, events, requests);
        }
        task.finish(source).await.map_err(fetch_error)
    }
}

/// Uploads the rendered artefacts (all or nothing; on a dry run, uploads nothing) and keeps
/// local copies if asked. The upload stops at `deadline` (the instant and the limit in
/// seconds) and undoes what it had uploaded.
async fn deliver(
    request: &CycleRequest,
    rendered: Rendered,
    deadline: Option<(tokio::time::Instant, u64)>,
) -> Result<CycleOutcome, CycleError> {
    let Rendered {
        client,
        key_expires_at,
        period,
        _work_dir,
        artefacts,
        fetched_count,
        event_count,
        paging,
        by_category,
        manifest_sha256,
        fetch_duration,
        observer,
    } = rendered;
    let mut uploads = match request.delivery {
        Delivery::DryRun => artefacts.iter().map(|a| not_uploaded(a, false)).collect(),
        Delivery::Upload => {
            let target = upload::Target {
                client: &client,
                spec: &request.spec.upload,
                resume: request.resume,
                deadline,
            };
            upload::upload_all(&target, &artefacts).await?
        }
    };
    if let Some(out_dir) = &request.out_dir {
        keep_local_copies(out_dir, &artefacts, &mut uploads)?;
    }
    Ok(CycleOutcome {
        key_expires_at,
        period,
        fetched_count,
        event_count,
        paging,
        by_category,
        uploads,
        manifest_sha256,
        fetch_duration,
        requests: RequestCounts {
            sent: observer.requests.load(std::sync::atomic::Ordering::Relaxed),
            throttled: observer
                .throttled
                .load(std::sync::atomic::Ordering::Relaxed),
        },
    })
}

/// Moves the artefacts into `out_dir` (readable by the owner only) and notes where each went.
fn keep_local_copies(
    out_dir: &std::path::Path,
    artefacts: &[Artefact],
    uploads: &mut [UploadOutcome],
) -> Result<(), CycleError> {
    for (artefact, outcome) in artefacts.iter().zip(uploads) {
        let target = out_dir.join(&artefact.file_name);
        std::fs::rename(&artefact.path, &target)
            .and_then(|()| spool::make_private(&target))
            .map_err(|e| CycleError::Render(target.display().to_string(), e))?;
        outcome.local_path = Some(target);
    }
    Ok(())
}

/// Batches read ahead of rendering, at most.
const BATCHES_AHEAD: usize = 32;

/// A read running in its own task; dropping it stops the read.
struct ReadTask(tokio::task::JoinHandle<PagingStats>);

impl ReadTask {
    /// The read's counters, once the channel said every batch was handed out.
    async fn finish(mut self, source: Source) -> Result<PagingStats, DocSpaceError> {
        (&mut self.0).await.map_err(|e| DocSpaceError::Malformed {
            endpoint: source.endpoint(),
            detail: format!("the reading task failed: {e}"),
        })
    }
}

impl Drop for ReadTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts reading in a task of its own; batches (or the error that ended the read) arrive on
/// the channel, at most [`BATCHES_AHEAD`] ahead of the consumer.
fn spawn_read(
    mut pager: impl Pager,
) -> (
    tokio::sync::mpsc::Receiver<Result<Batch, DocSpaceError>>,
    ReadTask,
) {
    let (sender, receiver) = tokio::sync::mpsc::channel(BATCHES_AHEAD);
    let reading = async move {
        loop {
            match pager.next_batch().await {
                Ok(Some(batch)) => {
                    if sender.send(Ok(batch)).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The consumer fails the run with it.
                    let _ = sender.send(Err(e)).await;
                    break;
                }
            }
        }
        pager.stats()
    };
    // The task's requests log under the run's span.
    let task = tokio::spawn(reading.instrument(tracing::Span::current()));
    (receiver, ReadTask(task))
}

/// Events before `period_from` (the login lookback) only feed the baseline; the rest are
/// counted, filtered, made private as the spec says and rendered.
fn keep_matching(
    writer: &mut ReportWriter,
    request: &CycleRequest,
    period_from: DateTime<Utc>,
    order: u64,
    batch: Vec<crate::docspace::Event>,
) -> std::io::Result<()> {
    let (lookback, mut batch): (Vec<_>, Vec<_>) =
        batch.into_iter().partition(|e| e.date < period_from);
    for mut event in lookback {
        request.privacy.apply(&mut event);
        writer.note_baseline(&event);
    }
    if let Some(first) = batch.first() {
        writer.count_fetched(first.source, batch.len() as u64);
    }
    batch.retain(|e| request.validated.filter.matches(e));
    for event in &mut batch {
        request.privacy.apply(event);
    }
    writer.write_batch_at(order, &batch)
}

fn not_uploaded(artefact: &Artefact, skipped_existing: bool) -> UploadOutcome {
    UploadOutcome {
        kind: artefact.kind,
        file_name: artefact.file_name.clone(),
        file_id: None,
        stored_title: None,
        skipped_existing,
        sha256: artefact.sha256.clone(),
        bytes: artefact.bytes,
        local_path: None,
        note: None,
    }
}

/// A one-line description of the spec's filter, and of the part the portal applies before
/// paging (events it filtered out are not in the fetched count).
fn describe_filter(spec: &ComplianceReportSpec, server: &crate::docspace::ServerFilter) -> String {
    let described = describe_spec_filter(spec);
    if server.is_empty() {
        return described;
    }
    let applied: Vec<String> = server
        .query()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{described}; applied by the portal before paging: {} (the fetched count is what it returned)",
        applied.join(", ")
    )
}

/// A one-line description of the spec's filter.
fn describe_spec_filter(spec: &ComplianceReportSpec) -> String {
    let f = &spec.filter;
    let join = |v: &[crate::spec::NameOrId]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    let mut add = |label: &str, text: String| {
        if !text.is_empty() {
            parts.push(format!("{label}: {text}"));
        }
    };
    add("action types", join(&f.action_types));
    add("actions", join(&f.actions));
    add("excluding actions", join(&f.exclude_actions));
    add("users", f.users.join(", "));
    add("excluding users", f.exclude_users.join(", "));
    add("entry types", join(&f.entry_types));
    add("targets", f.targets.join(", "));
    add("contexts", f.contexts.join(", "));
    let sources = match (spec.sources.audit_trail, spec.sources.login_history) {
        (true, true) => "audit trail and login history",
        (false, true) => "login history",
        _ => "audit trail",
    };
    if parts.is_empty() {
        format!("all events ({sources})")
    } else {
        format!("{} ({sources})", parts.join("; "))
    }
}
