//! What a report is about: the resource, the portal, the period and the filter, shown in every
//! format's header.

use chrono::{DateTime, SecondsFormat, Utc};

use super::analysis::AnalysisOptions;
use crate::schedule::ReportPeriod;
use crate::spec::SectionName;

/// Facts shown in a report's header.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// `namespace/name` of the `ComplianceReport`, or the file name in CLI mode.
    pub resource: String,
    /// The portal's base URL.
    pub portal: String,
    /// The period covered.
    pub period: ReportPeriod,
    /// When the report was generated.
    pub generated_at: DateTime<Utc>,
    /// A one-line description of the filter, `everything` when empty.
    pub filter: String,
    /// How personal data appears, e.g. `ip=truncate users=pseudonym`.
    pub privacy: String,
    /// Sections of `md` and `txt`, in order.
    pub sections: Vec<SectionName>,
    /// Settings of the analysis sections.
    pub analysis: AnalysisOptions,
    /// Seconds the run waited after the period's end before reading it (`spec.settleSeconds`).
    pub settle_seconds: u32,
    /// Where this run's manifest links to, as one sentence.
    pub chain: String,
}

impl ReportContext {
    /// `from — to` in the report's time zone.
    pub fn period_local(&self) -> String {
        let tz = self.period.time_zone;
        format!(
            "{} to {} ({tz})",
            self.period
                .from
                .with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            self.period
                .to
                .with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// `from — to` in UTC.
    pub fn period_utc(&self) -> String {
        format!(
            "{} to {} (UTC)",
            self.period.from.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.period.to.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// Generation time in UTC.
    pub fn generated(&self) -> String {
        self.generated_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}
