//! Validation of a `ComplianceReport` spec, in one place, with errors that name the field.
//! The operator and the CLI both run it before anything else.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use super::ComplianceReportSpec;
use crate::report::{BusinessWindow, EventFilter, check_template};
use crate::schedule::{Schedule, parse_time_zone};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field path, e.g. `spec.timeZone`.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

/// Every problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The problems, in field order.
    pub problems: Vec<FieldProblem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid ComplianceReport: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.field, p.message)?;
        }
        Ok(())
    }
}

/// A spec that passed validation, with its parsed parts.
#[derive(Debug, Clone)]
pub struct ValidatedSpec {
    /// The schedule in its time zone.
    pub schedule: Schedule,
    /// The portal's base URL.
    pub portal_url: Url,
    /// The compiled event filter.
    pub filter: EventFilter,
    /// Working hours, in their time zone.
    pub business_hours: BusinessWindow,
    /// Values written in a deprecated spelling, each with the spelling to use instead.
    pub deprecations: Vec<String>,
}

/// The spec's values written in a deprecated spelling, as messages that say what to write.
fn deprecations(spec: &ComplianceReportSpec) -> Vec<String> {
    let privacy = &spec.report.privacy;
    [
        ("spec.upload.onExisting", spec.upload.on_existing.deprecated_spelling()),
        ("spec.report.privacy.ip", privacy.ip.deprecated_spelling()),
        ("spec.report.privacy.users", privacy.users.deprecated_spelling()),
    ]
    .into_iter()
    .filter_map(|(field, spelling)| {
        let (old, current) = spelling?;
        Some(format!(
            "{field}: {old:?} is deprecated, write {current:?} (Kubernetes spells enum values in CamelCase; the old spelling is accepted until the next API version)"
        ))
    })
    .collect()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn check_portal_url(text: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| {
        format!("{text:?} is not a URL ({e}); use e.g. https://acme.onlyoffice.com")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not contain credentials; put the API key in the Secret of tokenSecretRef"
                .to_owned(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must be the portal's base URL, without query or fragment".to_owned());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) || allow_insecure_http => Ok(url),
        "http" => Err(format!(
            "{text:?} uses plain http to a non-loopback host, which would send the API key unencrypted; \
             use https (or set spec.portal.allowInsecureHttp for a test portal)"
        )),
        other => Err(format!("unsupported scheme {other:?}; use https")),
    }
}

fn check_folder_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err(
            "must not be empty; use the id of the DocSpace folder or room to upload into"
                .to_owned(),
        );
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{id:?} is not a DocSpace folder id (letters, digits, '-' and '_' only)"
        ));
    }
    Ok(())
}

/// Validates a spec, collecting every problem.
pub fn validate(spec: &ComplianceReportSpec) -> Result<ValidatedSpec, SpecError> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(FieldProblem {
            field: field.to_owned(),
            message,
        })
    };

    let portal_url = check_portal_url(&spec.portal.url, spec.portal.allow_insecure_http)
        .map_err(|m| problem("spec.portal.url", m))
        .ok();
    if spec.portal.token_secret_ref.name.trim().is_empty() {
        problem(
            "spec.portal.tokenSecretRef.name",
            "must name the Secret that holds the API key".to_owned(),
        );
    }
    if spec.portal.token_secret_ref.key.trim().is_empty() {
        problem(
            "spec.portal.tokenSecretRef.key",
            "must name the key inside the Secret".to_owned(),
        );
    }
    if !(1..=100_000).contains(&spec.portal.max_requests_per_minute) {
        problem(
            "spec.portal.maxRequestsPerMinute",
            format!(
                "{} is out of range; use 1 to 100000 (DocSpace allows 1500 per user when its limiter is on)",
                spec.portal.max_requests_per_minute
            ),
        );
    }
    if !(1..=200).contains(&spec.portal.max_concurrent_requests) {
        problem(
            "spec.portal.maxConcurrentRequests",
            format!(
                "{} is out of range; use 1 to 200 (DocSpace allows 50 GETs in flight per user)",
                spec.portal.max_concurrent_requests
            ),
        );
    }
    let time_zone = parse_time_zone(&spec.time_zone)
        .map_err(|e| problem("spec.timeZone", e.to_string()))
        .ok();
    let business_hours = time_zone.and_then(|tz| {
        BusinessWindow::new(&spec.report.business_hours, tz)
            .map_err(|e| problem(e.field, e.message))
            .ok()
    });
    let schedule = time_zone.and_then(|tz| {
        Schedule::parse(&spec.schedule, tz)
            .map_err(|e| problem("spec.schedule", e.to_string()))
            .ok()
    });
    if let Some(seconds) = spec.starting_deadline_seconds
        && seconds < 0
    {
        problem(
            "spec.startingDeadlineSeconds",
            format!("{seconds} is negative; use 0 or more"),
        );
    }
    if spec.active_deadline_seconds == 0 {
        problem(
            "spec.activeDeadlineSeconds",
            "must be at least 1 (the default is 3600)".to_owned(),
        );
    }
    if !spec.sources.audit_trail && !spec.sources.login_history {
        problem(
            "spec.sources",
            "enable auditTrail, loginHistory or both".to_owned(),
        );
    }
    if spec.report.formats.is_empty() {
        problem(
            "spec.report.formats",
            "list at least one format: txt, csv, ndjson, md or xlsx".to_owned(),
        );
    }
    let mut seen = HashSet::new();
    for (i, format) in spec.report.formats.iter().enumerate() {
        if !seen.insert(format) {
            problem(
                &format!("spec.report.formats[{i}]"),
                format!("{} is listed twice", format.extension()),
            );
        }
    }
    if let Err(e) = check_template(&spec.report.file_name) {
        problem("spec.report.fileName", e.to_string());
    }
    if let Err(m) = check_folder_id(&spec.upload.folder_id) {
        problem("spec.upload.folderId", m);
    }
    let filter = EventFilter::compile(&spec.filter)
        .map_err(|errors| {
            for e in errors {
                problem(&e.field, e.message);
            }
        })
        .ok();

    match (schedule, portal_url, filter, business_hours) {
        (Some(schedule), Some(portal_url), Some(filter), Some(business_hours))
            if problems.is_empty() =>
        {
            Ok(ValidatedSpec {
                schedule,
                portal_url,
                filter,
                business_hours,
                deprecations: deprecations(spec),
            })
        }
        _ => Err(SpecError { problems }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml_patch: serde_json::Value) -> ComplianceReportSpec {
        let mut base = serde_json::json!({
            "portal": {"url": "https://acme.onlyoffice.com", "tokenSecretRef": {"name": "docspace", "key": "token"}},
            "schedule": "0 3 1 * *",
            "timeZone": "Europe/Berlin",
            "upload": {"folderId": "1045"}
        });
        merge(&mut base, yaml_patch);
        serde_json::from_value(base).unwrap()
    }

    fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
        match (base, patch) {
            (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
                for (k, v) in p {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, p) => *b = p,
        }
    }

    fn fields(err: SpecError) -> Vec<String> {
        err.problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_good_spec_validates() {
        let v = validate(&spec(serde_json::json!({}))).unwrap();
        assert_eq!(v.portal_url.as_str(), "https://acme.onlyoffice.com/");
        assert!(v.filter.is_empty());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (
                serde_json::json!({"schedule": "every day"}),
                "spec.schedule",
            ),
            (
                serde_json::json!({"timeZone": "Europe/Atlantis"}),
                "spec.timeZone",
            ),
            (
                serde_json::json!({"upload": {"folderId": ""}}),
                "spec.upload.folderId",
            ),
            (
                serde_json::json!({"upload": {"folderId": "../etc"}}),
                "spec.upload.folderId",
            ),
            (
                serde_json::json!({"filter": {"actions": ["FileShredded"]}}),
                "spec.filter.actions[0]",
            ),
            (
                serde_json::json!({"portal": {"url": "http://acme.onlyoffice.com"}}),
                "spec.portal.url",
            ),
            (
                serde_json::json!({"portal": {"url": "https://u:p@acme.onlyoffice.com"}}),
                "spec.portal.url",
            ),
            (
                serde_json::json!({"report": {"formats": []}}),
                "spec.report.formats",
            ),
            (
                serde_json::json!({"report": {"fileName": "r-{month}"}}),
                "spec.report.fileName",
            ),
            (
                serde_json::json!({"startingDeadlineSeconds": -5}),
                "spec.startingDeadlineSeconds",
            ),
            (
                serde_json::json!({"sources": {"auditTrail": false}}),
                "spec.sources",
            ),
        ];
        for (patch, field) in cases {
            let Err(err) = validate(&spec(patch.clone())) else {
                panic!("{patch} should be rejected");
            };
            assert!(err.to_string().contains(field), "{patch}: {err}");
            assert_eq!(fields(err), vec![field.to_owned()], "{patch}");
        }
    }

    #[test]
    fn working_hours_that_cannot_be_used_are_named() {
        let problems = |hours: serde_json::Value| {
            fields(
                validate(&spec(
                    serde_json::json!({"report": {"businessHours": hours}}),
                ))
                .unwrap_err(),
            )
        };
        assert_eq!(
            problems(serde_json::json!({"timeZone": "Mars/Base"})),
            ["spec.report.businessHours.timeZone"]
        );
        assert_eq!(
            problems(serde_json::json!({"days": []})),
            ["spec.report.businessHours.days"]
        );
        assert_eq!(
            problems(serde_json::json!({"start": "18:00", "end": "08:00"})),
            ["spec.report.businessHours.end"]
        );
        assert_eq!(
            problems(serde_json::json!({"start": "8 am"})),
            ["spec.report.businessHours.start"]
        );
        assert!(
            validate(&spec(
                serde_json::json!({"report": {"businessHours": {"start": "22:00", "end": "24:00"}}})
            ))
            .is_ok()
        );
    }

    #[test]
    fn old_enum_spellings_validate_with_a_deprecation_each() {
        let current = validate(&spec(serde_json::json!({
            "upload": {"onExisting": "NewVersion"},
            "report": {"privacy": {"ip": "Truncate", "users": "Id"}}
        })))
        .unwrap();
        assert!(
            current.deprecations.is_empty(),
            "{:?}",
            current.deprecations
        );
        let old = validate(&spec(serde_json::json!({
            "upload": {"onExisting": "newVersion"},
            "report": {"privacy": {"ip": "truncate", "users": "id"}}
        })))
        .unwrap();
        assert_eq!(old.deprecations.len(), 3, "{:?}", old.deprecations);
        assert!(
            old.deprecations[0].starts_with(
                "spec.upload.onExisting: \"newVersion\" is deprecated, write \"NewVersion\""
            ),
            "{:?}",
            old.deprecations
        );
        assert!(old.deprecations[2].contains("write \"Id\""));
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let err = validate(&spec(
            serde_json::json!({"timeZone": "Nowhere", "upload": {"folderId": " "}}),
        ))
        .unwrap_err();
        assert_eq!(fields(err), vec!["spec.timeZone", "spec.upload.folderId"]);
    }

    #[test]
    fn http_is_allowed_to_loopback_or_when_explicitly_allowed() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(
                validate(&spec(serde_json::json!({"portal": {"url": url}}))).is_ok(),
                "{url}"
            );
        }
        let allowed = spec(
            serde_json::json!({"portal": {"url": "http://docspace.test", "allowInsecureHttp": true}}),
        );
        assert!(validate(&allowed).is_ok());
    }

    #[test]
    fn unknown_periods_and_formats_fail_to_parse_with_the_field() {
        let mut value = serde_json::to_value(spec(serde_json::json!({}))).unwrap();
        value["period"] = serde_json::json!("PreviousYear");
        let err = serde_path_to_error::deserialize::<_, ComplianceReportSpec>(value).unwrap_err();
        assert_eq!(err.path().to_string(), "period");
        assert!(err.to_string().contains("PreviousMonth"), "{err}");
    }
}
