//! Hostile and broken servers in front of the portal, on loopback: redirects that would carry
//! the key elsewhere, answers that never end. Each must fail the run clearly, send the key
//! nowhere else, and hold memory bounded.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use docspace_compliance_operator::cycle::Delivery;
use docspace_compliance_operator::spec::ComplianceReportSpec;
use support::cycle::{execute_request, first_artefact, request, run_as};

const KEY: &str = "sk-hostile-test-key";

/// A scripted portal: `(path, query)` to the envelope's `response` (`None`: 404).
type Script = Arc<dyn Fn(&str, &str) -> Option<serde_json::Value> + Send + Sync>;

/// What a hostile server does with every request.
#[derive(Clone)]
enum Behaviour {
    /// Answers `status` with `Location: location`.
    Redirect(StatusCode, String),
    /// Answers 200 with a body that never ends.
    Endless,
    /// A portal whose answers a script decides: `(path, query)` to the envelope's `response`
    /// (`None`: 404).
    Portal(Script),
    /// Answers each request with the next `(status, error message)`, the last one repeated;
    /// `{KEY}` in a message becomes the request's bearer key in upper case, `{key}` as sent.
    Errors(Vec<(StatusCode, String)>),
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
    /// Audit pages are answered this late.
    page_delay: std::time::Duration,
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
    let query = request.uri().query().unwrap_or_default().to_owned();
    if request.uri().path().ends_with("/audit/events/filter") {
        tokio::time::sleep(server.page_delay).await;
    }
    let nth = server.seen.lock().unwrap().len() - 1;
    let sent_key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    match server.behaviour {
        Behaviour::Errors(answers) => {
            let (status, message) = answers[nth.min(answers.len() - 1)].clone();
            let message = message
                .replace("{KEY}", &sent_key.to_uppercase())
                .replace("{key}", &sent_key);
            (
                status,
                axum::Json(serde_json::json!({
                    "error": {"message": message}, "status": 1, "statusCode": status.as_u16()
                })),
            )
                .into_response()
        }
        Behaviour::Portal(script) => match script(request.uri().path(), &query) {
            Some(response) => axum::Json(serde_json::json!({
                // However it misbehaves otherwise, the portal keeps to the dates asked for.
                "response": within_dates(request.uri().path(), &query, response), "status": 0, "statusCode": 200
            }))
            .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
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

/// Drops audit events outside the query's `from`..`to`, as DocSpace's SQL does.
fn within_dates(path: &str, query: &str, response: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Array(events) = response else {
        return response;
    };
    if !path.ends_with("/audit/events/filter") {
        return events.into();
    }
    let bound = |key| {
        query_value(query, key).map(|v| chrono::DateTime::parse_from_rfc3339(&v).unwrap().to_utc())
    };
    let (from, to) = (bound("from"), bound("to"));
    events
        .into_iter()
        .filter(|e| {
            let date = chrono::DateTime::parse_from_rfc3339(e["date"].as_str().unwrap())
                .unwrap()
                .to_utc();
            from.is_none_or(|f| date >= f) && to.is_none_or(|t| date <= t)
        })
        .collect::<Vec<_>>()
        .into()
}

/// Starts a hostile server on loopback.
async fn start(behaviour: Behaviour) -> (SocketAddr, Hostile) {
    start_slow(behaviour, std::time::Duration::ZERO).await
}

/// Starts a hostile server whose audit pages take `page_delay`.
async fn start_slow(
    behaviour: Behaviour,
    page_delay: std::time::Duration,
) -> (SocketAddr, Hostile) {
    let server = Hostile {
        behaviour,
        page_delay,
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
    spec_with_sources(url, true, true)
}

fn spec_with_sources(url: &str, audit: bool, login: bool) -> ComplianceReportSpec {
    serde_json::from_value(serde_json::json!({
        "portal": {"url": url, "tokenSecretRef": {"name": "docspace"}},
        "sources": {"auditTrail": audit, "loginHistory": login},
        "schedule": "0 3 1 * *",
        "period": "PreviousMonth",
        "report": {"formats": ["csv"]},
        "upload": {"folderId": "1045"}
    }))
    .unwrap()
}

async fn run_against(url: &str) -> Result<(), String> {
    run_spec(spec(url)).await
}

async fn run_spec(spec: ComplianceReportSpec) -> Result<(), String> {
    run_as(KEY, spec, "2025-04-01T03:00:00Z", Delivery::Upload, |_| {})
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
    // The first questions go out together; none is asked twice.
    let no_repeats = |seen: &[Seen]| {
        let paths: std::collections::HashSet<&str> = seen.iter().map(|s| s.path.as_str()).collect();
        paths.len() == seen.len() && seen.len() <= 5
    };
    let seen = hostile.seen.lock().unwrap().clone();
    assert!(no_repeats(&seen), "no retry of a redirect: {seen:?}");

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
    assert!(no_repeats(&seen), "{seen:?}");
    assert!(seen.iter().all(|s| !s.path.starts_with("/somewhere")));
    assert!(!error.contains(KEY));
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&*format!("Bearer {KEY}")))
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
    // What the server managed to produce: the cap per request, plus what sits in socket and
    // HTTP buffers when the client stops reading. Without the cap it streams until timeout.
    assert!(
        sent < requests * (64 << 20),
        "{sent} bytes for {requests} requests"
    );
}

fn event(id: i64, date: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "date": date, "action": "Login", "actionId": 1000, "user": "u"})
}

/// For a scripted portal: the `startIndex` of an audit-events request, or the answer to any
/// other request (the quota says audit is in the plan; the rest is 404).
fn audit_page_start(path: &str, query: &str) -> Result<usize, Option<serde_json::Value>> {
    if path.ends_with("/portal/quota") {
        return Err(Some(serde_json::json!({"audit": true})));
    }
    if !path.ends_with("/audit/events/filter") {
        return Err(None);
    }
    Ok(query_value(query, "startIndex")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn query_value(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Runs `spec` against a scripted portal with a minute's bound; returns the error and how
/// many requests `path_part` got.
async fn bounded_run(
    script: impl Fn(&str, &str) -> Option<serde_json::Value> + Send + Sync + 'static,
    audit: bool,
    login: bool,
    path_part: &str,
) -> (String, usize) {
    let (portal, hostile) = start(Behaviour::Portal(Arc::new(move |path, query| {
        if path.ends_with("/portal/quota") {
            return Some(serde_json::json!({"audit": true}));
        }
        script(path, query)
    })))
    .await;
    let spec = spec_with_sources(&format!("http://{portal}"), audit, login);
    let error = tokio::time::timeout(std::time::Duration::from_secs(60), run_spec(spec))
        .await
        .expect("the run must stop by itself")
        .unwrap_err();
    let requests = hostile
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path.contains(path_part))
        .count();
    (error, requests)
}

#[tokio::test]
async fn a_second_whose_pages_never_end_hits_a_bound() {
    // The same 100 events of one second at every offset.
    let (error, pages) = bounded_run(
        |path, _| {
            path.ends_with("/audit/events/filter").then(|| {
                (1..=100)
                    .rev()
                    .map(|id| event(id, "2025-03-31T12:00:00Z"))
                    .collect()
            })
        },
        true,
        false,
        "/audit/events/filter",
    )
    .await;
    assert!(error.starts_with("PortalError | "), "{error}");
    assert!(
        error.contains("bound:") && error.contains("2025-03-31T12:00:00Z.."),
        "names the window and the bound: {error}"
    );
    // The probe, the first window of 20 pages, the bound of 100 pages for one second, at most
    // 8 pages already requested ahead when the bound is hit, and the older slices the probe's
    // density suggested (up to 16, each requesting a few pages ahead; all turn out empty).
    assert!(pages <= 1 + 20 + 100 + 8 + 16 * 8, "{pages} pages");
}

#[tokio::test]
async fn pages_that_never_line_up_stop_after_bounded_rereads() {
    // Every page brings 100 new events and never the previous page's last one.
    let next_id = Arc::new(AtomicUsize::new(1_000_000));
    let (error, pages) = bounded_run(
        move |path, _| {
            path.ends_with("/audit/events/filter").then(|| {
                let first = next_id.fetch_add(100, Ordering::Relaxed) as i64;
                // One busy second, so that no window can be narrowed away from it.
                (0..100)
                    .map(|i| event(first - i, "2025-03-20T10:00:00Z"))
                    .collect()
            })
        },
        true,
        false,
        "/audit/events/filter",
    )
    .await;
    assert!(error.contains("re-reads per window"), "{error}");
    assert!(pages <= 40, "{pages} pages");
}

#[tokio::test]
async fn a_login_history_that_repeats_itself_hits_the_page_budget() {
    let (error, pages) = bounded_run(
        |path, query| {
            // Whatever the offset: the same 100 sign-ins in the middle of the period.
            path.ends_with("/audit/login/filter").then(|| {
                assert!(query_value(query, "startIndex").is_some());
                (1..=100)
                    .rev()
                    .map(|id| event(id, "2025-03-15T08:00:00Z"))
                    .collect()
            })
        },
        false,
        true,
        "/audit/login/filter",
    )
    .await;
    assert!(
        error.contains("login history") && error.contains("pages for what was found"),
        "{error}"
    );
    assert!(pages <= 110, "{pages} pages");
}

#[tokio::test]
async fn a_run_past_its_time_limit_fails_uploads_nothing_and_leaves_no_spool() {
    let quota = |path: &str, _: &str| {
        if path.ends_with("/portal/quota") {
            Some(serde_json::json!({"audit": true}))
        } else if path.ends_with("/audit/events/filter") {
            Some(serde_json::json!([]))
        } else {
            None
        }
    };
    let (portal, hostile) = start_slow(
        Behaviour::Portal(Arc::new(quota)),
        std::time::Duration::from_secs(30),
    )
    .await;
    let out = tempfile::tempdir().unwrap();
    let mut request = request(
        spec_with_sources(&format!("http://{portal}"), true, false),
        KEY,
        "2025-04-01T03:00:00Z",
        Delivery::Upload,
        out.path(),
    );
    request.timeout = Some(std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let error = execute_request(request).await.unwrap_err();
    assert_eq!(error.reason(), "DeadlineExceeded", "{error}");
    assert!(
        error.to_string().contains("1 s") && error.to_string().contains("nothing was uploaded")
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let seen = hostile.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|s| !s.path.contains("upload")), "{seen:?}");
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert!(left.is_empty(), "the spool is gone: {left:?}");
}

#[tokio::test]
async fn echoed_keys_and_forged_lines_never_reach_stderr() {
    let (portal, hostile) = start(Behaviour::Errors(vec![
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "upstream said AUTHORIZATION: BEARER {KEY} and authorization: bearer {key}".to_owned(),
        ),
        (
            StatusCode::FORBIDDEN,
            "denied\n{\"events\": 999, \"forged\": true}\r\n\u{1b}[2J key {key} tail".to_owned(),
        ),
    ]))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\n\
             metadata: {{name: echo, namespace: team}}\n\
             spec:\n  portal: {{url: \"http://{portal}\", tokenSecretRef: {{name: docspace}}}}\n  \
             schedule: \"0 3 1 * *\"\n  report: {{formats: [csv]}}\n  upload: {{folderId: \"1045\"}}\n"
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_docspace-compliance-operator"))
        .args(["report", "--file"])
        .arg(&file)
        .args(["--at", "2025-04-01T03:00:00Z", "--dry-run"])
        .env("DOCSPACE_TOKEN", KEY)
        .env("RUST_LOG", "info")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        hostile.seen.lock().unwrap().len() >= 2,
        "the 500 was retried (and its warning logged)"
    );
    let lower = stderr.to_ascii_lowercase();
    assert!(
        !lower.contains(&KEY.to_ascii_lowercase())
            && !lower.contains(&KEY["sk-".len()..].to_ascii_lowercase()),
        "the key reached stderr:\n{stderr}"
    );
    assert!(stderr.contains("[redacted]"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape sequence reaches the terminal: {stderr:?}"
    );
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].contains("\\n{\"events\": 999"),
        "{}",
        error_lines[0]
    );
    assert!(
        !stderr.lines().any(|l| l.starts_with('{')),
        "no forged JSON line: {stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn an_id_that_comes_back_with_other_content_is_reported_not_dropped() {
    // Events 50..=200, one per second, paged newest first; id 101 comes back as another
    // user whenever it is asked for again (a later page, or any window but the whole month).
    let script = |path: &str, query: &str| {
        let start = match audit_page_start(path, query) {
            Ok(start) => start,
            Err(answer) => return answer,
        };
        let dated = |id: i64| {
            let mut e = event(
                id,
                &format!("2025-03-10T10:{:02}:{:02}Z", id / 60 % 60, id % 60),
            );
            let again =
                start > 0 || query_value(query, "from").as_deref() != Some("2025-03-01T00:00:00Z");
            e["user"] = if id == 101 && again {
                "Mallory"
            } else {
                "Jane"
            }
            .into();
            e
        };
        let all: Vec<serde_json::Value> = (50..=200).rev().map(dated).collect();
        let matching = within_dates(path, query, all.into());
        Some(
            matching
                .as_array()
                .unwrap()
                .iter()
                .skip(start)
                .take(100)
                .cloned()
                .collect::<Vec<_>>()
                .into(),
        )
    };
    let (portal, _hostile) = start(Behaviour::Portal(Arc::new(script))).await;
    let mut spec = spec_with_sources(&format!("http://{portal}"), true, false);
    spec.report.formats = vec![docspace_compliance_operator::spec::ReportFormat::Md];
    let outcome = run_as(KEY, spec, "2025-04-01T03:00:00Z", Delivery::DryRun, |_| {})
        .await
        .unwrap();
    assert_eq!(outcome.event_count, 151, "every distinct id once");
    let md = first_artefact(&outcome);
    assert!(
        md.contains("This report is incomplete because the portal returned 1 event(s) under an id it had already returned but with different content"),
        "{md}"
    );
}

#[tokio::test]
async fn ties_served_in_a_new_order_on_every_request_are_bounded() {
    // 300 events of one second, shuffled anew for every request, then paged by offset: pages
    // overlap arbitrarily, so the anchor check keeps failing. The run must stop by itself.
    let script = |path: &str, query: &str| {
        let start = match audit_page_start(path, query) {
            Ok(start) => start,
            Err(answer) => return answer,
        };
        let mut ids: Vec<i64> = (1..=300).collect();
        fastrand::shuffle(&mut ids);
        Some(
            ids.into_iter()
                .skip(start)
                .take(100)
                .map(|id| event(id, "2025-03-20T10:00:00Z"))
                .collect::<Vec<_>>()
                .into(),
        )
    };
    let (portal, hostile) = start(Behaviour::Portal(Arc::new(script))).await;
    let spec = spec_with_sources(&format!("http://{portal}"), true, false);
    let result = tokio::time::timeout(std::time::Duration::from_secs(60), run_spec(spec))
        .await
        .expect("the run stops by itself");
    let pages = hostile
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path.ends_with("/audit/events/filter"))
        .count();
    if let Err(error) = result {
        assert!(error.contains("bound:"), "{error}");
    }
    assert!(pages <= 130, "{pages} pages");
}
