//! HTTP tests of `login/filter`, including the paging bug of §3.1.

use serde_json::Value;

use super::test_support::{TestClient, assert_no_nulls, ids, march, start, utc, z};

const LOGIN: &str = "/api/2.0/security/audit/login/filter";

async fn all_logins(client: &TestClient) -> Vec<Value> {
    client.all_pages(LOGIN, "").await
}

#[tokio::test]
async fn login_events_have_the_dto_fields_and_page_newest_first() {
    let config = march(10, 450);
    let (from, to) = (config.events_from, config.events_to);
    let (sim, client) = start(config).await;
    let all = all_logins(&client).await;
    assert_eq!(ids(&all), sim.login_event_ids_in(from, to));
    let mut action_ids = std::collections::HashSet::new();
    for event in &all {
        assert_no_nulls(event);
        for key in ["id", "date", "userId", "login", "action", "actionId"] {
            assert!(event.get(key).is_some(), "{key} missing in {event}");
        }
        assert!(event["login"].as_str().unwrap().contains('@'));
        assert!(event.get("actionType").is_none());
        action_ids.insert(event["actionId"].as_i64().unwrap());
    }
    assert!(action_ids.contains(&1000) && action_ids.contains(&1002));
    assert!(all.iter().all(|e| e["actionId"].as_i64().unwrap() < 2000));
}

#[tokio::test]
async fn filters_apply_only_within_the_page_of_newest_events() {
    let (_sim, client) = start(march(10, 400)).await;
    let all = all_logins(&client).await;
    // A user whose events are spread over the table.
    let user = all[0]["userId"].as_str().unwrap().to_owned();
    let theirs: Vec<i64> = all
        .iter()
        .filter(|e| e["userId"] == user.as_str())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(theirs.len() > 3);
    // count=10: only matches among the 10 newest events overall.
    let (status, body) = client
        .get_json(&format!("{LOGIN}?userId={user}&count=10"))
        .await;
    assert_eq!(status, 200);
    let expected: Vec<i64> = all[..10]
        .iter()
        .filter(|e| e["userId"] == user.as_str())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids(body["response"].as_array().unwrap()), expected);
    assert!(expected.len() < theirs.len());
    // Page 2 of the filter = matches among events 100..200 of the whole table.
    let (_, body) = client
        .get_json(&format!("{LOGIN}?action=1000&count=100&startIndex=100"))
        .await;
    let expected: Vec<i64> = all[100..200]
        .iter()
        .filter(|e| e["actionId"] == 1000)
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids(body["response"].as_array().unwrap()), expected);
    // A date window far in the past gives an empty first page although events exist.
    let old = all.last().unwrap()["date"].as_str().unwrap();
    let (_, body) = client
        .get_json(&format!(
            "{LOGIN}?from={}&to={}&count=50",
            z(utc("2025-03-01T00:00:00Z")),
            z(utc(old))
        ))
        .await;
    assert_eq!(body["count"], 0);
    // Validation is the same as for audit events.
    let (status, body) = client.get_json(&format!("{LOGIN}?count=500")).await;
    assert_eq!((status, body["status"].as_i64()), (400, Some(1)));
}
