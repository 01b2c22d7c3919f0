//! Reports: the event filter, privacy, the compliance categories and the analysis, the renderers
//! (`txt`, `csv`, `ndjson`, `md`, `xlsx`) and the streaming writer that hashes every artefact.
//! Pure: no I/O except through the files it is handed.

mod analysis;
mod categories;
mod context;
mod document;
mod file_name;
mod filter;
mod privacy;
mod render;
mod summary;
mod view;
mod writer;
mod xlsx;

pub use analysis::{AnalysisOptions, BusinessHoursError, BusinessWindow};
pub use categories::{Category, CategoryMap, UNCATEGORISED, Uncategorised};
pub use context::ReportContext;
pub use file_name::{FileNameError, check_template, file_stem};
pub use filter::{EventFilter, FilterError};
pub use privacy::{Privacy, PrivacyError, PrivacyKey};
pub use render::content_type;
pub use summary::{FetchFacts, PreviousTotals};

/// Days of login history read before a period, to tell sign-ins from new countries.
pub const LOGIN_LOOKBACK_DAYS: i64 = 30;
pub(crate) use writer::HashingWriter;
pub use writer::{Artefact, ArtefactKind, ReportWriter};

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::DateTime;

    use super::ReportContext;
    use crate::docspace::{Event, Source};
    use crate::schedule::ReportPeriod;

    /// Nothing learnt while reading: no paging, retention, plan or previous report.
    pub fn no_facts() -> super::FetchFacts {
        super::FetchFacts {
            paging: Vec::new(),
            retention: None,
            audit_plan: None,
            previous: None,
            generated_at: DateTime::parse_from_rfc3339("2025-04-01T06:00:00Z")
                .unwrap()
                .to_utc(),
        }
    }

    /// A plain audit event at 2025-03-14T14:00:00Z.
    pub fn event(id: i64, action_id: i32) -> Event {
        Event {
            source: Source::Audit,
            id,
            date: DateTime::parse_from_rfc3339("2025-03-14T14:00:00Z")
                .unwrap()
                .to_utc(),
            user: Some("Jane Smith".into()),
            user_id: Some("6b0f7b1e-2a1c-4b8e-9d2a-0c1f5e6a7b8c".into()),
            login: None,
            action: Some("File Uploaded: Q1.pdf".into()),
            action_id,
            action_type: Some(13),
            location: Some(1),
            product: Some(2),
            ip: Some("203.0.113.24".into()),
            country: None,
            city: None,
            browser: Some("Chrome 134".into()),
            platform: None,
            page: None,
            target: vec!["23817".into()],
            entries: vec![1],
            context: Some("Rooms: Legal".into()),
        }
    }

    /// A context for March 2025 in Berlin.
    pub fn context() -> ReportContext {
        ReportContext {
            resource: "compliance/monthly".into(),
            portal: "https://acme.example".into(),
            period: ReportPeriod {
                from: DateTime::parse_from_rfc3339("2025-02-28T23:00:00Z")
                    .unwrap()
                    .to_utc(),
                to: DateTime::parse_from_rfc3339("2025-03-31T22:00:00Z")
                    .unwrap()
                    .to_utc(),
                time_zone: chrono_tz::Europe::Berlin,
                label: "2025-03".into(),
            },
            generated_at: DateTime::parse_from_rfc3339("2025-04-01T01:00:00Z")
                .unwrap()
                .to_utc(),
            filter: "everything".into(),
            privacy: "ip=full users=name".into(),
            sections: crate::spec::SectionName::ALL.to_vec(),
            analysis: super::AnalysisOptions {
                time_zone: chrono_tz::Europe::Berlin,
                business_hours: super::BusinessWindow::new(
                    &crate::spec::BusinessHours::default(),
                    chrono_tz::Europe::Berlin,
                )
                .unwrap(),
                mass_download_per_hour: 50,
                list_limit: 100,
            },
            settle_seconds: 300,
            chain: "The chain of manifests starts here (first run).".into(),
        }
    }
}
