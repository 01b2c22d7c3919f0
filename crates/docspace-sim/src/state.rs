//! Shared server state: configuration, the seeded population and event tables, uploaded files,
//! fault rules and the request log.

use std::ops::Range;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use chrono::{DateTime, Datelike, Utc};

use super::dates::{ceil_secs, floor_secs};
use super::faults::FaultBook;
use super::files::FileStore;
use super::seed::{AuditDraw, AuditRec, EventRecord, LoginRec, seed_audit, seed_login};
use super::server::SeedStats;
use super::texts::Texts;
use super::world::World;
use super::{SimConfig, SimError};

/// One request the simulator served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, e.g. `"GET"`.
    pub method: String,
    /// Request path without the query.
    pub path: String,
    /// Raw query string (without `?`; empty when there is none).
    pub query: String,
    /// Status code of the response.
    pub status: u16,
    /// Raw `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// A file stored in the simulated portal (latest version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    /// File id.
    pub id: i64,
    /// Folder the file is in.
    pub folder_id: i64,
    /// Title (sanitized file name).
    pub title: String,
    /// Version number, from 1.
    pub version: u32,
    /// Content of the latest version.
    pub content: Vec<u8>,
    /// Whether the file is locked (`PUT files/file/{id}/lock`).
    pub locked: bool,
}

/// The audit-event table, sorted by date ascending.
#[derive(Debug)]
pub(crate) struct AuditStore {
    pub recs: Vec<AuditRec>,
    next_id: i64,
    rng: fastrand::Rng,
}

/// Indices of the records of a date-sorted table with `from <= ts <= to`.
pub(crate) fn date_range<R: EventRecord>(
    recs: &[R],
    from: Option<i64>,
    to: Option<i64>,
) -> Range<usize> {
    let start = from.map_or(0, |f| recs.partition_point(|r| r.ts() < f));
    let end = to.map_or(recs.len(), |t| recs.partition_point(|r| r.ts() <= t));
    start..end.max(start)
}

/// Ids of the records of a date-sorted table whose date (whole seconds) is in
/// `[from, to_inclusive]`, newest first.
fn ids_in<R: EventRecord>(
    recs: &[R],
    from: DateTime<Utc>,
    to_inclusive: DateTime<Utc>,
) -> Vec<i64> {
    let range = date_range(
        recs,
        Some(ceil_secs(&from)),
        Some(floor_secs(&to_inclusive)),
    );
    recs[range].iter().rev().map(R::id).collect()
}

/// Microseconds of the event at `index` past its second: events of one second are 1 ms apart
/// in the order they were stored (the store keeps that order).
pub(crate) fn micros_at(recs: &[AuditRec], index: usize) -> u32 {
    let ts = recs[index].ts;
    let first = recs[..index].partition_point(|r| r.ts < ts);
    u32::try_from((index - first) * 1000 + 1)
        .unwrap_or(999_999)
        .min(999_999)
}

/// The instant of the event at `index` in microseconds since the epoch.
fn instant_us(recs: &[AuditRec], index: usize) -> i64 {
    recs[index].ts * 1_000_000 + i64::from(micros_at(recs, index))
}

/// The indices of the events whose exact instant (µs) is in `[from_us, to_us]`.
pub(crate) fn exact_range(
    recs: &[AuditRec],
    from_us: Option<i64>,
    to_us: Option<i64>,
) -> Range<usize> {
    // The first index whose instant is not below `bound` (instants grow with the index).
    let first_at_or_after = |bound: i64| {
        let (mut low, mut high) = (0, recs.len());
        while low < high {
            let mid = (low + high) / 2;
            if instant_us(recs, mid) < bound {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    };
    let start = from_us.map_or(0, first_at_or_after);
    let end = to_us.map_or(recs.len(), |t| first_at_or_after(t.saturating_add(1)));
    start..end.max(start)
}

impl AuditStore {
    /// Microseconds past its second of a stored event (found by date and id).
    pub fn micros_of(&self, rec: &AuditRec) -> u32 {
        let index = self
            .recs
            .partition_point(|r| (r.ts, r.id) < (rec.ts, rec.id));
        if index < self.recs.len() {
            micros_at(&self.recs, index)
        } else {
            0
        }
    }

    fn new(recs: Vec<AuditRec>, seed: u64) -> Self {
        let next_id = recs.iter().map(|r| r.id).max().unwrap_or(1_000) + 1;
        Self {
            recs,
            next_id,
            rng: fastrand::Rng::with_seed(seed ^ 0xD21F_7000),
        }
    }

    /// Date of the newest event.
    pub fn newest_ts(&self) -> Option<i64> {
        self.recs.last().map(|r| r.ts)
    }

    /// Adds `n` events at second `ts` with the next ids. They sort after (newest-first: before)
    /// the events already stored at that second.
    pub fn insert_at(&mut self, world: &World, draw: &AuditDraw, ts: i64, n: usize) {
        let position = self.recs.partition_point(|r| r.ts <= ts);
        let mut new = Vec::with_capacity(n);
        for _ in 0..n {
            let mut rec = draw.draw(world, &mut self.rng, None);
            rec.ts = ts;
            rec.id = self.next_id;
            self.next_id += 1;
            new.push(rec);
        }
        self.recs.splice(position..position, new);
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct SimState {
    pub config: SimConfig,
    pub world: World,
    /// The population's texts, escaped for JSON once.
    pub texts: Texts,
    pub draw: AuditDraw,
    audit: RwLock<AuditStore>,
    /// Login events, sorted by date ascending (never modified).
    pub login: Vec<LoginRec>,
    files: Mutex<FileStore>,
    /// The rate limiter's state.
    limiter: super::limits::Limiter,
    /// Chunked upload sessions by id.
    sessions: Mutex<std::collections::HashMap<String, super::sessions::Session>>,
    /// File operations (deletions) and whether each has finished.
    operations: Mutex<Vec<(String, bool)>>,
    faults: Mutex<FaultBook>,
    requests: Mutex<Vec<RequestRecord>>,
    /// How long seeding took.
    pub stats: SeedStats,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimState {
    /// Validates the configuration and seeds the data.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        let started = Instant::now();
        if config.api_key.is_empty() {
            return Err(SimError::InvalidConfig("api_key must not be empty".into()));
        }
        let from_s = ceil_secs(&config.events_from);
        let to_s = ceil_secs(&config.events_to);
        if (config.audit_events > 0 || config.login_events > 0) && from_s >= to_s {
            return Err(SimError::InvalidConfig(format!(
                "events_from ({}) must be before events_to ({}) by at least a whole second",
                config.events_from, config.events_to
            )));
        }
        let world = World::generate(
            config.seed,
            config.events_from.year(),
            from_s + (to_s - from_s) / 2,
        );
        let draw = AuditDraw::default();
        let audit = seed_audit(
            &world,
            &draw,
            config.seed,
            from_s,
            to_s,
            config.audit_events,
        );
        let mut login = seed_login(&world, config.seed, from_s, to_s, config.login_events);
        if let Some((at, n)) = config.login_burst {
            let base = login.first().map_or(100, |r| r.id);
            login.extend((0..n).map(|i| LoginRec {
                ts: at.timestamp(),
                id: 0,
                seed: (i as u64).wrapping_mul(0x9E37_79B9),
                action: 0,
                user: 0,
            }));
            // Stable: the burst follows the events already stored at that second.
            login.sort_by_key(|r| r.ts);
            for (i, rec) in login.iter_mut().enumerate() {
                rec.id = base + i64::try_from(i).unwrap_or(0);
            }
        }
        let record_bytes = std::mem::size_of::<AuditRec>() * audit.capacity()
            + std::mem::size_of::<LoginRec>() * login.capacity();
        let stats = SeedStats {
            audit_events: audit.len(),
            login_events: login.len(),
            elapsed: started.elapsed(),
            record_bytes,
        };
        Ok(Self {
            audit: RwLock::new(AuditStore::new(audit, config.seed)),
            config,
            texts: Texts::new(&world),
            world,
            draw,
            login,
            files: Mutex::new(FileStore::default()),
            operations: Mutex::new(Vec::new()),
            sessions: Mutex::new(std::collections::HashMap::new()),
            limiter: super::limits::Limiter::default(),
            faults: Mutex::new(FaultBook::default()),
            requests: Mutex::new(Vec::new()),
            stats,
        })
    }

    /// Read access to the audit table.
    pub fn audit(&self) -> RwLockReadGuard<'_, AuditStore> {
        self.audit.read().unwrap_or_else(|e| e.into_inner())
    }

    fn audit_mut(&self) -> RwLockWriteGuard<'_, AuditStore> {
        self.audit.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The upload storage.
    pub fn files(&self) -> MutexGuard<'_, FileStore> {
        lock(&self.files)
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &super::limits::Limiter {
        &self.limiter
    }

    /// The chunked upload sessions.
    pub fn sessions(
        &self,
    ) -> MutexGuard<'_, std::collections::HashMap<String, super::sessions::Session>> {
        lock(&self.sessions)
    }

    /// Registers a file operation that has not finished.
    pub fn start_operation(&self, id: String) {
        lock(&self.operations).push((id, false));
    }

    /// Marks a file operation finished.
    pub fn finish_operation(&self, id: &str) {
        for (op, finished) in lock(&self.operations).iter_mut() {
            if op == id {
                *finished = true;
            }
        }
    }

    /// Every file operation with whether it has finished.
    pub fn operations(&self) -> Vec<(String, bool)> {
        lock(&self.operations).clone()
    }

    /// The fault rules.
    pub fn faults(&self) -> MutexGuard<'_, FaultBook> {
        lock(&self.faults)
    }

    /// Appends to the request log.
    pub fn record(&self, record: RequestRecord) {
        lock(&self.requests).push(record);
    }

    /// Copy of the request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.requests).clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        lock(&self.requests).clear();
    }

    /// Adds `n` audit events at `date` (truncated to the second).
    pub fn insert_audit_events_at(&self, date: DateTime<Utc>, n: usize) {
        self.insert_audit_events_at_secs(floor_secs(&date), n);
    }

    /// Adds `n` audit events at the UTC second `ts`.
    pub fn insert_audit_events_at_secs(&self, ts: i64, n: usize) {
        if n > 0 {
            self.audit_mut().insert_at(&self.world, &self.draw, ts, n);
        }
    }

    /// Ids of audit events in the inclusive range, newest first (at the stored precision).
    pub fn audit_event_ids_in(&self, from: DateTime<Utc>, to_inclusive: DateTime<Utc>) -> Vec<i64> {
        let store = self.audit();
        if self.config.date_precision == super::DatePrecision::Micros {
            let range = exact_range(
                &store.recs,
                Some(from.timestamp_micros()),
                Some(to_inclusive.timestamp_micros()),
            );
            return store.recs[range].iter().rev().map(|r| r.id).collect();
        }
        ids_in(&store.recs, from, to_inclusive)
    }

    /// Ids of login events in the inclusive range (second precision), newest first.
    pub fn login_event_ids_in(&self, from: DateTime<Utc>, to_inclusive: DateTime<Utc>) -> Vec<i64> {
        ids_in(&self.login, from, to_inclusive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::march;

    #[test]
    fn rejects_empty_window_and_key() {
        let mut c = march(10, 50);
        c.events_to = c.events_from;
        assert!(matches!(SimState::new(c), Err(SimError::InvalidConfig(_))));
        let mut c = march(10, 50);
        c.api_key.clear();
        assert!(SimState::new(c).is_err());
        let mut c = march(0, 50);
        c.login_events = 0;
        c.events_to = c.events_from;
        assert!(SimState::new(c).is_ok());
    }

    #[test]
    fn insert_goes_first_in_newest_first_order_with_next_ids() {
        let state = SimState::new(march(300, 50)).unwrap();
        let newest = state.audit().newest_ts().unwrap();
        let max_id = state.audit().recs.iter().map(|r| r.id).max().unwrap();
        let at = DateTime::<Utc>::from_timestamp(newest, 0).unwrap();
        state.insert_audit_events_at(at, 3);
        let ids = state.audit_event_ids_in(at, at);
        assert!(ids.len() >= 4);
        let mut first_three = ids[..3].to_vec();
        first_three.sort_unstable();
        assert_eq!(first_three, vec![max_id + 1, max_id + 2, max_id + 3]);
        assert_eq!(state.audit().recs.len(), 303);
    }

    #[test]
    fn ground_truth_is_inclusive_at_second_precision() {
        let state = SimState::new(march(2000, 50)).unwrap();
        let recs = state.audit().recs.clone();
        let t = recs[1000].ts;
        let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap();
        let expected = recs.iter().filter(|r| r.ts == t).count();
        assert_eq!(state.audit_event_ids_in(at, at).len(), expected);
        let later = DateTime::<Utc>::from_timestamp(t, 500_000_000).unwrap();
        assert_eq!(state.audit_event_ids_in(at, later).len(), expected);
        assert!(state.audit_event_ids_in(later, later).is_empty());
        let all = state.audit_event_ids_in(march(0, 50).events_from, march(0, 50).events_to);
        assert_eq!(all.len(), 2000);
        let logins = state.login_event_ids_in(march(0, 50).events_from, march(0, 50).events_to);
        assert_eq!(logins.len(), 50);
    }
}
