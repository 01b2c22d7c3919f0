//! Request pipeline in front of the handlers: request log (outermost), fault injection, then
//! authentication, scopes, payment and admin checks.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Caller;
use super::dates::{floor_secs, parse_api_date};
use super::envelope;
use super::faults::{Fault, body_error_response, status_response};
use super::query::Params;
use super::state::{RequestRecord, SimState};

/// Records every request with the status it got.
pub(crate) async fn record(
    State(state): State<Arc<SimState>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let response = next.run(req).await;
    state.record(RequestRecord {
        method,
        path,
        query,
        status: response.status().as_u16(),
        authorization,
    });
    response
}

/// Applies the fault rules matching the request: delays first, then an injected response, or
/// normal handling followed by drift inserts.
pub(crate) async fn faults(
    State(state): State<Arc<SimState>>,
    req: Request,
    next: Next,
) -> Response {
    let faults = state.faults().take(req.uri().path());
    if faults.is_empty() {
        return next.run(req).await;
    }
    let mut injected = None;
    let mut after_serve = None;
    let mut drift = 0usize;
    for fault in &faults {
        match fault {
            Fault::Delay(duration) => tokio::time::sleep(*duration).await,
            Fault::Status {
                code,
                retry_after_secs,
            } => {
                injected.get_or_insert_with(|| status_response(*code, *retry_after_secs));
            }
            Fault::BodyError { message } => {
                injected.get_or_insert_with(|| body_error_response(message));
            }
            Fault::DriftInsert(n) => drift += n,
            Fault::AfterServe { code } => after_serve = after_serve.or(Some(*code)),
        }
    }
    if let Some(response) = injected {
        return response;
    }
    let window_end = Params::parse(req.uri().query())
        .get("to")
        .and_then(parse_api_date)
        .map(|to| floor_secs(&to));
    let response = next.run(req).await;
    if let Some(code) = after_serve {
        return status_response(code, None);
    }
    if drift > 0 {
        let newest = state.audit().newest_ts();
        let at = window_end
            .or(newest)
            .unwrap_or_else(|| chrono::Utc::now().timestamp());
        state.insert_audit_events_at_secs(at, drift);
    }
    response
}

/// Whether the path needs the EditPortalSettings right (owner or admin).
fn needs_admin(path: &str) -> bool {
    path.starts_with("/api/2.0/security/") || path.eq_ignore_ascii_case("/api/2.0/portal/quota")
}

/// Whether the `Authorization` header is exactly `Bearer <api key>`, as the server's API-key
/// handler requires (the scheme is matched case-sensitively).
fn authorized(req: &Request, api_key: &str) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| token == api_key)
}

/// Authentication (401, empty body), API-key scopes (403, empty body), payment (402) and the
/// admin permission of the security endpoints (403 error envelope).
pub(crate) async fn auth(State(state): State<Arc<SimState>>, req: Request, next: Next) -> Response {
    let config = &state.config;
    if !authorized(&req, &config.api_key) {
        return envelope::empty(StatusCode::UNAUTHORIZED);
    }
    if config.caller == Caller::MissingScope {
        return envelope::empty(StatusCode::FORBIDDEN);
    }
    if config.portal_unpaid {
        return envelope::payment_required();
    }
    if config.caller == Caller::NotAdmin && needs_admin(req.uri().path()) {
        return envelope::access_denied();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_paths() {
        assert!(needs_admin("/api/2.0/security/audit/events/filter"));
        assert!(needs_admin("/api/2.0/portal/quota"));
        assert!(!needs_admin("/api/2.0/files/1045/upload"));
    }

    #[test]
    fn bearer_scheme_is_required() {
        let key = "sk-abc";
        let req = |value: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert!(authorized(&req("Bearer sk-abc"), key));
        assert!(
            !authorized(&req("bearer sk-abc"), key),
            "the scheme is exact"
        );
        assert!(!authorized(&req("Bearer  sk-abc"), key));
        assert!(!authorized(&req("sk-abc"), key));
        assert!(!authorized(&req("Basic sk-abc"), key));
        assert!(!authorized(&req("Bearer sk-abd"), key));
    }
}
