//! What an operator test on the real API server starts from: the first monthly run after the
//! real now, a clock file the test moves, and a simulator with the events that run reports.

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use docspace_compliance_operator::schedule::{Schedule, parse_time_zone};
use docspace_sim::SimHandle;

use super::kube::{ApiServer, set_clock};
use super::sim::sim;

/// The schedule of the reports the tests apply: 03:00 UTC on the first of the month.
pub fn monthly() -> Schedule {
    Schedule::parse("0 3 1 * *", parse_time_zone("UTC").unwrap()).unwrap()
}

/// The first monthly run after the real now, and the month it reports.
pub fn first_run() -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let schedule = monthly();
    let s1 = schedule.next_after(Utc::now()).unwrap();
    let month_start = schedule.latest_before(s1).unwrap() - TimeDelta::hours(3);
    (s1, month_start, s1 - TimeDelta::hours(3))
}

/// An instant as a status or an annotation carries it (whole seconds, `Z`).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An API server, a work dir with the clock file at the real now, and a simulator seeded with
/// `events` in the month the first monthly run (`s1`) reports.
pub struct Cluster {
    pub server: ApiServer,
    pub work: tempfile::TempDir,
    pub clock: PathBuf,
    pub s1: DateTime<Utc>,
    pub month_from: DateTime<Utc>,
    pub month_to: DateTime<Utc>,
    pub sim: SimHandle,
}

impl Cluster {
    /// An API server with the CRD and the operator's RBAC, and `namespace` created.
    pub async fn start(events: usize, namespace: &str) -> Self {
        let cluster = Self::on(ApiServer::start(), events).await;
        cluster
            .server
            .kubectl_ok(&["create", "namespace", namespace]);
        cluster
    }

    /// On `server` as it is.
    pub async fn on(server: ApiServer, events: usize) -> Self {
        let work = tempfile::tempdir().unwrap();
        let clock = work.path().join("now");
        let (s1, month_from, month_to) = first_run();
        set_clock(&clock, Utc::now());
        let sim = sim(
            events,
            &month_from.to_rfc3339(),
            &month_to.to_rfc3339(),
            |_| {},
        )
        .await;
        Self {
            server,
            work,
            clock,
            s1,
            month_from,
            month_to,
            sim,
        }
    }
}
