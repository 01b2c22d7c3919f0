//! The operator on a real Kubernetes API server (built from the Kubernetes Go modules by
//! scripts/apiserver.sh), running as its own process under the RBAC of deploy/, against the
//! DocSpace simulator, with a clock file the test moves.

mod support;

use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use docspace_compliance_operator::schedule::{Schedule, parse_time_zone};
use docspace_sim::{DEFAULT_API_KEY, Fault, FaultRule};
use support::cluster::{Cluster, monthly, rfc3339};
use support::conditions::{WAIT, condition, current_reason_is, eventually, ready, reason_is};
use support::files::sha256_hex;
use support::fixtures::{report, secret};
use support::kube::{Operator, set_clock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_reconciles_reports_on_a_real_api_server() {
    let Cluster {
        server,
        work,
        clock,
        s1,
        month_from,
        month_to,
        sim,
    } = Cluster::start(1500, "team").await;
    let url = sim.base_url();
    let operator = Operator::start(&server, &clock, "op-a", work.path());

    // Invalid resources are rejected by the API server with a readable message.
    let bad_enum =
        report("team", "bad", &url, "docspace", "").replace("PreviousMonth", "PreviousYear");
    let out = server.apply(&bad_enum);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.period") && stderr.contains("PreviousMonth"),
        "{stderr}"
    );
    let no_folder = report("team", "bad", &url, "docspace", "")
        .replace("  upload: {folderId: \"1045\"}\n", "  upload: {}\n");
    let stderr = String::from_utf8_lossy(&server.apply(&no_folder).stderr).into_owned();
    assert!(
        stderr.contains("spec.upload.folderId") && stderr.contains("Required"),
        "{stderr}"
    );
    let bad_schedule = report("team", "bad", &url, "docspace", "").replace("0 3 1 * *", "0 3 1 *");
    let stderr = String::from_utf8_lossy(&server.apply(&bad_schedule).stderr).into_owned();
    assert!(
        stderr.contains("schedule must have five fields"),
        "{stderr}"
    );

    // A valid report waits for its first schedule.
    server.apply_ok(&secret("team", "docspace", DEFAULT_API_KEY));
    server.apply_ok(&report("team", "monthly", &url, "docspace", ""));
    let waiting = server.wait_for("team", "creport/monthly", WAIT, reason_is("Scheduled"));
    assert_eq!(waiting["status"]["nextScheduleTime"], rfc3339(s1));

    // Semantically invalid (unknown time zone): a condition and an event, not a crash loop.
    let zone = report("team", "zone", &url, "docspace", "")
        .replace("timeZone: UTC", "timeZone: Mars/Base");
    server.apply_ok(&zone);
    let invalid = server.wait_for("team", "creport/zone", WAIT, reason_is("InvalidSpec"));
    assert!(ready(&invalid).unwrap().2.contains("spec.timeZone"));
    // Missing Secret, wrong key, suspended.
    server.apply_ok(&report("team", "nosecret", &url, "later", ""));
    server.apply_ok(&secret("team", "wrong", "sk-not-the-key"));
    server.apply_ok(&report("team", "wrongkey", &url, "wrong", ""));
    server.apply_ok(&report(
        "team",
        "paused",
        &url,
        "docspace",
        "  suspend: true\n",
    ));
    server.wait_for("team", "creport/paused", WAIT, reason_is("Suspended"));
    // Hourly reports created now: at the move below many hours are missed.
    let hourly = |name: &str, extra: &str| {
        report("team", name, &url, "docspace", extra)
            .replace("0 3 1 * *", "0 * * * *")
            .replace("PreviousMonth", "SinceLastRun")
    };
    server.apply_ok(&hourly(
        "hourly",
        "  settleSeconds: 0\n  missedRuns: Latest\n",
    ));
    server.apply_ok(&hourly("late", "  startingDeadlineSeconds: 10\n"));
    // The default settle time: a run of a period that just ended waits for late writes.
    server.apply_ok(&hourly("settling", "  missedRuns: Latest\n"));
    server.wait_for("team", "creport/late", WAIT, reason_is("Scheduled"));

    // The schedule comes due.
    set_clock(&clock, s1 + TimeDelta::seconds(30));
    let out = server.kubectl_ok(&[
        "wait",
        "-n",
        "team",
        "--for=condition=Ready",
        "--timeout=60s",
        "creport/monthly",
    ]);
    assert!(out.contains("condition met"), "{out}");
    let done = server.get_json("team", "creport/monthly");
    let status = &done["status"];
    let truth = sim
        .audit_event_ids_in(month_from, month_to - TimeDelta::seconds(1))
        .len();
    assert_eq!(status["lastEventCount"], truth);
    let stored = sim
        .uploads()
        .into_iter()
        .find(|f| f.title.starts_with("monthly-") && f.title.ends_with(".csv"))
        .unwrap();
    assert_eq!(status["lastUploadedFileId"], stored.id.to_string());
    assert_eq!(status["lastReportSha256"], sha256_hex(&stored.content));
    assert_eq!(status["lastScheduleTime"], rfc3339(s1));
    let reasons = server.event_reasons("team", "monthly");
    assert!(
        reasons.contains(&"RunStarted".to_owned()) && reasons.contains(&"RunSucceeded".to_owned()),
        "{reasons:?}"
    );
    let table = server.kubectl_ok(&["get", "creport", "-n", "team", "monthly"]);
    assert!(
        table.contains("FILE ID") && table.contains(&stored.id.to_string()),
        "{table}"
    );

    // Missed hourly schedules: only the latest runs, and an event says how many were missed.
    server.wait_for("team", "creport/hourly", WAIT, reason_is("Succeeded"));
    let notes = server.event_notes("team", "hourly");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("earlier scheduled run(s) were missed")),
        "{notes:?}"
    );
    assert_eq!(
        sim.uploads()
            .iter()
            .filter(|f| f.title.starts_with("hourly-") && f.title.ends_with(".csv"))
            .count(),
        1
    );
    // A passed starting deadline skips.
    let late = server.wait_for("team", "creport/late", WAIT, |v| {
        !v["status"]["lastScheduleTime"].is_null()
    });
    assert_eq!(ready(&late).unwrap().1, "Scheduled", "{}", late["status"]);
    assert!(
        server
            .event_reasons("team", "late")
            .contains(&"MissedSchedules".to_owned())
    );
    // The skipped hours are a gap of its SinceLastRun coverage, up to the newest skipped one.
    let gap = &late["status"]["gaps"][0];
    assert_eq!(
        gap["reason"], "StartingDeadlineExceeded",
        "{}",
        late["status"]
    );
    let instant =
        |v: &serde_json::Value| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(
        instant(&gap["to"]),
        instant(&late["status"]["lastScheduleTime"])
    );
    assert!(!sim.uploads().iter().any(|f| f.title.starts_with("late-")));
    // Suspended: nothing ran.
    assert!(!sim.uploads().iter().any(|f| f.title.starts_with("paused-")));
    // Settling: due, but its period ended 30 s ago; it waits (300 s) and says so.
    let settling = server.wait_for("team", "creport/settling", WAIT, |v| {
        condition(v, "Reconciling").is_some_and(|(_, reason)| reason == "Settling")
    });
    assert!(
        settling["status"]["lastScheduleTime"].is_null(),
        "{}",
        settling["status"]
    );
    assert!(
        !sim.uploads()
            .iter()
            .any(|f| f.title.starts_with("settling-"))
    );

    // Secret problems are conditions and Warning events, and fixing the Secret recovers.
    let missing = server.wait_for(
        "team",
        "creport/nosecret",
        WAIT,
        reason_is("SecretNotFound"),
    );
    assert!(ready(&missing).unwrap().2.contains("team/later"));
    assert!(
        server
            .event_reasons("team", "nosecret")
            .contains(&"SecretNotFound".to_owned())
    );
    server.wait_for("team", "creport/wrongkey", WAIT, reason_is("Unauthorized"));
    server.apply_ok(&secret("team", "later", DEFAULT_API_KEY));
    server.apply_ok(&secret("team", "wrong", DEFAULT_API_KEY));
    server.wait_for("team", "creport/nosecret", WAIT, reason_is("Succeeded"));
    server.wait_for("team", "creport/wrongkey", WAIT, reason_is("Succeeded"));

    // A portal that answers 402 is a PaymentRequired condition with a Warning event.
    let unpaid = support::sim::sim(10, &month_from.to_rfc3339(), &month_to.to_rfc3339(), |c| {
        c.portal_unpaid = true
    })
    .await;
    server.apply_ok(&report(
        "team",
        "unpaid",
        &unpaid.base_url(),
        "docspace",
        "",
    ));
    let failed = server.wait_for("team", "creport/unpaid", WAIT, reason_is("PaymentRequired"));
    assert!(
        ready(&failed).unwrap().2.contains("402"),
        "{}",
        failed["status"]
    );
    assert!(
        server
            .event_reasons("team", "unpaid")
            .contains(&"RunFailed".to_owned())
    );

    // The status is written by server-side apply, by one field manager.
    let managers: Vec<String> = server
        .managed_fields("team", "creport/monthly")
        .iter()
        .filter(|m| m["subresource"] == "status")
        .map(|m| {
            format!(
                "{}/{}",
                m["manager"].as_str().unwrap_or_default(),
                m["operation"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(managers, vec!["docspace-compliance-operator/Apply"]);

    // kubectl explain documents every spec field.
    let explain = server.kubectl_ok(&["explain", "compliancereport.spec", "--recursive=false"]);
    for field in [
        "portal",
        "schedule",
        "timeZone",
        "period",
        "suspend",
        "startingDeadlineSeconds",
        "sources",
        "filter",
        "report",
        "upload",
    ] {
        assert!(
            explain.contains(field),
            "{field} missing from kubectl explain: {explain}"
        );
    }
    assert!(explain.contains("IANA time zone"), "{explain}");

    // Nothing anywhere carries the key.
    let everything = server.kubectl_ok(&[
        "get",
        "creport,events.events.k8s.io",
        "-n",
        "team",
        "-o",
        "yaml",
    ]);
    assert!(!everything.contains(DEFAULT_API_KEY) && !everything.contains("sk-not-the-key"));
    assert!(
        !operator.log_text().contains(DEFAULT_API_KEY),
        "the key is in the operator log"
    );

    // Probes and metrics.
    assert_eq!(operator.http_get("/livez").map(|r| r.0), Some(200));
    assert_eq!(
        operator.http_get("/readyz").map(|r| r.0),
        Some(200),
        "{}",
        operator.log_text()
    );
    let (_, metrics) = operator.http_get("/metrics").unwrap();
    assert!(
        metrics.contains("docspace_compliance_runs_total{result=\"success\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("docspace_compliance_runs_total{result=\"Unauthorized\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("docspace_compliance_docspace_requests_total{status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "docspace_compliance_next_run_timestamp_seconds{namespace=\"team\",name=\"monthly\"}"
        ),
        "{metrics}"
    );
    drop(operator);
    drop(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_and_a_crash_upload_each_period_once() {
    let Cluster {
        server,
        work,
        clock,
        s1,
        month_from,
        sim,
        ..
    } = Cluster::start(800, "ha").await;
    let url = sim.base_url();
    server.apply_ok(&secret("ha", "docspace", DEFAULT_API_KEY));
    let spec = report("ha", "pair", &url, "docspace", "")
        .replace("formats: [csv]", "formats: [csv, ndjson]")
        .replace(
            "upload: {folderId: \"1045\"}",
            "upload: {folderId: \"1045\", onExisting: Rename}",
        );
    server.apply_ok(&spec);

    let mut a = Operator::start(&server, &clock, "op-a", work.path());
    let b = Operator::start(&server, &clock, "op-b", work.path());
    server.wait_for("ha", "creport/pair", WAIT, reason_is("Scheduled"));
    // The second upload of the run hangs long enough to kill the leader in the middle.
    sim.add_fault(
        FaultRule::new("/files/1045/upload", Fault::Delay(Duration::from_secs(4)))
            .skip(2)
            .times(1),
    );
    set_clock(&clock, s1 + TimeDelta::seconds(30));
    eventually("an upload to start", WAIT, || !sim.uploads().is_empty());
    // One file is stored; the leader is now waiting on the second upload. Kill whichever leads.
    let leader_is_a = a.log_text().contains("became the leader");
    let mut leader = if leader_is_a { a } else { b };
    leader.kill();
    // The other replica takes the Lease and finishes the run.
    server.wait_for(
        "ha",
        "creport/pair",
        Duration::from_secs(90),
        reason_is("Succeeded"),
    );
    let files: Vec<String> = sim.uploads().into_iter().map(|f| f.title).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            "pair-".to_owned() + &month_label(month_from) + ".csv",
            "pair-".to_owned() + &month_label(month_from) + ".manifest.json",
            "pair-".to_owned() + &month_label(month_from) + ".ndjson"
        ],
        "exactly one file per format: {files:?}"
    );
    // Restarting the killed replica changes nothing.
    a = Operator::start(&server, &clock, "op-c", work.path());
    eventually("the restarted replica to come up", WAIT, || {
        a.http_get("/livez").map(|r| r.0) == Some(200)
    });
    assert_eq!(sim.uploads().len(), 3);
    drop(a);
    drop(leader);
}

fn month_label(from: DateTime<Utc>) -> String {
    from.format("%Y-%m").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_backs_off_and_a_fixed_secret_runs_at_once() {
    let Cluster {
        server,
        work,
        clock,
        s1,
        sim,
        ..
    } = Cluster::start(200, "retry").await;
    let url = sim.base_url();
    server.apply_ok(&secret("retry", "docspace", "sk-rejected"));
    server.apply_ok(&report("retry", "monthly", &url, "docspace", ""));
    // The default backoff: 10 s, doubling, up to 15 min.
    let operator = Operator::start_with(
        &server,
        &clock,
        "op-r",
        work.path(),
        &["--allow-any-portal"],
    );
    server.wait_for("retry", "creport/monthly", WAIT, reason_is("Scheduled"));
    set_clock(&clock, s1 + TimeDelta::seconds(30));
    let failed = server.wait_for("retry", "creport/monthly", WAIT, reason_is("Unauthorized"));
    let rejected = || sim.requests().iter().filter(|r| r.status == 401).count();
    let per_run = rejected();
    assert!(per_run >= 1, "{:?}", sim.requests());
    assert_eq!(
        condition(&failed, "Stalled"),
        Some(("True".to_owned(), "Unauthorized".to_owned())),
        "{}",
        failed["status"]
    );

    // Over the next 60 s: status writes do not re-trigger runs; backoff spaces the retries.
    let window = std::time::Instant::now();
    let mut attempts_seen = Vec::new();
    while window.elapsed() < Duration::from_secs(60) {
        let status = server.get_json("retry", "creport/monthly")["status"].clone();
        if let Some(n) = status["failedAttempts"].as_u64()
            && attempts_seen.last() != Some(&n)
        {
            let retry_at =
                DateTime::parse_from_rfc3339(status["nextRetryTime"].as_str().unwrap()).unwrap();
            let ran_at =
                DateTime::parse_from_rfc3339(status["lastRunTime"].as_str().unwrap()).unwrap();
            let nominal = 10 * 2i64.pow(u32::try_from(n).unwrap() - 1);
            let delay = (retry_at - ran_at).num_milliseconds();
            assert!(
                delay >= nominal * 900 - 1000 && delay <= nominal * 1100 + 1000,
                "attempt {n}: retry after {delay} ms, expected ~{nominal} s"
            );
            attempts_seen.push(n);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let runs = operator.metric(r#"runs_total{result="Unauthorized"}"#);
    println!(
        "60 s window: {runs} runs, {} rejected requests, attempts seen {attempts_seen:?}",
        rejected()
    );
    assert!(
        (2.0..=4.0).contains(&runs),
        "a rejected key must be retried with backoff, not looped: {runs} runs in 60 s\n{}",
        operator.log_text()
    );
    assert_eq!(
        rejected(),
        per_run * runs as usize,
        "the portal saw exactly the metric's runs"
    );
    let retrying = server
        .event_reasons("retry", "monthly")
        .iter()
        .filter(|r| *r == "RunRetrying")
        .count();
    assert!(retrying >= 2, "one RunRetrying event per retry: {retrying}");
    let notes = server.event_notes("retry", "monthly");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("attempt 1 failed (Unauthorized); retrying in ")),
        "{notes:?}"
    );
    assert!(
        notes.iter().all(|n| !n.contains("[redacted] the API key")),
        "ordinary words are not redacted: {notes:?}"
    );

    // Right after an attempt, the next retry is at least ~36 s away: fixing the Secret runs
    // the report at once instead.
    let attempts = |v: &serde_json::Value| v["status"]["failedAttempts"].as_u64().unwrap_or(0);
    let before = attempts(&server.get_json("retry", "creport/monthly"));
    let pending = server.wait_for("retry", "creport/monthly", Duration::from_secs(90), |v| {
        attempts(v) > before
    });
    let retry_at =
        DateTime::parse_from_rfc3339(pending["status"]["nextRetryTime"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
    server.apply_ok(&secret("retry", "docspace", DEFAULT_API_KEY));
    let done = server.wait_for(
        "retry",
        "creport/monthly",
        Duration::from_secs(30),
        reason_is("Succeeded"),
    );
    let succeeded_at =
        DateTime::parse_from_rfc3339(done["status"]["lastRunTime"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
    assert!(
        succeeded_at < retry_at,
        "the fix ran at once ({succeeded_at}), not at the retry ({retry_at})"
    );
    assert!(
        done["status"]["failedAttempts"].is_null(),
        "{}",
        done["status"]
    );
    assert!(done["status"]["nextRetryTime"].is_null());
    assert_eq!(condition(&done, "Stalled"), None);
    assert_eq!(operator.metric(r#"runs_total{result="success"}"#), 1.0);
    let csv = sim
        .uploads()
        .iter()
        .filter(|f| f.title.starts_with("monthly-") && f.title.ends_with(".csv"))
        .count();
    assert_eq!(csv, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_follow_the_spec_and_the_world_without_a_run() {
    let Cluster {
        server,
        work,
        clock,
        sim,
        ..
    } = Cluster::start(10, "cond").await;
    let url = sim.base_url();
    let origin = url.trim_end_matches('/').to_owned();
    let other = url.replace("127.0.0.1", "localhost");
    server.apply_ok(&secret("cond", "docspace", DEFAULT_API_KEY));
    let allow_sim = format!("--allowed-portals={origin}");
    let mut operator =
        Operator::start_with(&server, &clock, "op-c", work.path(), &[allow_sim.as_str()]);
    let paused = report("cond", "paused", &url, "docspace", "  suspend: true\n");
    let zone = report("cond", "zone", &url, "docspace", "")
        .replace("timeZone: UTC", "timeZone: Mars/Base");
    for yaml in [
        paused.clone(),
        zone.clone(),
        report("cond", "elsewhere", &other, "docspace", ""),
        report("cond", "nosecret", &url, "later", ""),
    ] {
        server.apply_ok(&yaml);
    }
    server.wait_for(
        "cond",
        "creport/paused",
        WAIT,
        current_reason_is("Suspended"),
    );
    for (name, reason) in [
        ("zone", "InvalidSpec"),
        ("elsewhere", "PortalNotAllowed"),
        ("nosecret", "SecretNotFound"),
    ] {
        let value = server.wait_for(
            "cond",
            &format!("creport/{name}"),
            WAIT,
            current_reason_is(reason),
        );
        assert_eq!(
            condition(&value, "Stalled"),
            Some(("True".to_owned(), reason.to_owned())),
            "{name}: {}",
            value["status"]
        );
        assert!(
            server
                .event_reasons("cond", name)
                .contains(&reason.to_owned()),
            "{name}: a Warning event"
        );
    }

    // Each fix shows within seconds, long before any run.
    let soon = Duration::from_secs(15);
    server.apply_ok(&paused.replace("  suspend: true\n", ""));
    server.wait_for(
        "cond",
        "creport/paused",
        soon,
        current_reason_is("Scheduled"),
    );
    server.apply_ok(&zone.replace("Mars/Base", "Europe/Berlin"));
    let fixed = server.wait_for("cond", "creport/zone", soon, current_reason_is("Scheduled"));
    assert_eq!(condition(&fixed, "Stalled"), None, "{}", fixed["status"]);
    server.apply_ok(&secret("cond", "later", DEFAULT_API_KEY));
    let found = server.wait_for("cond", "creport/nosecret", soon, reason_is("Scheduled"));
    assert_eq!(condition(&found, "Stalled"), None);
    // The allow-list changes with a restart (a chart upgrade).
    operator.kill();
    let allow_both = format!("--allowed-portals={origin},{}", other.trim_end_matches('/'));
    let operator = Operator::start_with(
        &server,
        &clock,
        "op-c2",
        work.path(),
        &[allow_both.as_str()],
    );
    let allowed = server.wait_for("cond", "creport/elsewhere", WAIT, reason_is("Scheduled"));
    assert_eq!(condition(&allowed, "Stalled"), None);
    // Deleting the Secret is seen as well.
    server.kubectl_ok(&["delete", "secret", "-n", "cond", "later"]);
    server.wait_for(
        "cond",
        "creport/nosecret",
        soon,
        reason_is("SecretNotFound"),
    );

    // None of it ran a report or called the portal.
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    assert_eq!(operator.metric(r#"runs_total{result="success"}"#), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standbys_are_ready_and_the_next_leader_takes_over() {
    let Cluster {
        server,
        work,
        clock,
        s1,
        sim,
        ..
    } = Cluster::start(100, "standby").await;
    let url = sim.base_url();
    server.apply_ok(&secret("standby", "docspace", DEFAULT_API_KEY));
    server.apply_ok(&report("standby", "monthly", &url, "docspace", ""));
    let a = Operator::start(&server, &clock, "op-a", work.path());
    let b = Operator::start(&server, &clock, "op-b", work.path());
    // Both are ready once synced, leader or not; exactly one leads.
    for operator in [&a, &b] {
        eventually("/readyz answers 200", WAIT, || {
            operator.http_get("/readyz").map(|r| r.0) == Some(200)
        });
    }
    eventually("one replica leads", WAIT, || {
        a.metric("leader") + b.metric("leader") == 1.0
    });
    server.wait_for("standby", "creport/monthly", WAIT, reason_is("Scheduled"));
    let (mut leader, standby) = if a.metric("leader") == 1.0 {
        (a, b)
    } else {
        (b, a)
    };
    // Only the leader runs.
    set_clock(&clock, s1 + TimeDelta::seconds(30));
    server.wait_for("standby", "creport/monthly", WAIT, reason_is("Succeeded"));
    assert_eq!(leader.metric(r#"runs_total{result="success"}"#), 1.0);
    assert_eq!(standby.metric(r#"runs_total{result="success"}"#), 0.0);
    assert_eq!(standby.http_get("/readyz").map(|r| r.0), Some(200));

    // The leader dies: the standby takes the Lease within the lease duration (3 s) plus its
    // renewal period, and runs the next instant.
    leader.kill();
    let killed = std::time::Instant::now();
    eventually("the standby takes over", Duration::from_secs(30), || {
        standby.metric("leader") == 1.0
    });
    let handover = killed.elapsed();
    println!("handover after {handover:?}");
    assert!(handover < Duration::from_secs(10), "{handover:?}");
    let s2 = monthly().next_after(s1).unwrap();
    set_clock(&clock, s2 + TimeDelta::seconds(30));
    server.wait_for("standby", "creport/monthly", WAIT, |v| {
        v["status"]["lastScheduleTime"] == rfc3339(s2)
    });
    assert_eq!(standby.metric(r#"runs_total{result="success"}"#), 1.0);
    let csv = sim
        .uploads()
        .iter()
        .filter(|f| f.title.starts_with("monthly-") && f.title.ends_with(".csv"))
        .count();
    assert_eq!(csv, 2, "one report per month");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_secret_scope_says_why_a_secret_is_not_found() {
    let Cluster {
        server,
        work,
        clock,
        sim,
        ..
    } = Cluster::start(10, "scoped").await;
    server.kubectl_ok(&["create", "namespace", "outside"]);
    let url = sim.base_url();
    for ns in ["scoped", "outside"] {
        server.apply_ok(&secret(ns, "docspace", DEFAULT_API_KEY));
        server.apply_ok(&report(ns, "monthly", &url, "docspace", ""));
    }
    let _operator = Operator::start_with(
        &server,
        &clock,
        "op-s",
        work.path(),
        &[
            "--allow-any-portal",
            "--secret-namespaces=scoped",
            "--secret-label-selector=compliance.docspace.dev/secret=true",
        ],
    );
    let unlabelled = server.wait_for(
        "scoped",
        "creport/monthly",
        WAIT,
        reason_is("SecretNotFound"),
    );
    let message = ready(&unlabelled).unwrap().2;
    assert!(
        message.contains("scoped/docspace")
            && message.contains("compliance.docspace.dev/secret=true"),
        "{message}"
    );
    let elsewhere = server.wait_for(
        "outside",
        "creport/monthly",
        WAIT,
        reason_is("SecretNotFound"),
    );
    assert!(
        ready(&elsewhere)
            .unwrap()
            .2
            .contains("only in the namespaces scoped"),
        "{}",
        elsewhere["status"]
    );
    // Labelling the Secret brings it into view: the report is scheduled, without a run.
    server.kubectl_ok(&[
        "label",
        "secret",
        "-n",
        "scoped",
        "docspace",
        "compliance.docspace.dev/secret=true",
    ]);
    server.wait_for(
        "scoped",
        "creport/monthly",
        Duration::from_secs(15),
        reason_is("Scheduled"),
    );
    assert!(sim.requests().is_empty());
}

fn history(value: &serde_json::Value) -> Vec<serde_json::Value> {
    value["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_two_controls_run_now_backfill_gaps_history_deadline_and_metrics() {
    let Cluster {
        server,
        work,
        clock,
        sim,
        ..
    } = Cluster::start(200, "day2").await;
    let url = sim.base_url();
    let start = Utc::now();
    let operator = Operator::start(&server, &clock, "op-d", work.path());
    server.apply_ok(&secret("day2", "docspace", DEFAULT_API_KEY));
    let shaped = |name: &str, cron: &str, period: &str, extra: &str| {
        report(
            "day2",
            name,
            &url,
            "docspace",
            &format!("  settleSeconds: 0\n{extra}"),
        )
        .replace("0 3 1 * *", cron)
        .replace("PreviousMonth", period)
    };
    // Hourly, every missed hour reported (missedRuns: All is the default).
    server.apply_ok(&shaped("backfill", "0 * * * *", "SinceLastRun", ""));
    // Daily with a starting deadline: days it could not start on are gaps.
    server.apply_ok(&shaped(
        "daily",
        "30 0 * * *",
        "PreviousDay",
        "  startingDeadlineSeconds: 600\n",
    ));
    // Monthly, run by request; `newVersion` is the deprecated spelling of NewVersion.
    server.apply_ok(&shaped("rerun", "0 3 1 * *", "PreviousMonth", "").replace(
        "upload: {folderId: \"1045\"}",
        "upload: {folderId: \"1045\", onExisting: newVersion}",
    ));
    // Monthly with a 2-second limit and three artefacts (csv, txt, manifest).
    server.apply_ok(
        &shaped(
            "slow",
            "0 3 1 * *",
            "PreviousMonth",
            "  activeDeadlineSeconds: 2\n",
        )
        .replace("formats: [csv]", "formats: [csv, txt]"),
    );
    server.apply_ok(&shaped(
        "paused",
        "0 3 1 * *",
        "PreviousMonth",
        "  suspend: true\n",
    ));
    for name in ["backfill", "daily", "rerun", "slow"] {
        server.wait_for(
            "day2",
            &format!("creport/{name}"),
            WAIT,
            reason_is("Scheduled"),
        );
    }
    server.wait_for("day2", "creport/paused", WAIT, reason_is("Suspended"));
    let notes = server.event_notes("day2", "rerun");
    assert!(
        notes.iter().any(|n| n.contains(
            "spec.upload.onExisting: \"newVersion\" is deprecated, write \"NewVersion\""
        )),
        "{notes:?}"
    );
    assert!(
        server
            .event_reasons("day2", "rerun")
            .contains(&"DeprecatedSpelling".to_owned())
    );

    // Run now: the most recent scheduled instant at or before the request, though the
    // schedule never ran it (it precedes the report).
    let schedule = monthly();
    let instant = schedule.latest_at_or_before(start).unwrap();
    let label = docspace_compliance_operator::schedule::period_for(
        docspace_compliance_operator::spec::Period::PreviousMonth,
        &schedule,
        instant,
        None,
    )
    .unwrap()
    .label;
    let annotate = |name: &str, token: &str| {
        server.kubectl_ok(&[
            "annotate",
            "--overwrite",
            "-n",
            "day2",
            &format!("creport/{name}"),
            &format!(
                "{}={token}",
                docspace_compliance_operator::operator::RUN_REQUESTED_AT
            ),
        ]);
    };
    let handled = |token: String| {
        move |v: &serde_json::Value| v["status"]["lastHandledRunRequest"] == token.as_str()
    };
    let first = rfc3339(start);
    annotate("rerun", &first);
    let done = server.wait_for("day2", "creport/rerun", WAIT, handled(first.clone()));
    assert_eq!(ready(&done).unwrap().1, "Succeeded", "{}", done["status"]);
    let runs = history(&done);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "RunRequested");
    assert_eq!(runs[0]["result"], "Succeeded");
    assert_eq!(runs[0]["scheduleTime"], rfc3339(instant));
    assert_eq!(
        runs[0]["manifestSha256"],
        done["status"]["lastManifestSha256"]
    );
    // The schedule's own bookkeeping is untouched: the first scheduled run is still to come.
    assert!(
        done["status"]["lastScheduleTime"].is_null(),
        "{}",
        done["status"]
    );
    let title = format!("rerun-{label}.csv");
    let version = |title: &str| {
        sim.uploads()
            .into_iter()
            .find(|f| f.title == title)
            .map(|f| f.version)
    };
    assert_eq!(version(&title), Some(1));
    // The same value again is not a new request; a new value runs again, and onExisting
    // (NewVersion) decides what happens to the file already there.
    annotate("rerun", &first);
    let second = rfc3339(start + TimeDelta::seconds(1));
    annotate("rerun", &second);
    let again = server.wait_for("day2", "creport/rerun", WAIT, handled(second.clone()));
    assert_eq!(history(&again).len(), 2, "{}", again["status"]);
    assert_eq!(version(&title), Some(2));
    // A request to a suspended report is answered, not kept for later.
    annotate("paused", &first);
    server.wait_for("day2", "creport/paused", WAIT, handled(first.clone()));
    assert!(
        server
            .event_reasons("day2", "paused")
            .contains(&"RunRequestIgnored".to_owned())
    );
    assert!(!sim.uploads().iter().any(|f| f.title.starts_with("paused-")));
    // A value that is no instant says what to write.
    annotate("daily", "yesterday");
    server.wait_for(
        "day2",
        "creport/daily",
        WAIT,
        handled("yesterday".to_owned()),
    );
    assert!(
        server
            .event_notes("day2", "daily")
            .iter()
            .any(|n| n.contains("is not an RFC 3339 instant"))
    );

    // Over its time limit: the second upload takes 4 s, so the manifest never starts and the
    // csv is taken back.
    sim.add_fault(FaultRule {
        path_contains: "/files/1045/upload".to_owned(),
        skip: 1,
        times: 1,
        fault: Fault::Delay(Duration::from_secs(4)),
    });
    annotate("slow", &first);
    let slow = server.wait_for("day2", "creport/slow", WAIT, handled(first.clone()));
    let (status, reason, message) = ready(&slow).unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "DeadlineExceeded"),
        "{message}"
    );
    assert!(
        message.contains("time limit of 2 s while uploading")
            && message.contains("spec.activeDeadlineSeconds"),
        "{message}"
    );
    assert!(
        !sim.uploads().iter().any(|f| f.title.starts_with("slow-")),
        "{:?}",
        sim.uploads()
    );
    assert_eq!(history(&slow)[0]["result"], "DeadlineExceeded");
    assert!(!slow["status"]["lastFailedTime"].is_null());

    // Per-report metrics, from the status.
    let series = |metric: &str, name: &str| {
        operator.metric(&format!("{metric}{{namespace=\"day2\",name=\"{name}\"}}"))
    };
    let success = series("report_last_success_timestamp_seconds", "rerun");
    assert!(success >= start.timestamp() as f64, "{success}");
    assert!(series("report_last_failure_timestamp_seconds", "slow") >= start.timestamp() as f64);
    assert!(series("report_run_duration_seconds", "slow") >= 2.0);
    assert_eq!(series("report_schedule_interval_seconds", "daily"), 86400.0);

    // Three days later: the hourly report backfills its 12 most recent hours, one run each,
    // oldest first, and its first run covers the hours before them (no gap); the daily
    // report's days are past their deadline: one gap, three skipped runs.
    // Five minutes past an hour: the operator's clock runs on from there, and no further hour
    // comes due while the backfill runs.
    let later = (start + TimeDelta::days(3) + TimeDelta::hours(1))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap()
        + TimeDelta::minutes(5);
    set_clock(&clock, later);
    let hourly = Schedule::parse("0 * * * *", parse_time_zone("UTC").unwrap()).unwrap();
    let newest = hourly.latest_at_or_before(later).unwrap();
    let caught_up = server.wait_for("day2", "creport/backfill", WAIT, |v| {
        v["status"]["lastScheduleTime"] == rfc3339(newest).as_str()
    });
    let runs = history(&caught_up);
    assert_eq!(runs.len(), 10, "history is bounded: {runs:?}");
    assert_eq!(runs[0]["trigger"], "Schedule", "{runs:?}");
    assert!(
        runs[1..].iter().all(|r| r["trigger"] == "Backfill"),
        "{runs:?}"
    );
    let scheduled: Vec<&str> = runs
        .iter()
        .filter_map(|r| r["scheduleTime"].as_str())
        .collect();
    let expected: Vec<String> = (0..10)
        .map(|h| rfc3339(newest - TimeDelta::hours(h)))
        .collect();
    assert_eq!(scheduled, expected);
    let uploads = sim
        .uploads()
        .into_iter()
        .filter(|f| f.title.starts_with("backfill-") && f.title.ends_with(".csv"))
        .count();
    assert_eq!(uploads, 12);
    let reasons = server.event_reasons("day2", "backfill");
    assert_eq!(
        reasons.iter().filter(|r| *r == "Backfill").count(),
        11,
        "{reasons:?}"
    );
    assert!(
        caught_up["status"]["gaps"].is_null(),
        "{}",
        caught_up["status"]
    );
    let notes = server.event_notes("day2", "backfill");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("the report that runs next covers their time")),
        "{notes:?}"
    );
    let daily = server.wait_for("day2", "creport/daily", WAIT, |v| {
        !v["status"]["gaps"].is_null()
    });
    let gaps = daily["status"]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["reason"], "StartingDeadlineExceeded");
    let days = Schedule::parse("30 0 * * *", parse_time_zone("UTC").unwrap()).unwrap();
    let mut skipped_days = 0;
    let mut at = start;
    while let Some(next) = days.next_after(at).filter(|next| *next <= later) {
        skipped_days += 1;
        at = next;
    }
    assert_eq!(gaps[0]["skippedRuns"], skipped_days, "{gaps:?}");
    assert!(
        server
            .event_notes("day2", "daily")
            .iter()
            .any(|n| n.contains("no report covers")),
    );

    // A run request for a day the schedule has not handled and can no longer start (past its
    // deadline; the report was created three days before the operator's clock): the schedule
    // skips the days first (one gap, no retry left pending), then the requested day runs as a
    // re-run. It fills its day of the gap, and the status still describes the schedule's own
    // runs (there were none), apart from the chain head.
    let requested_day = days
        .latest_at_or_before(later - TimeDelta::days(1))
        .unwrap();
    let token = rfc3339(requested_day);
    server.apply_ok(
        &shaped(
            "late",
            "30 0 * * *",
            "PreviousDay",
            "  startingDeadlineSeconds: 600\n",
        )
        .replace(
            "metadata: {",
            &format!(
                "metadata: {{annotations: {{{}: \"{token}\"}}, ",
                docspace_compliance_operator::operator::RUN_REQUESTED_AT
            ),
        ),
    );
    let late = server.wait_for("day2", "creport/late", WAIT, handled(token.clone()));
    let status = &late["status"];
    let runs = history(&late);
    assert_eq!(runs.len(), 1, "{status}");
    assert_eq!(runs[0]["trigger"], "RunRequested");
    assert_eq!(runs[0]["result"], "Succeeded");
    assert_eq!(runs[0]["scheduleTime"], token.as_str());
    assert_eq!(
        status["lastScheduleTime"],
        rfc3339(days.latest_at_or_before(later).unwrap()).as_str(),
        "the schedule skipped every day up to now: {status}"
    );
    assert!(status["nextRetryTime"].is_null(), "{status}");
    assert!(status["activeScheduleTime"].is_null(), "{status}");
    assert!(
        status["lastEventCount"].is_null() && status["lastPeriod"].is_null(),
        "a re-run of an older day is not the schedule's latest run: {status}"
    );
    assert_eq!(status["lastManifestSha256"], runs[0]["manifestSha256"]);
    // The skipped days before and after the requested one are gaps; its own day is not.
    let requested_period = docspace_compliance_operator::schedule::period_for(
        docspace_compliance_operator::spec::Period::PreviousDay,
        &days,
        requested_day,
        None,
    )
    .unwrap();
    let gaps: Vec<(String, String)> = status["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["from"].as_str().unwrap().to_owned(),
                g["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(!gaps.is_empty(), "{status}");
    for (from, to) in &gaps {
        let (from, to) = (
            chrono::DateTime::parse_from_rfc3339(from).unwrap().to_utc(),
            chrono::DateTime::parse_from_rfc3339(to).unwrap().to_utc(),
        );
        assert!(
            to <= requested_period.from || requested_period.to <= from,
            "the re-run's day is reported: {gaps:?}"
        );
    }
    assert!(
        gaps.iter()
            .any(|(_, to)| *to == requested_period.from.to_rfc3339()),
        "the days before it are still a gap: {gaps:?}"
    );

    // Deleting a report removes its series.
    server.kubectl_ok(&["delete", "-n", "day2", "creport/rerun"]);
    eventually("rerun's series to go", WAIT, || {
        series("report_last_success_timestamp_seconds", "rerun") == 0.0
    });
    assert!(series("report_last_success_timestamp_seconds", "backfill") > 0.0);
}
