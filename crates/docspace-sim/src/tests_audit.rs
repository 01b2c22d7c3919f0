//! HTTP tests of `events/filter`, `events/last` and `portal/quota`.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::test_support::{assert_no_nulls, ids, march, start, utc, z};
use super::{SimConfig, Simulator};

const FILTER: &str = "/api/2.0/security/audit/events/filter";

/// The 20 newest of newest-first ids: what the "last events" answers hold.
fn first_20(mut ids: Vec<i64>) -> Vec<i64> {
    ids.truncate(20);
    ids
}

#[tokio::test]
async fn envelope_is_exactly_the_servers() {
    let (_sim, client) = start(march(300, 10)).await;
    let (status, body) = client.get_json(&format!("{FILTER}?count=5")).await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["count", "links", "response", "status", "statusCode"]
    );
    assert_eq!(body["count"], 5);
    assert_eq!(body["status"], 0);
    assert_eq!(body["statusCode"], 200);
    let links = body["links"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["action"], "GET");
    assert_eq!(links[0]["href"], format!("{}{FILTER}?count=5", client.base));
    assert_no_nulls(&body);
    for event in body["response"].as_array().unwrap() {
        for key in [
            "id",
            "date",
            "userId",
            "action",
            "actionId",
            "actionType",
            "product",
            "location",
            "entries",
        ] {
            assert!(event.get(key).is_some(), "{key} missing in {event}");
        }
        for key in ["actionId", "actionType", "product", "location"] {
            assert!(event[key].is_i64(), "{key} is not an integer");
        }
        assert!(event.get("module").is_none() && event.get("total").is_none());
        let date = event["date"].as_str().unwrap();
        assert!(date.ends_with(".0000000Z"), "{date}");
        let user_id = event["userId"].as_str().unwrap();
        assert_eq!(user_id, user_id.to_lowercase());
    }
}

#[tokio::test]
async fn paging_newest_first_matches_ground_truth() {
    let config = march(1000, 0);
    let (from, to) = (config.events_from, config.events_to);
    let (sim, client) = start(config).await;
    let events = client
        .all_events(&format!("from={}&to={}", z(from), z(to)))
        .await;
    assert_eq!(events.len(), 1000);
    assert_eq!(ids(&events), sim.audit_event_ids_in(from, to));
    let dates: Vec<DateTime<Utc>> = events
        .iter()
        .map(|e| utc(e["date"].as_str().unwrap()))
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    assert!(dates.iter().all(|d| *d >= from && *d < to));
    // Default count is 100, and a page past the end is empty.
    let (_, body) = client.get_json(FILTER).await;
    assert_eq!(body["count"], 100);
    let (_, body) = client.get_json(&format!("{FILTER}?startIndex=1000")).await;
    assert_eq!(body["count"], 0);
    assert_eq!(body["response"], Value::Array(vec![]));
    // Negative startIndex is ignored.
    let (_, body) = client
        .get_json(&format!("{FILTER}?startIndex=-3&count=3"))
        .await;
    assert_eq!(
        ids(body["response"].as_array().unwrap()),
        sim.audit_event_ids_in(from, to)[..3]
    );
}

#[tokio::test]
async fn from_and_to_are_inclusive_at_second_precision() {
    let config = march(3000, 0);
    let (from, to) = (config.events_from, config.events_to);
    let (sim, client) = start(config).await;
    let all = sim.audit_event_ids_in(from, to);
    let (_, page) = client
        .get_json(&format!("{FILTER}?count=100&startIndex=1500"))
        .await;
    let date = utc(page["response"][0]["date"].as_str().unwrap());
    let expected = sim.audit_event_ids_in(date, date);
    assert!(!expected.is_empty());
    for (f, t) in [
        (z(date), z(date)),
        (z(date), format!("{}.9000000Z", &z(date)[..19])),
        // Same instant with an explicit offset (`+` encoded).
        (
            (date + Duration::hours(2))
                .format("%Y-%m-%dT%H:%M:%S%%2B02:00")
                .to_string(),
            (date + Duration::hours(2))
                .format("%Y-%m-%dT%H:%M:%S.000%%2B02:00")
                .to_string(),
        ),
    ] {
        let events = client.all_events(&format!("from={f}&to={t}")).await;
        assert_eq!(ids(&events), expected, "from={f} to={t}");
    }
    // A fractional `from` after the second excludes it.
    let events = client
        .all_events(&format!("from={}.500Z&to={}", &z(date)[..19], z(date)))
        .await;
    assert!(events.is_empty());
    assert!(all.len() == 3000);
}

#[tokio::test]
async fn filters_follow_the_repository_semantics() {
    let config = march(1500, 0);
    let (_sim, client) = start(config).await;
    let all = client.all_events("").await;
    assert_eq!(all.len(), 1500);
    let local = |pred: &dyn Fn(&Value) -> bool| -> Vec<i64> {
        all.iter()
            .filter(|e| pred(e))
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };

    let user = all[0]["userId"].as_str().unwrap().to_owned();
    let by_user = client
        .all_events(&format!("userId={}", user.to_uppercase()))
        .await;
    assert_eq!(ids(&by_user), local(&|e| e["userId"] == user.as_str()));
    assert!(!by_user.is_empty());

    let uploads = client.all_events("action=5011").await;
    assert_eq!(ids(&uploads), local(&|e| e["actionId"] == 5011));
    assert!(
        uploads
            .iter()
            .all(|e| e["action"].as_str().unwrap().starts_with("File Uploaded: "))
    );
    assert_eq!(
        ids(&client.all_events("action=FileUploaded").await),
        ids(&uploads)
    );

    let downloads = client.all_events("actionType=12").await;
    assert_eq!(ids(&downloads), local(&|e| e["actionType"] == 12));
    assert!(!downloads.is_empty());
    // `action` wins over `actionType`.
    assert_eq!(
        ids(&client.all_events("action=5011&actionType=12").await),
        ids(&uploads)
    );

    let file_event = all.iter().find(|e| e["actionId"] == 5064).unwrap();
    let file_id = file_event["target"][0].as_str().unwrap().to_owned();
    // `target` alone is ignored.
    assert_eq!(
        client.all_events(&format!("target={file_id}")).await.len(),
        1500
    );
    // `entryType` + `target` is a substring match on the target.
    let prefix = &file_id[..3];
    let by_entry = client
        .all_events(&format!("entryType=1&target={prefix}"))
        .await;
    assert_eq!(
        ids(&by_entry),
        local(&|e| e["target"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x.as_str().unwrap().contains(prefix))))
    );
    // `action` + `target` is an exact match.
    let exact = client
        .all_events(&format!("action=5064&target={file_id}"))
        .await;
    assert_eq!(
        ids(&exact),
        local(&|e| e["actionId"] == 5064 && e["target"][0] == file_id.as_str())
    );
    assert!(!exact.is_empty());
    // Unknown user: nothing. Guid.Empty: no filter.
    assert!(
        client
            .all_events("userId=6b0f7b1e-2a1c-4b8e-9d2a-0c1f5e6a7b8c")
            .await
            .is_empty()
    );
    assert_eq!(
        client
            .all_events("userId=00000000-0000-0000-0000-000000000000")
            .await
            .len(),
        1500
    );
    // Filtered paging: offsets are over the filtered set.
    let (_, page) = client
        .get_json(&format!("{FILTER}?actionType=2&count=7&startIndex=5"))
        .await;
    let expected: Vec<i64> = local(&|e| e["actionType"] == 2)
        .into_iter()
        .skip(5)
        .take(7)
        .collect();
    assert_eq!(ids(page["response"].as_array().unwrap()), expected);
}

#[tokio::test]
async fn invalid_parameters_give_validation_400() {
    let (_sim, client) = start(march(50, 0)).await;
    for (query, key) in [
        ("count=0", "Count"),
        ("count=101", "Count"),
        ("count=abc", "Count"),
        ("from=2025-03-01", "From"),
        ("to=2025-03-01T00:00:00", "To"),
        ("from=garbage", "From"),
        ("userId=42", "UserId"),
        ("startIndex=x", "StartIndex"),
    ] {
        let (status, body) = client.get_json(&format!("{FILTER}?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["status"], 1, "{query}");
        assert_eq!(body["statusCode"], 400);
        assert_eq!(body["response"]["status"], 400);
        assert!(
            body["response"]["errors"][key].is_array(),
            "{query}: {body}"
        );
        assert!(body["response"]["title"].is_string());
    }
    let (status, _) = client.get_json(&format!("{FILTER}?count=100")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn module_type_crashes_like_the_real_server() {
    let (_sim, client) = start(march(50, 0)).await;
    for query in ["moduleType=1", "moduleType=Files", "moduleType=27&count=10"] {
        let (status, body) = client.get_json(&format!("{FILTER}?{query}")).await;
        assert_eq!(status, 500, "{query}");
        assert_eq!(body["status"], 1);
        assert_eq!(body["statusCode"], 500);
        assert_eq!(body["error"]["type"], "System.NullReferenceException");
    }
    // None is no filter, and `action` makes the server skip the location branch.
    for query in ["moduleType=0", "moduleType=1&action=5011"] {
        let (status, _) = client.get_json(&format!("{FILTER}?{query}")).await;
        assert_eq!(status, 200, "{query}");
    }
}

#[tokio::test]
async fn dates_are_rendered_in_the_portal_time_zone() {
    let utc_config = march(200, 20);
    let berlin_config = SimConfig {
        portal_time_zone: chrono_tz::Europe::Berlin,
        ..utc_config.clone()
    };
    let (_a, utc_client) = start(utc_config).await;
    let (_b, berlin_client) = start(berlin_config).await;
    let in_utc = utc_client.all_events("").await;
    let in_berlin = berlin_client.all_events("").await;
    assert_eq!(ids(&in_utc), ids(&in_berlin));
    for (u, b) in in_utc.iter().zip(&in_berlin) {
        let (u, b) = (u["date"].as_str().unwrap(), b["date"].as_str().unwrap());
        assert!(
            b.ends_with(".0000000+01:00") || b.ends_with(".0000000+02:00"),
            "{b}"
        );
        assert_eq!(utc(u), utc(b));
    }
    let (_, logins) = berlin_client
        .get_json("/api/2.0/security/audit/login/filter?count=5")
        .await;
    assert!(
        logins["response"][0]["date"]
            .as_str()
            .unwrap()
            .contains(".0000000+0")
    );
}

#[tokio::test]
async fn plan_without_audit_returns_the_20_newest_whatever_the_parameters() {
    // Within the audit lifetime: older events are never shown by the fallback.
    let config = SimConfig {
        plan_has_audit: false,
        events_from: Utc::now() - Duration::days(30),
        events_to: Utc::now() - Duration::days(1),
        ..march(500, 60)
    };
    let (from, to) = (config.events_from, config.events_to);
    let (sim, client) = start(config).await;
    let newest = first_20(sim.audit_event_ids_in(from, to));
    let query = format!(
        "{FILTER}?from={}&to={}&count=5&startIndex=40&action=4000&moduleType=1",
        z(from),
        z(from + Duration::days(1))
    );
    let (status, body) = client.get_json(&query).await;
    assert_eq!(status, 200);
    assert_eq!(ids(body["response"].as_array().unwrap()), newest);
    let (_, again) = client.get_json(&format!("{FILTER}?startIndex=20")).await;
    assert_eq!(ids(again["response"].as_array().unwrap()), newest);
    let (status, logins) = client
        .get_json("/api/2.0/security/audit/login/filter?count=3&startIndex=50")
        .await;
    assert_eq!(status, 200);
    let newest_logins = first_20(sim.login_event_ids_in(from, to));
    assert_eq!(ids(logins["response"].as_array().unwrap()), newest_logins);
    let (status, quota) = client.get_json("/api/2.0/portal/quota").await;
    assert_eq!(status, 200);
    assert_eq!(quota["response"]["audit"], false);
    assert_eq!(quota["count"], 1);
}

#[tokio::test]
async fn the_plan_fallback_shows_only_events_within_the_audit_lifetime() {
    // Half the events are older than the 180-day lifetime, half recent.
    let now = Utc::now();
    let config = SimConfig {
        plan_has_audit: false,
        events_from: now - Duration::days(200),
        events_to: now - Duration::days(160),
        ..march(400, 0)
    };
    let (sim, client) = start(config).await;
    let horizon = now - Duration::days(180);
    let recent = first_20(sim.audit_event_ids_in(horizon + Duration::minutes(1), now));
    assert!(!recent.is_empty());
    let (_, body) = client.get_json(&format!("{FILTER}?count=100")).await;
    let got = ids(body["response"].as_array().unwrap());
    assert_eq!(got, recent);
    let old = sim.audit_event_ids_in(now - Duration::days(200), horizon - Duration::minutes(1));
    assert!(got.iter().all(|id| !old.contains(id)));
}

#[tokio::test]
async fn entry_type_restricts_the_actions() {
    let (_sim, client) = start(march(1500, 0)).await;
    let files = client.all_events("entryType=File").await;
    assert!(!files.is_empty());
    assert!(
        files.iter().all(|e| e["entries"]
            .as_array()
            .is_some_and(|entries| entries.contains(&serde_json::json!(1)))),
        "only actions about files"
    );
    let all = client.all_events("").await;
    assert!(files.len() < all.len());
}

#[tokio::test]
async fn quota_and_last_events() {
    let config = SimConfig {
        events_from: Utc::now() - Duration::days(30),
        events_to: Utc::now() - Duration::days(1),
        ..march(100, 30)
    };
    let (from, to) = (config.events_from, config.events_to);
    let (sim, client) = start(config).await;
    let (status, quota) = client.get_json("/api/2.0/portal/quota").await;
    assert_eq!(status, 200);
    assert_eq!(quota["response"]["audit"], true);
    assert!(quota["response"]["maxFileSize"].is_u64());
    let (_, last) = client.get_json("/api/2.0/security/audit/events/last").await;
    let newest = first_20(sim.audit_event_ids_in(from, to));
    assert_eq!(ids(last["response"].as_array().unwrap()), newest);
    let (_, last) = client.get_json("/api/2.0/security/audit/login/last").await;
    assert_eq!(last["count"], 20);
    let (status, body) = client.get_text("/api/2.0/no/such/endpoint").await;
    assert_eq!((status, body.as_str()), (404, ""));
}

#[tokio::test]
async fn inserted_events_share_a_second_and_get_the_next_ids() {
    let config = march(200, 0);
    let (from, to) = (config.events_from, config.events_to);
    let (sim, client) = start(config).await;
    let max_id = *sim.audit_event_ids_in(from, to).iter().max().unwrap();
    let at = utc("2025-03-10T12:00:00Z");
    sim.insert_audit_events_at(at + Duration::milliseconds(300), 5);
    let events = client
        .all_events(&format!("from={}&to={}", z(at), z(at)))
        .await;
    let mut got = ids(&events);
    got.sort_unstable();
    assert!(got.ends_with(&[max_id + 1, max_id + 2, max_id + 3, max_id + 4, max_id + 5]));
    assert!(
        events
            .iter()
            .all(|e| e["date"] == "2025-03-10T12:00:00.0000000Z")
    );
    assert_eq!(client.all_events("").await.len(), 205);
}

#[tokio::test]
async fn same_seed_same_events_and_a_million_seed_quickly() {
    let (_a, a) = start(march(300, 0)).await;
    let (_b, b) = start(march(300, 0)).await;
    assert_eq!(a.all_events("").await, {
        let mut events = b.all_events("").await;
        // Only the host (port) differs, in `page`.
        for e in &mut events {
            if let Some(page) = e.get_mut("page") {
                *page = Value::String(page.as_str().unwrap().replace(&b.base, &a.base));
            }
        }
        events
    });
    let big = Simulator::start(march(1_000_000, 0)).await.unwrap();
    let stats = big.seed_stats();
    assert_eq!(stats.audit_events, 1_000_000);
    assert!(stats.record_bytes <= 40 * 1024 * 1024, "{stats:?}");
    assert!(stats.elapsed.as_secs() < 30, "{stats:?}");
    let client = super::test_support::TestClient::new(&big);
    let (status, body) = client
        .get_json(&format!("{FILTER}?count=100&startIndex=999950"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 50);
    big.shutdown().await;
}
