//! What can go wrong talking to DocSpace, each with a message that says what to do.
//! No variant ever carries the API key.

use std::time::Duration;

/// A failed DocSpace request or an answer that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DocSpaceError {
    /// The portal URL cannot be used.
    #[error("invalid portal URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// HTTP 401.
    #[error(
        "DocSpace rejected the API key (HTTP 401) on {endpoint}: the key is invalid, revoked or expired; \
         create a new key in DocSpace (Developer Tools > API keys) and update the Secret"
    )]
    Unauthorized {
        /// The endpoint that answered.
        endpoint: &'static str,
    },
    /// HTTP 403.
    #[error(
        "DocSpace denied access (HTTP 403) on {endpoint}{detail}: the key must belong to the portal owner or a \
         DocSpace admin and have the scopes *:read (or *:write) and files:write, and the folder must allow uploads"
    )]
    Forbidden {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// The server's message, if any, prefixed with ": ".
        detail: String,
    },
    /// The key lacks a scope the run needs (`GET keys/@self`).
    #[error(
        "the API key lacks the scope(s) {missing} (it has: {granted}); create a key with at least *:read and \
         files:write (or *) in DocSpace (Developer Tools > API keys) and update the Secret"
    )]
    MissingScope {
        /// The scopes it lacks.
        missing: String,
        /// What it has.
        granted: String,
    },
    /// The key is deactivated.
    #[error(
        "the API key is deactivated in DocSpace; activate it or create a new one and update the Secret"
    )]
    InactiveKey,
    /// HTTP 402.
    #[error(
        "DocSpace answered 402 Payment Required on {endpoint}{detail}: the portal's plan lacks the audit \
         feature, a quota is exceeded, or the portal is unpaid"
    )]
    PaymentRequired {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// The server's message, if any, prefixed with ": ".
        detail: String,
    },
    /// The plan has no audit feature: DocSpace silently returned its 20 newest events instead.
    #[error(
        "the portal's plan does not include the audit trail: DocSpace ignored the period and returned only its \
         newest events ({evidence}); upgrade the plan (the Free plan has no audit) to report a period"
    )]
    PlanLacksAudit {
        /// What gave it away.
        evidence: String,
    },
    /// HTTP 404.
    #[error("DocSpace found no {what} (HTTP 404){detail}")]
    NotFound {
        /// What was not found, e.g. "folder 1045; check spec.upload.folderId".
        what: String,
        /// The server's message, if any.
        detail: String,
    },
    /// A 3xx answer: redirects are never followed.
    #[error(
        "DocSpace answered HTTP {status} on {endpoint}, redirecting to {location:?}; redirects are not followed \
         (the API key would go along, possibly over plain HTTP or to another host): set spec.portal.url to the \
         portal's final https address"
    )]
    Redirected {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// HTTP status.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// A successful answer larger than the client reads.
    #[error(
        "DocSpace's answer on {endpoint} is larger than {limit} bytes; the client stopped reading (a page of \
         events is well under 2 MiB): check what answers at spec.portal.url"
    )]
    TooLarge {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// The cap in bytes.
        limit: usize,
    },
    /// HTTP 429 for longer than the client waits.
    #[error(
        "DocSpace kept rate-limiting {endpoint} (HTTP 429) after {attempts} attempts and {waited_seconds} s of \
         waiting{detail}; lower spec.portal.maxRequestsPerMinute or spec.portal.maxConcurrentRequests, or try \
         again later"
    )]
    RateLimited {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// Attempts made.
        attempts: usize,
        /// Seconds spent waiting for the portal.
        waited_seconds: u64,
        /// Why the client stopped waiting, prefixed with ": ".
        detail: String,
    },
    /// A 5xx until the retry budget ran out, or a non-transient server error.
    #[error("DocSpace failed on {endpoint} with HTTP {status}{detail}")]
    Server {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// HTTP status.
        status: u16,
        /// The server's message, if any.
        detail: String,
    },
    /// Any other rejection, including errors carried in a 2xx body.
    #[error("DocSpace rejected the request to {endpoint} (HTTP {status}): {message}")]
    Rejected {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The portal could not be reached.
    #[error("cannot reach DocSpace at {endpoint}: {reason}; check spec.portal.url and the network")]
    Unreachable {
        /// The endpoint.
        endpoint: &'static str,
        /// What the transport said.
        reason: String,
    },
    /// The answer was not what the contract promises.
    #[error("DocSpace sent an unexpected answer on {endpoint}: {detail}")]
    Malformed {
        /// The endpoint.
        endpoint: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// Paging hit one of its bounds: the server's pages never line up or never end.
    #[error(
        "stopped reading {endpoint} for {window}: {detail}; the portal's answers do not converge, nothing \
         was uploaded; try again later or report it to the portal's administrator"
    )]
    PagingBound {
        /// The endpoint.
        endpoint: &'static str,
        /// The window being read, `from..to`.
        window: String,
        /// What happened, ending with the bound that was hit (`bound: ...`).
        detail: String,
    },
    /// A request withdrawn before it was sent, because its answer was no longer needed (a
    /// page past the end of what a read turned out to hold). Nobody reports it.
    #[error(
        "the request to {endpoint} was withdrawn before it was sent: its answer was no longer needed"
    )]
    Withdrawn {
        /// What the request was for.
        endpoint: &'static str,
    },
    /// A local file for upload could not be read.
    #[error("cannot read {path} for upload: {source}")]
    LocalFile {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl DocSpaceError {
    /// A short CamelCase reason, suitable for a status condition.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "InvalidSpec",
            Self::Unauthorized { .. } => "Unauthorized",
            Self::Forbidden { .. } | Self::MissingScope { .. } => "Forbidden",
            Self::InactiveKey => "Unauthorized",
            Self::PaymentRequired { .. } | Self::PlanLacksAudit { .. } => "PaymentRequired",
            Self::NotFound { .. } => "NotFound",
            Self::RateLimited { .. } => "RateLimited",
            Self::Unreachable { .. } | Self::Server { .. } => "PortalUnreachable",
            Self::Redirected { .. } => "PortalRedirected",
            Self::Withdrawn { .. } => "Withdrawn",
            Self::TooLarge { .. } | Self::PagingBound { .. } => "PortalError",
            Self::Rejected { .. } | Self::Malformed { .. } | Self::LocalFile { .. } => {
                "PortalError"
            }
        }
    }
}

/// The outcome of one attempt, before the retry policy decides.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Worth another try, after at least `retry_after` if the server said so. `unprocessed`
    /// is true when the server certainly did not act on the request (429, refused connection).
    Transient {
        error: DocSpaceError,
        retry_after: Option<Duration>,
        unprocessed: bool,
    },
    /// HTTP 429: the server did not act on the request. Waited out (as long as the run's
    /// deadline allows) rather than counted against the retry budget.
    Throttled {
        error: DocSpaceError,
        retry_after: Option<Duration>,
    },
    /// Final.
    Fatal(DocSpaceError),
}

impl AttemptError {
    pub(crate) fn into_error(self) -> DocSpaceError {
        match self {
            Self::Transient { error, .. } | Self::Throttled { error, .. } | Self::Fatal(error) => {
                error
            }
        }
    }
}
