//! Reading a `ComplianceReport` from a file's text, with errors that name the field.

use kube::Resource;

use super::ComplianceReport;

/// Parses a `ComplianceReport` from YAML or JSON text.
pub fn parse_report(text: &str, origin: &str) -> Result<ComplianceReport, String> {
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("{origin}: not valid YAML: {e}"))?;
    let expected_api = ComplianceReport::api_version(&());
    let expected_kind = ComplianceReport::kind(&());
    let api = value
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let kind = value
        .get("kind")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if api != expected_api || kind != expected_kind {
        return Err(format!(
            "{origin}: expected apiVersion {expected_api} and kind {expected_kind}, found {api:?} and {kind:?}"
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        format!(
            "{origin}: invalid ComplianceReport: {path}: {}",
            e.into_inner()
        )
    })
}
