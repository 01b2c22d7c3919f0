//! Reading as fast as the portal allows and no faster: concurrent slices, the shared per-portal
//! limiter, adaptive concurrency on 429, and filters the portal applies before paging.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use docspace_compliance_operator::cycle::{CycleRequest, Delivery, Progress, execute};
use docspace_compliance_operator::docspace::PortalLimiters;
use docspace_compliance_operator::docspace::Source;
use docspace_compliance_operator::spec::ComplianceReportSpec;
use docspace_sim::{RequestRecord, SimHandle};
use serde_json::json;
use support::cycle::{Ran, ndjson_events, ndjson_ids, request, run_with, spec, unique};
use support::json::merge;
use support::sim::{APRIL_RUN, MARCH_FROM, MARCH_TO, march_audit_ids, sim, sim_key};

const AUDIT_PATH: &str = "/api/2.0/security/audit/events/filter";

/// A portal that takes `latency_ms` per request and refuses GETs beyond `max_gets` in flight.
async fn limited_portal(events: usize, latency_ms: u64, max_gets: u32) -> SimHandle {
    sim(events, MARCH_FROM, MARCH_TO, |c| {
        c.latency = Duration::from_millis(latency_ms);
        c.max_concurrent_gets = Some(max_gets);
    })
    .await
}

/// The spec of these runs: ndjson only, adjusted by `patch`.
fn ndjson_spec(sim: &SimHandle, patch: serde_json::Value) -> ComplianceReportSpec {
    let mut spec_patch = json!({"report": {"formats": ["ndjson"]}});
    merge(&mut spec_patch, patch);
    spec(sim, spec_patch)
}

/// A dry run of the April run (March) against `sim`, the spec adjusted by `patch`.
async fn read_march(sim: &SimHandle, patch: serde_json::Value) -> Ran {
    read_march_with(sim, patch, |_| {}).await
}

/// [`read_march`], `adjust` setting what differs in the request.
async fn read_march_with(
    sim: &SimHandle,
    patch: serde_json::Value,
    adjust: impl FnOnce(&mut CycleRequest),
) -> Ran {
    run_with(ndjson_spec(sim, patch), APRIL_RUN, Delivery::DryRun, adjust)
        .await
        .unwrap()
}

/// Page requests `sim` received for the audit trail.
fn audit_pages(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path == AUDIT_PATH)
        .count()
}

fn status_count(requests: &[RequestRecord], status: u16) -> usize {
    requests.iter().filter(|r| r.status == status).count()
}

/// Counts what a progress display is told.
#[derive(Default)]
struct Recorded {
    throttled: std::sync::Mutex<Vec<Duration>>,
    fetched: std::sync::atomic::AtomicU64,
}

impl Progress for Recorded {
    fn fetched(&self, _: Source, _: u64, _: u64) {
        self.fetched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn throttled(&self, wait: Duration) {
        self.throttled.lock().unwrap().push(wait);
    }
}

#[tokio::test]
async fn a_portal_that_refuses_excess_requests_gets_fewer_and_every_event_is_read() {
    // The spec allows 16 requests in flight; the portal only 4.
    let sim = limited_portal(3_000, 20, 4).await;
    let out = tempfile::tempdir().unwrap();
    let progress = Arc::new(Recorded::default());
    let outcome = execute(
        request(
            ndjson_spec(&sim, json!({"portal": {"maxConcurrentRequests": 16}})),
            &sim_key(),
            APRIL_RUN,
            Delivery::DryRun,
            out.path(),
        ),
        progress.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        unique(&ndjson_ids(&outcome, "audit")),
        march_audit_ids(&sim)
    );
    let requests = sim.requests();
    let throttled = status_count(&requests, 429);
    println!(
        "{} requests, {throttled} answered 429, outcome says {:?}",
        requests.len(),
        outcome.requests
    );
    assert!(throttled > 0, "the portal did refuse some requests");
    // The progress display was told about each wait (the portal sends no Retry-After: the
    // client pauses for 250 ms and more).
    let waits = progress.throttled.lock().unwrap().clone();
    assert_eq!(waits.len(), throttled, "{waits:?}");
    assert!(
        waits.iter().all(|w| *w <= Duration::from_secs(15)),
        "{waits:?}"
    );
    assert_eq!(outcome.requests.throttled, throttled as u64);
    // Concurrency halves on each round of 429s (16, 8, 4) instead of hammering the portal.
    assert!(throttled <= 40, "{throttled} requests answered 429");
}

#[tokio::test]
async fn limits_within_the_portals_own_get_no_429() {
    let sim = limited_portal(3_000, 20, 4).await;
    let outcome = read_march(&sim, json!({"portal": {"maxConcurrentRequests": 4}})).await;
    assert_eq!(
        unique(&ndjson_ids(&outcome, "audit")),
        march_audit_ids(&sim)
    );
    assert_eq!(status_count(&sim.requests(), 429), 0);
    assert_eq!(outcome.requests.throttled, 0);
    // Pages requested ahead are dropped once a slice proves exhausted; the portal may never
    // see (and record) those.
    let recorded = sim.requests().len() as u64;
    assert!(
        (recorded..=recorded + 16).contains(&outcome.requests.sent),
        "{} sent, {recorded} recorded",
        outcome.requests.sent
    );
}

#[tokio::test]
async fn runs_against_one_portal_share_its_limiter() {
    let sim = limited_portal(2_000, 20, 4).await;
    let patch = || json!({"portal": {"maxConcurrentRequests": 4}});

    // Two runs, each allowed 4 in flight, but one limiter: never more than 4 together.
    let shared = Arc::new(PortalLimiters::default());
    let with_shared = |request: &mut CycleRequest| request.limiters = Arc::clone(&shared);
    let (x, y) = tokio::join!(
        read_march_with(&sim, patch(), with_shared),
        read_march_with(&sim, patch(), with_shared)
    );
    assert_eq!(x.event_count, y.event_count);
    assert_eq!(
        status_count(&sim.requests(), 429),
        0,
        "one limiter for both runs"
    );

    // The control: separate limiters add up past the portal's limit.
    sim.clear_requests();
    let (x, y) = tokio::join!(read_march(&sim, patch()), read_march(&sim, patch()));
    assert_eq!(x.event_count, y.event_count);
    assert!(
        status_count(&sim.requests(), 429) > 0,
        "two limiters of 4 overrun a portal of 4"
    );
}

#[tokio::test]
async fn a_quiet_period_costs_one_page_and_a_busy_one_is_read_in_slices() {
    let quiet = sim(60, MARCH_FROM, MARCH_TO, |_| {}).await;
    let outcome = read_march(&quiet, json!({})).await;
    assert_eq!(
        unique(&ndjson_ids(&outcome, "audit")),
        march_audit_ids(&quiet)
    );
    let pages = audit_pages(&quiet);
    assert_eq!(pages, 1, "one short page is the whole answer");

    let busy = sim(8_000, MARCH_FROM, MARCH_TO, |_| {}).await;
    let outcome = read_march(&busy, json!({})).await;
    assert_eq!(
        unique(&ndjson_ids(&outcome, "audit")),
        march_audit_ids(&busy)
    );
    let stats = outcome.paging[0].1;
    let pages = audit_pages(&busy) as u64;
    println!("8,000 events: {stats:?}, {pages} page requests");
    assert!(stats.windows > 2, "read in several slices: {stats:?}");
    // About one page per 99 events, plus a short page and a few pages requested past the end
    // for each slice.
    assert!(pages <= 8_000 / 99 + 16 * 9, "{pages} pages");
    // Concurrent slices are reported in order: the file reads chronologically.
    let dates: Vec<String> = ndjson_events(&outcome)
        .iter()
        .map(|e| e["timeUtc"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert!(dates == sorted, "the report is in chronological order");
}

#[tokio::test]
async fn an_estimate_far_too_high_costs_a_page_per_slice_not_the_pages_it_expected() {
    // The previous period held 200,000 events; this one 2,000. Each slice expects 60 pages,
    // but asks for its share of the slots first, and the pages still waiting for a slot when
    // its short page arrives are withdrawn, never sent.
    let sim = limited_portal(2_000, 20, 16).await;
    let outcome = read_march_with(&sim, json!({}), |request| {
        request.expected_events = Some(200_000);
    })
    .await;
    assert_eq!(
        unique(&ndjson_ids(&outcome, "audit")),
        march_audit_ids(&sim)
    );
    let stats = outcome.paging[0].1;
    let pages = audit_pages(&sim) as u64;
    println!("2,000 events, 200,000 expected: {stats:?}, {pages} page requests");
    assert!(stats.windows >= 16, "read in slices: {stats:?}");
    assert!(
        pages <= 2 * stats.windows + 2_000 / 99,
        "{pages} page requests for {} slices",
        stats.windows
    );
    assert_eq!(status_count(&sim.requests(), 429), 0);
}

#[tokio::test]
async fn a_single_action_or_user_is_filtered_by_the_portal_before_paging() {
    let sim = sim(4_000, MARCH_FROM, MARCH_TO, |_| {}).await;
    let all = read_march(&sim, json!({})).await;
    let events = ndjson_events(&all);
    let deleted: HashSet<i64> = events
        .iter()
        .filter(|e| e["actionId"] == 5018)
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(!deleted.is_empty());
    let unfiltered_pages = audit_pages(&sim);

    sim.clear_requests();
    let only = read_march(&sim, json!({"filter": {"actions": ["FileDeleted"]}})).await;
    let pages: Vec<RequestRecord> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == AUDIT_PATH)
        .collect();
    assert!(
        pages.iter().all(|r| r.query.contains("action=5018")),
        "{pages:?}"
    );
    assert_eq!(unique(&ndjson_ids(&only, "audit")), deleted);
    assert!(
        pages.len() * 4 < unfiltered_pages,
        "{} pages filtered against {unfiltered_pages}",
        pages.len()
    );

    // One user by id: the portal filters; the events are that user's.
    let user = events
        .iter()
        .find_map(|e| e["userId"].as_str())
        .unwrap()
        .to_owned();
    sim.clear_requests();
    let mine = read_march(&sim, json!({"filter": {"users": [user.to_uppercase()]}})).await;
    assert!(
        sim.requests()
            .iter()
            .filter(|r| r.path == AUDIT_PATH)
            .all(|r| r.query.contains(&format!("userId={user}")))
    );
    let expected: HashSet<i64> = events
        .iter()
        .filter(|e| e["userId"] == user.as_str())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(unique(&ndjson_ids(&mine, "audit")), expected);
}
