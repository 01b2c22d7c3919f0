//! The client's side of DocSpace's rate limiter: stay under the portal's limits, and slow down
//! when it says 429 anyway.
//!
//! When a portal enables its limiter, each caller gets a *sliding window* of requests per minute
//! (1,500 by default) and a cap on GETs in flight (50), and every request past either is
//! answered 429. One [`PortalLimiter`] is shared by every run against the same portal in a
//! process, so reports on one portal add up to the limits instead of to a 429 storm.
//!
//! The window is a log of the instants requests were sent, exactly as the server keeps it:
//! a token bucket (GCRA) with a burst would send its burst, then keep sending at the average
//! rate while the server still counts the burst, and get 429s for most of a minute. The log
//! counts a minute plus [`WINDOW_MARGIN`], so that requests arriving late at the server (their
//! latency varies) never land inside a window the client thought closed.
//!
//! Concurrency adapts (AIMD): every 429 halves how many requests may be in flight (once per
//! round of requests) and pauses everyone for the `Retry-After` the server asked for; every
//! success adds back one request per full window of successes, up to the configured maximum.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::slots::{RankedSlots, Slot, current_ticket};

/// How long the server's window is.
const WINDOW: Duration = Duration::from_secs(60);
/// Added to the window on the client's side: a request's latency varies, so one sent just after
/// the client's window closed may still arrive inside the server's.
pub const WINDOW_MARGIN: Duration = Duration::from_secs(1);

/// The pause after a 429 without `Retry-After`.
pub const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause after consecutive 429s without `Retry-After`.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(15);

/// How hard one process may use one portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortalLimits {
    /// Requests sent in any minute (the portal's default window is 1,500).
    pub requests_per_minute: u32,
    /// Requests in flight at once (the portal allows 50 GETs).
    pub max_concurrent: u32,
}

impl PortalLimits {
    /// The default requests per minute: a fifth below the portal's 1,500, leaving room for
    /// other clients of the same user (the DocSpace web app, scripts).
    pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 1_200;
    /// The default requests in flight.
    pub const DEFAULT_MAX_CONCURRENT: u32 = 16;

    /// The stricter of two limits, field by field.
    pub fn min(self, other: Self) -> Self {
        Self {
            requests_per_minute: self.requests_per_minute.min(other.requests_per_minute),
            max_concurrent: self.max_concurrent.min(other.max_concurrent),
        }
    }
}

impl Default for PortalLimits {
    fn default() -> Self {
        Self {
            requests_per_minute: Self::DEFAULT_REQUESTS_PER_MINUTE,
            max_concurrent: Self::DEFAULT_MAX_CONCURRENT,
        }
    }
}

/// Counters of one limiter, for benchmarks and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Requests let through.
    pub requests: u64,
    /// 429 answers reported.
    pub throttled: u64,
    /// Times a request had to wait for the window (not for a free slot).
    pub window_waits: u64,
}

#[derive(Debug)]
struct State {
    limits: PortalLimits,
    /// Requests that may be in flight now: between 1 and `limits.max_concurrent`.
    congestion_window: f64,
    /// Slots in circulation: `congestion_window` rounded down (the ranked slots take the
    /// held ones out as they come back).
    slots: usize,
    /// When each request of the last window was sent, oldest first.
    sent: VecDeque<Instant>,
    /// Nobody sends before this (the server's `Retry-After`).
    paused_until: Option<Instant>,
    /// Bumped on every decrease: a 429 of a request sent before the last decrease belongs to
    /// the same round and does not halve again.
    epoch: u64,
    /// Rounds of 429s since the last success: the pause without `Retry-After` doubles with
    /// each.
    consecutive_throttles: u32,
}

/// One portal's limiter; see the module documentation.
#[derive(Debug)]
pub struct PortalLimiter {
    state: Mutex<State>,
    /// The slots of the congestion window, handed out by rank (see [`super::slots`]).
    slots: Arc<RankedSlots>,
    requests: AtomicU64,
    throttled: AtomicU64,
    window_waits: AtomicU64,
}

/// The right to have one request in flight; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<PortalLimiter>,
    /// Held while the permit lives; it goes back (or pays a shrink) when dropped.
    _slot: Slot,
    epoch: u64,
}

impl PortalLimiter {
    /// A limiter with `limits`, starting at full concurrency.
    pub fn new(limits: PortalLimits) -> Arc<Self> {
        let limits = PortalLimits {
            requests_per_minute: limits.requests_per_minute.max(1),
            max_concurrent: limits.max_concurrent.max(1),
        };
        let slots = limits.max_concurrent as usize;
        Arc::new(Self {
            state: Mutex::new(State {
                limits,
                congestion_window: f64::from(limits.max_concurrent),
                slots,
                sent: VecDeque::new(),
                paused_until: None,
                epoch: 0,
                consecutive_throttles: 0,
            }),
            slots: RankedSlots::new(slots),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            window_waits: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements; a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limits in force.
    pub fn limits(&self) -> PortalLimits {
        self.lock().limits
    }

    /// Applies the stricter of the current limits and `limits` (reports on one portal that ask
    /// for different limits get the strictest).
    pub fn tighten(&self, limits: PortalLimits) {
        let mut state = self.lock();
        state.limits = state.limits.min(limits);
        let max = f64::from(state.limits.max_concurrent);
        if state.congestion_window > max {
            state.congestion_window = max;
            self.shrink_to_window(&mut state);
        }
    }

    /// Requests that may be in flight now (the adaptive window).
    pub fn concurrency(&self) -> u32 {
        u32::try_from(self.lock().slots).unwrap_or(u32::MAX)
    }

    /// How long everyone waits for the server's `Retry-After`, if at all.
    pub fn paused_for(&self) -> Option<Duration> {
        let state = self.lock();
        state
            .paused_until
            .map(|until| until.saturating_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// Counters so far.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            window_waits: self.window_waits.load(Ordering::Relaxed),
        }
    }

    /// Waits until one more request may be sent, and records it as sent: first for a slot
    /// (by the rank of the request's [`Ticket`](super::slots::Ticket)), then, holding it, for a
    /// pause or a full window to end. `None` when the ticket withdraws the request first.
    pub async fn acquire_unless_withdrawn(self: &Arc<Self>) -> Option<Permit> {
        let ticket = current_ticket();
        match ticket.withdrawn {
            None => Some(self.acquire_ranked(ticket.rank).await),
            Some(withdrawn) => tokio::select! {
                biased;
                () = withdrawn.cancelled() => None,
                permit = self.acquire_ranked(ticket.rank) => Some(permit),
            },
        }
    }

    /// [`Self::acquire_unless_withdrawn`] of a request that cannot be withdrawn.
    #[cfg(test)]
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        self.acquire_ranked(current_ticket().rank).await
    }

    async fn acquire_ranked(self: &Arc<Self>, rank: u32) -> Permit {
        let slot = self.slots.acquire(rank).await;
        let mut waited_for_window = false;
        loop {
            let wait_until = {
                let mut state = self.lock();
                let now = Instant::now();
                match state.next_send(now) {
                    Ok(()) => {
                        state.sent.push_back(now);
                        let epoch = state.epoch;
                        drop(state);
                        self.requests.fetch_add(1, Ordering::Relaxed);
                        if waited_for_window {
                            self.window_waits.fetch_add(1, Ordering::Relaxed);
                        }
                        return Permit {
                            limiter: Arc::clone(self),
                            _slot: slot,
                            epoch,
                        };
                    }
                    Err(Blocked::Paused(until)) => until,
                    Err(Blocked::WindowFull(until)) => {
                        waited_for_window = true;
                        until
                    }
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// Takes slots out of circulation down to the congestion window: free ones at once, the
    /// others as their requests finish.
    fn shrink_to_window(&self, state: &mut State) {
        let target = (state.congestion_window.floor() as usize).max(1);
        if state.slots > target {
            self.slots.shrink(state.slots - target);
            state.slots = target;
        }
    }

    /// Puts slots back into circulation up to the congestion window.
    fn grow_to_window(&self, state: &mut State) {
        let target = (state.congestion_window.floor() as usize).max(1);
        if state.slots < target {
            self.slots.add(target - state.slots);
            state.slots = target;
        }
    }
}

/// Why a request cannot be sent yet.
enum Blocked {
    /// Paused until then (the server's `Retry-After`, or the pause after a 429).
    Paused(Instant),
    /// The window is full until its oldest request ages out.
    WindowFull(Instant),
}

impl State {
    fn next_send(&mut self, now: Instant) -> Result<(), Blocked> {
        if let Some(until) = self.paused_until {
            if until > now {
                return Err(Blocked::Paused(until));
            }
            self.paused_until = None;
        }
        let span = WINDOW + WINDOW_MARGIN;
        while self
            .sent
            .front()
            .is_some_and(|sent| now.duration_since(*sent) >= span)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.limits.requests_per_minute as usize {
            let oldest = self.sent.front().copied().unwrap_or(now);
            return Err(Blocked::WindowFull(oldest + span));
        }
        Ok(())
    }
}

impl Permit {
    /// The request succeeded: grow the congestion window by one request per window's worth of
    /// successes (additive increase).
    pub fn succeeded(&self) {
        let mut state = self.limiter.lock();
        if self.epoch != state.epoch {
            // Sent before the last decrease: says nothing about the new window.
            return;
        }
        state.consecutive_throttles = 0;
        let max = f64::from(state.limits.max_concurrent);
        if state.congestion_window < max {
            state.congestion_window =
                (state.congestion_window + 1.0 / state.congestion_window).min(max);
            self.limiter.grow_to_window(&mut state);
        }
    }

    /// The server answered 429: halve the congestion window (once per round) and pause every
    /// request for `retry_after`. DocSpace's sliding window and concurrency limiters send no
    /// `Retry-After` (only its daily write limit does): then the pause starts at
    /// [`FIRST_PAUSE`] and doubles with every round of 429s until a request succeeds, up to
    /// [`LONGEST_PAUSE`].
    pub fn throttled(&self, retry_after: Option<Duration>) {
        self.limiter.throttled.fetch_add(1, Ordering::Relaxed);
        let mut state = self.limiter.lock();
        if self.epoch == state.epoch {
            // A new round of 429s: halve, and double the pause of the round before.
            state.congestion_window = (state.congestion_window / 2.0).max(1.0);
            self.limiter.shrink_to_window(&mut state);
            state.epoch += 1;
            state.consecutive_throttles = state.consecutive_throttles.saturating_add(1);
        }
        let doubling = state.consecutive_throttles.saturating_sub(1).min(6);
        let backoff = (FIRST_PAUSE * 2u32.pow(doubling)).min(LONGEST_PAUSE);
        // `Retry-After: 0` still pauses a little; an absurd one is capped (and never overflows).
        let pause = retry_after
            .map_or(backoff, |wait| wait.max(FIRST_PAUSE))
            .min(Duration::from_secs(24 * 3600));
        let now = Instant::now();
        let until = now.checked_add(pause).unwrap_or(now);
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
    }
}

/// The limiters of one process, one per portal.
#[derive(Debug, Default)]
pub struct PortalLimiters {
    by_portal: Mutex<std::collections::HashMap<String, Arc<PortalLimiter>>>,
}

impl PortalLimiters {
    /// The limiter of `portal` (its base URL), created with `limits` on first use; later
    /// callers asking for stricter limits tighten it.
    pub fn for_portal(&self, portal: &str, limits: PortalLimits) -> Arc<PortalLimiter> {
        let mut map = self.by_portal.lock().unwrap_or_else(|e| e.into_inner());
        let key = portal.trim_end_matches('/').to_ascii_lowercase();
        match map.get(&key) {
            Some(limiter) => {
                limiter.tighten(limits);
                Arc::clone(limiter)
            }
            None => {
                let limiter = PortalLimiter::new(limits);
                map.insert(key, Arc::clone(&limiter));
                limiter
            }
        }
    }

    /// Portals with a limiter.
    pub fn len(&self) -> usize {
        self.by_portal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether no portal has a limiter yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, concurrent: u32) -> PortalLimits {
        PortalLimits {
            requests_per_minute: per_minute,
            max_concurrent: concurrent,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_in_flight_than_allowed() {
        let limiter = PortalLimiter::new(limits(10_000, 3));
        let peak = Arc::new(AtomicU64::new(0));
        let now = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (limiter, peak, now) = (limiter.clone(), peak.clone(), now.clone());
                tokio::spawn(async move {
                    let permit = limiter.acquire().await;
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    permit.succeeded();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(limiter.stats().requests, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_of_a_minute_holds_more_than_the_limit() {
        let limiter = PortalLimiter::new(limits(30, 50));
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..95 {
            let permit = limiter.acquire().await;
            sent.push(Instant::now() - start);
            permit.succeeded();
        }
        for (i, at) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|later| **later - *at < WINDOW + WINDOW_MARGIN)
                .count();
            assert!(
                in_window <= 30,
                "{in_window} requests within a minute of {at:?}"
            );
        }
        // Bursts of 30 at 0 s, 61 s, 122 s and 183 s: as fast as the window allows.
        assert_eq!(sent[30], WINDOW + WINDOW_MARGIN);
        assert_eq!(sent[94], (WINDOW + WINDOW_MARGIN) * 3);
        // One request waits at the start of each later burst; the rest of it follows at once.
        assert_eq!(limiter.stats().window_waits, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_concurrency_once_per_round_and_pauses_everyone() {
        let limiter = PortalLimiter::new(limits(10_000, 16));
        let permits: Vec<Permit> =
            futures::future::join_all((0..16).map(|_| limiter.acquire())).await;
        // All sixteen were sent in the same round: only one halving.
        for permit in &permits {
            permit.throttled(Some(Duration::from_secs(2)));
        }
        assert_eq!(limiter.concurrency(), 8);
        assert_eq!(limiter.paused_for(), Some(Duration::from_secs(2)));
        drop(permits);
        let before = Instant::now();
        let permit = limiter.acquire().await;
        assert_eq!(Instant::now() - before, Duration::from_secs(2));
        // A request of the new round halves again.
        permit.throttled(None);
        assert_eq!(limiter.concurrency(), 4);
        assert_eq!(limiter.stats().throttled, 17);
        // Without Retry-After the pause doubles with every round of 429s until a success.
        assert_eq!(limiter.paused_for(), Some(FIRST_PAUSE * 2));
        drop(permit);
        let permit = limiter.acquire().await;
        permit.succeeded();
        permit.throttled(None);
        assert_eq!(limiter.paused_for(), Some(FIRST_PAUSE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_withdrawn_request_is_not_sent_and_frees_its_turn() {
        use crate::docspace::slots::{Ticket, with_ticket};
        use tokio_util::sync::CancellationToken;

        // One request a minute: the first is sent, the next waits for the window.
        let limiter = PortalLimiter::new(limits(1, 1));
        let first = limiter.acquire().await;
        let withdraw = CancellationToken::new();
        let waiting = tokio::spawn({
            let (limiter, withdraw) = (limiter.clone(), withdraw.clone());
            let ticket = Ticket {
                rank: 0,
                withdrawn: Some(withdraw),
            };
            async move {
                with_ticket(ticket, async { limiter.acquire_unless_withdrawn().await })
                    .await
                    .is_some()
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(first);
        tokio::time::sleep(Duration::from_secs(10)).await;
        withdraw.cancel();
        assert!(
            !waiting.await.unwrap(),
            "withdrawn while waiting for the window"
        );
        assert_eq!(
            limiter.stats().requests,
            1,
            "a withdrawn request is not counted as sent"
        );
        // Its slot went back: the next request gets it once the window allows.
        let next = tokio::time::timeout(Duration::from_secs(61), limiter.acquire()).await;
        assert!(next.is_ok());
        assert_eq!(limiter.stats().requests, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn successes_grow_concurrency_back_to_the_maximum_and_no_further() {
        let limiter = PortalLimiter::new(limits(100_000, 8));
        limiter.acquire().await.throttled(None);
        assert_eq!(limiter.concurrency(), 4);
        let mut successes = 0;
        while limiter.concurrency() < 8 {
            limiter.acquire().await.succeeded();
            successes += 1;
            assert!(successes < 100, "concurrency does not recover");
        }
        // From 4 to 8 takes about 4 + 5 + 6 + 7 successes: additive, not a jump.
        assert!((15..=30).contains(&successes), "{successes}");
        for _ in 0..50 {
            limiter.acquire().await.succeeded();
        }
        assert_eq!(limiter.concurrency(), 8);
    }

    #[test]
    fn one_limiter_per_portal_and_the_strictest_limits_win() {
        let limiters = PortalLimiters::default();
        let a = limiters.for_portal("https://a.example/", limits(1_500, 50));
        let a_again = limiters.for_portal("https://A.example", limits(600, 60));
        let b = limiters.for_portal("https://b.example", limits(1_500, 50));
        assert!(Arc::ptr_eq(&a, &a_again));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.limits(), limits(600, 50));
        assert_eq!(limiters.len(), 2);
    }
}
