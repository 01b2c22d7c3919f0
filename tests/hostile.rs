//! Hostile and broken servers in front of the portal, on loopback: redirects that would carry
//! the key elsewhere, answers that never end. Each must fail the run clearly, send the key
//! nowhere else, and hold memory bounded.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use docspace_compliance_operator::run::{Delivery, NoProgress, run_once};
use docspace_compliance_operator::spec::ComplianceReportSpec;

const KEY: &str = "sk-hostile-test-key";

/// What a hostile server does with every request.
#[derive(Clone)]
enum Behaviour {
    /// Answers `status` with `Location: location`.
    Redirect(StatusCode, String),
    /// Answers 200 with a body that never ends.
    Endless,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
}

#[derive(Clone)]
struct Hostile {
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<Seen>>>,
    bytes_sent: Arc<AtomicUsize>,
}

async fn answer(State(server): State<Hostile>, request: Request) -> Response {
    server.seen.lock().unwrap().push(Seen {
        path: request.uri().path().to_owned(),
        authorization: request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default().to_owned()),
    });
    match server.behaviour {
        Behaviour::Redirect(status, location) => {
            let mut headers = HeaderMap::new();
            headers.insert(header::LOCATION, location.parse().unwrap());
            (status, headers).into_response()
        }
        Behaviour::Endless => {
            let sent = server.bytes_sent.clone();
            let chunk = bytes::Bytes::from(vec![b' '; 64 << 10]);
            let stream = futures::stream::repeat(chunk).map(move |c| {
                sent.fetch_add(c.len(), Ordering::Relaxed);
                Ok::<_, std::io::Error>(c)
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
    }
}

use futures::StreamExt;

/// Starts a hostile server on loopback.
async fn start(behaviour: Behaviour) -> (SocketAddr, Hostile) {
    let server = Hostile {
        behaviour,
        seen: Arc::default(),
        bytes_sent: Arc::default(),
    };
    let app = Router::new().fallback(answer).with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, server)
}

fn spec(url: &str) -> ComplianceReportSpec {
    serde_json::from_value(serde_json::json!({
        "portal": {"url": url, "tokenSecretRef": {"name": "docspace"}},
        "schedule": "0 3 1 * *",
        "period": "PreviousMonth",
        "report": {"formats": ["csv"]},
        "upload": {"folderId": "1045"}
    }))
    .unwrap()
}

async fn run_against(url: &str) -> Result<(), String> {
    let out = tempfile::tempdir().unwrap();
    let request = common::request(
        spec(url),
        KEY,
        "2025-04-01T03:00:00Z",
        Delivery::Upload,
        out.path(),
    );
    run_once(request, &NoProgress)
        .await
        .map(|_| ())
        .map_err(|e| format!("{} | {e}", e.reason()))
}

#[tokio::test]
async fn a_redirect_is_refused_and_the_key_goes_nowhere_else() {
    // Another origin: the client must not go there, with or without the key.
    let (elsewhere, other) = start(Behaviour::Endless).await;
    let target = format!("http://{elsewhere}/api/2.0/portal/quota");
    let (portal, hostile) = start(Behaviour::Redirect(
        StatusCode::TEMPORARY_REDIRECT,
        target.clone(),
    ))
    .await;
    let error = run_against(&format!("http://{portal}")).await.unwrap_err();
    assert!(error.starts_with("PortalRedirected | "), "{error}");
    assert!(
        error.contains(&target) && error.contains("spec.portal.url"),
        "{error}"
    );
    assert!(
        other.seen.lock().unwrap().is_empty(),
        "the other origin was called"
    );
    assert_eq!(
        hostile.seen.lock().unwrap().len(),
        1,
        "no retry of a redirect"
    );

    // The same origin (as an https -> http downgrade on the same host and port would be):
    // reqwest would follow it and keep the key; the client must not.
    let (portal, hostile) = start(Behaviour::Redirect(
        StatusCode::FOUND,
        "/somewhere/else".to_owned(),
    ))
    .await;
    let error = run_against(&format!("http://{portal}")).await.unwrap_err();
    assert!(error.contains("/somewhere/else"), "{error}");
    let seen = hostile.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen.iter().all(|s| !s.path.starts_with("/somewhere")));
    assert!(!error.contains(KEY));
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
}

#[tokio::test]
async fn an_endless_answer_fails_at_the_cap_instead_of_filling_memory() {
    let (portal, hostile) = start(Behaviour::Endless).await;
    let error = run_against(&format!("http://{portal}")).await.unwrap_err();
    assert!(
        error.starts_with("PortalError | ") && error.contains("larger than 16777216 bytes"),
        "{error}"
    );
    let sent = hostile.bytes_sent.load(Ordering::Relaxed);
    let requests = hostile.seen.lock().unwrap().len();
    println!(
        "{requests} requests, {} MiB sent before the client stopped",
        sent >> 20
    );
    // What the server managed to push: the cap per request in flight, plus socket buffers.
    assert!(
        sent < requests * (24 << 20),
        "{sent} bytes for {requests} requests"
    );
}
