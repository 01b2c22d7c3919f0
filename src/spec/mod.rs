//! The `ComplianceReport` custom resource: its spec, its status and the validation of a spec.
//!
//! These types are shared by the operator and the one-shot CLI, so that both read exactly the
//! same resource. Time values in the status use chrono; conversion to Kubernetes' own time type
//! happens only where the operator writes the status.

mod load;
pub(crate) mod spelling;
mod validate;

use chrono::{DateTime, Utc};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use load::parse_report;
pub use spelling::{CamelCaseEnum, Spelled};
pub use validate::{SpecError, ValidatedSpec, validate};

/// What a `ComplianceReport` asks for: when to run, which period to cover, which events to
/// keep, how to render them and where to upload the result.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "compliance.docspace.dev",
    version = "v1alpha1",
    kind = "ComplianceReport",
    namespaced,
    status = "ComplianceReportStatus",
    shortname = "creport",
    category = "compliance",
    doc = "A compliance report of a DocSpace portal's audit trail, run on a schedule and uploaded to a DocSpace folder."
)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceReportSpec {
    /// The DocSpace portal and the Secret that holds its API key.
    pub portal: PortalSpec,
    /// Cron schedule with five fields (minute hour day-of-month month day-of-week) or a macro
    /// such as `@daily`, `@weekly` or `@monthly`, evaluated in `timeZone`.
    #[schemars(length(min = 1, max = 100))]
    pub schedule: String,
    /// IANA time zone of the schedule and of the report period, e.g. `Europe/Berlin`.
    #[serde(default = "default_time_zone")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_+\-/]+$"), length(max = 64))]
    pub time_zone: String,
    /// The reporting period, relative to the scheduled run time.
    #[serde(default)]
    pub period: Period,
    /// Stops scheduling new runs while true; runs already finished are kept.
    #[serde(default)]
    pub suspend: bool,
    /// A run that could not start within this many seconds of its scheduled time is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub starting_deadline_seconds: Option<i64>,
    /// What happens to scheduled instants missed while the operator was down or the report
    /// suspended: `All` runs each (oldest first, at most 12 per wave, within
    /// `startingDeadlineSeconds`), `Latest` only the most recent. Periods that are never
    /// reported are listed in `status.gaps`.
    #[serde(default)]
    pub missed_runs: MissedRuns,
    /// The longest a run may take, fetching, rendering and uploading. A run over it is
    /// cancelled, uploads nothing (what it had uploaded is removed) and fails with reason
    /// `DeadlineExceeded`.
    #[serde(default = "default_active_deadline_seconds")]
    #[schemars(range(min = 1, max = 604800))]
    pub active_deadline_seconds: u32,
    /// Seconds to wait after the period's end before reading it. DocSpace stores audit events
    /// asynchronously, stamped with when they happened: an event of the period's last moments
    /// can be stored shortly after it ends. 0 reads at once (and the report says late writes
    /// were not waited for).
    #[serde(default = "default_settle_seconds")]
    #[schemars(range(min = 0, max = 86400))]
    pub settle_seconds: u32,
    /// Which DocSpace audit sources to read.
    #[serde(default)]
    pub sources: Sources,
    /// Which events to keep; every list that is empty or absent keeps everything.
    #[serde(default)]
    pub filter: EventFilterSpec,
    /// How the report is rendered.
    #[serde(default)]
    pub report: ReportSpec,
    /// Where the report is uploaded.
    pub upload: UploadSpec,
}

fn default_settle_seconds() -> u32 {
    300
}

fn default_active_deadline_seconds() -> u32 {
    3600
}

/// Which missed scheduled instants run.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum MissedRuns {
    /// Every missed instant, oldest first: no period goes unreported.
    #[default]
    All,
    /// Only the most recent missed instant (Kubernetes CronJob behaviour).
    Latest,
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

/// The DocSpace portal to read from.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortalSpec {
    /// Base URL of the portal, e.g. `https://acme.onlyoffice.com`. Must be `https` unless the
    /// host is a loopback address or `allowInsecureHttp` is set.
    #[schemars(
        regex(pattern = r"^https?://[^\s/?#@]+(/[^\s?#]*)?$"),
        length(max = 2048)
    )]
    pub url: String,
    /// The Secret (in the resource's namespace) and key that hold the DocSpace API key.
    pub token_secret_ref: SecretKeyRef,
    /// Allows a plain `http` URL to a non-loopback host. Only for test portals.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Requests per minute the operator sends to this portal, all reports on it together
    /// (when reports disagree, the lowest wins). DocSpace's rate limiter, when enabled, allows
    /// 1,500 per user in any minute; the default leaves room for the user's other clients.
    #[serde(default = "default_max_requests_per_minute")]
    #[schemars(range(min = 1, max = 100000))]
    pub max_requests_per_minute: u32,
    /// Requests in flight at once to this portal, all reports on it together (the lowest
    /// wins). DocSpace allows 50 GETs per user; on 429 the operator sends fewer and recovers.
    #[serde(default = "default_max_concurrent_requests")]
    #[schemars(range(min = 1, max = 200))]
    pub max_concurrent_requests: u32,
}

fn default_max_requests_per_minute() -> u32 {
    crate::docspace::PortalLimits::DEFAULT_REQUESTS_PER_MINUTE
}

fn default_max_concurrent_requests() -> u32 {
    crate::docspace::PortalLimits::DEFAULT_MAX_CONCURRENT
}

impl PortalSpec {
    /// The request limits this spec sets for its portal.
    pub fn limits(&self) -> crate::docspace::PortalLimits {
        crate::docspace::PortalLimits {
            requests_per_minute: self.max_requests_per_minute,
            max_concurrent: self.max_concurrent_requests,
        }
    }
}

/// A key inside a Secret of the resource's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key inside the Secret's data.
    #[serde(default = "default_secret_key")]
    #[schemars(length(min = 1))]
    pub key: String,
}

fn default_secret_key() -> String {
    "token".to_owned()
}

/// The reporting period, computed from the scheduled run time in the resource's time zone.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Period {
    /// The calendar day before the run.
    PreviousDay,
    /// The ISO week (Monday to Monday) before the run's week.
    PreviousWeek,
    /// The calendar month before the run's month.
    #[default]
    PreviousMonth,
    /// From the previous scheduled run to this one.
    SinceLastRun,
}

/// Which audit sources to read.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    /// The audit trail (`/api/2.0/security/audit/events/filter`).
    #[serde(default = "yes")]
    pub audit_trail: bool,
    /// The login history (`/api/2.0/security/audit/login/filter`).
    #[serde(default)]
    pub login_history: bool,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            audit_trail: true,
            login_history: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// Which events to keep. Names and numeric ids are both accepted where the field says so.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventFilterSpec {
    /// Action types to keep, by name (`Delete`, `UpdateAccess`, `Download`, ...) or id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_types: Vec<NameOrId>,
    /// Actions to keep, by MessageAction name (`FileDeleted`) or id (`5018`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<NameOrId>,
    /// Actions to drop, by MessageAction name or id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_actions: Vec<NameOrId>,
    /// User ids (UUIDs) to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// User ids (UUIDs) to drop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_users: Vec<String>,
    /// Entry types to keep, by name (`File`, `Folder`, `Room`, `User`, ...) or id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_types: Vec<NameOrId>,
    /// Target ids (file, folder, room or user ids) to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Event contexts to keep, e.g. `Rooms: Legal`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<String>,
}

/// A value given either by name or by numeric id.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum NameOrId {
    /// A numeric id.
    Id(i32),
    /// A name, matched exactly.
    Name(String),
}

/// Kubernetes' structural schemas spell "a number or a string" as `x-kubernetes-int-or-string`.
impl JsonSchema for NameOrId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NameOrId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A name or a numeric id.",
            "x-kubernetes-int-or-string": true
        })
    }
}

impl std::fmt::Display for NameOrId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// Report rendering options.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportSpec {
    /// Formats to render; one file per format.
    #[serde(default = "default_formats")]
    #[schemars(length(min = 1))]
    pub formats: Vec<ReportFormat>,
    /// File name without extension. Placeholders: `{name}`, `{namespace}`, `{period}`
    /// (e.g. `2025-03`, `2025-W11`, `2025-03-14`), `{from}` and `{to}` (dates in the time zone).
    #[serde(default = "default_file_name")]
    #[schemars(length(min = 1))]
    pub file_name: String,
    /// Personal data in the report: applied before anything is rendered or hashed.
    #[serde(default)]
    pub privacy: PrivacySpec,
    /// Sections of the `md` and `txt` reports, in this order; all of them when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<SectionName>,
    /// Working hours; activity outside them is listed as after-hours.
    #[serde(default)]
    pub business_hours: BusinessHours,
    /// The Secret key (same namespace) holding an Ed25519 key that signs each run's manifest
    /// (a 32-byte seed, raw, hex or base64, or a PKCS#8 PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_secret_ref: Option<SecretKeyRef>,
    /// More downloads than this by one user within one clock hour is a mass download.
    #[serde(default = "default_mass_download")]
    #[schemars(range(min = 1))]
    pub mass_download_per_hour: u32,
    /// Compress the text formats (`txt`, `csv`, `ndjson`, `md`) before uploading them:
    /// `gzip` uploads `report.csv.gz` and the manifest hashes the compressed file as
    /// uploaded. `xlsx` is compressed already and stays as it is.
    #[serde(default)]
    pub compress: Compression,
}

/// Compression of the uploaded report files.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// As rendered.
    #[default]
    None,
    /// gzip (`.gz`).
    Gzip,
}

impl Default for ReportSpec {
    fn default() -> Self {
        Self {
            formats: default_formats(),
            file_name: default_file_name(),
            privacy: PrivacySpec::default(),
            sections: Vec::new(),
            business_hours: BusinessHours::default(),
            mass_download_per_hour: default_mass_download(),
            signing_key_secret_ref: None,
            compress: Compression::None,
        }
    }
}

fn default_mass_download() -> u32 {
    50
}

/// A section of the `md` and `txt` reports.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SectionName {
    /// Portal, resource, generator, period, privacy.
    Cover,
    /// Pages and events fetched per source, duplicates, retention, gaps: complete or not.
    Coverage,
    /// Totals, change against the previous period, findings.
    Summary,
    /// By category, action type, location, user, day, hour; top users and targets.
    Activity,
    /// Failed sign-ins, brute force, new countries.
    Authentication,
    /// Security settings, administrators, API keys, portal lifecycle.
    Privileged,
    /// Users and groups created, changed, deleted.
    Identity,
    /// Access changes and external links.
    Permissions,
    /// Downloads and exports, mass downloads.
    Downloads,
    /// Deletions.
    Deletions,
    /// Activity outside business hours.
    AfterHours,
    /// Every event.
    Appendix,
    /// Review and attestation, for a person to sign.
    Review,
}

impl SectionName {
    /// Every section, in report order.
    pub const ALL: [SectionName; 13] = [
        Self::Cover,
        Self::Coverage,
        Self::Summary,
        Self::Activity,
        Self::Authentication,
        Self::Privileged,
        Self::Identity,
        Self::Permissions,
        Self::Downloads,
        Self::Deletions,
        Self::AfterHours,
        Self::Appendix,
        Self::Review,
    ];
}

/// Working hours.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessHours {
    /// Working days, e.g. `[Mon, Tue, Wed, Thu, Fri]`.
    #[serde(default = "default_work_days")]
    pub days: Vec<Weekday>,
    /// Start of the working day, `HH:MM`.
    #[serde(default = "default_day_start")]
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// End of the working day, `HH:MM` (exclusive).
    #[serde(default = "default_day_end")]
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-4]):[0-5][0-9]$"))]
    pub end: String,
    /// IANA time zone of the hours; the report's `timeZone` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl Default for BusinessHours {
    fn default() -> Self {
        Self {
            days: default_work_days(),
            start: default_day_start(),
            end: default_day_end(),
            time_zone: None,
        }
    }
}

fn default_work_days() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
}

fn default_day_start() -> String {
    "08:00".to_owned()
}

fn default_day_end() -> String {
    "18:00".to_owned()
}

/// A day of the week.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

/// How personal data appears in reports.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivacySpec {
    /// Client IP addresses: as logged (`Full`), with the last IPv4 octet zeroed (`Truncate`),
    /// as a keyed hash (`Hash`), or left out (`Drop`).
    #[serde(default)]
    pub ip: Spelled<IpPrivacy>,
    /// Users: display names (`Name`), user ids only (`Id`), or keyed pseudonyms stable across
    /// reports (`Pseudonym`).
    #[serde(default)]
    pub users: Spelled<UserPrivacy>,
    /// The Secret key (same namespace) holding the key for `hash` and `pseudonym`; required
    /// by those modes. Keep it stable: changing it changes every pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret_ref: Option<SecretKeyRef>,
}

/// How client IP addresses appear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpPrivacy {
    /// As DocSpace logged them.
    #[default]
    Full,
    /// IPv4 with the last octet zeroed (DocSpace already cuts IPv6 at the first `:`).
    Truncate,
    /// A keyed hash (`ip-` and 12 hex digits), stable across reports.
    Hash,
    /// Left out.
    Drop,
}

spelling::camel_case_enum!(IpPrivacy {
    Full => "full",
    Truncate => "truncate",
    Hash => "hash",
    Drop => "drop",
});

/// How users appear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserPrivacy {
    /// Display names, ids and logins as logged.
    #[default]
    Name,
    /// User ids only: no names or logins; action texts, which embed names, become generic.
    Id,
    /// Keyed pseudonyms (`user-` and 12 hex digits) for users and user targets; no names,
    /// logins or ids; action texts become generic.
    Pseudonym,
}

spelling::camel_case_enum!(UserPrivacy {
    Name => "name",
    Id => "id",
    Pseudonym => "pseudonym",
});

fn default_formats() -> Vec<ReportFormat> {
    vec![ReportFormat::Txt, ReportFormat::Csv]
}

fn default_file_name() -> String {
    "compliance-report-{name}-{period}".to_owned()
}

/// A report format.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// Plain text, for reading.
    Txt,
    /// Comma-separated values, one row per event.
    Csv,
    /// Newline-delimited JSON, one event per line.
    Ndjson,
    /// Markdown with summary tables.
    Md,
    /// An Excel workbook: one sheet per section and the events.
    Xlsx,
}

impl ReportFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Txt => "txt",
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
            Self::Md => "md",
            Self::Xlsx => "xlsx",
        }
    }
}

/// Where and how the report is uploaded.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadSpec {
    /// The DocSpace folder (or room) id to upload into.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub folder_id: String,
    /// What to do when a file with the report's name already exists in the folder: `Skip`
    /// (keep it, upload nothing), `NewVersion` or `Rename`.
    #[serde(default)]
    pub on_existing: Spelled<OnExisting>,
    /// Lock every uploaded file in DocSpace, so that nobody edits the evidence.
    #[serde(default)]
    pub lock: bool,
}

/// What to do when the report's file already exists in the target folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnExisting {
    /// Keep the existing file and upload nothing.
    #[default]
    Skip,
    /// Upload as a new version of the existing file.
    NewVersion,
    /// Upload as a new file; DocSpace appends ` (1)`, ` (2)`, ... to the name.
    Rename,
}

spelling::camel_case_enum!(OnExisting {
    Skip => "skip",
    NewVersion => "newVersion",
    Rename => "rename",
});

/// What the operator reports about the last runs.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceReportStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Ready` summarises the last run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The scheduled instant of the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<DateTime<Utc>>,
    /// When the last run actually happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_time: Option<DateTime<Utc>>,
    /// When the last successful run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<DateTime<Utc>>,
    /// The next scheduled instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<DateTime<Utc>>,
    /// The period covered by the last report, `[from, to)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_period: Option<PeriodStatus>,
    /// Events in the last report, after filtering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_count: Option<u64>,
    /// Events fetched for the last report, before filtering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fetched_count: Option<u64>,
    /// File id of the first uploaded format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_uploaded_file_id: Option<String>,
    /// SHA-256 of the first uploaded format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_report_sha256: Option<String>,
    /// One entry per uploaded format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_uploads: Vec<UploadStatus>,
    /// SHA-256 of the last run's manifest: the head of the chain the next manifest links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_manifest_sha256: Option<String>,
    /// Events of the last report by compliance category, for the next report's comparison.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub last_category_counts: std::collections::BTreeMap<String, u64>,
    /// The scheduled instant of a run that started and has not succeeded yet. After a crash
    /// or failure, the next attempt treats that period's files found in the folder as uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_schedule_time: Option<DateTime<Utc>>,
    /// How the last run ended: `Succeeded` or the reason it failed (e.g. `Unauthorized`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_result: Option<String>,
    /// What the last run reported: its summary, or what went wrong and how to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32768))]
    pub last_run_message: Option<String>,
    /// Failed attempts at the run of `activeScheduleTime`; reset by a success or a skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub failed_attempts: Option<u32>,
    /// When the API key expires, as the portal said on the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_expires_at: Option<DateTime<Utc>>,
    /// When the failed run of `activeScheduleTime` is tried again (unless a change to the
    /// resource or its Secrets retries it sooner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_time: Option<DateTime<Utc>>,
    /// When the last failed run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failed_time: Option<DateTime<Utc>>,
    /// The value of the last `compliance.docspace.dev/run-requested-at` annotation the
    /// operator acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub last_handled_run_request: Option<String>,
    /// The last runs, newest first (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub history: Vec<RunRecord>,
    /// Periods no report covers, because their scheduled runs were skipped; newest first (at
    /// most 20). Run them by hand (`report --at`) if the evidence is needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub gaps: Vec<Gap>,
}

/// Runs kept in `status.history`.
pub const HISTORY_LIMIT: usize = 10;
/// Gaps kept in `status.gaps`.
pub const GAPS_LIMIT: usize = 20;

/// One run in `status.history`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The scheduled instant the run reported on.
    pub schedule_time: DateTime<Utc>,
    /// Why it ran: `Schedule`, `Backfill` (a missed instant) or `RunRequested` (the
    /// run-requested-at annotation).
    pub trigger: String,
    /// `Succeeded` or the reason it failed.
    pub result: String,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// How long it took, in seconds.
    pub duration_seconds: f64,
    /// Events in the report, after filtering (successful runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// SHA-256 of the run's manifest (successful runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
}

/// A period no report covers.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    /// Start, inclusive, in the resource's time zone.
    pub from: String,
    /// End, exclusive, in the resource's time zone.
    pub to: String,
    /// Scheduled runs skipped.
    pub skipped_runs: u32,
    /// Why: `StartingDeadlineExceeded`, `MissedRunsLatest` or `BackfillLimit`.
    pub reason: String,
}

/// A reporting period as shown in the status.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct PeriodStatus {
    /// Start, inclusive, in the resource's time zone.
    pub from: String,
    /// End, exclusive, in the resource's time zone.
    pub to: String,
}

/// One uploaded artefact.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    /// The format (`txt`, `csv`, ...), or `manifest` or `signature`.
    pub format: String,
    /// The file name.
    pub file_name: String,
    /// The DocSpace file id, if a file was uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// A status condition, shaped like Kubernetes' `metav1.Condition` (same field rules).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type: `Ready`, `Reconciling` or `Stalled`.
    #[serde(rename = "type")]
    #[schemars(
        regex(
            pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
        ),
        length(max = 316)
    )]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// A CamelCase reason, e.g. `Succeeded` or `Unauthorized`.
    #[schemars(
        regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
        length(min = 1, max = 1024)
    )]
    pub reason: String,
    /// A human-readable message.
    #[serde(default)]
    #[schemars(length(max = 32768))]
    pub message: String,
    /// When the status last changed.
    pub last_transition_time: DateTime<Utc>,
    /// The generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
}

/// The status of a condition.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    Unknown,
}
