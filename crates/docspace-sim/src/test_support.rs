//! Helpers shared by the simulator's HTTP tests.

use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use super::seed::{AuditDraw, AuditRec, seed_audit};
use super::world::World;
use super::{SimConfig, SimHandle, Simulator};

/// 2025-03-01T00:00:00Z, UTC seconds.
pub(crate) const MARCH_FROM: i64 = 1_740_787_200;
/// 2025-04-01T00:00:00Z, UTC seconds.
pub(crate) const MARCH_TO: i64 = 1_743_465_600;

/// The population for `seed` and `n` audit events in March 2025.
pub(crate) fn march_audit(seed: u64, n: usize) -> (World, Vec<AuditRec>) {
    let world = World::generate(seed, 2025, MARCH_FROM);
    let recs = seed_audit(&world, &AuditDraw::default(), seed, MARCH_FROM, MARCH_TO, n);
    (world, recs)
}

/// Parses an RFC 3339 date into UTC.
pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A configuration with events in March 2025.
pub(crate) fn march(audit_events: usize, login_events: usize) -> SimConfig {
    SimConfig {
        audit_events,
        login_events,
        events_from: utc("2025-03-01T00:00:00Z"),
        events_to: utc("2025-04-01T00:00:00Z"),
        seed: 4242,
        ..SimConfig::default()
    }
}

/// Formats a UTC instant as the operator sends it (`...Z`).
pub(crate) fn z(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A client bound to one simulator.
pub(crate) struct TestClient {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl TestClient {
    pub(crate) fn new(sim: &SimHandle) -> Self {
        Self {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: sim.base_url(),
            key: sim.api_key().to_owned(),
        }
    }

    /// A request to `path_and_query` with the API key.
    pub(crate) fn request(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path_and_query}", self.base))
            .bearer_auth(&self.key)
    }

    /// GET with the API key.
    pub(crate) async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.request(Method::GET, path_and_query)
            .send()
            .await
            .unwrap()
    }

    /// GET with the API key; status and JSON body.
    pub(crate) async fn get_json(&self, path_and_query: &str) -> (u16, Value) {
        send_json(self.request(Method::GET, path_and_query)).await
    }

    /// GET with the API key; status and raw body.
    pub(crate) async fn get_text(&self, path_and_query: &str) -> (u16, String) {
        let response = self.get(path_and_query).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// All items of a paged list endpoint for `query` (without count/startIndex), paging by 100.
    pub(crate) async fn all_pages(&self, path: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for page in 0.. {
            let (status, body) = self
                .get_json(&format!(
                    "{path}?{query}&count=100&startIndex={}",
                    page * 100
                ))
                .await;
            assert_eq!(status, 200, "{body}");
            let items = body["response"].as_array().unwrap().clone();
            let n = items.len();
            out.extend(items);
            if n < 100 {
                break;
            }
        }
        out
    }

    /// All audit events of `query` (without count/startIndex).
    pub(crate) async fn all_events(&self, query: &str) -> Vec<Value> {
        self.all_pages("/api/2.0/security/audit/events/filter", query)
            .await
    }
}

/// Sends `request`; status and JSON body.
pub(crate) async fn send_json(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Starts a simulator and a client for it.
pub(crate) async fn start(config: SimConfig) -> (SimHandle, TestClient) {
    let sim = Simulator::start(config).await.unwrap();
    let client = TestClient::new(&sim);
    (sim, client)
}

/// Ids of a list of events.
pub(crate) fn ids(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

/// Asserts that no value anywhere in `v` is `null`.
pub(crate) fn assert_no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in response"),
        Value::Array(items) => items.iter().for_each(assert_no_nulls),
        Value::Object(map) => map.values().for_each(assert_no_nulls),
        _ => {}
    }
}
