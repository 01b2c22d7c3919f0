//! HTTP tests of fault injection.

use std::time::{Duration, Instant};

use reqwest::Method;

use super::test_support::{ids, march, start, utc, z};
use super::{Fault, FaultRule};

const FILTER: &str = "/api/2.0/security/audit/events/filter";

#[tokio::test]
async fn rate_limit_then_recovery() {
    let (sim, client) = start(march(50, 0)).await;
    sim.add_fault(FaultRule {
        path_contains: "events/filter".into(),
        skip: 0,
        times: 2,
        fault: Fault::Status {
            code: 429,
            retry_after_secs: Some(3),
        },
    });
    for _ in 0..2 {
        let response = client.get(FILTER).await;
        assert_eq!(response.status(), 429);
        let headers = response.headers();
        assert_eq!(headers["retry-after"], "3");
        assert_eq!(headers["x-ratelimit-limit"], "1500");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert!(headers.contains_key("x-ratelimit-reset"));
        assert_eq!(response.text().await.unwrap(), "");
    }
    // Other paths are unaffected, and the rule is used up.
    assert_eq!(client.get("/api/2.0/portal/quota").await.status(), 200);
    assert_eq!(client.get(FILTER).await.status(), 200);
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200, 200]);
}

#[tokio::test]
async fn skip_then_server_errors() {
    let (sim, client) = start(march(50, 0)).await;
    sim.add_fault(
        FaultRule::new(
            "audit",
            Fault::Status {
                code: 503,
                retry_after_secs: None,
            },
        )
        .skip(1),
    );
    sim.add_fault(FaultRule::new(
        "quota",
        Fault::Status {
            code: 500,
            retry_after_secs: None,
        },
    ));
    assert_eq!(client.get(FILTER).await.status(), 200);
    let (status, body) = client.get_text(FILTER).await;
    assert_eq!(status, 503);
    assert!(body.contains("<html>") && body.contains("503"));
    assert_eq!(client.get(FILTER).await.status(), 200);
    let (status, body) = client.get_text("/api/2.0/portal/quota").await;
    assert_eq!((status, body.as_str()), (500, ""));
}

#[tokio::test]
async fn body_error_has_http_200() {
    let (sim, client) = start(march(50, 0)).await;
    sim.add_fault(FaultRule::new(
        "events/filter",
        Fault::BodyError {
            message: "Storage is unavailable".into(),
        },
    ));
    let (status, body) = client.get_json(FILTER).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], 1);
    assert_eq!(body["statusCode"], 500);
    assert_eq!(body["error"]["message"], "Storage is unavailable");
    assert!(body.get("response").is_none());
}

#[tokio::test]
async fn delay_does_not_block_other_requests() {
    let (sim, client) = start(march(50, 0)).await;
    sim.add_fault(FaultRule::new(
        "events/filter",
        Fault::Delay(Duration::from_millis(800)),
    ));
    let started = Instant::now();
    let slow = client.request(Method::GET, FILTER);
    let slow = tokio::spawn(async move {
        let response = slow.send().await.unwrap();
        (response.status().as_u16(), Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = client.get_json("/api/2.0/portal/quota").await;
    let quick_done = Instant::now();
    assert_eq!(status, 200);
    let (slow_status, slow_done) = slow.await.unwrap();
    assert_eq!(slow_status, 200);
    assert!(quick_done < slow_done);
    assert!(slow_done - started >= Duration::from_millis(800));
}

#[tokio::test]
async fn drift_insert_makes_the_next_page_repeat_events() {
    let config = march(1000, 0);
    let (from, to) = (config.events_from, config.events_to);
    let (sim, client) = start(config).await;
    let window_end = utc("2025-03-31T23:59:59Z");
    let before_max = *sim.audit_event_ids_in(from, to).iter().max().unwrap();
    sim.add_fault(FaultRule::new("events/filter", Fault::DriftInsert(3)));
    let query = format!("from={}&to={}", z(from), z(window_end));
    let (_, first) = client
        .get_json(&format!("{FILTER}?{query}&count=100"))
        .await;
    let (_, second) = client
        .get_json(&format!("{FILTER}?{query}&count=100&startIndex=100"))
        .await;
    let first = ids(first["response"].as_array().unwrap());
    let second = ids(second["response"].as_array().unwrap());
    // The three late events were inserted at the top, pushing the last three of page 1 down.
    assert_eq!(&second[..3], &first[97..]);
    let late = sim.audit_event_ids_in(window_end, window_end);
    let mut newest: Vec<i64> = late.iter().copied().filter(|id| *id > before_max).collect();
    newest.sort_unstable();
    assert_eq!(newest, [before_max + 1, before_max + 2, before_max + 3]);
    assert_eq!(sim.audit_event_ids_in(from, to).len(), 1003);
    // A fresh walk sees every event exactly once.
    let all = client.all_events(&query).await;
    assert_eq!(ids(&all), sim.audit_event_ids_in(from, window_end));
}
