//! One operator, many reports (the small, behavioural sibling of bench/operator_scale.sh):
//! 50 ComplianceReports with mixed schedules and time zones over 5 simulated portals and 3
//! Secrets, on a real API server. Every report is reconciled to Scheduled; then all 50 fall
//! due at the same instant (the clock file moves), and every one runs exactly once, while at
//! most `--max-concurrent-runs` run at a time and the per-portal limiter keeps each portal
//! under the GETs in flight it allows (no 429; see `PORTAL_HEADROOM`), although several runs
//! share a portal at once.
//!
//! Timing is not asserted; bench/operator_scale.sh measures it at 1,000 reports.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use docspace_compliance_operator::schedule::{Schedule, parse_time_zone, period_for};
use docspace_compliance_operator::spec::Period;
use docspace_sim::{DEFAULT_API_KEY, DEFAULT_SEED, SimConfig, Simulator};
use support::cluster::{monthly, rfc3339};
use support::conditions::{current_reason_is, ready_reason};
use support::fixtures::secret;
use support::kube::{ApiServer, Operator, set_clock};

const NAMESPACE: &str = "scale";
const REPORTS: usize = 50;
const PORTALS: usize = 5;
const SECRETS: usize = 3;
/// `--max-concurrent-runs`.
const MAX_RUNS: usize = 8;
/// `spec.portal.maxConcurrentRequests` of every report.
const PORTAL_CONCURRENCY: u32 = 2;
/// GETs in flight each simulated portal allows beyond `PORTAL_CONCURRENCY` before it answers
/// 429: none. (A time slice that reaches its end awaits the pages it requested ahead, so each
/// keeps its limiter permit until the portal has answered it.)
const PORTAL_HEADROOM: u32 = 0;
const WAIT: Duration = Duration::from_secs(90);

/// A schedule (cron, zone, period) whose latest instant at `s1 + 30 s` is `s1`, for the
/// `kind`-th way of writing it: monthly in UTC and in Tokyo, daily in New York and in Kolkata,
/// weekly in Berlin. Each is checked against the operator's own schedule code.
fn schedule_at(kind: usize, s1: DateTime<Utc>) -> (String, &'static str, Period) {
    let (zone, period) = match kind {
        0 => ("UTC", Period::PreviousMonth),
        1 => ("Asia/Tokyo", Period::PreviousMonth),
        2 => ("America/New_York", Period::PreviousDay),
        3 => ("Europe/Berlin", Period::PreviousWeek),
        _ => ("Asia/Kolkata", Period::PreviousDay),
    };
    let local = s1.with_timezone(&parse_time_zone(zone).unwrap());
    let (minute, hour) = (local.minute(), local.hour());
    let cron = match period {
        Period::PreviousMonth => format!("{minute} {hour} {} * *", local.day()),
        Period::PreviousWeek => format!(
            "{minute} {hour} * * {}",
            local.weekday().num_days_from_sunday()
        ),
        _ => format!("{minute} {hour} * * *"),
    };
    let schedule = Schedule::parse(&cron, parse_time_zone(zone).unwrap()).unwrap();
    assert_eq!(
        schedule.latest_at_or_before(s1 + TimeDelta::seconds(30)),
        Some(s1),
        "{cron} in {zone}"
    );
    (cron, zone, period)
}

fn period_name(period: Period) -> &'static str {
    match period {
        Period::PreviousDay => "PreviousDay",
        Period::PreviousWeek => "PreviousWeek",
        Period::PreviousMonth => "PreviousMonth",
        Period::SinceLastRun => "SinceLastRun",
    }
}

/// One report's YAML document; `missedRuns: Latest`, so that the days the clock skips to bring every
/// schedule due at once are not backfilled: this test counts one run per report.
fn report_yaml(
    name: &str,
    url: &str,
    secret: &str,
    cron: &str,
    zone: &str,
    period: Period,
) -> String {
    format!(
        "apiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\n\
         metadata: {{name: {name}, namespace: {NAMESPACE}}}\nspec:\n  \
         portal: {{url: \"{url}\", tokenSecretRef: {{name: {secret}}}, \
         maxConcurrentRequests: {PORTAL_CONCURRENCY}}}\n  schedule: \"{cron}\"\n  \
         timeZone: {zone}\n  period: {}\n  missedRuns: Latest\n  \
         report: {{formats: [csv], fileName: \"{name}-{{period}}\"}}\n  \
         upload: {{folderId: \"1045\"}}\n",
        period_name(period)
    )
}

/// Polls the namespace's reports until `check` holds for all `REPORTS` of them; returns them
/// by name.
fn wait_all(
    server: &ApiServer,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> BTreeMap<String, serde_json::Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let list = server.get_json(NAMESPACE, "compliancereports");
        let reports: BTreeMap<String, serde_json::Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["metadata"]["name"].as_str().unwrap().to_owned(),
                    r.clone(),
                )
            })
            .collect();
        let pending: Vec<String> = reports
            .iter()
            .filter(|(_, r)| !check(r))
            .map(|(name, r)| format!("{name}: {}", r["status"]))
            .collect();
        if reports.len() == REPORTS && pending.is_empty() {
            return reports;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until every report is {what}: {} of {REPORTS} exist, not yet: {pending:#?}",
            reports.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The most intervals that hold at one instant (an interval ending when another starts does
/// not overlap it).
fn max_overlap<'a>(intervals: impl Iterator<Item = &'a (DateTime<Utc>, DateTime<Utc>)>) -> usize {
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for (start, end) in intervals {
        edges.push((*start, 1));
        edges.push((*end, -1));
    }
    // Ends sort before starts at the same instant.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    usize::try_from(most).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_reports_fall_due_together_within_the_run_and_portal_limits() {
    let server = ApiServer::start();
    let work = tempfile::tempdir().unwrap();
    let clock = work.path().join("now");
    set_clock(&clock, Utc::now());
    // The first 03:00 UTC on the first of a month after now: every schedule below is due then.
    let s1 = monthly().next_after(Utc::now()).unwrap();

    // Five portals whose rate limiter allows PORTAL_CONCURRENCY (+ PORTAL_HEADROOM) GETs in
    // flight; each request takes 25 ms, so runs that share a portal overlap at its door. Events cover every period
    // the schedules report (the 16 days before s1).
    let mut sims = Vec::new();
    for p in 0..PORTALS {
        let sim = Simulator::start(SimConfig {
            audit_events: 1_000,
            login_events: 20,
            events_from: s1 - TimeDelta::days(16),
            events_to: s1 - TimeDelta::hours(1),
            seed: DEFAULT_SEED + p as u64,
            latency: Duration::from_millis(25),
            max_concurrent_gets: Some(PORTAL_CONCURRENCY + PORTAL_HEADROOM),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        sims.push(sim);
    }

    // 3 Secrets and 50 reports: portal i % 5, Secret i % 3, schedule kind (i / 5) % 5, so
    // every portal has every kind of schedule.
    server.kubectl_ok(&["create", "namespace", NAMESPACE]);
    let mut yaml = String::new();
    for s in 0..SECRETS {
        yaml += "---\n";
        yaml += &secret(NAMESPACE, &format!("docspace-{s}"), DEFAULT_API_KEY);
    }
    let mut plan = BTreeMap::new();
    for i in 0..REPORTS {
        let name = format!("r{i:02}");
        let portal = i % PORTALS;
        let (cron, zone, period) = schedule_at((i / PORTALS) % 5, s1);
        yaml += "---\n";
        yaml += &report_yaml(
            &name,
            &sims[portal].base_url(),
            &format!("docspace-{}", i % SECRETS),
            &cron,
            zone,
            period,
        );
        plan.insert(name, (portal, cron, zone, period));
    }
    server.apply_ok(&yaml);

    let max_runs = MAX_RUNS.to_string();
    let operator = Operator::start_with(
        &server,
        &clock,
        "op-scale",
        work.path(),
        &[
            "--allow-any-portal",
            "--max-concurrent-runs",
            &max_runs,
            "--error-backoff-seconds",
            "1",
            "--error-backoff-max-seconds",
            "2",
        ],
    );

    // Every report is reconciled, without a run and without calling a portal.
    let scheduled = wait_all(&server, "Scheduled", current_reason_is("Scheduled"));
    for (name, report) in &scheduled {
        assert!(
            report["status"]["nextScheduleTime"].is_string(),
            "{name}: {}",
            report["status"]
        );
    }
    for sim in &sims {
        assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    }
    assert_eq!(operator.metric(r#"runs_total{result="success"}"#), 0.0);

    // All 50 fall due at s1.
    set_clock(&clock, s1 + TimeDelta::seconds(30));
    let s1_text = rfc3339(s1);
    let done = wait_all(&server, "Succeeded at s1", |r| {
        ready_reason(r) == Some("Succeeded") && r["status"]["lastScheduleTime"] == s1_text
    });

    // Each ran once, with the events of its own period from its own portal, and uploaded
    // its file there: no run starved, none ran twice, none read another's portal.
    for (name, report) in &done {
        let (portal, cron, zone, period) = &plan[name];
        let sim = &sims[*portal];
        let schedule = Schedule::parse(cron, parse_time_zone(zone).unwrap()).unwrap();
        let span = period_for(*period, &schedule, s1, None).unwrap();
        let truth = sim
            .audit_event_ids_in(span.from, span.to - TimeDelta::seconds(1))
            .len();
        let status = &report["status"];
        assert_eq!(status["lastEventCount"], truth, "{name}: {status}");
        assert!(truth > 0, "{name}: the simulator has events in {span:?}");
        let csv: Vec<_> = sim
            .uploads()
            .into_iter()
            .filter(|f| f.title == format!("{name}-{}.csv", span.label))
            .collect();
        assert_eq!(csv.len(), 1, "{name}: one csv on portal {portal}");
        assert_eq!(
            status["lastUploadedFileId"],
            csv[0].id.to_string(),
            "{name}"
        );
        assert_eq!(csv[0].version, 1, "{name}: uploaded once");
    }
    for (p, sim) in sims.iter().enumerate() {
        let csv = sim
            .uploads()
            .iter()
            .filter(|f| f.title.ends_with(".csv"))
            .count();
        assert_eq!(
            csv,
            REPORTS / PORTALS,
            "portal {p}: one csv per report on it"
        );
    }
    assert_eq!(
        operator.metric(r#"runs_total{result="success"}"#),
        REPORTS as f64
    );

    // The per-portal limiter held: no portal ever had more GETs in flight than it allows
    // (it answers 429 past them), although several reports ran against it at once (asserted
    // below), each allowed PORTAL_CONCURRENCY: separate limiters would add up past it.
    let mut requests = 0;
    for (p, sim) in sims.iter().enumerate() {
        let log = sim.requests();
        let throttled: Vec<_> = log.iter().filter(|r| r.status == 429).collect();
        assert!(
            throttled.is_empty(),
            "portal {p}: {} of {} answers were 429: {throttled:#?}",
            throttled.len(),
            log.len()
        );
        assert!(
            log.iter().all(|r| r.status == 200 || r.status == 201),
            "portal {p}: {:?}",
            log.iter().filter(|r| r.status >= 300).collect::<Vec<_>>()
        );
        requests += log.len();
    }
    assert_eq!(
        operator.metric(r#"docspace_requests_total{status="429"}"#),
        0.0
    );

    // Runs in flight, from each run's RunStarted and RunSucceeded Events (published while the
    // run holds its slot of --max-concurrent-runs): never more than the slots, and the fan-out
    // did happen, with several runs on one portal at once.
    let events = server.get_json(NAMESPACE, "events.events.k8s.io");
    let mut started: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    let mut succeeded: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for event in events["items"].as_array().unwrap() {
        let at = || {
            DateTime::parse_from_rfc3339(event["eventTime"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc)
        };
        let name = event["regarding"]["name"].as_str().unwrap().to_owned();
        match event["reason"].as_str().unwrap() {
            "RunStarted" => started.entry(name).or_default().push(at()),
            "RunSucceeded" => succeeded.entry(name).or_default().push(at()),
            "RunFailed" | "RunRetrying" => panic!("{name}: {event}"),
            _ => {}
        }
    }
    let mut runs: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for name in plan.keys() {
        let (s, e) = (&started[name], &succeeded[name]);
        assert_eq!((s.len(), e.len()), (1, 1), "{name}: one run");
        assert!(s[0] <= e[0], "{name}");
        runs.insert(name.clone(), (s[0], e[0]));
    }
    let in_flight = max_overlap(runs.values());
    let per_portal: Vec<usize> = (0..PORTALS)
        .map(|p| max_overlap(runs.iter().filter(|(n, _)| plan[*n].0 == p).map(|(_, r)| r)))
        .collect();
    let first = runs.values().map(|r| r.0).min().unwrap();
    let last = runs.values().map(|r| r.1).max().unwrap();
    println!(
        "{REPORTS} runs in {:.1} s, at most {in_flight} in flight (limit {MAX_RUNS}), at most \
         {per_portal:?} at once per portal, {requests} requests, no 429",
        (last - first).as_seconds_f64()
    );
    assert!(
        in_flight <= MAX_RUNS,
        "{in_flight} runs were in flight at once, more than --max-concurrent-runs={MAX_RUNS}"
    );
    assert!(in_flight >= 2, "the runs never overlapped: {runs:?}");
    assert!(
        per_portal.iter().any(|&n| n >= 2),
        "no two runs shared a portal at once, the limiter was not put to the test: {per_portal:?}"
    );
    drop(operator);
}
