//! `docspace-sim`: runs the DocSpace simulator as a standalone HTTP server.
//!
//! Prints exactly one line to stdout, `listening on http://127.0.0.1:PORT`, once the data is
//! seeded and the server accepts requests, then serves until SIGTERM or Ctrl-C. Seeding
//! statistics go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, ValueEnum};
use docspace_sim::{
    Caller, DEFAULT_API_KEY, DEFAULT_SEED, DatePrecision, SeedStats, SimConfig, previous_month_utc,
    serve_until, shutdown_signal,
};

/// Who the API key belongs to.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum CallerArg {
    /// Portal owner or DocSpace admin.
    Admin,
    /// Regular user: security endpoints answer 403 "Access denied".
    NotAdmin,
    /// API key without the needed scope: every endpoint answers 403 with an empty body.
    MissingScope,
}

impl From<CallerArg> for Caller {
    fn from(value: CallerArg) -> Self {
        match value {
            CallerArg::Admin => Caller::Admin,
            CallerArg::NotAdmin => Caller::NotAdmin,
            CallerArg::MissingScope => Caller::MissingScope,
        }
    }
}

/// Simulated ONLYOFFICE DocSpace portal (audit trail, login history, uploads) for tests,
/// benchmarks and demos.
#[derive(Debug, Parser)]
#[command(name = "docspace-sim", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The one valid API key (sent as `Authorization: Bearer <key>`).
    #[arg(long, env = "DOCSPACE_SIM_API_KEY", default_value = DEFAULT_API_KEY, hide_env_values = true)]
    api_key: String,
    /// Number of seeded audit events.
    #[arg(long, default_value_t = 1000)]
    audit_events: usize,
    /// Number of seeded login events.
    #[arg(long, default_value_t = 200)]
    login_events: usize,
    /// Start of the seeded events (RFC 3339); default: start of the previous month (UTC).
    #[arg(long, value_parser = parse_rfc3339)]
    from: Option<DateTime<Utc>>,
    /// Exclusive end of the seeded events (RFC 3339); default: start of this month (UTC).
    #[arg(long, value_parser = parse_rfc3339)]
    to: Option<DateTime<Utc>>,
    /// Seed of the deterministic data.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// IANA time zone in which dates are rendered (e.g. Europe/Berlin).
    #[arg(long, default_value = "UTC", value_parser = parse_tz)]
    portal_time_zone: chrono_tz::Tz,
    /// Simulate a plan without the audit feature (silent "20 newest" fallback).
    #[arg(long)]
    no_audit_plan: bool,
    /// Folder id that accepts uploads (repeatable; default 1045).
    #[arg(long = "folder", value_name = "ID")]
    folders: Vec<i64>,
    /// Who the API key belongs to.
    #[arg(long, value_enum, default_value = "admin")]
    caller: CallerArg,
    /// Answer every authenticated request with 402 (portal not paid).
    #[arg(long)]
    portal_unpaid: bool,
    /// How audit dates are stored: `seconds` (MySQL portals) or `micro` (PostgreSQL portals,
    /// rendered with seven fraction digits).
    #[arg(long, default_value = "seconds", value_parser = ["seconds", "micro"])]
    date_precision: String,
    /// Milliseconds every request takes before it is answered (a real portal's time per page).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Enable the rate limiter's sliding window: requests per minute, then 429 without
    /// Retry-After (DocSpace's default when enabled: 1500).
    #[arg(long)]
    rate_limit_per_minute: Option<u32>,
    /// Enable the rate limiter's cap on GETs in flight, then 429 (DocSpace's default: 50).
    #[arg(long)]
    max_concurrent_gets: Option<u32>,
}

fn parse_rfc3339(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 date-time: {e}"))
}

fn parse_tz(value: &str) -> Result<chrono_tz::Tz, String> {
    value
        .parse::<chrono_tz::Tz>()
        .map_err(|e| format!("unknown time zone: {e}"))
}

impl Args {
    fn into_config(self) -> SimConfig {
        let (default_from, default_to) = previous_month_utc(Utc::now());
        SimConfig {
            api_key: self.api_key,
            audit_events: self.audit_events,
            login_events: self.login_events,
            events_from: self.from.unwrap_or(default_from),
            events_to: self.to.unwrap_or(default_to),
            seed: self.seed,
            portal_time_zone: self.portal_time_zone,
            plan_has_audit: !self.no_audit_plan,
            caller: self.caller.into(),
            portal_unpaid: self.portal_unpaid,
            folders: if self.folders.is_empty() {
                vec![1045]
            } else {
                self.folders
            },
            date_precision: if self.date_precision == "micro" {
                DatePrecision::Micros
            } else {
                DatePrecision::Seconds
            },
            latency: std::time::Duration::from_millis(self.latency_ms),
            rate_limit_per_minute: self.rate_limit_per_minute,
            max_concurrent_gets: self.max_concurrent_gets,
            ..SimConfig::default()
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let listen = args.listen;
    let config = args.into_config();
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("docspace-sim: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let on_ready = |stats: &SeedStats, addr: SocketAddr| {
        eprintln!(
            "docspace-sim: seeded {} audit and {} login events in {:.3}s ({} KiB of records)",
            stats.audit_events,
            stats.login_events,
            stats.elapsed.as_secs_f64(),
            stats.record_bytes / 1024
        );
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{addr}");
        let _ = stdout.flush();
    };
    match serve_until(config, listener, on_ready, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("docspace-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
