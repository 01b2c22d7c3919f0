//! "Run now": the `compliance.docspace.dev/run-requested-at` annotation. Setting it to an
//! RFC 3339 instant asks for one run of the period of the most recent scheduled instant at or
//! before it; `status.lastHandledRunRequest` echoes the value once the operator acted on it,
//! so a new value is a new request and an unchanged one is never run twice.

use chrono::{DateTime, Utc};

use crate::spec::{ComplianceReport, ComplianceReportStatus};

/// The annotation that requests a run.
pub const RUN_REQUESTED_AT: &str = "compliance.docspace.dev/run-requested-at";

/// Characters of the annotation kept in `status.lastHandledRunRequest` (its schema's limit).
const TOKEN_LIMIT: usize = 64;

/// A request not handled yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// The annotation's value, echoed into the status once handled.
    pub token: String,
    /// The instant it names; `Err` with what is wrong when it names none.
    pub at: Result<DateTime<Utc>, String>,
}

/// The report's run request, unless there is none or it was handled already.
pub fn pending(
    report: &ComplianceReport,
    status: &ComplianceReportStatus,
) -> Option<PendingRequest> {
    let raw = report
        .metadata
        .annotations
        .as_ref()?
        .get(RUN_REQUESTED_AT)?;
    // The status keeps at most TOKEN_LIMIT characters: compare what it keeps.
    let token: String = raw.chars().take(TOKEN_LIMIT).collect();
    if status.last_handled_run_request.as_ref() == Some(&token) {
        return None;
    }
    let at = DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "annotation {RUN_REQUESTED_AT}: {:?} is not an RFC 3339 instant ({e}); set it to e.g. {}",
                token,
                Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
            )
        });
    Some(PendingRequest { token, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(annotation: Option<&str>, handled: Option<&str>) -> ComplianceReport {
        let mut value = serde_json::json!({
            "apiVersion": "compliance.docspace.dev/v1alpha1",
            "kind": "ComplianceReport",
            "metadata": {"name": "r", "namespace": "n"},
            "spec": {
                "portal": {"url": "https://acme.onlyoffice.com", "tokenSecretRef": {"name": "s"}},
                "schedule": "@monthly",
                "upload": {"folderId": "1"}
            }
        });
        if let Some(a) = annotation {
            value["metadata"]["annotations"] = serde_json::json!({ RUN_REQUESTED_AT: a });
        }
        if let Some(h) = handled {
            value["status"] = serde_json::json!({ "lastHandledRunRequest": h });
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_new_value_is_a_request_and_a_handled_one_is_not() {
        let pending =
            |r: &ComplianceReport| pending(r, r.status.as_ref().unwrap_or(&Default::default()));
        assert_eq!(pending(&report(None, None)), None);
        let request = pending(&report(Some("2025-04-02T10:00:00Z"), None)).unwrap();
        assert_eq!(
            request.at,
            Ok(DateTime::parse_from_rfc3339("2025-04-02T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc))
        );
        assert_eq!(
            pending(&report(
                Some("2025-04-02T10:00:00Z"),
                Some("2025-04-02T10:00:00Z")
            )),
            None
        );
        assert!(
            pending(&report(
                Some("2025-04-03T10:00:00+02:00"),
                Some("2025-04-02T10:00:00Z")
            ))
            .is_some()
        );
    }

    #[test]
    fn a_long_value_is_handled_once() {
        let long = format!("2026-01-01T00:00:00.{}Z", "0".repeat(80));
        let r = report(Some(&long), None);
        let request = pending(&r, &Default::default()).unwrap();
        assert_eq!(request.token.chars().count(), TOKEN_LIMIT);
        let handled = ComplianceReportStatus {
            last_handled_run_request: Some(request.token),
            ..Default::default()
        };
        assert_eq!(pending(&r, &handled), None);
    }

    #[test]
    fn a_value_that_is_no_instant_says_what_to_write() {
        let r = report(Some("now please"), None);
        let request = pending(&r, &Default::default()).unwrap();
        let message = request.at.unwrap_err();
        assert!(
            message.contains(RUN_REQUESTED_AT) && message.contains("RFC 3339"),
            "{message}"
        );
    }
}
