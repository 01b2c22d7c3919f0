//! Manifests the tests apply: a Secret holding a DocSpace key and a monthly ComplianceReport.

/// A Secret `namespace/name` whose `token` is `key`.
pub fn secret(namespace: &str, name: &str, key: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\nstringData: {{token: \"{key}\"}}\n"
    )
}

/// A ComplianceReport `namespace/name` of the portal at `url` with the key in Secret `secret`:
/// monthly at 03:00 UTC, the previous month as csv named `{name}-{period}`, into folder 1045;
/// `extra` (indented spec lines) is added to the spec.
pub fn report(namespace: &str, name: &str, url: &str, secret: &str, extra: &str) -> String {
    format!(
        "apiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         spec:\n  portal: {{url: \"{url}\", tokenSecretRef: {{name: {secret}}}}}\n  schedule: \"0 3 1 * *\"\n  \
         timeZone: UTC\n  period: PreviousMonth\n  report: {{formats: [csv], fileName: \"{name}-{{period}}\"}}\n  \
         upload: {{folderId: \"1045\"}}\n{extra}"
    )
}
