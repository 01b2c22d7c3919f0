//! "Run now": the `compliance.docspace.dev/run-requested-at` annotation. Setting it to an
//! RFC 3339 instant asks for one run of the period of the most recent scheduled instant at or
//! before it; `status.lastHandledRunRequest` echoes the value once the operator acted on it,
//! so a new value is a new request and an unchanged one is never run twice.

use chrono::{DateTime, Utc};

use crate::spec::ComplianceReport;

/// The annotation that requests a run.
pub const RUN_REQUESTED_AT: &str = "compliance.docspace.dev/run-requested-at";

/// A request not handled yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// The annotation's value, echoed into the status once handled.
    pub token: String,
    /// The instant it names; `Err` with what is wrong when it names none.
    pub at: Result<DateTime<Utc>, String>,
}

/// The report's run request, unless there is none or it was handled already.
pub fn pending(report: &ComplianceReport) -> Option<PendingRequest> {
    let token = report
        .metadata
        .annotations
        .as_ref()?
        .get(RUN_REQUESTED_AT)?;
    let handled = report
        .status
        .as_ref()
        .and_then(|s| s.last_handled_run_request.as_ref());
    if handled == Some(token) {
        return None;
    }
    let at = DateTime::parse_from_rfc3339(token.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "annotation {RUN_REQUESTED_AT}: {:?} is not an RFC 3339 instant ({e}); set it to e.g. {}",
                token.chars().take(64).collect::<String>(),
                Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
            )
        });
    Some(PendingRequest {
        token: token.chars().take(64).collect(),
        at,
    })
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
    fn a_value_that_is_no_instant_says_what_to_write() {
        let request = pending(&report(Some("now please"), None)).unwrap();
        let message = request.at.unwrap_err();
        assert!(
            message.contains(RUN_REQUESTED_AT) && message.contains("RFC 3339"),
            "{message}"
        );
    }
}
