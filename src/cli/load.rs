//! Reading a `ComplianceReport` from a file, with errors that name the field.

use std::path::Path;

pub use docspace_compliance_operator::spec::parse_report;
use docspace_compliance_operator::spec::{ComplianceReport, ValidatedSpec, validate};

/// Checks `metadata.name` (required) and `metadata.namespace` the way the API server would: a
/// DNS subdomain name and a DNS label namespace. They name the report's files, so a bad one
/// must fail before any request.
fn check_metadata(report: &ComplianceReport) -> Result<(), String> {
    let subdomain = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    };
    let name = report.metadata.name.as_deref().unwrap_or_default();
    if !subdomain(name) {
        return Err(format!(
            "metadata.name {name:?}: required, lowercase letters, digits, '-' and '.', at most 253 characters"
        ));
    }
    if let Some(namespace) = report.metadata.namespace.as_deref()
        && (namespace.len() > 63 || namespace.contains('.') || !subdomain(namespace))
    {
        return Err(format!(
            "metadata.namespace {namespace:?}: lowercase letters, digits and '-', at most 63 characters"
        ));
    }
    Ok(())
}

/// Reads and validates a `ComplianceReport` file.
pub fn load_report(path: &Path) -> Result<(ComplianceReport, ValidatedSpec), String> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {origin}: {e}"))?;
    let report = parse_report(&text, &origin)?;
    check_metadata(&report).map_err(|e| format!("{origin}: {e}"))?;
    let validated = validate(&report.spec).map_err(|e| format!("{origin}: {e}"))?;
    for deprecation in &validated.deprecations {
        tracing::warn!("{origin}: {deprecation}");
    }
    Ok((report, validated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_path() {
        let yaml = "apiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\nmetadata: {name: x}\n\
                    spec:\n  portal: {url: 'https://a.example', tokenSecretRef: {name: s}}\n  schedule: '@daily'\n  \
                    period: PreviousYear\n  upload: {folderId: '1'}\n";
        let err = parse_report(yaml, "r.yaml").unwrap_err();
        assert!(err.contains("spec.period"), "{err}");
        assert!(err.contains("PreviousMonth"), "{err}");
        let err = parse_report("kind: Pod\napiVersion: v1\n", "p.yaml").unwrap_err();
        assert!(err.contains("expected apiVersion"), "{err}");
    }

    #[test]
    fn names_are_checked_like_the_api_server_does() {
        let with = |metadata: &str| {
            let yaml = format!(
                "apiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\nmetadata: {metadata}\n\
                 spec:\n  portal: {{url: 'https://a.example', tokenSecretRef: {{name: s}}}}\n  schedule: '@daily'\n  \
                 upload: {{folderId: '1'}}\n"
            );
            check_metadata(&parse_report(&yaml, "r.yaml").unwrap())
        };
        assert!(with("{name: monthly, namespace: team}").is_ok());
        assert!(with("{name: a.b-c}").is_ok());
        for bad in [
            "{}",
            "{name: ''}",
            "{name: '../etc'}",
            "{name: 'A'}",
            "{name: 'x/y'}",
            "{name: x, namespace: 'a.b'}",
        ] {
            let err = with(bad).unwrap_err();
            assert!(err.starts_with("metadata."), "{bad}: {err}");
        }
    }
}
