//! HTTP tests of authentication, permissions, payment and the request log.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use super::test_support::{TestClient, march, start};
use super::{Caller, DEFAULT_API_KEY, SimConfig};

const FILTER: &str = "/api/2.0/security/audit/events/filter";

/// Uploads a small report to folder 1045.
async fn upload(client: &TestClient) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(b"report".to_vec()).file_name("r.csv"));
    client
        .request(Method::POST, "/api/2.0/files/1045/upload")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_bearer_api_key_is_accepted() {
    let (sim, client) = start(march(20, 5)).await;
    assert!(sim.api_key().starts_with("sk-") && sim.api_key().len() == 67);
    assert_eq!(sim.api_key(), DEFAULT_API_KEY);
    let url = format!("{}{FILTER}", client.base);
    let bad: [Option<String>; 5] = [
        None,
        Some(DEFAULT_API_KEY.to_owned()),
        Some(format!("Basic {DEFAULT_API_KEY}")),
        Some("Bearer sk-wrong".to_owned()),
        Some(format!("Bearer {DEFAULT_API_KEY}x")),
    ];
    for header in &bad {
        let mut request = client.http.get(&url);
        if let Some(h) = header {
            request = request.header("Authorization", h);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{header:?}");
        assert_eq!(response.text().await.unwrap(), "", "{header:?}");
    }
    let (status, _) = client.get_text(FILTER).await;
    assert_eq!(status, 200);
    // Every request is in the log, with its status and Authorization header.
    let log = sim.requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].status, 401);
    assert_eq!(log[0].authorization, None);
    assert_eq!(log[1].authorization.as_deref(), Some(DEFAULT_API_KEY));
    let last = log.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str(), last.status),
        ("GET", FILTER, 200)
    );
    assert_eq!(
        last.authorization,
        Some(format!("Bearer {DEFAULT_API_KEY}"))
    );
    let (_, _) = client
        .get_text(&format!("{FILTER}?count=3&from=2025-03-01T00:00:00Z"))
        .await;
    assert_eq!(
        sim.requests().last().unwrap().query,
        "count=3&from=2025-03-01T00:00:00Z"
    );
}

#[tokio::test]
async fn not_admin_gets_access_denied_on_security_endpoints_only() {
    let config = SimConfig {
        caller: Caller::NotAdmin,
        ..march(20, 5)
    };
    let (_sim, client) = start(config).await;
    let expected = json!({
        "error": {
            "message": "Access denied",
            "type": "System.Security.SecurityException",
            "stack": "",
            "hresult": -2146233078
        },
        "status": 1,
        "statusCode": 403
    });
    for path in [
        FILTER,
        "/api/2.0/security/audit/login/filter",
        "/api/2.0/security/audit/events/last",
        "/api/2.0/portal/quota",
    ] {
        let (status, body) = client.get_json(path).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(body, expected, "{path}");
    }
    let response = upload(&client).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn missing_scope_gets_empty_403_everywhere() {
    let config = SimConfig {
        caller: Caller::MissingScope,
        ..march(20, 5)
    };
    let (sim, client) = start(config).await;
    for path in [FILTER, "/api/2.0/portal/quota"] {
        let (status, body) = client.get_text(path).await;
        assert_eq!((status, body.as_str()), (403, ""), "{path}");
    }
    let response = upload(&client).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.text().await.unwrap(), "");
    assert!(sim.uploads().is_empty());
}

#[tokio::test]
async fn unpaid_portal_answers_402() {
    let config = SimConfig {
        portal_unpaid: true,
        ..march(20, 5)
    };
    let (_sim, client) = start(config).await;
    for path in [FILTER, "/api/2.0/portal/quota", "/api/2.0/files/1045"] {
        let (status, body) = client.get_json(path).await;
        assert_eq!(status, 402, "{path}");
        assert_eq!(body["status"], 1);
        assert_eq!(body["statusCode"], 402);
        assert!(body["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn custom_key_and_shutdown() {
    let config = SimConfig {
        api_key: "sk-0000000000000000000000000000000000000000000000000000000000000001".to_owned(),
        ..march(10, 0)
    };
    let (sim, client) = start(config).await;
    let (status, _) = client.get_text(FILTER).await;
    assert_eq!(status, 200);
    let response = client
        .http
        .get(format!("{}{FILTER}", client.base))
        .bearer_auth(DEFAULT_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let addr = sim.addr();
    sim.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let (sim, _client) = start(march(10, 0)).await;
    let addr = sim.addr();
    drop(sim);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
