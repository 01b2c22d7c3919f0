//! DocSpace simulator: an HTTP server that behaves like an ONLYOFFICE DocSpace portal for the
//! endpoints the operator's client uses (audit events, login history, portal quota, upload).
//!
//! It follows the server as its source shows it behaves (ONLYOFFICE/DocSpace-server), including
//! its quirks: the response envelope without `total`, second-precision dates rendered in the portal
//! time zone, the silent "20 newest" fallback on plans without audit, the `moduleType` crash and
//! the login-history paging bug. Data is generated deterministically from a seed and stored
//! compactly, so millions of events fit in little memory.
//!
//! ```no_run
//! # async fn demo() -> Result<(), docspace_sim::SimError> {
//! use docspace_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! println!("DocSpace simulator at {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod catalog;
mod dates;
mod dto;
mod envelope;
mod events;
mod faults;
mod files;
mod guid;
mod handle;
mod json;
mod limits;
mod middleware;
mod query;
mod render;
mod routes;
mod seed;
mod server;
mod sessions;
mod state;
mod texts;
mod upload;
mod weighted;
mod world;

#[cfg(test)]
mod reference_dto;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_audit;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_login;
#[cfg(test)]
mod tests_render;
#[cfg(test)]
mod tests_upload;

use std::net::SocketAddr;

use chrono::{DateTime, Utc};

pub use dates::previous_month_utc;
pub use faults::{Fault, FaultRule};
pub use handle::SimHandle;
pub use server::{SeedStats, serve, serve_until, shutdown_signal};
pub use state::{RequestRecord, StoredFile};

/// The API key accepted by a default [`SimConfig`]: `sk-` followed by 64 lowercase hex digits.
pub const DEFAULT_API_KEY: &str =
    "sk-5e1f0c2a9b7d4e3f8a6c1d2e4f5a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a";

/// Default seed of the deterministic data generator.
pub const DEFAULT_SEED: u64 = 20_250_301;

/// Who the API key authenticates as, which decides the answers to permission checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Caller {
    /// The portal owner or a DocSpace admin: everything is allowed.
    #[default]
    Admin,
    /// A regular user: the security/audit endpoints and `portal/quota` answer 403 with the
    /// `"Access denied"` error envelope; uploads still work.
    NotAdmin,
    /// An API key whose scopes do not cover the endpoint: every endpoint answers 403 with an
    /// empty body.
    MissingScope,
}

/// Configuration of a simulated portal.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The one valid API key (sent as `Authorization: Bearer <api_key>`).
    pub api_key: String,
    /// Number of seeded audit events.
    pub audit_events: usize,
    /// Number of seeded login events.
    pub login_events: usize,
    /// Seeded events lie in `[events_from, events_to)`.
    pub events_from: DateTime<Utc>,
    /// Exclusive upper bound of seeded events.
    pub events_to: DateTime<Utc>,
    /// Seed of the data generator: the same seed and configuration give identical events.
    pub seed: u64,
    /// Time zone in which dates are rendered in responses.
    pub portal_time_zone: chrono_tz::Tz,
    /// `false` makes `events/filter` and `login/filter` return the 20 newest events whatever
    /// the parameters, and `portal/quota` report `audit: false`.
    pub plan_has_audit: bool,
    /// Who the API key belongs to.
    pub caller: Caller,
    /// `true` makes every authenticated request fail with 402 (portal not paid).
    pub portal_unpaid: bool,
    /// Folders that exist for uploads; any other folder id gives 404.
    pub folders: Vec<i64>,
    /// What `GET keys/@self` says the key may do (`*` for everything, `*:read`,
    /// `files:write`, ...).
    pub key_permissions: Vec<String>,
    /// When the key expires, if ever (`GET keys/@self`).
    pub key_expires_at: Option<DateTime<Utc>>,
    /// Extra login events that all share one second: `(second, count)`.
    pub login_burst: Option<(DateTime<Utc>, usize)>,
    /// How precisely audit dates are stored: whole seconds (MySQL `datetime`) or microseconds
    /// (PostgreSQL `timestamptz`).
    pub date_precision: DatePrecision,
    /// Time every request takes before it is answered (a real portal's time per page).
    pub latency: std::time::Duration,
    /// The rate limiter's sliding window: requests per minute, then 429 with `Retry-After`.
    pub rate_limit_per_minute: Option<u32>,
    /// The rate limiter's cap on GETs in flight, then 429 without `Retry-After`.
    pub max_concurrent_gets: Option<u32>,
}

/// How precisely the simulated database stores audit dates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DatePrecision {
    /// Whole seconds, rendered `.0000000` (MySQL portals).
    #[default]
    Seconds,
    /// Microseconds, rendered with 7 digits (PostgreSQL portals). Events of one second get
    /// increasing fractions in the order they were stored (1 ms apart).
    Micros,
}

impl Default for SimConfig {
    /// 1000 audit and 200 login events over the previous calendar month (UTC), UTC portal,
    /// admin caller with [`DEFAULT_API_KEY`], plan with audit, upload folder 1045.
    fn default() -> Self {
        let (events_from, events_to) = previous_month_utc(Utc::now());
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            audit_events: 1000,
            login_events: 200,
            events_from,
            events_to,
            seed: DEFAULT_SEED,
            portal_time_zone: chrono_tz::Tz::UTC,
            plan_has_audit: true,
            caller: Caller::Admin,
            portal_unpaid: false,
            folders: vec![1045],
            key_permissions: vec!["*".to_owned()],
            key_expires_at: None,
            login_burst: None,
            date_precision: DatePrecision::Seconds,
            latency: std::time::Duration::ZERO,
            rate_limit_per_minute: None,
            max_concurrent_gets: None,
        }
    }
}

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration cannot be simulated.
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),
    /// Binding or serving the socket failed.
    #[error("simulator I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A background task of the simulator failed.
    #[error("simulator task failed: {0}")]
    Task(String),
}

/// Entry point for starting an in-process simulator.
#[derive(Debug, Clone, Copy)]
pub struct Simulator;

impl Simulator {
    /// Seeds the data, binds `127.0.0.1:0` and serves in a background task until the returned
    /// handle is shut down or dropped.
    ///
    /// # Errors
    ///
    /// [`SimError::InvalidConfig`] for an unusable configuration (empty key, empty event
    /// window), [`SimError::Io`] if the port cannot be bound.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        handle::start_on(config, listener).await
    }
}
