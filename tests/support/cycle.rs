//! Report runs against a simulator: a spec pointed at it, a request with fast retries, the run
//! with its local copies in a temporary directory, and what the artefacts hold.

use std::collections::HashSet;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use docspace_compliance_operator::cycle::{
    CycleError, CycleOutcome, CycleRequest, Delivery, NoProgress, ResourceRef, execute,
};
use docspace_compliance_operator::docspace::{ApiKey, RetryPolicy};
use docspace_compliance_operator::spec::{ComplianceReportSpec, validate};
use docspace_sim::SimHandle;

use super::json::merge;
use super::sim::{sim_key, utc};

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

/// Runs `request` without a progress display.
pub async fn execute_request(request: CycleRequest) -> Result<CycleOutcome, CycleError> {
    execute(request, Arc::new(NoProgress)).await
}

/// Runs `spec` with the simulator's default key, uploading, keeping copies in `out_dir`.
pub async fn upload_into(
    spec: ComplianceReportSpec,
    at: &str,
    out_dir: &Path,
) -> Result<CycleOutcome, CycleError> {
    execute_request(request(spec, &sim_key(), at, Delivery::Upload, out_dir)).await
}

/// A finished run and the temporary directory holding its local copies (removed on drop);
/// reads as its outcome.
#[derive(Debug)]
pub struct Ran {
    pub outcome: CycleOutcome,
    pub dir: tempfile::TempDir,
}

impl Deref for Ran {
    type Target = CycleOutcome;

    fn deref(&self) -> &CycleOutcome {
        &self.outcome
    }
}

/// Runs `spec` at `at` with `key`, keeping local copies in a new temporary directory;
/// `adjust` sets what differs from [`request`]'s defaults.
pub async fn run_as(
    key: &str,
    spec: ComplianceReportSpec,
    at: &str,
    delivery: Delivery,
    adjust: impl FnOnce(&mut CycleRequest),
) -> Result<Ran, CycleError> {
    let dir = tempfile::tempdir().unwrap();
    let mut request = request(spec, key, at, delivery, dir.path());
    adjust(&mut request);
    let outcome = execute_request(request).await?;
    Ok(Ran { outcome, dir })
}

/// Runs `spec` at `at` with the simulator's default key, keeping local copies in a new
/// temporary directory; `adjust` sets what differs from [`request`]'s defaults.
pub async fn run_with(
    spec: ComplianceReportSpec,
    at: &str,
    delivery: Delivery,
    adjust: impl FnOnce(&mut CycleRequest),
) -> Result<Ran, CycleError> {
    run_as(&sim_key(), spec, at, delivery, adjust).await
}

/// Runs `spec` at `at` with the simulator's default key, uploading.
pub async fn upload(spec: ComplianceReportSpec, at: &str) -> Result<Ran, CycleError> {
    run_with(spec, at, Delivery::Upload, |_| {}).await
}

/// Runs `spec` at `at` with the simulator's default key, uploading nothing.
pub async fn dry_run(spec: ComplianceReportSpec, at: &str) -> Result<Ran, CycleError> {
    run_with(spec, at, Delivery::DryRun, |_| {}).await
}

/// The local copy of the run's first artefact, as text.
pub fn first_artefact(outcome: &CycleOutcome) -> String {
    std::fs::read_to_string(outcome.uploads[0].local_path.as_ref().unwrap()).unwrap()
}

/// The events in the run's NDJSON artefact, in file order.
pub fn ndjson_events(outcome: &CycleOutcome) -> Vec<serde_json::Value> {
    let upload = outcome
        .uploads
        .iter()
        .find(|u| u.file_name.ends_with(".ndjson"))
        .expect("an ndjson artefact");
    let text = std::fs::read_to_string(upload.local_path.as_ref().unwrap()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The ids of the events from `source` in the run's NDJSON artefact, in file order.
pub fn ndjson_ids(outcome: &CycleOutcome, source: &str) -> Vec<i64> {
    ndjson_events(outcome)
        .iter()
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
