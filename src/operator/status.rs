//! Writing the status: server-side apply under one field manager, and only when it changed.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::json;

use crate::spec::{ComplianceReport, ComplianceReportStatus, GAPS_LIMIT, HISTORY_LIMIT};
use crate::text::safe_message;

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "docspace-compliance-operator";

/// Makes every text of `status` safe to show (secrets redacted, one line each) and keeps its
/// lists within the schema's bounds, so that the API server never refuses the whole status.
fn sanitize(status: &mut ComplianceReportStatus) {
    status.gaps.truncate(GAPS_LIMIT);
    status.history.truncate(HISTORY_LIMIT);
    for condition in &mut status.conditions {
        condition.message = safe_text(&condition.message);
    }
    if let Some(message) = &mut status.last_run_message {
        *message = safe_text(message);
    }
}

/// The schema's limit on a message (`maxLength` of the condition and run messages).
const MESSAGE_LIMIT: usize = 32768;

/// Redacted and on one line first, then cut to the schema's limit: a portal's long error text
/// must not make the API server refuse the whole status.
fn safe_text(text: &str) -> String {
    safe_message(text).chars().take(MESSAGE_LIMIT).collect()
}

/// Writes `status` (its texts made safe) unless it equals what the object already has.
pub async fn write(
    api: &Api<ComplianceReport>,
    report: &ComplianceReport,
    status: &mut ComplianceReportStatus,
) -> Result<(), kube::Error> {
    sanitize(status);
    if report.status.as_ref() == Some(&*status) {
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
