//! Fault injection: rules that make matching requests fail, stall or trigger late-persisted
//! events, and the responses for injected statuses.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::envelope;

/// A fault to inject into requests whose path contains [`FaultRule::path_contains`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// Substring of the request path (without the query) that selects requests; `""` matches all.
    pub path_contains: String,
    /// Let the first `skip` matching requests through untouched.
    pub skip: usize,
    /// Then apply the fault to this many matching requests.
    pub times: usize,
    /// What to do.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule applying `fault` once, to the first request whose path contains `path_contains`.
    pub fn new(path_contains: impl Into<String>, fault: Fault) -> Self {
        Self {
            path_contains: path_contains.into(),
            skip: 0,
            times: 1,
            fault,
        }
    }

    /// Sets [`FaultRule::skip`].
    #[must_use]
    pub fn skip(mut self, skip: usize) -> Self {
        self.skip = skip;
        self
    }

    /// Sets [`FaultRule::times`].
    #[must_use]
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status instead of serving. 429 has an empty body with `Retry-After`
    /// (when given) and `X-RateLimit-*` headers; 502/503/504 an HTML proxy page; other 5xx an
    /// empty body; 401 an empty body; 402/403/404/400 the matching error envelope.
    Status {
        /// HTTP status code.
        code: u16,
        /// `Retry-After` header value, in seconds.
        retry_after_secs: Option<u64>,
    },
    /// Wait this long, then serve normally (other requests are not held up).
    Delay(Duration),
    /// Serve normally, then insert this many audit events dated at the newest second of the
    /// requested window (the request's `to`, else the newest stored event), as late
    /// asynchronous persistence does: offsets shift, so the next page repeats events.
    DriftInsert(usize),
    /// Serve normally (the request takes effect, e.g. an upload is stored), then answer with
    /// this status instead, as when a proxy loses the answer.
    AfterServe {
        /// HTTP status code of the answer.
        code: u16,
    },
    /// HTTP 200 with `{"status":1,"statusCode":500,"error":{"message":..}}`.
    BodyError {
        /// The error message.
        message: String,
    },
}

#[derive(Debug)]
struct RuleState {
    rule: FaultRule,
    matched: usize,
}

/// The registered rules and how many requests each has matched.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    rules: Vec<RuleState>,
}

impl FaultBook {
    /// Registers a rule.
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(RuleState { rule, matched: 0 });
    }

    /// Counts a request against every matching rule and returns the faults that apply to it,
    /// in registration order.
    pub fn take(&mut self, path: &str) -> Vec<Fault> {
        let mut faults = Vec::new();
        for state in &mut self.rules {
            if !path.contains(state.rule.path_contains.as_str()) {
                continue;
            }
            let n = state.matched;
            state.matched += 1;
            if n >= state.rule.skip && n - state.rule.skip < state.rule.times {
                faults.push(state.rule.fault.clone());
            }
        }
        faults
    }
}

/// The response for an injected status.
pub(crate) fn status_response(code: u16, retry_after_secs: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match status.as_u16() {
        400 => envelope::bad_argument("Value does not fall within the expected range."),
        402 => envelope::payment_required(),
        403 => envelope::access_denied(),
        404 => envelope::error(
            StatusCode::NOT_FOUND,
            "The required item was not found",
            "ASC.Common.Web.ItemNotFoundException",
            -2_146_233_088,
        ),
        502..=504 => html_page(status),
        _ => envelope::empty(status),
    };
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(secs) = retry_after_secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        headers.insert("X-RateLimit-Limit", HeaderValue::from_static("1500"));
        headers.insert("X-RateLimit-Remaining", HeaderValue::from_static("0"));
        headers.insert(
            "X-RateLimit-Reset",
            HeaderValue::from(retry_after_secs.unwrap_or(60)),
        );
    }
    response
}

fn html_page(status: StatusCode) -> Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// HTTP 200 whose body reports an error.
pub(crate) fn body_error_response(message: &str) -> Response {
    envelope::json(
        StatusCode::OK,
        &serde_json::json!({
            "status": 1,
            "statusCode": 500,
            "error": { "message": message }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_and_times_count_matching_requests_only() {
        let mut book = FaultBook::default();
        book.add(
            FaultRule::new("events/filter", Fault::DriftInsert(1))
                .skip(1)
                .times(2),
        );
        assert!(book.take("/api/2.0/portal/quota").is_empty());
        assert!(
            book.take("/api/2.0/security/audit/events/filter")
                .is_empty()
        );
        assert_eq!(book.take("/api/2.0/security/audit/events/filter").len(), 1);
        assert_eq!(book.take("/api/2.0/security/audit/events/filter").len(), 1);
        assert!(
            book.take("/api/2.0/security/audit/events/filter")
                .is_empty()
        );
    }

    #[test]
    fn several_rules_can_apply_to_one_request() {
        let mut book = FaultBook::default();
        book.add(FaultRule::new("", Fault::Delay(Duration::from_millis(1))));
        book.add(FaultRule::new(
            "upload",
            Fault::Status {
                code: 503,
                retry_after_secs: None,
            },
        ));
        assert_eq!(book.take("/api/2.0/files/1/upload").len(), 2);
        assert!(book.take("/api/2.0/files/1/upload").is_empty());
    }

    #[test]
    fn rate_limit_response_has_headers_and_no_body() {
        let r = status_response(429, Some(7));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        assert_eq!(r.headers()["X-RateLimit-Remaining"], "0");
        assert!(r.headers().get(header::CONTENT_TYPE).is_none());
    }
}
