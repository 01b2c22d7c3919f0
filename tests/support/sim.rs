//! A DocSpace simulator per test, seeded with events in a period.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use docspace_sim::{SimConfig, SimHandle, Simulator};

/// March 2025, the period of the April run, in UTC.
pub const MARCH_FROM: &str = "2025-03-01T00:00:00Z";
pub const MARCH_TO: &str = "2025-04-01T00:00:00Z";
/// The monthly run that reports March.
pub const APRIL_RUN: &str = "2025-04-01T03:00:00Z";

/// Parses an RFC 3339 instant.
pub fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A simulator with `audit` audit events in `[from, to)`.
pub async fn sim(
    audit: usize,
    from: &str,
    to: &str,
    tweak: impl FnOnce(&mut SimConfig),
) -> SimHandle {
    let mut config = SimConfig {
        audit_events: audit,
        login_events: 50,
        events_from: utc(from),
        events_to: utc(to),
        ..SimConfig::default()
    };
    tweak(&mut config);
    Simulator::start(config).await.unwrap()
}

/// The simulator's default key.
pub fn sim_key() -> String {
    SimConfig::default().api_key
}

/// The ids of the audit events `sim` holds in March: what the April run must report.
pub fn march_audit_ids(sim: &SimHandle) -> HashSet<i64> {
    sim.audit_event_ids_in(utc(MARCH_FROM), utc("2025-03-31T23:59:59Z"))
        .into_iter()
        .collect()
}
