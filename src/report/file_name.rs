//! The report's file name, from the `fileName` template of the spec.

use crate::schedule::ReportPeriod;

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    /// `{something}` that is not a placeholder.
    #[error(
        "unknown placeholder {{{0}}}; use {{name}}, {{namespace}}, {{period}}, {{from}} or {{to}}"
    )]
    UnknownPlaceholder(String),
    /// A `{` without `}`.
    #[error("unclosed '{{'")]
    Unclosed,
    /// The template is empty or expands to a name DocSpace cannot store.
    #[error("the name must not be empty or contain / \\ : * ? \" < > |")]
    Unusable,
}

/// Checks a template without expanding it.
pub fn check_template(template: &str) -> Result<(), FileNameError> {
    const KNOWN: [&str; 5] = ["name", "namespace", "period", "from", "to"];
    expand(template, |key| {
        KNOWN.contains(&key).then(|| String::from("x"))
    })
    .map(|_| ())
}

/// Expands the template for a resource and period. Dates are local to the period's time zone.
pub fn file_stem(
    template: &str,
    name: &str,
    namespace: &str,
    period: &ReportPeriod,
) -> Result<String, FileNameError> {
    let tz = period.time_zone;
    expand(template, |key| match key {
        "name" => Some(name.to_owned()),
        "namespace" => Some(namespace.to_owned()),
        "period" => Some(period.label.clone()),
        "from" => Some(
            period
                .from
                .with_timezone(&tz)
                .format("%Y-%m-%d")
                .to_string(),
        ),
        "to" => Some(period.to.with_timezone(&tz).format("%Y-%m-%d").to_string()),
        _ => None,
    })
}

fn expand(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, FileNameError> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(FileNameError::Unclosed)?;
        let key = &after[..close];
        out.push_str(&value(key).ok_or_else(|| FileNameError::UnknownPlaceholder(key.to_owned()))?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let usable =
        !out.trim().is_empty() && !out.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']);
    if usable {
        Ok(out)
    } else {
        Err(FileNameError::Unusable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_placeholders_and_rejects_unknown_ones() {
        let period = ReportPeriod {
            from: "2025-02-28T23:00:00Z".parse().unwrap(),
            to: "2025-03-31T22:00:00Z".parse().unwrap(),
            time_zone: chrono_tz::Europe::Berlin,
            label: "2025-03".into(),
        };
        assert_eq!(
            file_stem(
                "audit-{namespace}-{name}-{period}_{from}_{to}",
                "legal",
                "compliance",
                &period
            )
            .unwrap(),
            "audit-compliance-legal-2025-03_2025-03-01_2025-04-01"
        );
        assert_eq!(
            check_template("x-{month}"),
            Err(FileNameError::UnknownPlaceholder("month".into()))
        );
        assert_eq!(check_template("x-{name"), Err(FileNameError::Unclosed));
        assert_eq!(check_template("a/b"), Err(FileNameError::Unusable));
    }
}
