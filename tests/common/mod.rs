//! Shared helpers for the integration tests: a simulator per test, specs pointed at it, and a
//! run with fast retries.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use docspace_compliance_operator::cycle::{
    CycleError, CycleOutcome, CycleRequest, Delivery, NoProgress, ResourceRef, execute,
};
use docspace_compliance_operator::docspace::{ApiKey, RetryPolicy};
use docspace_compliance_operator::sim::{SimConfig, SimHandle, Simulator};
use docspace_compliance_operator::spec::{ComplianceReportSpec, validate};

/// Parses an RFC 3339 instant.
pub fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A simulator with `audit` audit events in `[from, to)`.
pub async fn sim(
    audit: usize,
    from: &str,
    to: &str,
    tweak: impl FnOnce(&mut SimConfig),
) -> SimHandle {
    let mut config = SimConfig {
        audit_events: audit,
        login_events: 50,
        events_from: utc(from),
        events_to: utc(to),
        ..SimConfig::default()
    };
    tweak(&mut config);
    Simulator::start(config).await.unwrap()
}

/// A spec against `sim`, adjusted by a JSON merge patch.
pub fn spec(sim: &SimHandle, patch: serde_json::Value) -> ComplianceReportSpec {
    let mut value = serde_json::json!({
        "portal": {"url": sim.base_url(), "tokenSecretRef": {"name": "docspace", "key": "token"}},
        "schedule": "0 3 1 * *",
        "timeZone": "UTC",
        "period": "PreviousMonth",
        "report": {"formats": ["ndjson", "csv"]},
        "upload": {"folderId": "1045"}
    });
    merge(&mut value, patch);
    serde_json::from_value(value).unwrap()
}

/// Merges `patch` into `base`, object by object; anything else in `patch` replaces.
pub fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// Retries that do not slow the tests down.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_total_delay: Duration::from_secs(5),
        max_retry_after: Duration::from_secs(5),
        max_throttle_wait: Duration::from_secs(30),
    }
}

/// A run request for `spec` at `at`.
pub fn request(
    spec: ComplianceReportSpec,
    key: &str,
    at: &str,
    delivery: Delivery,
    out_dir: &Path,
) -> CycleRequest {
    let validated = validate(&spec).unwrap();
    let resource = ResourceRef {
        namespace: "compliance".into(),
        name: "monthly".into(),
    };
    let request = CycleRequest::new(
        resource,
        spec,
        validated,
        ApiKey::new(key).unwrap(),
        None,
        utc(at),
        utc(at),
    )
    .unwrap();
    CycleRequest {
        delivery,
        out_dir: Some(out_dir.to_owned()),
        retry: fast_retries(),
        timeout: None,
        ..request
    }
}

/// Runs `spec` with the simulator's default key, uploading, keeping copies in `out_dir`.
pub async fn run(
    spec: ComplianceReportSpec,
    at: &str,
    out_dir: &Path,
) -> Result<CycleOutcome, CycleError> {
    execute(
        request(spec, &sim_key(), at, Delivery::Upload, out_dir),
        std::sync::Arc::new(NoProgress),
    )
    .await
}

/// The simulator's default key.
pub fn sim_key() -> String {
    SimConfig::default().api_key
}

/// The ids in an NDJSON artefact, in file order.
pub fn ndjson_ids(outcome: &CycleOutcome, source: &str) -> Vec<i64> {
    let upload = outcome
        .uploads
        .iter()
        .find(|u| u.file_name.ends_with(".ndjson"))
        .expect("an ndjson artefact");
    let text = std::fs::read_to_string(upload.local_path.as_ref().unwrap()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["source"] == source)
        .map(|v| v["id"].as_i64().unwrap())
        .collect()
}

/// The ids as a set, asserting there are no duplicates.
pub fn unique(ids: &[i64]) -> HashSet<i64> {
    let set: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "duplicate event ids in the report");
    set
}
