//! Reading a period's audit events as several time slices at once.
//!
//! A page costs a round trip, so one pager reading a month page after page spends most of its
//! time waiting. The period is cut into slices of equal length, each read by its own
//! [`AuditPager`] (with its overlap, de-duplication and narrowing), and all of them run at once;
//! the portal's [`limiter`](super::limiter) decides how many requests are really in flight.
//!
//! Batches come out in the order they arrive, each tagged with its place in the report
//! ([`Batch::order`]: the slice index in the high half, 0 the newest slice, the batch number
//! within the slice in the low half): slices and batches within a slice run newest first, so sorting by
//! `order` from largest to smallest gives chronological order. Memory holds the pages in flight
//! and the answers a slice received ahead of an earlier one of its own, never a whole slice.

use std::future::Future;
use std::pin::Pin;

use chrono::TimeDelta;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::client::DocSpaceClient;
use super::error::DocSpaceError;
use super::model::Event;
use super::paging::{
    AuditPager, Batch, FetchWindow, PAGE_STRIDE, Pager, PagingStats, ServerFilter,
};

/// Cuts `window` into at most `count` slices of equal whole seconds, newest first. Each slice
/// ends 100 ns (the server's finest date step) before the next begins, so none overlap.
pub fn slices(window: FetchWindow, count: usize) -> Vec<FetchWindow> {
    let span = (window.to_inclusive - window.from).num_seconds().max(0) + 1;
    let count = i64::try_from(count.max(1)).unwrap_or(1).min(span);
    let step = (span + count - 1) / count;
    let mut out = Vec::new();
    let mut from = window.from;
    while from <= window.to_inclusive {
        let next = from + TimeDelta::seconds(step);
        let to_inclusive = (next - TimeDelta::nanoseconds(100)).min(window.to_inclusive);
        out.push(FetchWindow { from, to_inclusive });
        from = next;
    }
    out.reverse();
    out
}

type Step = Pin<Box<dyn Future<Output = (usize, AuditPager, StepResult)> + Send>>;
type StepResult = Result<Option<Vec<Event>>, DocSpaceError>;

fn step(index: usize, mut pager: AuditPager) -> Step {
    Box::pin(async move {
        let result = pager.next_batch().await;
        (index, pager, result)
    })
}

/// Events a slice is planned to hold (about ten pages).
const EVENTS_PER_SLICE: u64 = 1_000;

/// How many slices to cut for about `events` events: one per [`EVENTS_PER_SLICE`], at least
/// one and at most `max`.
fn slice_count(events: u64, max: usize) -> usize {
    let wanted = events.div_ceil(EVENTS_PER_SLICE).max(1);
    usize::try_from(wanted)
        .unwrap_or(usize::MAX)
        .clamp(1, max.max(1))
}

/// Every audit event of a window, read as concurrent slices; see the module documentation.
///
/// Without an estimate of the window's size, the first page of the whole window is a probe: a
/// short page is the whole answer (one request for a quiet period); a full one shows how
/// densely the newest events lie, which sets how many slices the rest of the window is cut
/// into. The page holds every event newer than its oldest instant, so the probe's pager goes
/// on with that one instant only, and its page is not wasted.
pub struct SlicedAuditFetch {
    client: DocSpaceClient,
    window: FetchWindow,
    filter: ServerFilter,
    probe: Option<AuditPager>,
    running: FuturesUnordered<Step>,
    /// Batches handed out per slice.
    batches: Vec<u32>,
    stats: PagingStats,
}

impl std::fmt::Debug for SlicedAuditFetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlicedAuditFetch")
            .field("window", &self.window)
            .field("running", &self.running.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl SlicedAuditFetch {
    /// Prepares reading `window`, asking the portal to apply `filter` before paging.
    /// `expected_events` (e.g. the previous period's count) cuts the slices at once instead of
    /// probing first.
    pub fn new(
        client: &DocSpaceClient,
        window: FetchWindow,
        filter: &ServerFilter,
        expected_events: Option<u64>,
    ) -> Self {
        let mut fetch = Self {
            client: client.clone(),
            window,
            filter: filter.clone(),
            probe: None,
            running: FuturesUnordered::new(),
            batches: Vec::new(),
            stats: PagingStats::default(),
        };
        match expected_events.filter(|n| *n >= super::paging::PAGE_SIZE as u64) {
            Some(events) => fetch.start_slices(window, events),
            None => {
                let mut probe = AuditPager::filtered(client, window, filter);
                probe.probe_first_page();
                fetch.probe = Some(probe);
            }
        }
        fetch
    }

    /// Starts one pager per slice of `part`, which holds about `events` events, numbered
    /// after those already running. Each expects the pages its share of the events fills
    /// (plus the short last page), so a slice as busy as estimated requests nothing past its
    /// end, and one that turns out quiet costs one request.
    fn start_slices(&mut self, part: FetchWindow, events: u64) {
        let parts = slices(part, slice_count(events, self.client.config.slices));
        let per_slice = events / parts.len().max(1) as u64;
        let pages = usize::try_from(per_slice / PAGE_STRIDE as u64 + 1).unwrap_or(usize::MAX);
        let in_flight = self.client.config.limiter.concurrency() as usize;
        let share = in_flight.div_ceil(parts.len().max(1));
        for slice in parts {
            let index = self.batches.len();
            self.batches.push(0);
            let mut pager = AuditPager::filtered(&self.client, slice, &self.filter);
            pager.expect_pages(pages);
            pager.first_ask_for(share);
            self.running.push(step(index, pager));
        }
    }

    fn finished(&mut self, pager: &AuditPager) {
        let done = pager.stats();
        self.stats.pages += done.pages;
        self.stats.windows += done.windows;
        self.stats.duplicates += done.duplicates;
        self.stats.rereads += done.rereads;
        self.stats.conflicts += done.conflicts;
    }

    /// Reads the probe's page; plans the slices when the window holds more.
    async fn probe(&mut self, mut probe: AuditPager) -> Result<Option<Batch>, DocSpaceError> {
        let Some(events) = probe.next_batch().await? else {
            self.finished(&probe);
            return Ok(None);
        };
        self.batches.push(1);
        self.stats.events += events.len() as u64;
        if probe.is_done() {
            self.finished(&probe);
            return Ok(Some(Batch { order: 0, events }));
        }
        // A full page: the probe keeps the newest part, from its oldest instant on; the rest is
        // cut by the density of that page.
        let oldest = events
            .iter()
            .map(|e| e.date)
            .min()
            .unwrap_or(self.window.from);
        let newest_span = (self.window.to_inclusive - oldest).num_seconds().max(1) as u64;
        let older_span = (oldest - self.window.from).num_seconds().max(0) as u64;
        let estimate = (events.len() as u64).saturating_mul(older_span) / newest_span;
        probe.resume_at(oldest);
        // What is left of the newest part is the rest of the page's oldest instant.
        probe.expect_pages(1);
        self.running.push(step(0, probe));
        if oldest > self.window.from {
            let older = FetchWindow {
                from: self.window.from,
                to_inclusive: oldest - TimeDelta::nanoseconds(100),
            };
            self.start_slices(older, estimate);
        }
        Ok(Some(Batch { order: 0, events }))
    }

    /// The next batch of any slice; `None` when every slice is exhausted. An error of one
    /// slice ends the whole read (the other slices' requests are dropped).
    async fn read_next(&mut self) -> Result<Option<Batch>, DocSpaceError> {
        if let Some(probe) = self.probe.take() {
            return self.probe(probe).await;
        }
        while let Some((index, pager, result)) = self.running.next().await {
            match result? {
                Some(events) => {
                    let seq = self.batches[index];
                    self.batches[index] += 1;
                    self.stats.events += events.len() as u64;
                    self.running.push(step(index, pager));
                    let order = ((index as u64) << 32) | u64::from(seq);
                    return Ok(Some(Batch { order, events }));
                }
                None => self.finished(&pager),
            }
        }
        Ok(None)
    }
}

impl Pager for SlicedAuditFetch {
    async fn next_batch(&mut self) -> Result<Option<Batch>, DocSpaceError> {
        self.read_next().await
    }

    /// Counters of the finished slices plus events handed out so far.
    fn stats(&self) -> PagingStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn slices_cover_the_window_without_overlap_newest_first() {
        let window = FetchWindow {
            from: at("2025-03-01T00:00:00Z"),
            to_inclusive: at("2025-04-01T00:00:00Z") - TimeDelta::nanoseconds(100),
        };
        let parts = slices(window, 16);
        assert_eq!(parts.len(), 16);
        assert_eq!(parts[0].to_inclusive, window.to_inclusive);
        assert_eq!(parts[15].from, window.from);
        for pair in parts.windows(2) {
            let (newer, older) = (pair[0], pair[1]);
            assert_eq!(older.to_inclusive + TimeDelta::nanoseconds(100), newer.from);
            assert!(newer.from < newer.to_inclusive);
        }
    }

    #[test]
    fn about_a_thousand_events_per_slice_within_bounds() {
        assert_eq!(slice_count(0, 16), 1);
        assert_eq!(slice_count(1_000, 16), 1);
        assert_eq!(slice_count(1_001, 16), 2);
        assert_eq!(slice_count(9_900, 16), 10);
        assert_eq!(slice_count(1_000_000, 16), 16);
        assert_eq!(slice_count(5_000, 0), 1);
    }

    #[test]
    fn a_short_window_gets_no_more_slices_than_seconds() {
        let window = FetchWindow {
            from: at("2025-03-01T00:00:00Z"),
            to_inclusive: at("2025-03-01T00:00:02Z"),
        };
        let parts = slices(window, 16);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].to_inclusive, window.to_inclusive);
        assert_eq!(parts[2].from, window.from);
        let one = slices(window, 1);
        assert_eq!(one, vec![window]);
    }
}
