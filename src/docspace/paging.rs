//! Reading every event of a period, page by page.
//!
//! DocSpace pages hold at most 100 events, newest first, with no total and no cursor, and ties
//! within a second are not ordered. Both pagers hand out *batches*: each batch is newest first,
//! and every batch is no newer than the one before, so a consumer can restore chronological
//! order by reversing batches without holding the whole period in memory.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio_util::sync::CancellationToken;

use super::client::DocSpaceClient;
use super::dates;
use super::error::DocSpaceError;
use super::model::{Event, Source, WireEvent};
use super::slots::{Ticket, with_ticket};

/// The largest page DocSpace serves.
pub const PAGE_SIZE: usize = 100;
/// How many events DocSpace returns when the plan lacks the audit feature.
const FALLBACK_SIZE: usize = 20;
/// Pages read at growing offsets before the window is narrowed to restart at offset 0.
const WINDOW_PAGES: usize = 20;
/// Out-of-order pages tolerated in one window before the run gives up on it (each makes the
/// window be read again from its start, one page at a time).
pub const MAX_REREADS_PER_WINDOW: u64 = 3;
/// Pages of one second that cannot be narrowed further (10,000 events stamped with the same
/// second). DocSpace stamps events when they happen; no real portal comes near it.
pub const MAX_PAGES_PER_SECOND: usize = 100;
/// The rank of a page requested past what its window is expected to need: behind every
/// page that is.
const SPECULATIVE_RANK: u32 = 1 << 20;
/// How long a speculative page waits before it asks for a slot: the answers of one round
/// arrive over a few milliseconds, and the pages they show to be needed come first.
const SPECULATIVE_DELAY: std::time::Duration = std::time::Duration::from_millis(20);
/// Pages a pager may request beyond what the events it found justify: a healthy read needs
/// about one page per 99 new events plus one per window.
const PAGE_BUDGET_SLACK: u64 = 100;

/// The page budget of a pager that found `found` distinct events in `stats.windows` windows:
/// three times what a healthy read needs, plus slack. A server that repeats events or never
/// lines up its pages exhausts it; one that keeps serving new events does not.
fn page_budget(stats: &PagingStats, found: u64) -> u64 {
    PAGE_BUDGET_SLACK + 3 * (found / PAGE_STRIDE as u64 + stats.windows + stats.rereads)
}

fn bound_error(
    source: Source,
    window: &FetchWindow,
    detail: String,
    bound: String,
) -> DocSpaceError {
    DocSpaceError::PagingBound {
        endpoint: source.endpoint(),
        window: format!(
            "{}..{}",
            dates::to_query(window.from),
            dates::to_query(window.to_inclusive)
        ),
        detail: format!("{detail} (bound: {bound})"),
    }
}

fn check_budget(
    source: Source,
    window: &FetchWindow,
    stats: &PagingStats,
    found: u64,
) -> Result<(), DocSpaceError> {
    let budget = page_budget(stats, found);
    if stats.pages > budget {
        return Err(bound_error(
            source,
            window,
            format!(
                "{} pages brought only {found} distinct events ({} repeated)",
                stats.pages, stats.duplicates
            ),
            format!("{budget} pages for what was found"),
        ));
    }
    Ok(())
}

const AUDIT_PATH: &str = "/api/2.0/security/audit/events/filter";
const LOGIN_PATH: &str = "/api/2.0/security/audit/login/filter";

/// An inclusive time range at second precision, as DocSpace compares `from <= date <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchWindow {
    /// First second included.
    pub from: DateTime<Utc>,
    /// Last second included.
    pub to_inclusive: DateTime<Utc>,
}

impl FetchWindow {
    fn contains(&self, instant: DateTime<Utc>) -> bool {
        instant >= self.from && instant <= self.to_inclusive
    }
}

/// Filters the portal applies in SQL before paging (`userId`, `action`, `actionType` of
/// `events/filter`): each one the spec allows cuts the pages to read. When `action` is set the
/// server ignores `actionType`, so at most one of them is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFilter {
    /// Only events of this user (a UUID).
    pub user_id: Option<String>,
    /// Only this `MessageAction` id.
    pub action: Option<i32>,
    /// Only actions of this `ActionType` (ignored when `action` is set).
    pub action_type: Option<i32>,
}

impl ServerFilter {
    /// The query parameters, in a stable order.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(user) = &self.user_id {
            query.push(("userId", user.clone()));
        }
        match (self.action, self.action_type) {
            (Some(action), _) => query.push(("action", action.to_string())),
            (None, Some(action_type)) => query.push(("actionType", action_type.to_string())),
            (None, None) => {}
        }
        query
    }

    /// Whether nothing is filtered on the server.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Counters of one pager.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PagingStats {
    /// Pages requested.
    pub pages: u64,
    /// Unique events handed out.
    pub events: u64,
    /// Events dropped because their id had already been seen.
    pub duplicates: u64,
    /// Time windows opened (the first one included).
    pub windows: u64,
    /// Windows read again one page at a time after out-of-order drift.
    pub rereads: u64,
    /// Events that came back under an id already seen but with different content (the first
    /// version is kept; the report says so).
    pub conflicts: u64,
}

/// Ids seen so far, each with the fingerprint of the content first seen under it.
#[derive(Debug, Default)]
struct SeenIds(HashMap<i64, u64, foldhash::fast::RandomState>);

impl SeenIds {
    /// Records `event`; false when its id was seen before. A repeat with other content counts
    /// in `stats.conflicts` and is logged.
    fn insert(&mut self, event: &Event, stats: &mut PagingStats) -> bool {
        let fingerprint = event.fingerprint();
        match self.0.insert(event.id, fingerprint) {
            None => true,
            Some(first) => {
                self.0.insert(event.id, first);
                if first != fingerprint {
                    stats.conflicts += 1;
                    tracing::warn!(
                        source = event.source.as_str(),
                        id = event.id,
                        "the portal returned a different event under an id already seen; keeping the first"
                    );
                }
                false
            }
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

fn into_events(source: Source, wire: Vec<WireEvent>) -> Result<Vec<Event>, DocSpaceError> {
    wire.into_iter()
        .map(|w| w.into_event(source))
        .collect::<Result<_, _>>()
        .map_err(|detail| DocSpaceError::Malformed {
            endpoint: source.endpoint(),
            detail,
        })
}

/// Parses one page body of `source` exactly as the pagers do: the envelope, its error if it
/// carries one, and every event. Any bytes give events or an error, never a panic.
pub fn parse_page(source: Source, body: &[u8]) -> Result<Vec<Event>, DocSpaceError> {
    let wire = super::client::parse_envelope::<Vec<WireEvent>>(source.endpoint(), body)?;
    into_events(source, wire)
}

impl DocSpaceClient {
    async fn fetch_page(
        &self,
        source: Source,
        query: &[(&str, String)],
    ) -> Result<Vec<Event>, DocSpaceError> {
        let path = match source {
            Source::Audit => AUDIT_PATH,
            Source::Login => LOGIN_PATH,
        };
        tracing::trace!(source = source.as_str(), ?query, "requesting a page");
        let wire: Vec<WireEvent> = self.get_json(source.endpoint(), path, query).await?;
        into_events(source, wire)
    }

    /// Asks the portal whether its plan includes the audit trail. `Ok(None)` when the server
    /// has no quota endpoint (older versions); the pagers detect the fallback either way.
    pub async fn audit_in_plan(&self) -> Result<Option<bool>, DocSpaceError> {
        #[derive(serde::Deserialize)]
        struct Quota {
            #[serde(default)]
            audit: Option<bool>,
        }
        match self
            .get_json::<Quota>("portal quota", "/api/2.0/portal/quota", &[])
            .await
        {
            Ok(quota) => Ok(quota.audit),
            Err(DocSpaceError::NotFound { .. } | DocSpaceError::Malformed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page that comes back with exactly the fallback's size might be the fallback: ask for
    /// fewer events; a server that honours `count` returns at most that many.
    async fn ignores_count(
        &self,
        source: Source,
        query: &[(&str, String)],
    ) -> Result<bool, DocSpaceError> {
        let mut probe: Vec<(&str, String)> = query
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "startIndex")
            .cloned()
            .collect();
        probe.push(("count", "10".to_owned()));
        Ok(self.fetch_page(source, &probe).await?.len() > 10)
    }
}

fn fallback_error(source: Source, detail: String) -> DocSpaceError {
    DocSpaceError::PlanLacksAudit {
        evidence: format!("{}: {detail}", source.as_str()),
    }
}

/// A page request in flight.
type PageFuture = Pin<Box<dyn Future<Output = Result<Vec<Event>, DocSpaceError>> + Send>>;

/// Pages overlap by one event, so that each page can prove it connects to the one before.
pub(crate) const PAGE_STRIDE: usize = PAGE_SIZE - 1;

/// Reads every audit event of a window.
///
/// It pages at offsets of 99 (pages of 100 overlapping by one) until a short page, keeping up
/// to [`ClientConfig::page_concurrency`](super::ClientConfig) requests in flight and handling
/// their answers in order. DocSpace persists events late, which shifts offsets while paging:
/// in order that only repeats events (dropped by id), but two pages served out of order could
/// skip some. The overlap catches that: a page that does not contain the previous page's last
/// event makes the pager re-read the window one page at a time. To keep offsets shallow, after
/// `WINDOW_PAGES` full pages it restarts at offset 0 with the window's end moved to the
/// oldest second seen; events of that boundary second are fetched again and dropped by id.
pub struct AuditPager {
    client: DocSpaceClient,
    window: FetchWindow,
    /// Sent with every page.
    filter: Vec<(&'static str, String)>,
    /// Pages requested in this window so far.
    requested_in_window: usize,
    /// After out-of-order drift was seen: one request at a time.
    sequential: bool,
    /// Pages requested ahead while earlier ones are processed.
    lookahead: usize,
    /// Pages requested ahead until the first page comes back (see [`Self::first_ask_for`]).
    first_lookahead: usize,
    /// Pages the window is expected to need: requests ahead stop there, and past it go one
    /// at a time; every full page re-estimates it (see `update_expectation`).
    expected_pages: usize,
    /// What the window was expected to need before any page came back.
    prior_pages: usize,
    /// Pages requested in every window of this pager.
    requested: usize,
    /// The last instant of the first window: with the oldest instant seen, it tells how much of
    /// the window the pages so far covered.
    first_to: DateTime<Utc>,
    /// The last event of the previous full page, which the next page must contain.
    anchor: Option<i64>,
    /// Pages this window may request before it is narrowed (more for a busy second).
    request_limit: usize,
    /// Re-reads of the current window after out-of-order pages.
    rereads_in_window: u64,
    in_flight: FuturesOrdered<PageFuture>,
    /// Withdraws the pages of `in_flight` that still wait for the limiter (see
    /// [`Self::abandon_in_flight`]).
    withdraw: CancellationToken,
    pages_in_window: usize,
    seen_in_window: SeenIds,
    /// The oldest instant seen in this window.
    oldest_second: Option<DateTime<Utc>>,
    /// Ids and fingerprints of the events of the oldest instant seen.
    ids_at_oldest_second: Vec<(i64, u64)>,
    /// Ids of the instant the current window starts again from (after a narrowing): read
    /// again on purpose.
    boundary_ids: Vec<i64>,
    done: bool,
    stats: PagingStats,
}

impl std::fmt::Debug for AuditPager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditPager")
            .field("window", &self.window)
            .field("requested_in_window", &self.requested_in_window)
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl AuditPager {
    /// A pager over `window` that asks the portal to apply `filter` before paging.
    pub fn filtered(client: &DocSpaceClient, window: FetchWindow, filter: &ServerFilter) -> Self {
        Self {
            client: client.clone(),
            window,
            filter: filter.query(),
            lookahead: client.config.page_concurrency.max(1),
            first_lookahead: client.config.page_concurrency.max(1),
            expected_pages: usize::MAX,
            prior_pages: usize::MAX,
            requested: 0,
            first_to: window.to_inclusive,
            requested_in_window: 0,
            sequential: false,
            anchor: None,
            request_limit: WINDOW_PAGES,
            rereads_in_window: 0,
            in_flight: FuturesOrdered::new(),
            withdraw: CancellationToken::new(),
            pages_in_window: 0,
            seen_in_window: SeenIds::default(),
            oldest_second: None,
            ids_at_oldest_second: Vec::new(),
            boundary_ids: Vec::new(),
            done: false,
            stats: PagingStats {
                windows: 1,
                ..PagingStats::default()
            },
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> PagingStats {
        self.stats
    }

    /// Expects the window to need about `pages` pages: pages ahead are requested up to there
    /// (all at once, up to the client's lookahead), and every full page re-estimates it from
    /// the share of the window's time it covered. A slice requests few pages past its end.
    pub(crate) fn expect_pages(&mut self, pages: usize) {
        self.expected_pages = pages.max(1);
        self.prior_pages = self.expected_pages;
    }

    /// Requests at most `pages` pages until the first one comes back, then as many as usual.
    /// Slices started together each take their share of the free slots this way; the first
    /// slice asked would otherwise fill them all.
    pub(crate) fn first_ask_for(&mut self, pages: usize) {
        self.first_lookahead = pages.clamp(1, self.lookahead);
    }

    /// Requests only the first page until [`Self::resume_from`]: a probe of how many events
    /// the window holds.
    pub(crate) fn probe_first_page(&mut self) {
        self.sequential = true;
    }

    /// Whether the window is exhausted.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// After the first page of a probe, whose oldest instant is `oldest`: every event newer
    /// than it was on that page (pages run newest first), so only the rest of that instant
    /// remains. The window becomes that one instant, read again from offset 0 with what the
    /// page held of it dropped by id, as a narrowing does (offsets under another `from` may
    /// order ties differently, so they are not carried over). Other pagers read what is older.
    pub(crate) fn resume_at(&mut self, oldest: DateTime<Utc>) {
        self.window = FetchWindow {
            from: oldest.max(self.window.from),
            to_inclusive: oldest.min(self.window.to_inclusive),
        };
        self.sequential = self.stats.rereads > 0;
        self.start_window_again();
    }

    /// Starts the (changed) window again at offset 0. The events of the oldest instant seen
    /// are the only ones it can hold that were already handed out: they are dropped by id and
    /// not counted as repeats.
    fn start_window_again(&mut self) {
        self.requested_in_window = 0;
        self.anchor = None;
        self.pages_in_window = 0;
        self.seen_in_window = SeenIds(self.ids_at_oldest_second.iter().copied().collect());
        self.boundary_ids = self
            .ids_at_oldest_second
            .iter()
            .map(|(id, _)| *id)
            .collect();
        self.rereads_in_window = 0;
        self.stats.windows += 1;
    }

    fn query(&self, start_index: usize) -> Vec<(&'static str, String)> {
        let mut query = vec![
            ("from", dates::to_query(self.window.from)),
            ("to", dates::to_query(self.window.to_inclusive)),
        ];
        query.extend(self.filter.iter().cloned());
        query.push(("count", PAGE_SIZE.to_string()));
        query.push(("startIndex", start_index.to_string()));
        query
    }

    /// Requests pages until the configured number are in flight or the window's limit is hit.
    ///
    /// Past the pages it expects to need, a pager with an expectation asks for a quarter more
    /// (at least two) ranked behind every other page ([`SPECULATIVE_RANK`]): they take only
    /// slots nobody else wants, and save a round when the window is busier than expected.
    fn fill_pipeline(&mut self) {
        let concurrency = match (self.sequential, self.stats.pages) {
            (true, _) => 1,
            (false, 0) => self.first_lookahead,
            (false, _) => self.lookahead,
        };
        let speculative = match (self.sequential, self.expected_pages) {
            (true, _) | (_, usize::MAX) => 0,
            (false, expected) => (expected / 4).max(2),
        };
        while self.in_flight.len() < concurrency
            && self.requested_in_window < self.request_limit
            && (self.requested < self.expected_pages.saturating_add(speculative)
                || self.in_flight.is_empty())
        {
            let client = self.client.clone();
            let query = self.query(self.requested_in_window * PAGE_STRIDE);
            // The deeper a page lies in the read, the later it gets a slot: see `slots`.
            let depth = u32::try_from(self.requested).unwrap_or(u32::MAX);
            let needed = self.requested < self.expected_pages;
            let rank = if needed {
                depth
            } else {
                SPECULATIVE_RANK.saturating_add(depth)
            };
            let ticket = Ticket {
                rank,
                withdrawn: Some(self.withdraw.clone()),
            };
            self.in_flight
                .push_back(Box::pin(with_ticket(ticket, async move {
                    if !needed {
                        tokio::time::sleep(SPECULATIVE_DELAY).await;
                    }
                    client.fetch_page(Source::Audit, &query).await
                })));
            self.requested_in_window += 1;
            self.requested += 1;
        }
    }

    /// The next batch, newest first; `None` when the window is exhausted.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Event>>, DocSpaceError> {
        if self.done {
            self.abandon_in_flight();
            return Ok(None);
        }
        self.fill_pipeline();
        let page = match self.in_flight.next().await {
            Some(page) => page?,
            None => return Ok(None),
        };
        self.stats.pages += 1;
        check_budget(Source::Audit, &self.window, &self.stats, self.stats.events)?;
        self.check_not_fallback(&page).await?;
        if let Some(anchor) = self.anchor
            && !page.iter().any(|e| e.id == anchor)
        {
            self.abandon_in_flight();
            self.reread_window_sequentially()?;
            return Ok(Some(Vec::new()));
        }
        let full = page.len() == PAGE_SIZE;
        let anchor = self.anchor;
        self.anchor = if full {
            page.last().map(|e| e.id)
        } else {
            None
        };
        let batch = self.keep_unseen(page, anchor);
        self.stats.events += batch.len() as u64;
        if full {
            self.update_expectation();
        }
        if full {
            self.pages_in_window += 1;
            if self.pages_in_window == self.request_limit {
                self.narrow_window()?;
            }
        } else {
            self.done = true;
        }
        Ok(Some(batch))
    }

    /// Gives up the pages in flight, which are of no use now: those still waiting for the
    /// limiter are withdrawn, and those sent are awaited (and dropped) in a task of their own,
    /// so that each holds its place at the portal's limiter until the portal is done with it
    /// while the read goes on.
    fn abandon_in_flight(&mut self) {
        self.withdraw.cancel();
        self.withdraw = CancellationToken::new();
        let abandoned = std::mem::take(&mut self.in_flight);
        if !abandoned.is_empty() {
            tokio::spawn(abandoned.for_each(|_| async {}));
        }
    }

    /// After a full page: re-estimates the pages the window needs. The pages so far covered
    /// a share of the window's time; at their density the whole window would need
    /// `received / share` full pages. Events are not spread evenly (working hours, weekends),
    /// so that guess is weighed by the share it rests on against the expectation the window
    /// started with. When the last expected page came back full anyway, a quarter more.
    fn update_expectation(&mut self) {
        if self.expected_pages == usize::MAX {
            return;
        }
        let received = self.stats.pages;
        if let Some(oldest) = self.oldest_second {
            let whole = (self.first_to - self.window.from).num_milliseconds().max(1) as f64;
            let covered = (self.first_to - oldest).num_milliseconds().max(1) as f64;
            let share = (covered / whole).min(1.0);
            let at_this_density = received as f64 / share;
            let prior_full = self.prior_pages.saturating_sub(1) as f64;
            // The last page of a window is short: one more than the full ones.
            let estimate = (prior_full * (1.0 - share) + at_this_density * share).ceil() as u64 + 1;
            self.expected_pages = usize::try_from(estimate.max(received + 1))
                .unwrap_or(usize::MAX)
                .min(MAX_PAGES_PER_SECOND * WINDOW_PAGES);
        }
        if received >= self.expected_pages as u64 {
            let more = (self.expected_pages / 4).max(2);
            self.expected_pages = self.expected_pages.saturating_add(more);
        }
    }

    /// Fails when the answer shows the plan-without-audit fallback: events outside the window,
    /// or a first page of exactly 20 from a server that ignores `count`.
    async fn check_not_fallback(&mut self, page: &[Event]) -> Result<(), DocSpaceError> {
        if let Some(stray) = page.iter().find(|e| !self.window.contains(e.date)) {
            return Err(fallback_error(
                Source::Audit,
                format!(
                    "event {} at {} lies outside the requested {}..{}",
                    stray.id,
                    dates::to_query(stray.date),
                    dates::to_query(self.window.from),
                    dates::to_query(self.window.to_inclusive)
                ),
            ));
        }
        let suspicious =
            page.len() > PAGE_SIZE || (self.stats.pages == 1 && page.len() == FALLBACK_SIZE);
        if suspicious {
            // Nothing borrowed from `self` may be held across this await: the pager holds
            // futures that are Send but not Sync.
            let client = self.client.clone();
            let probe = self.query(0);
            if page.len() > PAGE_SIZE || client.ignores_count(Source::Audit, &probe).await? {
                return Err(fallback_error(
                    Source::Audit,
                    "the server ignored the requested page size".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Drops events already seen in this window (the expected overlap, `anchor`, silently) and
    /// tracks the oldest second.
    fn keep_unseen(&mut self, page: Vec<Event>, anchor: Option<i64>) -> Vec<Event> {
        let mut batch = Vec::with_capacity(page.len());
        for event in page {
            if !self.seen_in_window.insert(&event, &mut self.stats) {
                // The previous page's last event and the events of the instant a narrowed
                // window starts again from are read twice by design; anything else came back.
                if Some(event.id) != anchor && !self.boundary_ids.contains(&event.id) {
                    self.stats.duplicates += 1;
                }
                continue;
            }
            // The exact instant: whole seconds on MySQL portals, microseconds on PostgreSQL.
            let second = event.date;
            match self.oldest_second {
                Some(oldest) if second > oldest => {}
                Some(oldest) if second == oldest => self
                    .ids_at_oldest_second
                    .push((event.id, event.fingerprint())),
                _ => {
                    self.oldest_second = Some(second);
                    self.ids_at_oldest_second.clear();
                    self.ids_at_oldest_second
                        .push((event.id, event.fingerprint()));
                }
            }
            batch.push(event);
        }
        batch
    }

    /// Two pages were served out of order while events were being added: start the window
    /// over, one page at a time; what was already handed out is dropped by id. At most
    /// [`MAX_REREADS_PER_WINDOW`] times per window.
    fn reread_window_sequentially(&mut self) -> Result<(), DocSpaceError> {
        if self.rereads_in_window >= MAX_REREADS_PER_WINDOW {
            return Err(bound_error(
                Source::Audit,
                &self.window,
                format!(
                    "pages still came out of order after {} re-reads, one page at a time",
                    self.rereads_in_window
                ),
                format!("{MAX_REREADS_PER_WINDOW} re-reads per window"),
            ));
        }
        self.rereads_in_window += 1;
        self.in_flight.clear();
        self.sequential = true;
        self.anchor = None;
        self.requested_in_window = 0;
        self.pages_in_window = 0;
        self.request_limit = WINDOW_PAGES;
        self.stats.rereads += 1;
        Ok(())
    }

    /// After a window's last allowed page: restart at offset 0 up to the oldest second seen.
    fn narrow_window(&mut self) -> Result<(), DocSpaceError> {
        let Some(oldest) = self.oldest_second else {
            return Ok(());
        };
        // Inclusive: the events of that very instant are fetched again and dropped by id.
        let new_end = oldest;
        if new_end >= self.window.to_inclusive || oldest <= self.window.from {
            // One busy second cannot be narrowed: keep paging it by offset, up to a bound.
            if self.request_limit >= MAX_PAGES_PER_SECOND {
                return Err(bound_error(
                    Source::Audit,
                    &self.window,
                    format!(
                        "the second {} alone still fills pages after {} of them",
                        dates::to_query(oldest),
                        self.request_limit
                    ),
                    format!("{MAX_PAGES_PER_SECOND} pages for one second"),
                ));
            }
            self.request_limit = MAX_PAGES_PER_SECOND;
            return Ok(());
        }
        self.window.to_inclusive = new_end;
        self.start_window_again();
        Ok(())
    }
}

/// Reads the login history of a window.
///
/// DocSpace applies the login filters *after* paging (within the page of the newest login
/// events overall), so this pager sends no filters, pages from the newest event back until it
/// passes the window's start, and keeps the events inside the window.
#[derive(Debug)]
pub struct LoginPager {
    client: DocSpaceClient,
    window: FetchWindow,
    start_index: usize,
    /// Every id handed out or passed over: events that share a second straddle pages, and a
    /// server that repeats itself must not look like new events.
    seen: SeenIds,
    /// The last event of the previous full page, which the next page repeats.
    anchor: Option<i64>,
    done: bool,
    stats: PagingStats,
}

impl LoginPager {
    /// A pager over `window`.
    pub fn new(client: DocSpaceClient, window: FetchWindow) -> Self {
        Self {
            client,
            window,
            start_index: 0,
            seen: SeenIds::default(),
            anchor: None,
            done: false,
            stats: PagingStats {
                windows: 1,
                ..PagingStats::default()
            },
        }
    }

    /// The next page's events in the window, newest first; `None` when the window is
    /// exhausted.
    async fn next_page(&mut self) -> Result<Option<Vec<Event>>, DocSpaceError> {
        if self.done {
            return Ok(None);
        }
        let query = vec![
            ("count", PAGE_SIZE.to_string()),
            ("startIndex", self.start_index.to_string()),
        ];
        let page = self.client.fetch_page(Source::Login, &query).await?;
        self.stats.pages += 1;
        check_budget(
            Source::Login,
            &self.window,
            &self.stats,
            self.seen.len() as u64,
        )?;
        if page.len() > PAGE_SIZE
            || (self.stats.pages == 1
                && page.len() == FALLBACK_SIZE
                && self.client.ignores_count(Source::Login, &query).await?)
        {
            return Err(fallback_error(
                Source::Login,
                "the server ignored the requested page size".to_owned(),
            ));
        }
        let passed_start = page.iter().any(|e| e.date < self.window.from);
        self.done = page.len() < PAGE_SIZE || passed_start;
        // Pages overlap by one event, as the audit pager's do: login events that share a
        // second have no tie-breaker, and the overlap (with de-duplication over the whole run)
        // keeps a burst straddling a page boundary from losing its edge.
        self.start_index += PAGE_STRIDE;
        let anchor = self.anchor;
        self.anchor = (page.len() == PAGE_SIZE)
            .then(|| page.last().map(|e| e.id))
            .flatten();
        let mut batch = Vec::with_capacity(page.len());
        for event in page {
            if !self.seen.insert(&event, &mut self.stats) {
                // The overlapping event is expected; anything else came back again.
                if Some(event.id) != anchor {
                    self.stats.duplicates += 1;
                }
            } else if self.window.contains(event.date) {
                batch.push(event);
            }
        }
        self.stats.events += batch.len() as u64;
        Ok(Some(batch))
    }
}

/// A batch of events and its place in the report.
#[derive(Debug)]
pub struct Batch {
    /// Larger is older: sorting batches by `order` from largest to smallest gives
    /// chronological order.
    pub order: u64,
    /// The events, newest first.
    pub events: Vec<Event>,
}

/// Reads one source's events of a period, batch by batch: the audit trail (as concurrent
/// slices, [`SlicedAuditFetch`](super::SlicedAuditFetch)) and the login history
/// ([`LoginPager`]). Owned and `Send`, so a read can run in a task of its own.
pub trait Pager: Send + 'static {
    /// The next batch; `None` when the period is read.
    fn next_batch(&mut self) -> impl Future<Output = Result<Option<Batch>, DocSpaceError>> + Send;

    /// Counters so far.
    fn stats(&self) -> PagingStats;
}

impl Pager for LoginPager {
    async fn next_batch(&mut self) -> Result<Option<Batch>, DocSpaceError> {
        // Pages come newest first: each one is older than the last.
        let order = self.stats.pages;
        Ok(self
            .next_page()
            .await?
            .map(|events| Batch { order, events }))
    }

    fn stats(&self) -> PagingStats {
        self.stats
    }
}
