//! Building and writing the status: conditions whose transition time only moves when their
//! status changes, written with server-side apply under one field manager, and only when it
//! changed.

use chrono::{DateTime, SubsecRound, Utc};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::json;

use crate::spec::{ComplianceReport, ComplianceReportStatus, Condition};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "docspace-compliance-operator";

/// The condition summarising the last run.
pub const READY: &str = "Ready";

/// Sets the `Ready` condition. `lastTransitionTime` changes only when `status` does.
pub fn set_ready(
    status: &mut ComplianceReportStatus,
    value: &str,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let message = message.into();
    let transition = status
        .conditions
        .iter()
        .find(|c| c.type_ == READY && c.status == value)
        .map_or_else(|| now.trunc_subsecs(0), |c| c.last_transition_time);
    status.conditions.retain(|c| c.type_ != READY);
    status.conditions.push(Condition {
        type_: READY.to_owned(),
        status: value.to_owned(),
        reason: reason.to_owned(),
        message,
        last_transition_time: transition,
        observed_generation: generation,
    });
}

/// The `Ready` condition, if set.
pub fn ready(status: &ComplianceReportStatus) -> Option<&Condition> {
    status.conditions.iter().find(|c| c.type_ == READY)
}

/// Writes `status` unless it equals what the object already has.
pub async fn write(
    api: &Api<ComplianceReport>,
    report: &ComplianceReport,
    status: &ComplianceReportStatus,
) -> Result<(), kube::Error> {
    if report.status.as_ref() == Some(status) {
        return Ok(());
    }
    let name = report.meta().name.clone().unwrap_or_default();
    let patch = Patch::Apply(json!({
        "apiVersion": ComplianceReport::api_version(&()),
        "kind": ComplianceReport::kind(&()),
        "status": status,
    }));
    api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &patch)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn transition_time_moves_only_when_the_status_changes() {
        let mut status = ComplianceReportStatus::default();
        set_ready(
            &mut status,
            "False",
            "Scheduled",
            "first run soon",
            Some(1),
            at("2025-01-01T00:00:00.5Z"),
        );
        assert_eq!(
            ready(&status).unwrap().last_transition_time,
            at("2025-01-01T00:00:00Z")
        );
        set_ready(
            &mut status,
            "False",
            "SecretNotFound",
            "no secret",
            Some(2),
            at("2025-01-02T00:00:00Z"),
        );
        let c = ready(&status).unwrap();
        assert_eq!(
            (c.reason.as_str(), c.last_transition_time),
            ("SecretNotFound", at("2025-01-01T00:00:00Z"))
        );
        assert_eq!(c.observed_generation, Some(2));
        set_ready(
            &mut status,
            "True",
            "Succeeded",
            "done",
            Some(2),
            at("2025-01-03T00:00:00Z"),
        );
        assert_eq!(
            ready(&status).unwrap().last_transition_time,
            at("2025-01-03T00:00:00Z")
        );
        assert_eq!(status.conditions.len(), 1);
    }
}
