//! The JSON object `report` and `demo` print on success.

use docspace_compliance_operator::cycle::CycleOutcome;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Output<'a> {
    period: Period,
    fetched_count: u64,
    event_count: u64,
    fetch: Fetch,
    uploads: Vec<Upload<'a>>,
}

/// How the events were read.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fetch {
    /// From the first page request to the last answer.
    seconds: f64,
    /// Audit-event pages read.
    pages: u64,
    /// Requests to the portal in the whole run, uploads included.
    requests: u64,
    /// Of which the portal answered 429.
    throttled: u64,
}

#[derive(Serialize)]
struct Period {
    from: String,
    to: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Upload<'a> {
    format: &'static str,
    file_name: &'a str,
    file_id: Option<&'a str>,
    sha256: &'a str,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_existing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// The outcome as one JSON object (an error only if serde cannot write it).
pub fn outcome_json(outcome: &CycleOutcome) -> Result<String, String> {
    let output = Output {
        period: Period {
            from: outcome.period.from_local(),
            to: outcome.period.to_local(),
        },
        fetched_count: outcome.fetched_count,
        event_count: outcome.event_count,
        fetch: Fetch {
            seconds: (outcome.fetch_duration.as_secs_f64() * 1000.0).round() / 1000.0,
            pages: outcome.paging.iter().map(|(_, stats)| stats.pages).sum(),
            requests: outcome.requests.sent,
            throttled: outcome.requests.throttled,
        },
        uploads: outcome
            .uploads
            .iter()
            .map(|u| Upload {
                format: u.kind.label(),
                file_name: &u.file_name,
                file_id: u.file_id.as_deref(),
                sha256: &u.sha256,
                bytes: u.bytes,
                skipped_existing: u.skipped_existing.then_some(true),
                local_path: u.local_path.as_ref().map(|p| p.display().to_string()),
                note: u.note.as_deref(),
            })
            .collect(),
    };
    serde_json::to_string(&output).map_err(|e| format!("cannot write the outcome as JSON: {e}"))
}
