//! The server's response envelopes (§0): the success wrapper, the error envelope, model
//! validation failures and empty-bodied statuses.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;

use super::json;

/// JSON content type the server sends.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// URLs derived from the request: the portal base URL and the self link.
#[derive(Debug, Clone)]
pub(crate) struct RequestUrl {
    /// `http://host:port`.
    pub base: String,
    /// Full URL of the request, used in `links`.
    pub self_href: String,
    /// Request method, used as the link's `action`.
    pub method: String,
}

impl RequestUrl {
    /// Builds the URLs from the `Host` header and the request URI.
    pub fn new(method: &Method, headers: &HeaderMap, uri: &Uri) -> Self {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let base = format!("http://{host}");
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
        Self {
            self_href: format!("{base}{path_and_query}"),
            base,
            method: method.as_str().to_owned(),
        }
    }
}

/// Handlers take the URLs of their request as an argument.
impl<S: Send + Sync> FromRequestParts<S> for RequestUrl {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::new(&parts.method, &parts.headers, &parts.uri))
    }
}

#[derive(Serialize)]
struct Link<'a> {
    href: &'a str,
    action: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success<'a, T> {
    response: T,
    count: usize,
    links: [Link<'a>; 1],
    status: u8,
    status_code: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    stack: &'a str,
    hresult: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
    status: u8,
    status_code: u16,
}

/// Serializes `body` as the JSON response with `status`.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(_) => empty(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A JSON response with `status` and the already serialized `bytes`.
fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

/// A response with `status` and no body.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// The success wrapper around a list payload (`count` = its length).
pub(crate) fn success_list<T: Serialize>(url: &RequestUrl, items: &[T]) -> Response {
    wrap(url, StatusCode::OK, 0, items, items.len())
}

/// The success wrapper around a single object with HTTP `status` (e.g. 201 Created).
pub(crate) fn success_object_with<T: Serialize>(
    url: &RequestUrl,
    status: StatusCode,
    payload: &T,
) -> Response {
    wrap(url, status, 0, payload, 1)
}

/// The success wrapper around a single object (`count` = 1).
pub(crate) fn success_object<T: Serialize>(url: &RequestUrl, payload: &T) -> Response {
    wrap(url, StatusCode::OK, 0, payload, 1)
}

/// The success wrapper around a list of `count` items that `write_items` appends as JSON,
/// comma-separated, to the response buffer (pre-sized to `capacity` bytes). The bytes are
/// those [`success_list`] gives for the same items.
pub(crate) fn success_list_written(
    url: &RequestUrl,
    count: usize,
    capacity: usize,
    write_items: impl FnOnce(&mut Vec<u8>),
) -> Response {
    let mut out = Vec::with_capacity(capacity + url.self_href.len() + 128);
    out.extend_from_slice(b"{\"response\":[");
    write_items(&mut out);
    out.extend_from_slice(b"],\"count\":");
    json::push_uint(&mut out, u64::try_from(count).unwrap_or(u64::MAX));
    out.extend_from_slice(b",\"links\":[{\"href\":");
    json::push_str(&mut out, &url.self_href);
    out.extend_from_slice(b",\"action\":");
    json::push_str(&mut out, &url.method);
    out.extend_from_slice(b"}],\"status\":0,\"statusCode\":200}");
    json_bytes(StatusCode::OK, out)
}

fn wrap<T: Serialize + ?Sized>(
    url: &RequestUrl,
    status: StatusCode,
    inner_status: u8,
    payload: &T,
    count: usize,
) -> Response {
    json(
        status,
        &Success {
            response: payload,
            count,
            links: [Link {
                href: &url.self_href,
                action: &url.method,
            }],
            status: inner_status,
            status_code: status.as_u16(),
        },
    )
}

/// The error envelope `{"error":{message,type,stack,hresult},"status":1,"statusCode":N}`.
pub(crate) fn error(status: StatusCode, message: &str, kind: &str, hresult: i64) -> Response {
    json(
        status,
        &ErrorEnvelope {
            error: ErrorBody {
                message,
                kind,
                stack: "",
                hresult,
            },
            status: 1,
            status_code: status.as_u16(),
        },
    )
}

/// 403 `"Access denied"` (`SecurityException`), as for a caller without admin rights.
pub(crate) fn access_denied() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "Access denied",
        "System.Security.SecurityException",
        -2_146_233_078,
    )
}

/// 402 for a portal that is not paid.
pub(crate) fn payment_required() -> Response {
    error(
        StatusCode::PAYMENT_REQUIRED,
        "The payment for the portal is required",
        "ASC.Core.Billing.BillingException",
        -2_146_233_088,
    )
}

/// 404 for an unknown folder.
pub(crate) fn folder_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The required folder was not found",
        "System.IO.DirectoryNotFoundException",
        -2_147_024_893,
    )
}

/// 404 for an unknown file.
pub(crate) fn file_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The required file was not found",
        "System.IO.FileNotFoundException",
        -2_147_024_894,
    )
}

/// 400 for an `ArgumentException`.
pub(crate) fn bad_argument(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        message,
        "System.ArgumentException",
        -2_147_024_809,
    )
}

/// 500 for the `NullReferenceException` of the `moduleType` filter.
pub(crate) fn null_reference() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Object reference not set to an instance of an object.",
        "System.NullReferenceException",
        -2_147_467_261,
    )
}

/// Model-validation errors, keyed by parameter name.
pub(crate) type ValidationErrors = BTreeMap<String, Vec<String>>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProblemDetails<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    errors: &'a ValidationErrors,
    trace_id: String,
}

/// The model binder's message for a value that does not convert to the parameter's type.
pub(crate) fn not_valid(key: &str, value: &str) -> String {
    format!("The value '{value}' is not valid for {key}.")
}

/// [`validation`] failure of one parameter, `key`, with one message.
pub(crate) fn invalid_parameter(url: &RequestUrl, key: &str, message: String) -> Response {
    let errors = ValidationErrors::from([(key.to_owned(), vec![message])]);
    validation(url, &errors)
}

/// HTTP 400 with the validation problem details *inside the success wrapper*
/// (`"status":1,"statusCode":400`).
pub(crate) fn validation(url: &RequestUrl, errors: &ValidationErrors) -> Response {
    let trace_id = format!(
        "00-{:032x}-{:016x}-00",
        fastrand::u128(..),
        fastrand::u64(..)
    );
    let problem = ProblemDetails {
        kind: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        title: "One or more validation errors occurred.",
        status: 400,
        errors,
        trace_id,
    };
    wrap(url, StatusCode::BAD_REQUEST, 1, &problem, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> RequestUrl {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9"));
        RequestUrl::new(
            &Method::GET,
            &headers,
            &Uri::from_static("/api/2.0/x?count=1"),
        )
    }

    #[test]
    fn request_url_uses_host_header() {
        let u = url();
        assert_eq!(u.base, "http://127.0.0.1:9");
        assert_eq!(u.self_href, "http://127.0.0.1:9/api/2.0/x?count=1");
        assert_eq!(u.method, "GET");
    }

    #[test]
    fn error_envelope_has_json_content_type_and_status() {
        let r = access_denied();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.headers()[header::CONTENT_TYPE], JSON_CONTENT_TYPE);
    }

    async fn body_of(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn written_list_equals_serialized_list() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("we\"ird\\h:1"));
        let odd = RequestUrl::new(
            &Method::GET,
            &headers,
            &Uri::from_static("/api/2.0/x?count=1&q=%22"),
        );
        for u in [url(), odd] {
            for items in [vec![], vec!["a"], vec!["a\"b", "c", "✓"]] {
                let written = success_list_written(&u, items.len(), 0, |out| {
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        json::push_str(out, item);
                    }
                });
                assert_eq!(written.headers()[header::CONTENT_TYPE], JSON_CONTENT_TYPE);
                assert_eq!(
                    body_of(written).await,
                    body_of(success_list(&u, &items)).await
                );
            }
        }
    }

    #[test]
    fn validation_is_400_in_success_wrapper() {
        let mut errors = ValidationErrors::new();
        errors.insert("Count".into(), vec!["bad".into()]);
        let r = validation(&url(), &errors);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
