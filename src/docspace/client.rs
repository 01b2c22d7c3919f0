//! The HTTP client: authentication, the response envelope, status mapping and retries.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{AUTHORIZATION, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use super::api_key::ApiKey;
use super::error::{AttemptError, DocSpaceError};
use super::limiter::{PortalLimiter, PortalLimits};

/// How hard to retry transient failures (429, 5xx, connection errors).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First backoff delay; it doubles each retry, with jitter.
    pub min_delay: Duration,
    /// Longest single backoff delay.
    pub max_delay: Duration,
    /// Longest total time spent waiting between attempts.
    pub max_total_delay: Duration,
    /// Longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// Longest total wait of one request for a rate-limiting portal (429s); the run's deadline
    /// usually ends it sooner.
    pub max_throttle_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_delay: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(120),
            max_throttle_wait: Duration::from_secs(3600),
        }
    }
}

/// Told about every answer (or its absence, as status 0), e.g. to count requests in metrics.
pub trait ResponseObserver: Send + Sync + std::fmt::Debug {
    /// `endpoint` answered with HTTP `status`, or 0 when no answer came.
    fn observed(&self, endpoint: &'static str, status: u16);

    /// A request to `endpoint` is about to be sent (its answer may never be read: a page
    /// requested ahead is dropped when its window turns out to be exhausted).
    fn sending(&self, endpoint: &'static str) {
        let _ = endpoint;
    }

    /// The portal rate-limited `endpoint`; every request to it waits `wait` (zero when the
    /// portal gave no `Retry-After` and only the concurrency dropped).
    fn throttled(&self, endpoint: &'static str, wait: Duration) {
        let _ = (endpoint, wait);
    }
}

/// Everything needed to talk to one portal.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The portal's base URL, e.g. `https://acme.onlyoffice.com`.
    pub base_url: Url,
    /// The API key (`sk-...`).
    pub api_key: ApiKey,
    /// Timeout of one ordinary request.
    pub request_timeout: Duration,
    /// Timeout of one upload request.
    pub upload_timeout: Duration,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// Audit-event pages one time slice requests ahead while earlier ones are processed (the
    /// portal's limiter caps what is really in flight; 1 means strictly one after another).
    pub page_concurrency: usize,
    /// Time slices of the period read at once.
    pub slices: usize,
    /// Every request to the portal waits here for its turn (shared by every client of the
    /// portal in the process).
    pub limiter: Arc<PortalLimiter>,
    /// Told about every answer.
    pub observer: Option<Arc<dyn ResponseObserver>>,
    /// The largest successful answer read, in bytes (a page of 100 events is well under
    /// 2 MiB); a larger one fails the request instead of filling memory.
    pub max_response_bytes: usize,
}

/// Time slices of a period read at once by default.
pub const DEFAULT_SLICES: usize = 32;

/// The default cap of a successful answer: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 << 20;

/// How much of an error answer is read: enough for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

impl ClientConfig {
    /// A configuration with default timeouts and retries.
    pub fn new(base_url: Url, api_key: ApiKey) -> Self {
        Self {
            base_url,
            api_key,
            request_timeout: Duration::from_secs(60),
            upload_timeout: Duration::from_secs(600),
            retry: RetryPolicy::default(),
            page_concurrency: 20,
            slices: DEFAULT_SLICES,
            limiter: PortalLimiter::new(PortalLimits::default()),
            observer: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// A DocSpace API client for one portal and one key.
#[derive(Debug, Clone)]
pub struct DocSpaceClient {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
    pub(crate) config: ClientConfig,
}

/// The success envelope of `/api/2.0/...` responses.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    #[serde(default = "Option::default")]
    response: Option<T>,
    #[serde(default)]
    status: Option<i32>,
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    success: Option<bool>,
}

/// Just the error parts of an envelope, for bodies whose `response` is not the expected type.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorProbe {
    #[serde(default)]
    status: Option<i32>,
    #[serde(default)]
    status_code: Option<u16>,
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    response: Option<serde_json::Value>,
    // The legacy handlers answer {"success":false,"message":"..."}.
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
}

impl ErrorProbe {
    fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    fn is_error(&self) -> bool {
        self.status == Some(1) || self.error.is_some() || self.success == Some(false)
    }

    /// The most helpful message in the body: `error.message`, a validation problem's
    /// `title`/`errors`, or the legacy `message`.
    fn message(&self) -> Option<String> {
        if let Some(msg) = self.error.as_ref().and_then(|e| e.message.clone()) {
            return Some(msg);
        }
        if let Some(problem) = self.response.as_ref().filter(|r| r.is_object()) {
            let title = problem.get("title").and_then(|t| t.as_str()).unwrap_or("");
            let errors = problem
                .get("errors")
                .map(|e| e.to_string())
                .unwrap_or_default();
            let text = format!("{title} {errors}").trim().to_owned();
            if !text.is_empty() {
                return Some(text);
            }
        }
        self.message.clone().filter(|m| !m.is_empty())
    }
}

fn detail(message: Option<String>) -> String {
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

impl DocSpaceClient {
    /// Builds a client. Fails only if the TLS stack cannot be initialised.
    pub fn new(config: ClientConfig) -> Result<Self, DocSpaceError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "docspace-compliance-operator/",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(Duration::from_secs(15))
            .timeout(config.request_timeout)
            // A redirect would carry the key along (reqwest keeps it on the same host and
            // port, even from https to http) or lead to a host the allow-list never saw: a
            // 3xx is an error that names the target.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DocSpaceError::InvalidUrl {
                url: config.base_url.to_string(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        let base = config.base_url.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            base,
            key: config.api_key.clone(),
            config,
        })
    }

    /// A request to `{base}{path}` with the API key attached (`path` is a constant).
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .header(AUTHORIZATION, self.key.bearer())
    }

    /// The portal URL with `segments` appended, each percent-encoded: an id from an answer
    /// (`9000/../../people/x`) stays one segment and cannot climb to another endpoint.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, DocSpaceError> {
        let invalid = |reason: String| DocSpaceError::InvalidUrl {
            url: self.base.clone(),
            reason,
        };
        let mut url = Url::parse(&self.base).map_err(|e| invalid(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| invalid("the portal URL cannot have a path".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// A request to the portal URL plus `segments` (see [`Self::url`]), with the API key.
    pub(crate) fn request_to(
        &self,
        method: Method,
        segments: &[&str],
    ) -> Result<RequestBuilder, DocSpaceError> {
        Ok(self
            .http
            .request(method, self.url(segments)?)
            .header(AUTHORIZATION, self.key.bearer()))
    }

    /// Runs `attempt` under the retry policy. Transient failures (5xx, connection errors) are
    /// retried with exponential backoff within the policy's budget; 429s are waited out (the
    /// limiter pauses every request of the portal for the server's `Retry-After`) for up to
    /// [`RetryPolicy::max_throttle_wait`] and do not use that budget: a run fails on rate
    /// limiting only when its deadline or that wait runs out.
    pub(crate) async fn with_retries<T, F, Fut>(
        &self,
        endpoint: &'static str,
        mut attempt: F,
    ) -> Result<T, DocSpaceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        let policy = &self.config.retry;
        let attempts = AtomicUsize::new(0);
        let mut waited = Duration::ZERO;
        loop {
            let backoff = ExponentialBuilder::default()
                .with_min_delay(policy.min_delay)
                .with_max_delay(policy.max_delay)
                .with_max_times(policy.max_retries)
                .with_total_delay(Some(policy.max_total_delay))
                .with_jitter();
            let result = (|| {
                attempts.fetch_add(1, Ordering::Relaxed);
                attempt()
            })
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| matches!(e, AttemptError::Transient { .. }))
            .adjust(|e, planned| match (e, planned) {
                (AttemptError::Transient { retry_after: Some(wait), .. }, Some(planned)) => {
                    (*wait <= policy.max_retry_after).then(|| (*wait).max(planned))
                }
                (_, planned) => planned,
            })
            .notify(|e, wait| {
                tracing::warn!(endpoint, error = %e_text(e), wait_ms = wait.as_millis() as u64, "DocSpace request failed; retrying");
            })
            .await;
            let retry_after = match result {
                Ok(value) => return Ok(value),
                Err(AttemptError::Throttled { retry_after, .. }) => retry_after,
                Err(other) => return Err(other.into_error()),
            };
            let stop = |waited: Duration, detail: String| DocSpaceError::RateLimited {
                endpoint,
                attempts: attempts.load(Ordering::Relaxed),
                waited_seconds: waited.as_secs(),
                detail,
            };
            if let Some(asked) = retry_after.filter(|wait| *wait > policy.max_retry_after) {
                return Err(stop(
                    waited,
                    format!(
                        ": the portal asked to wait {} s, longer than the {} s the client waits at once",
                        asked.as_secs(),
                        policy.max_retry_after.as_secs()
                    ),
                ));
            }
            // The limiter holds every request of the portal until the pause is over; this
            // request waits its turn there. The wait counted is the pause it was given.
            let pause = self.config.limiter.paused_for().unwrap_or_default();
            waited += pause.max(super::limiter::FIRST_PAUSE);
            if waited > policy.max_throttle_wait {
                return Err(stop(
                    waited,
                    format!(
                        ": past the longest wait of {} s",
                        policy.max_throttle_wait.as_secs()
                    ),
                ));
            }
            if let Some(observer) = &self.config.observer {
                observer.throttled(endpoint, pause);
            }
            tracing::info!(
                endpoint,
                wait_ms = pause.as_millis() as u64,
                concurrency = self.config.limiter.concurrency(),
                "DocSpace is rate-limiting (HTTP 429); waiting and sending fewer requests at once"
            );
        }
    }

    /// Sends one request built by `build` and returns the body of a 2xx answer, mapping every
    /// other status to an error.
    ///
    /// Each request is a `docspace_request` span with its method and endpoint (a label, never
    /// the URL's query, a header or the key), inside the span of whatever sent it, e.g. a run.
    pub(crate) async fn send_once(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
        not_found: impl FnOnce() -> String,
    ) -> Result<bytes::Bytes, AttemptError> {
        let (http, request) = request.build_split();
        let method = request.as_ref().map_or("", |r| r.method().as_str());
        let span = tracing::info_span!("docspace_request", method, endpoint);
        self.send_built(endpoint, http, request, not_found)
            .instrument(span)
            .await
    }

    /// [`Self::send_once`] of a built request (or of the error that building it gave).
    async fn send_built(
        &self,
        endpoint: &'static str,
        http: reqwest::Client,
        request: reqwest::Result<reqwest::Request>,
        not_found: impl FnOnce() -> String,
    ) -> Result<bytes::Bytes, AttemptError> {
        let observe = |status: u16| {
            if let Some(observer) = &self.config.observer {
                observer.observed(endpoint, status);
            }
        };
        let Some(permit) = self.config.limiter.acquire_unless_withdrawn().await else {
            return Err(AttemptError::Fatal(DocSpaceError::Withdrawn { endpoint }));
        };
        tracing::trace!(
            endpoint,
            rank = super::slots::current_ticket().rank,
            "sending"
        );
        if let Some(observer) = &self.config.observer {
            observer.sending(endpoint);
        }
        let sent = match request {
            Ok(request) => http.execute(request).await,
            Err(e) => Err(e),
        };
        let response = sent.map_err(|e| {
            observe(0);
            transport_error(endpoint, &e)
        })?;
        let status = response.status();
        observe(status.as_u16());
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
                .unwrap_or_else(|| "nowhere (no Location header)".to_owned());
            return Err(AttemptError::Fatal(DocSpaceError::Redirected {
                endpoint,
                status: status.as_u16(),
                location,
            }));
        }
        let wait = retry_after(response.headers());
        if status == StatusCode::TOO_MANY_REQUESTS {
            // A pause longer than the client waits ends this request's retries (see
            // `with_retries`); it must not hold every other request to the portal.
            permit.throttled(wait.filter(|w| *w <= self.config.retry.max_retry_after));
        }
        if status.is_success() {
            let body =
                read_capped(endpoint, response, self.config.max_response_bytes, true).await?;
            permit.succeeded();
            return Ok(body);
        }
        let body = read_capped(endpoint, response, MAX_ERROR_BODY_BYTES, false).await?;
        let probe = ErrorProbe::parse(&body);
        Err(status_error(
            endpoint,
            status,
            probe.message(),
            wait,
            not_found,
        ))
    }

    /// GETs a JSON endpoint and returns the envelope's `response`.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, DocSpaceError> {
        self.with_retries(endpoint, || async {
            let request = self.request(Method::GET, path).query(query);
            let body = self
                .send_once(endpoint, request, || endpoint.to_owned())
                .await?;
            parse_envelope(endpoint, &body).map_err(AttemptError::Fatal)
        })
        .await
    }
}

/// Reads a body of at most `limit` bytes, chunk by chunk. Past the limit: an error when
/// `strict`, else the first `limit` bytes (an error answer needs only its message).
async fn read_capped(
    endpoint: &'static str,
    mut response: reqwest::Response,
    limit: usize,
    strict: bool,
) -> Result<bytes::Bytes, AttemptError> {
    let too_large = || AttemptError::Fatal(DocSpaceError::TooLarge { endpoint, limit });
    let announced = response.content_length().unwrap_or(0);
    if strict && announced > limit as u64 {
        return Err(too_large());
    }
    let mut body =
        bytes::BytesMut::with_capacity(usize::try_from(announced).unwrap_or(limit).min(limit));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(endpoint, &e))?
    {
        if body.len() + chunk.len() > limit {
            if strict {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk[..limit - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn e_text(e: &AttemptError) -> String {
    match e {
        AttemptError::Transient { error, .. }
        | AttemptError::Throttled { error, .. }
        | AttemptError::Fatal(error) => error.to_string(),
    }
}

/// Parses a 2xx body: the envelope's `response`, or the error it carries.
pub(crate) fn parse_envelope<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<T, DocSpaceError> {
    // Validating UTF-8 once for the whole body is much cheaper than string by string.
    let parsed = std::str::from_utf8(body)
        .map_err(serde::de::Error::custom)
        .and_then(serde_json::from_str::<Envelope<T>>);
    match parsed {
        Ok(envelope)
            if envelope.status != Some(1)
                && envelope.error.is_none()
                && envelope.success != Some(false) =>
        {
            envelope.response.ok_or_else(|| DocSpaceError::Malformed {
                endpoint,
                detail: "the envelope has no `response`".to_owned(),
            })
        }
        Ok(_) => Err(body_error(endpoint, body)),
        Err(parse_error) => {
            let probe = ErrorProbe::parse(body);
            if probe.is_error() {
                Err(body_error(endpoint, body))
            } else {
                Err(DocSpaceError::Malformed {
                    endpoint,
                    detail: format!("{parse_error} (body starts {:?})", snippet(body)),
                })
            }
        }
    }
}

fn body_error(endpoint: &'static str, body: &[u8]) -> DocSpaceError {
    let probe = ErrorProbe::parse(body);
    let status = probe.status_code.unwrap_or(200);
    let message = probe
        .message()
        .unwrap_or_else(|| "an error without a message".to_owned());
    match StatusCode::from_u16(status) {
        Ok(code) if !code.is_success() => {
            status_error(endpoint, code, Some(message), None, || endpoint.to_owned()).into_error()
        }
        _ => DocSpaceError::Rejected {
            endpoint,
            status,
            message,
        },
    }
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned()
}

fn transport_error(endpoint: &'static str, e: &reqwest::Error) -> AttemptError {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        reason = format!("{reason}: {inner}");
        source = inner.source();
    }
    let error = DocSpaceError::Unreachable { endpoint, reason };
    if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() {
        AttemptError::Transient {
            error,
            retry_after: None,
            unprocessed: e.is_connect(),
        }
    } else {
        AttemptError::Fatal(error)
    }
}

fn status_error(
    endpoint: &'static str,
    status: StatusCode,
    message: Option<String>,
    wait: Option<Duration>,
    not_found: impl FnOnce() -> String,
) -> AttemptError {
    use AttemptError::{Fatal, Transient};
    match status.as_u16() {
        401 => Fatal(DocSpaceError::Unauthorized { endpoint }),
        402 => Fatal(DocSpaceError::PaymentRequired {
            endpoint,
            detail: detail(message),
        }),
        403 => Fatal(DocSpaceError::Forbidden {
            endpoint,
            detail: detail(message),
        }),
        404 => Fatal(DocSpaceError::NotFound {
            what: not_found(),
            detail: detail(message),
        }),
        429 => AttemptError::Throttled {
            error: DocSpaceError::RateLimited {
                endpoint,
                attempts: 1,
                waited_seconds: 0,
                detail: String::new(),
            },
            retry_after: wait,
        },
        500 | 502 | 503 | 504 => Transient {
            error: DocSpaceError::Server {
                endpoint,
                status: status.as_u16(),
                detail: detail(message),
            },
            retry_after: wait,
            unprocessed: false,
        },
        code if code >= 500 => Fatal(DocSpaceError::Server {
            endpoint,
            status: code,
            detail: detail(message),
        }),
        code => Fatal(DocSpaceError::Rejected {
            endpoint,
            status: code,
            message: message.unwrap_or_else(|| "no message".to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_yields_the_response() {
        let body = br#"{"response":[1,2],"count":2,"links":[],"status":0,"statusCode":200}"#;
        let v: Vec<i32> = parse_envelope("test", body).unwrap();
        assert_eq!(v, vec![1, 2]);
    }

    #[test]
    fn an_error_inside_a_2xx_body_is_an_error() {
        let body = br#"{"error":{"message":"Folder not found"},"status":1,"statusCode":404}"#;
        let err = parse_envelope::<Vec<i32>>("test", body).unwrap_err();
        assert!(matches!(err, DocSpaceError::NotFound { .. }), "{err:?}");
        let body = br#"{"success":false,"message":"Chunk too large"}"#;
        let err = parse_envelope::<Vec<i32>>("test", body).unwrap_err();
        assert!(err.to_string().contains("Chunk too large"), "{err}");
    }

    #[test]
    fn validation_problems_inside_the_success_wrapper_name_the_field() {
        let body = br#"{"response":{"title":"One or more validation errors occurred.","errors":{"Count":["must be 1..100"]}},"status":1,"statusCode":400}"#;
        let err = parse_envelope::<Vec<i32>>("test", body).unwrap_err();
        assert!(err.to_string().contains("Count"), "{err}");
    }

    #[test]
    fn malformed_json_is_reported() {
        let err = parse_envelope::<Vec<i32>>("test", b"<html>proxy</html>").unwrap_err();
        assert!(matches!(err, DocSpaceError::Malformed { .. }), "{err:?}");
    }

    #[test]
    fn statuses_map_to_actionable_errors() {
        let e = status_error(
            "audit events",
            StatusCode::UNAUTHORIZED,
            None,
            None,
            String::new,
        );
        assert!(
            e.into_error()
                .to_string()
                .contains("invalid, revoked or expired")
        );
        let e = status_error(
            "x",
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(Duration::from_secs(3)),
            String::new,
        );
        assert!(
            matches!(e, AttemptError::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(3))
        );
        let e = status_error("x", StatusCode::BAD_GATEWAY, None, None, String::new);
        assert!(matches!(e, AttemptError::Transient { .. }));
        let e = status_error(
            "x",
            StatusCode::PAYMENT_REQUIRED,
            Some("quota".into()),
            None,
            String::new,
        );
        assert!(e.into_error().to_string().contains("audit feature"));
    }
}
