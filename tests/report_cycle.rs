//! The report cycle against the DocSpace simulator over real HTTP.

mod support;

use std::collections::HashSet;

use chrono::{TimeDelta, Utc};
use docspace_compliance_operator::cycle::{CycleOutcome, Delivery};
use docspace_sim::{Caller, Fault, FaultRule, SimConfig};
use serde_json::json;
use support::cycle::{
    dry_run, execute_request, first_artefact, ndjson_events, ndjson_ids, request, run_with, spec,
    unique, upload, upload_into,
};
use support::files::sha256_hex;
use support::sim::{APRIL_RUN, MARCH_FROM, MARCH_TO, march_audit_ids, sim, sim_key, utc};

/// The portal answers `code`, without a Retry-After.
fn status(code: u16) -> Fault {
    Fault::Status {
        code,
        retry_after_secs: None,
    }
}

#[tokio::test]
async fn every_event_of_the_period_is_reported_at_each_page_boundary() {
    for n in [0usize, 1, 99, 100, 101, 250, 10_000] {
        let sim = sim(n, MARCH_FROM, MARCH_TO, |_| {}).await;
        let outcome = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap();
        let truth = march_audit_ids(&sim);
        assert_eq!(truth.len(), n, "the simulator seeded {n} events in March");
        assert_eq!(outcome.event_count, n as u64, "n={n}");
        assert_eq!(outcome.fetched_count, n as u64, "n={n}");
        let ids = ndjson_ids(&outcome, "audit");
        assert_eq!(unique(&ids), truth, "n={n}");
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(
            ids, sorted,
            "chronological order (ids grow with time), n={n}"
        );
        let csv = sim
            .uploads()
            .into_iter()
            .find(|f| f.title.ends_with(".csv"))
            .unwrap();
        let rows = csv::Reader::from_reader(csv.content.as_slice())
            .records()
            .count();
        assert_eq!(rows, n, "csv rows, n={n}");
        let pages = sim
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/audit/events/filter"))
            .count();
        assert!(pages > n / 100, "n={n}: {pages} pages");
        assert!(
            sim.requests()
                .iter()
                .all(|r| !r.query.contains("moduleType"))
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn period_boundaries_match_the_ground_truth() {
    // (period, time zone, portal time zone, run instant)
    let cases = [
        ("PreviousMonth", "UTC", "UTC", "2025-02-01T03:00:00Z"), // 31 days
        (
            "PreviousMonth",
            "Europe/Berlin",
            "America/New_York",
            "2025-05-01T03:00:00Z",
        ), // 30 days, zones differ
        (
            "PreviousMonth",
            "UTC",
            "Europe/Berlin",
            "2025-03-01T03:00:00Z",
        ), // 28 days
        ("PreviousMonth", "Asia/Tokyo", "UTC", "2024-03-01T03:00:00Z"), // 29 days
        (
            "PreviousWeek",
            "Europe/Berlin",
            "Europe/Berlin",
            "2025-04-01T03:00:00Z",
        ), // spring DST week
        (
            "PreviousWeek",
            "America/New_York",
            "Asia/Kolkata",
            "2025-11-04T12:00:00Z",
        ), // autumn DST week
        (
            "PreviousDay",
            "America/New_York",
            "UTC",
            "2025-03-10T12:00:00Z",
        ), // 23-hour day
    ];
    for (period, tz, portal_tz, at) in cases {
        let run_at = utc(at);
        let sim = sim(
            3000,
            &(run_at - chrono::TimeDelta::days(40)).to_rfc3339(),
            &run_at.to_rfc3339(),
            |c| {
                c.portal_time_zone = portal_tz.parse().unwrap();
            },
        )
        .await;
        let s = spec(&sim, json!({"period": period, "timeZone": tz}));
        let outcome = upload(s, at).await.unwrap();
        let truth: HashSet<i64> = sim
            .audit_event_ids_in(
                outcome.period.from,
                outcome.period.to - chrono::TimeDelta::seconds(1),
            )
            .into_iter()
            .collect();
        assert!(!truth.is_empty(), "{period} {tz}: the period holds events");
        assert_eq!(
            unique(&ndjson_ids(&outcome, "audit")),
            truth,
            "{period} in {tz}, portal {portal_tz}"
        );
        // The request carries the period as UTC with Z and an inclusive end 100 ns early, with
        // seven fraction digits (microsecond dates of the last second are in).
        let first = sim
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with("/audit/events/filter"))
            .unwrap();
        let expected_to = (outcome.period.to - chrono::TimeDelta::seconds(1))
            .format("%Y-%m-%dT%H:%M:%S.9999999Z")
            .to_string();
        assert!(
            first.query.contains(&expected_to.replace(':', "%3A")),
            "{}: {}",
            expected_to,
            first.query
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn page_drift_yields_no_duplicates_and_loses_nothing() {
    let sim = sim(2500, MARCH_FROM, MARCH_TO, |_| {}).await;
    let before = march_audit_ids(&sim);
    sim.add_fault(FaultRule::new("/audit/events/filter", Fault::DriftInsert(7)).times(1000));
    let outcome = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap();
    let reported = unique(&ndjson_ids(&outcome, "audit"));
    assert!(
        reported.is_superset(&before),
        "every event present before the run is reported"
    );
    assert!(
        outcome.paging[0].1.duplicates > 0,
        "drift produced repeated events that were dropped"
    );
}

#[tokio::test]
async fn pages_served_out_of_order_under_drift_are_read_again() {
    let sim = sim(1000, MARCH_FROM, MARCH_TO, |_| {}).await;
    let before = march_audit_ids(&sim);
    // The first page is held back while the next ones are served, each followed by late events:
    // the first page then reflects more inserts than the second, which would skip events.
    sim.add_fault(
        FaultRule::new(
            "/audit/events/filter",
            Fault::Delay(std::time::Duration::from_millis(300)),
        )
        .times(1),
    );
    sim.add_fault(
        FaultRule::new("/audit/events/filter", Fault::DriftInsert(7))
            .skip(1)
            .times(3),
    );
    // Sized as one slice from the start (no probe): its pages go out together.
    let outcome = run_with(spec(&sim, json!({})), APRIL_RUN, Delivery::Upload, |req| {
        req.expected_events = Some(500)
    })
    .await
    .unwrap();
    let reported = unique(&ndjson_ids(&outcome, "audit"));
    assert!(reported.is_superset(&before), "nothing skipped");
    assert_eq!(outcome.paging[0].1.rereads, 1, "{:?}", outcome.paging);
}

#[tokio::test]
async fn a_busy_second_and_windows_are_handled() {
    let sim = sim(3000, MARCH_FROM, MARCH_TO, |_| {}).await;
    sim.insert_audit_events_at(utc("2025-03-15T12:00:00Z"), 450);
    let outcome = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap();
    let truth = march_audit_ids(&sim);
    assert_eq!(truth.len(), 3450);
    assert_eq!(unique(&ndjson_ids(&outcome, "audit")), truth);
    assert!(
        outcome.paging[0].1.windows > 1,
        "3450 events need more than one window"
    );
}

#[tokio::test]
async fn a_plan_without_audit_fails_clearly_and_uploads_nothing() {
    for quota_endpoint in [true, false] {
        // Events from March until now: the fallback shows the newest within the audit lifetime
        // (a portal whose lifetime holds no event at all would look like an empty audit trail
        // without the quota endpoint; nothing tells the two apart).
        let now = Utc::now().to_rfc3339();
        let sim = sim(500, MARCH_FROM, &now, |c| c.plan_has_audit = false).await;
        if !quota_endpoint {
            sim.add_fault(FaultRule::new("/portal/quota", status(404)).times(10));
        }
        let out = tempfile::tempdir().unwrap();
        let err = upload_into(spec(&sim, json!({})), APRIL_RUN, out.path())
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "PaymentRequired", "{err}");
        assert!(
            err.to_string()
                .contains("plan does not include the audit trail"),
            "{err}"
        );
        assert!(sim.uploads().is_empty());
        assert_eq!(
            std::fs::read_dir(out.path()).unwrap().count(),
            0,
            "no local files either"
        );
    }
}

#[tokio::test]
async fn auth_and_payment_errors_fail_clearly_and_upload_nothing() {
    type Tweak = Box<dyn Fn(&mut SimConfig)>;
    let cases: [(&str, Tweak, &str, &str); 4] = [
        (
            "wrong key",
            Box::new(|c| c.api_key = "sk-other".into()),
            "Unauthorized",
            "invalid, revoked or expired",
        ),
        (
            "unpaid",
            Box::new(|c| c.portal_unpaid = true),
            "PaymentRequired",
            "402",
        ),
        (
            "not admin",
            Box::new(|c| c.caller = Caller::NotAdmin),
            "Forbidden",
            "DocSpace admin",
        ),
        (
            "scope",
            Box::new(|c| c.caller = Caller::MissingScope),
            "Forbidden",
            "scopes",
        ),
    ];
    for (name, tweak, reason, hint) in cases {
        let sim = sim(300, MARCH_FROM, MARCH_TO, |c| tweak(c)).await;
        let err = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap_err();
        assert_eq!(err.reason(), reason, "{name}: {err}");
        assert!(err.to_string().contains(hint), "{name}: {err}");
        assert!(
            !err.to_string().contains(&sim_key()),
            "{name}: the key leaked"
        );
        assert!(sim.uploads().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after() {
    let sim = sim(350, MARCH_FROM, MARCH_TO, |_| {}).await;
    sim.add_fault(
        FaultRule::new(
            "/audit/events/filter",
            Fault::Status {
                code: 429,
                retry_after_secs: Some(1),
            },
        )
        .skip(1)
        .times(2),
    );
    let outcome = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap();
    assert_eq!(outcome.event_count, 350);
    let statuses: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events/filter"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(sim.uploads().len(), 3, "two formats and the manifest");
}

#[tokio::test]
async fn transient_server_errors_are_retried_but_a_persistent_one_uploads_nothing() {
    let sim = sim(450, MARCH_FROM, MARCH_TO, |_| {}).await;
    sim.add_fault(
        FaultRule::new("/audit/events/filter", status(503))
            .skip(2)
            .times(1),
    );
    let outcome = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap();
    assert_eq!(outcome.event_count, 450);

    let sim = sim_with_failing_page().await;
    let err = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("fetch failed, nothing was uploaded"),
        "{err}"
    );
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert!(sim.uploads().is_empty());
}

async fn sim_with_failing_page() -> docspace_sim::SimHandle {
    let sim = sim(450, MARCH_FROM, MARCH_TO, |_| {}).await;
    sim.add_fault(
        FaultRule::new("/audit/events/filter", status(500))
            .skip(2)
            .times(100),
    );
    sim
}

#[tokio::test]
async fn an_error_in_a_2xx_body_fails_the_run() {
    let sim = sim(150, MARCH_FROM, MARCH_TO, |_| {}).await;
    sim.add_fault(
        FaultRule::new(
            "/audit/events/filter",
            Fault::BodyError {
                message: "Database is read-only".into(),
            },
        )
        .skip(1)
        .times(1),
    );
    let err = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap_err();
    assert!(err.to_string().contains("Database is read-only"), "{err}");
    assert!(sim.uploads().is_empty());
}

#[tokio::test]
async fn on_existing_skip_new_version_and_rename() {
    for (mode, files_after, second_id_is_new) in [
        ("Skip", 1, None),
        ("NewVersion", 1, Some(false)),
        ("Rename", 2, Some(true)),
    ] {
        let sim = sim(120, MARCH_FROM, MARCH_TO, |_| {}).await;
        let s = spec(
            &sim,
            json!({"report": {"formats": ["txt"]}, "upload": {"onExisting": mode}}),
        );
        let first = upload(s.clone(), APRIL_RUN).await.unwrap();
        let first_id = first.uploads[0].file_id.clone().unwrap();
        let second = upload(s, APRIL_RUN).await.unwrap();
        let files: Vec<_> = sim
            .uploads()
            .into_iter()
            .filter(|f| f.title.ends_with(".txt"))
            .collect();
        let titles: Vec<&str> = files.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(files.len(), files_after, "{mode}: {titles:?}");
        match second_id_is_new {
            None => {
                assert_eq!(second.uploads[0].file_id, None, "skip uploads nothing");
                assert!(second.uploads[0].skipped_existing);
            }
            Some(false) => {
                assert_eq!(
                    second.uploads[0].file_id.as_deref(),
                    Some(first_id.as_str())
                );
                assert_eq!(files[0].version, 2);
            }
            Some(true) => {
                assert_ne!(
                    second.uploads[0].file_id.as_deref(),
                    Some(first_id.as_str())
                );
                assert!(
                    files
                        .iter()
                        .any(|f| f.title == "compliance-report-monthly-2025-03 (1).txt"),
                    "{files:?}"
                );
            }
        }
        // The stored content is byte for byte what was hashed.
        let stored = files.iter().find(|f| f.id.to_string() == first_id).unwrap();
        let digest = sha256_hex(&stored.content);
        assert!(digest == first.uploads[0].sha256 || mode == "NewVersion");
    }
}

#[tokio::test]
async fn a_failed_upload_removes_the_files_this_run_uploaded() {
    let sim = sim(200, MARCH_FROM, MARCH_TO, |_| {}).await;
    // Requests to .../upload: the check, the txt upload, then the csv upload, which fails.
    sim.add_fault(
        FaultRule::new("/files/1045/upload", status(500))
            .skip(2)
            .times(1),
    );
    let s = spec(&sim, json!({"report": {"formats": ["txt", "csv"]}}));
    let err = upload(s, APRIL_RUN).await.unwrap_err();
    assert_eq!(err.reason(), "UploadFailed");
    assert!(
        err.to_string().contains(
            "the folder holds the previous set again: undone compliance-report-monthly-2025-03.txt"
        ),
        "{err}"
    );
    assert!(
        sim.uploads().is_empty(),
        "nothing partial is left: {:?}",
        sim.uploads()
    );
}

/// The files of `sim` as (title, version, SHA-256), sorted.
fn folder_state(sim: &docspace_sim::SimHandle) -> Vec<(String, u32, String)> {
    let mut files: Vec<_> = sim
        .uploads()
        .into_iter()
        .map(|f| (f.title, f.version, sha256_hex(&f.content)))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_failed_new_version_set_leaves_the_previous_versions_in_place() {
    let sim = sim(200, MARCH_FROM, MARCH_TO, |_| {}).await;
    let s = spec(
        &sim,
        json!({"report": {"formats": ["txt", "csv"]}, "upload": {"onExisting": "NewVersion"}}),
    );
    upload(s.clone(), APRIL_RUN).await.unwrap();
    let before = folder_state(&sim);
    assert_eq!(before.len(), 3, "txt, csv and the manifest: {before:?}");
    // The second run: the txt becomes version 2, then the csv upload fails.
    sim.add_fault(
        FaultRule::new("/files/1045/upload", status(500))
            .skip(2)
            .times(1),
    );
    let err = upload(s, APRIL_RUN).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("the folder holds the previous set again")
            && message
                .contains("compliance-report-monthly-2025-03.txt (file 30001, version 2 added)"),
        "{message}"
    );
    assert_eq!(
        folder_state(&sim),
        before,
        "every file is back at its previous version and content"
    );
}

#[tokio::test]
async fn an_upload_stored_behind_a_lost_answer_is_found_and_removed() {
    let sim = sim(200, MARCH_FROM, MARCH_TO, |_| {}).await;
    // The csv upload is stored, but its answer is lost behind a 502.
    sim.add_fault(
        FaultRule::new("/files/1045/upload", Fault::AfterServe { code: 502 })
            .skip(2)
            .times(1),
    );
    let s = spec(&sim, json!({"report": {"formats": ["txt", "csv"]}}));
    let err = upload(s, APRIL_RUN).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("compliance-report-monthly-2025-03.csv (new file")
            && message.contains("compliance-report-monthly-2025-03.txt (new file"),
        "both the stored csv and the txt are undone: {message}"
    );
    assert!(sim.uploads().is_empty(), "{:?}", folder_state(&sim));
}

#[tokio::test]
async fn a_locked_file_gets_a_second_copy_and_the_outcome_says_so() {
    let sim = sim(200, MARCH_FROM, MARCH_TO, |_| {}).await;
    let s = spec(
        &sim,
        json!({"report": {"formats": ["txt"]}, "upload": {"onExisting": "NewVersion"}}),
    );
    let first = upload(s.clone(), APRIL_RUN).await.unwrap();
    let txt_id: i64 = first.uploads[0].file_id.as_ref().unwrap().parse().unwrap();
    assert!(
        sim.set_locked(txt_id, true),
        "someone is editing the report"
    );
    let second = upload(s, APRIL_RUN).await.unwrap();
    let note = second.uploads[0].note.as_deref().unwrap_or_default();
    assert!(note.contains("second file"), "{:?}", second.uploads[0]);
    assert_ne!(second.uploads[0].file_id, first.uploads[0].file_id);
    let same_title = sim
        .uploads()
        .iter()
        .filter(|f| f.title == "compliance-report-monthly-2025-03.txt")
        .count();
    assert_eq!(same_title, 2);
}

#[tokio::test]
async fn login_history_is_paged_without_server_filters_and_filtered_here() {
    let sim = sim(100, MARCH_FROM, MARCH_TO, |c| {
        c.login_events = 1200;
        c.events_from = utc("2025-02-01T00:00:00Z");
        c.events_to = utc("2025-04-20T00:00:00Z");
    })
    .await;
    let s = spec(
        &sim,
        json!({"sources": {"auditTrail": true, "loginHistory": true}}),
    );
    let outcome = upload(s, APRIL_RUN).await.unwrap();
    let truth: HashSet<i64> = sim
        .login_event_ids_in(utc(MARCH_FROM), utc("2025-03-31T23:59:59Z"))
        .into_iter()
        .collect();
    assert!(truth.len() > 300, "{}", truth.len());
    assert_eq!(unique(&ndjson_ids(&outcome, "login")), truth);
    let login_requests: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/login/filter"))
        .collect();
    assert!(
        login_requests
            .iter()
            .all(|r| !r.query.contains("from=") && !r.query.contains("userId"))
    );
}

#[tokio::test]
async fn filters_keep_only_matching_events() {
    let sim = sim(3000, MARCH_FROM, MARCH_TO, |_| {}).await;
    let s = spec(
        &sim,
        json!({"filter": {"actionTypes": ["Delete", "UpdateAccess"], "excludeActions": ["FileDeletedVersion"]}}),
    );
    let outcome = upload(s, APRIL_RUN).await.unwrap();
    assert!(outcome.event_count > 0 && outcome.event_count < outcome.fetched_count);
    for v in ndjson_events(&outcome) {
        assert!(
            matches!(v["actionType"].as_str(), Some("Delete" | "UpdateAccess")),
            "{v}"
        );
        assert_ne!(v["actionName"], "FileDeletedVersion");
    }
}

#[tokio::test]
async fn a_dry_run_renders_but_uploads_nothing() {
    let sim = sim(130, MARCH_FROM, MARCH_TO, |_| {}).await;
    let s = spec(
        &sim,
        json!({"report": {"formats": ["txt", "csv", "ndjson", "md"]}}),
    );
    let outcome = dry_run(s, APRIL_RUN).await.unwrap();
    assert!(sim.uploads().is_empty());
    assert!(sim.requests().iter().all(|r| r.method == "GET"));
    assert_eq!(outcome.uploads.len(), 5, "four formats and the manifest");
    for u in &outcome.uploads {
        let bytes = std::fs::read(u.local_path.as_ref().unwrap()).unwrap();
        assert_eq!(sha256_hex(&bytes), u.sha256);
        assert_eq!(bytes.len() as u64, u.bytes);
        assert!(u.file_id.is_none());
    }
    let txt = std::fs::read_to_string(
        outcome
            .dir
            .path()
            .join("compliance-report-monthly-2025-03.txt"),
    )
    .unwrap();
    assert!(txt.contains("Total events: 130"), "{txt}");
    assert!(
        txt.contains("2025-03-01T00:00:00Z to 2025-04-01T00:00:00Z (UTC)"),
        "{txt}"
    );
}

#[tokio::test]
async fn privacy_modes_leave_no_raw_ip_or_name_in_any_artefact() {
    use docspace_compliance_operator::report::{Privacy, PrivacyKey};
    use docspace_compliance_operator::spec::{IpPrivacy, PrivacySpec, UserPrivacy};

    let sim = sim(800, MARCH_FROM, MARCH_TO, |c| {
        c.login_events = 400;
        c.events_to = utc("2025-04-05T00:00:00Z");
    })
    .await;
    let all_formats = json!({"sources": {"loginHistory": true}, "report": {"formats": ["txt", "csv", "ndjson", "md"]}});
    let outcome = dry_run(spec(&sim, all_formats.clone()), APRIL_RUN)
        .await
        .unwrap();
    // What the plain report shows about people: names, logins, user ids and full IPs.
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut ips = HashSet::new();
    for v in ndjson_events(&outcome) {
        for field in ["user", "login"] {
            if let Some(text) = v[field]
                .as_str()
                .filter(|t| t.len() > 3 && !t.contains("Account"))
            {
                names.insert(text.to_owned());
            }
        }
        if let Some(id) = v["userId"].as_str() {
            ids.insert(id.to_owned());
        }
        if let Some(ip) = v["ip"]
            .as_str()
            .filter(|ip| ip.split('.').count() == 4 && !ip.ends_with(".0"))
        {
            ips.insert(ip.to_owned());
        }
    }
    assert!(
        names.len() > 5 && ids.len() > 5 && ips.len() > 5,
        "{names:?} {ips:?}"
    );

    for (ip, users) in [
        (IpPrivacy::Drop, UserPrivacy::Pseudonym),
        (IpPrivacy::Hash, UserPrivacy::Pseudonym),
        (IpPrivacy::Truncate, UserPrivacy::Id),
    ] {
        let settings = PrivacySpec {
            ip: ip.into(),
            users: users.into(),
            key_secret_ref: None,
        };
        let privacy = Privacy::new(&settings, PrivacyKey::new("a test key")).unwrap();
        let outcome = run_with(
            spec(&sim, all_formats.clone()),
            APRIL_RUN,
            Delivery::DryRun,
            |req| req.privacy = privacy,
        )
        .await
        .unwrap();
        for upload in &outcome.uploads {
            let text = std::fs::read_to_string(upload.local_path.as_ref().unwrap()).unwrap();
            for name in &names {
                assert!(
                    !text.contains(name.as_str()),
                    "{ip:?}/{users:?}: {name:?} in {}",
                    upload.file_name
                );
            }
            for address in &ips {
                assert!(
                    !text.contains(address.as_str()),
                    "{ip:?}/{users:?}: {address} in {}",
                    upload.file_name
                );
            }
            if users == UserPrivacy::Pseudonym {
                for id in &ids {
                    assert!(
                        !text.contains(id.as_str()),
                        "{ip:?}/{users:?}: user id {id} in {}",
                        upload.file_name
                    );
                }
                if matches!(
                    upload.kind,
                    docspace_compliance_operator::report::ArtefactKind::Report(_)
                ) {
                    assert!(text.contains("user-"), "pseudonyms in {}", upload.file_name);
                }
            }
        }
        assert!(outcome.event_count > 0);
    }
}

#[tokio::test]
async fn manifests_are_uploaded_chained_signed_and_verifiable() {
    use docspace_compliance_operator::integrity::{SigningKey, VerifyOptions, verify};
    use std::sync::Arc;

    let sim = sim(900, "2025-02-01T00:00:00Z", MARCH_TO, |_| {}).await;
    let key = Arc::new(SigningKey::from_secret_bytes(&[7u8; 32]).unwrap());
    let out = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    let mut previous = None;
    for at in ["2025-03-01T03:00:00Z", APRIL_RUN] {
        let mut req = request(
            spec(&sim, json!({})),
            &sim_key(),
            at,
            Delivery::Upload,
            out.path(),
        );
        req.signing_key = Some(key.clone());
        req.previous_manifest_sha256 = previous.clone();
        let outcome = execute_request(req).await.unwrap();
        previous = Some(outcome.manifest_sha256.clone());
        runs.push(outcome);
    }
    let stored: Vec<String> = sim.uploads().into_iter().map(|f| f.title).collect();
    assert!(
        stored.contains(&"compliance-report-monthly-2025-03.manifest.json".to_owned()),
        "{stored:?}"
    );
    assert!(
        stored.contains(&"compliance-report-monthly-2025-03.manifest.sig".to_owned()),
        "{stored:?}"
    );
    let manifest = std::fs::read_to_string(
        out.path()
            .join("compliance-report-monthly-2025-03.manifest.json"),
    )
    .unwrap();
    assert!(
        manifest.contains(&runs[0].manifest_sha256),
        "the March manifest links to February's"
    );
    assert!(manifest.contains(&runs[1].uploads[0].sha256));

    let options = VerifyOptions {
        trusted_public_key: Some(key.public_key_pem()),
        require_signature: true,
        follow_symlinks: false,
    };
    let report = verify(&[out.path().to_owned()], &options).unwrap();
    assert_eq!(
        (report.manifests, report.chain_links, report.signatures),
        (2, 1, 2)
    );

    // One changed byte in a report breaks verification, naming the file.
    let csv = out.path().join("compliance-report-monthly-2025-03.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    std::fs::write(&csv, bytes).unwrap();
    let err = verify(&[out.path().to_owned()], &options).unwrap_err();
    assert!(
        err.to_string()
            .contains("compliance-report-monthly-2025-03.csv"),
        "{err}"
    );
}

#[tokio::test]
async fn the_events_digest_does_not_depend_on_the_format_selection() {
    let sim = sim(400, MARCH_FROM, MARCH_TO, |_| {}).await;
    let mut digests = Vec::new();
    for formats in [json!(["txt"]), json!(["csv", "ndjson", "md"])] {
        let outcome = dry_run(
            spec(&sim, json!({"report": {"formats": formats}})),
            APRIL_RUN,
        )
        .await
        .unwrap();
        let manifest = std::fs::read(
            outcome
                .dir
                .path()
                .join("compliance-report-monthly-2025-03.manifest.json"),
        )
        .unwrap();
        let manifest =
            docspace_compliance_operator::integrity::Manifest::from_json(&manifest).unwrap();
        assert_eq!(manifest.events.count, 400);
        digests.push(manifest.events.sha256);
    }
    assert_eq!(digests[0], digests[1]);
}

#[tokio::test]
async fn the_xlsx_workbook_has_a_sheet_per_section_and_every_event() {
    use calamine::{Reader, Xlsx, open_workbook};

    let sim = sim(2500, MARCH_FROM, MARCH_TO, |_| {}).await;
    let s = spec(&sim, json!({"report": {"formats": ["xlsx", "csv"]}}));
    let outcome = dry_run(s, APRIL_RUN).await.unwrap();
    let xlsx = outcome
        .uploads
        .iter()
        .find(|u| u.file_name.ends_with(".xlsx"))
        .unwrap();
    let bytes = std::fs::read(xlsx.local_path.as_ref().unwrap()).unwrap();
    assert_eq!(sha256_hex(&bytes), xlsx.sha256);
    let mut workbook: Xlsx<_> = open_workbook(xlsx.local_path.as_ref().unwrap()).unwrap();
    let names = workbook.sheet_names();
    for expected in [
        "Report",
        "Coverage and completeness",
        "Executive summary",
        "Activity overview",
        "Deletions",
        "Events",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let events = workbook.worksheet_range("Events").unwrap();
    assert_eq!(events.height(), 2501, "a header and every event");
    let header: Vec<String> = events
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[1], "id");
    assert!(header.contains(&"category".to_owned()));
    let deletions = workbook.worksheet_range("Deletions").unwrap();
    assert!(deletions.height() > 2);
}

#[tokio::test]
async fn uploads_can_be_locked() {
    let sim = sim(50, MARCH_FROM, MARCH_TO, |_| {}).await;
    upload(spec(&sim, json!({"upload": {"lock": true}})), APRIL_RUN)
        .await
        .unwrap();
    let files = sim.uploads();
    assert_eq!(files.len(), 3);
    assert!(
        files.iter().all(|f| f.locked),
        "every uploaded file is locked"
    );
    let unlocked = support::sim::sim(50, MARCH_FROM, MARCH_TO, |_| {}).await;
    upload(spec(&unlocked, json!({})), APRIL_RUN).await.unwrap();
    assert!(unlocked.uploads().iter().all(|f| !f.locked));
}

#[tokio::test]
async fn coverage_flags_a_period_beyond_the_login_history_retention() {
    let sim = sim(120, MARCH_FROM, MARCH_TO, |c| c.login_events = 40).await;
    let s = spec(
        &sim,
        json!({"sources": {"loginHistory": true}, "report": {"formats": ["md"]}}),
    );
    // Generated in December: the simulator keeps login history for 180 days, so March is gone.
    let outcome = run_with(s.clone(), APRIL_RUN, Delivery::DryRun, |req| {
        req.generated_at = utc("2025-12-01T00:00:00Z")
    })
    .await
    .unwrap();
    let md = first_artefact(&outcome);
    assert!(md.contains("This report is incomplete because the period starts before the login-history retention horizon"), "{}", &md[..md.len().min(3000)]);
    // Generated right after the period: complete.
    let outcome = dry_run(s, APRIL_RUN).await.unwrap();
    let md = first_artefact(&outcome);
    assert!(md.contains("This report is complete"));
}

#[tokio::test]
async fn the_summary_compares_with_the_previous_report() {
    use docspace_compliance_operator::report::PreviousTotals;

    let sim = sim(200, MARCH_FROM, MARCH_TO, |_| {}).await;
    let previous = PreviousTotals {
        events: 100,
        by_category: [("deletion".to_owned(), 40)].into_iter().collect(),
    };
    let outcome = run_with(
        spec(&sim, json!({"report": {"formats": ["md"]}})),
        APRIL_RUN,
        Delivery::DryRun,
        |req| req.previous = Some(previous),
    )
    .await
    .unwrap();
    let md = first_artefact(&outcome);
    assert!(
        md.contains("| Measure | This period | Previous period | Change |"),
        "{}",
        &md[..md.len().min(3000)]
    );
    assert!(
        md.contains("| All events | 200 | 100 | +100 (+100%) |"),
        "{}",
        &md[..md.len().min(3000)]
    );
    let deletions = outcome.by_category.get("deletion").copied().unwrap_or(0);
    let change = deletions as i64 - 40;
    assert!(
        md.contains(&format!("| Deletions | {deletions} | 40 | {change:+}")),
        "{}",
        &md[..md.len().min(3000)]
    );
}

/// A run whose period ends now, with three events of its last second stored 1.5 s late.
async fn run_with_late_writes(settle_seconds: u32) -> (CycleOutcome, String) {
    let now = Utc::now();
    let from = (now - TimeDelta::minutes(20)).to_rfc3339();
    let to = (now - TimeDelta::minutes(1)).to_rfc3339();
    let sim = sim(100, &from, &to, |_| {}).await;
    sim.store_late(
        now - TimeDelta::seconds(1),
        3,
        std::time::Duration::from_millis(1500),
    );
    let mut s = spec(
        &sim,
        json!({"schedule": "@yearly", "period": "SinceLastRun", "report": {"formats": ["md"]},
               "sources": {"loginHistory": false}}),
    );
    s.settle_seconds = settle_seconds;
    let ran = run_with(s, &now.to_rfc3339(), Delivery::DryRun, |req| {
        req.generated_at = now
    })
    .await
    .unwrap();
    let md = first_artefact(&ran);
    (ran.outcome, md)
}

#[tokio::test]
async fn late_writes_are_in_the_report_only_after_the_settle_time() {
    let (hasty, md) = run_with_late_writes(0).await;
    assert_eq!(
        hasty.event_count, 100,
        "read at once: the late events are missing"
    );
    assert!(
        md.contains("Late writes were not waited for (settleSeconds: 0)"),
        "{md}"
    );
    let (settled, md) = run_with_late_writes(3).await;
    assert_eq!(
        settled.event_count, 103,
        "read after 3 s: the late events are in"
    );
    assert!(md.contains("no earlier than 3 s after its end"), "{md}");
}

#[tokio::test]
async fn a_key_without_the_scopes_a_run_needs_fails_before_reading() {
    let sim = sim(50, MARCH_FROM, MARCH_TO, |c| {
        c.key_permissions = vec!["files:read".into(), "accounts:read".into()];
    })
    .await;
    let err = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap_err();
    assert_eq!(err.reason(), "Forbidden");
    let message = err.to_string();
    assert!(
        message.contains("lacks the scope(s) *:read, files:write")
            && message.contains("files:read, accounts:read"),
        "{message}"
    );
    let paths: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/2.0/keys/@self"], "nothing else was asked");

    // Read-only keys can render (a dry run) but not upload.
    let reader = sim_key_with(&["*:read"]).await;
    assert!(dry_run(spec(&reader, json!({})), APRIL_RUN).await.is_ok());
    let err = upload(spec(&reader, json!({})), APRIL_RUN)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("lacks the scope(s) files:write"),
        "{err}"
    );
}

async fn sim_key_with(permissions: &[&str]) -> docspace_sim::SimHandle {
    let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    sim(50, MARCH_FROM, MARCH_TO, move |c| {
        c.key_permissions = permissions
    })
    .await
}

#[tokio::test]
async fn the_outcome_tells_when_the_key_expires() {
    let expires = Utc::now() + TimeDelta::days(5);
    let sim = sim(50, MARCH_FROM, MARCH_TO, |c| {
        c.key_expires_at = Some(expires)
    })
    .await;
    let outcome = upload(spec(&sim, json!({})), APRIL_RUN).await.unwrap();
    let told = outcome.key_expires_at.unwrap();
    assert_eq!(told.timestamp(), expires.timestamp());
    let warning =
        docspace_compliance_operator::cycle::key_expiry_warning(Some(told), Utc::now()).unwrap();
    assert!(warning.contains("days from now"), "{warning}");
}

#[tokio::test]
async fn the_chain_continues_from_the_folder_when_the_status_is_lost() {
    use docspace_compliance_operator::integrity::{Manifest, VerifyOptions, verify};

    let sim = sim(600, "2025-02-01T00:00:00Z", MARCH_TO, |_| {}).await;
    let out = tempfile::tempdir().unwrap();
    let run_at = |at: &'static str, previous: Option<String>| {
        let mut req = request(
            spec(&sim, json!({})),
            &sim_key(),
            at,
            Delivery::Upload,
            out.path(),
        );
        req.previous_manifest_sha256 = previous;
        req.previous_manifest_origin = "resource's status".into();
        execute_request(req)
    };
    let february = run_at("2025-03-01T03:00:00Z", None).await.unwrap();
    // The resource was deleted and re-created: its status knows no previous manifest.
    let march = run_at(APRIL_RUN, None).await.unwrap();
    let read =
        |name: &str| Manifest::from_json(&std::fs::read(out.path().join(name)).unwrap()).unwrap();
    let first = read("compliance-report-monthly-2025-02.manifest.json");
    assert!(
        first
            .chain_restart
            .as_deref()
            .unwrap()
            .starts_with("first run")
    );
    let second = read("compliance-report-monthly-2025-03.manifest.json");
    assert_eq!(
        second.previous_manifest_sha256.as_deref(),
        Some(february.manifest_sha256.as_str()),
        "linked to February's manifest found in the folder"
    );
    let source = second.previous_manifest_source.unwrap();
    assert!(
        source.starts_with("the DocSpace folder: compliance-report-monthly-2025-02.manifest.json"),
        "{source}"
    );
    assert!(second.chain_restart.is_none());
    // A stale status hash is overruled by the folder and said so.
    let april_run = run_with(
        spec(&sim, json!({"report": {"formats": ["md"]}})),
        "2025-05-01T03:00:00Z",
        Delivery::Upload,
        |req| {
            req.previous_manifest_sha256 = Some("0".repeat(64));
            req.previous_manifest_origin = "resource's status".into();
        },
    )
    .await
    .unwrap();
    let md = first_artefact(&april_run);
    assert!(
        md.contains(&format!(
            "links to the previous one (SHA-256 {})",
            march.manifest_sha256
        )) && md.contains("named another manifest"),
        "{md}"
    );
    let report = verify(&[out.path().to_owned()], &VerifyOptions::default()).unwrap();
    assert_eq!(report.chain_links, 1);
}

#[tokio::test]
async fn a_report_larger_than_one_upload_goes_through_a_chunked_session() {
    // About 150 MiB of NDJSON: over the server's 100 MiB request cap.
    let sim = sim(330_000, MARCH_FROM, MARCH_TO, |c| c.login_events = 0).await;
    let s = spec(
        &sim,
        json!({"report": {"formats": ["ndjson"], "sections": ["cover"]}}),
    );
    let outcome = upload(s, APRIL_RUN).await.unwrap();
    let ndjson = &outcome.uploads[0];
    assert!(ndjson.bytes > 100 << 20, "{} bytes", ndjson.bytes);
    let stored = sim
        .uploads()
        .into_iter()
        .find(|f| f.title.ends_with(".ndjson"))
        .unwrap();
    assert_eq!(sha256_hex(&stored.content), ndjson.sha256);
    let requests = sim.requests();
    let sessions = requests
        .iter()
        .filter(|r| r.path.ends_with("/upload/create_session"))
        .count();
    let chunks = requests
        .iter()
        .filter(|r| r.path.contains("/session/") && r.method == "POST")
        .count();
    assert_eq!(
        sessions, 1,
        "one session for the large file, none for the manifest"
    );
    let expected = ndjson.bytes.div_ceil(10 << 20) as usize;
    assert_eq!(chunks, expected, "10 MiB chunks");
    assert!(
        !requests
            .iter()
            .any(|r| r.path.ends_with("/1045/upload") && r.status == 413),
        "no single request over the cap"
    );
}

#[tokio::test]
async fn a_single_request_over_the_cap_is_refused_by_the_simulator() {
    let sim = sim(10, MARCH_FROM, MARCH_TO, |_| {}).await;
    let body = vec![b'x'; (100 << 20) + 1];
    let part = reqwest::multipart::Part::bytes(body).file_name("big.csv");
    let response = reqwest::Client::new()
        .post(format!("{}/api/2.0/files/1045/upload", sim.base_url()))
        .bearer_auth(sim_key())
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert!(sim.uploads().is_empty());
}

#[tokio::test]
async fn gzip_compression_uploads_and_hashes_the_compressed_files() {
    use docspace_compliance_operator::integrity::{VerifyOptions, verify};
    use std::io::Read;

    let sim = sim(500, MARCH_FROM, MARCH_TO, |_| {}).await;
    let s = spec(
        &sim,
        json!({"report": {"formats": ["csv", "xlsx"], "compress": "gzip"}}),
    );
    let outcome = upload(s, APRIL_RUN).await.unwrap();
    let names: Vec<&str> = outcome
        .uploads
        .iter()
        .map(|u| u.file_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "compliance-report-monthly-2025-03.csv.gz",
            "compliance-report-monthly-2025-03.xlsx",
            "compliance-report-monthly-2025-03.manifest.json"
        ]
    );
    let stored = sim
        .uploads()
        .into_iter()
        .find(|f| f.title.ends_with(".csv.gz"))
        .unwrap();
    assert_eq!(sha256_hex(&stored.content), outcome.uploads[0].sha256);
    let mut csv = String::new();
    flate2::read::GzDecoder::new(&stored.content[..])
        .read_to_string(&mut csv)
        .unwrap();
    assert_eq!(csv.lines().count(), 501, "a header and every event");
    let report = verify(&[outcome.dir.path().to_owned()], &VerifyOptions::default()).unwrap();
    assert_eq!(report.artefacts, 2);
}

#[tokio::test]
async fn a_burst_of_sign_ins_in_one_second_across_pages_is_complete() {
    let burst_at = utc("2025-03-15T12:00:00Z");
    let sim = sim(0, MARCH_FROM, MARCH_TO, |c| {
        c.login_events = 250;
        c.login_burst = Some((burst_at, 150));
    })
    .await;
    let s = spec(
        &sim,
        json!({"sources": {"auditTrail": false, "loginHistory": true}, "report": {"formats": ["ndjson"]}}),
    );
    let outcome = upload(s, APRIL_RUN).await.unwrap();
    let ids = ndjson_ids(&outcome, "login");
    let truth = sim.login_event_ids_in(utc(MARCH_FROM), utc(MARCH_TO) - TimeDelta::seconds(1));
    assert_eq!(truth.len(), 400);
    assert_eq!(
        unique(&ids),
        unique(&truth),
        "every sign-in, the burst included"
    );
    assert_eq!(ids.len(), truth.len(), "each once");
    let in_burst = sim.login_event_ids_in(burst_at, burst_at).len();
    assert!(in_burst >= 150);
}

#[tokio::test]
async fn microsecond_dates_lose_nothing_at_the_period_end_or_a_window_boundary() {
    use docspace_sim::DatePrecision;

    let end = utc(MARCH_TO);
    for n in [0usize, 1, 99, 100, 101, 10_000] {
        let sim = sim(n, MARCH_FROM, MARCH_TO, |c| {
            c.date_precision = DatePrecision::Micros;
            c.login_events = 0;
        })
        .await;
        // A burst in the period's last second (fractions .000001 to .149001), and for the
        // large period bursts every ~1,900 events back, where windows get narrowed.
        sim.insert_audit_events_at(end - TimeDelta::seconds(1), 150);
        if n == 10_000 {
            for k in 1..=5 {
                let second = end - TimeDelta::seconds(1_900 * 268 * k);
                sim.insert_audit_events_at(second, 150);
            }
        }
        let s = spec(&sim, json!({"report": {"formats": ["ndjson"]}}));
        let outcome = dry_run(s, APRIL_RUN).await.unwrap();
        let truth = sim.audit_event_ids_in(utc(MARCH_FROM), end - TimeDelta::microseconds(1));
        let got = ndjson_ids(&outcome, "audit");
        assert_eq!(got.len(), truth.len(), "{n} events: each once");
        assert_eq!(unique(&got), unique(&truth), "{n} events: every one");
    }
}
