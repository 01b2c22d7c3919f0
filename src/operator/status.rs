//! Writing the status: server-side apply under one field manager, and only when it changed.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::json;

use crate::spec::{ComplianceReport, ComplianceReportStatus};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "docspace-compliance-operator";

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
