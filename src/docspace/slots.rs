//! Request slots handed out by rank: the lowest rank first, and in the order of asking
//! within a rank.
//!
//! A read cut into slices asks for many pages at once, more than the portal lets be in
//! flight. Handed out first come, first served, the first slices would get all their pages
//! before the last slices got one, and those would learn how busy they are (and ask for
//! more) only at the end. Ranked by how deep a page lies in its slice, every slice gets its
//! first pages early, and the pages a slice may turn out not to need go last.
//!
//! A request carries its rank through [`with_ticket`]; requests outside it (the key check,
//! uploads) have rank 0 and go before any page. A ticket can also withdraw a request that is
//! still waiting: a page the read turned out not to need is then never sent.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

tokio::task_local! {
    static TICKET: Ticket;
}

/// What a request shows the limiter: its rank (lower goes first), and a token that withdraws
/// it while it waits.
#[derive(Debug, Clone, Default)]
pub struct Ticket {
    /// Lower ranks get slots first.
    pub rank: u32,
    /// Once cancelled, the request gives up waiting and is not sent.
    pub withdrawn: Option<CancellationToken>,
}

/// Runs `future` with its requests showing `ticket` (see the module documentation).
pub fn with_ticket<F: Future>(ticket: Ticket, future: F) -> impl Future<Output = F::Output> {
    TICKET.scope(ticket, future)
}

/// The ticket of the request being sent: the one [`with_ticket`] gave it, else rank 0 and
/// never withdrawn.
pub fn current_ticket() -> Ticket {
    TICKET.try_with(Ticket::clone).unwrap_or_default()
}

/// One waiter: the best is the lowest rank, then the earliest.
#[derive(Debug)]
struct Waiter {
    rank: u32,
    sequence: u64,
    grant: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// Greater is served first (the heap is a max-heap).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.rank, other.sequence).cmp(&(self.rank, self.sequence))
    }
}

#[derive(Debug, Default)]
struct State {
    /// Free slots. While any is free nobody waits: a freed slot goes to a waiter first.
    free: usize,
    /// Slots to take out of circulation as they come back (a shrink while they were held).
    owed: usize,
    waiting: BinaryHeap<Waiter>,
    asked: u64,
}

/// A counting semaphore whose waiters are served by rank; see the module documentation.
#[derive(Debug)]
pub struct RankedSlots {
    state: Mutex<State>,
}

/// A slot held; dropping it frees the slot for the best waiter.
#[derive(Debug)]
pub struct Slot {
    slots: Option<Arc<RankedSlots>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.add(1);
        }
    }
}

/// A waiter's side while it waits: if it is dropped (the request was abandoned) after a slot
/// was granted to it, the slot is passed on instead of lost.
struct Pending {
    slots: Arc<RankedSlots>,
    granted: Option<oneshot::Receiver<()>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut receiver) = self.granted.take() {
            receiver.close();
            if receiver.try_recv().is_ok() {
                self.slots.add(1);
            }
        }
    }
}

impl RankedSlots {
    /// `slots` free slots.
    pub fn new(slots: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                free: slots,
                ..State::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every statement leaves the state consistent; a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot, behind every waiter of a lower rank and the earlier ones of `rank`.
    pub async fn acquire(self: &Arc<Self>, rank: u32) -> Slot {
        loop {
            let receiver = {
                let mut state = self.lock();
                if state.free > 0 {
                    state.free -= 1;
                    return Slot {
                        slots: Some(Arc::clone(self)),
                    };
                }
                let (grant, receiver) = oneshot::channel();
                let sequence = state.asked;
                state.asked += 1;
                state.waiting.push(Waiter {
                    rank,
                    sequence,
                    grant,
                });
                receiver
            };
            let mut pending = Pending {
                slots: Arc::clone(self),
                granted: Some(receiver),
            };
            let granted = match pending.granted.as_mut() {
                Some(receiver) => receiver.await.is_ok(),
                None => false,
            };
            pending.granted = None;
            if granted {
                return Slot {
                    slots: Some(Arc::clone(self)),
                };
            }
            // The grant was dropped unsent, which only a waiter list being dropped does: ask
            // again.
        }
    }

    /// Puts `count` slots into circulation: each pays off a slot owed first (see
    /// [`Self::shrink`]), else goes to the best live waiter, else is free.
    pub fn add(&self, count: usize) {
        let mut state = self.lock();
        for _ in 0..count {
            if state.owed > 0 {
                state.owed -= 1;
                continue;
            }
            loop {
                match state.waiting.pop() {
                    Some(waiter) => {
                        if waiter.grant.send(()).is_ok() {
                            break;
                        }
                    }
                    None => {
                        state.free += 1;
                        break;
                    }
                }
            }
        }
    }

    /// Takes `count` slots out of circulation: free ones at once, the others as they come
    /// back, whoever held them and however they were given up.
    pub fn shrink(&self, count: usize) {
        let mut state = self.lock();
        let taken = state.free.min(count);
        state.free -= taken;
        state.owed += count - taken;
    }

    /// Waiters queued (abandoned ones included until a slot passes them over).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Lets spawned tasks run until they wait.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lower_ranks_go_first_and_a_rank_in_the_order_of_asking() {
        let slots = RankedSlots::new(1);
        let held = slots.acquire(0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, rank) in [("deep-a", 5), ("first", 0), ("deep-b", 5), ("middle", 2)] {
            let (slots, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let slot = slots.acquire(rank).await;
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(slot);
            }));
            settle().await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["first", "middle", "deep-a", "deep-b"]
        );
    }

    /// A task waiting for a slot of `slots`, queued by the time this returns.
    async fn waiter(slots: &Arc<RankedSlots>) -> tokio::task::JoinHandle<Slot> {
        let slots = slots.clone();
        let task = tokio::spawn(async move { slots.acquire(0).await });
        settle().await;
        task
    }

    /// Stops `task` and waits until it is gone.
    async fn abandon(task: tokio::task::JoinHandle<Slot>) {
        task.abort();
        let _ = task.await;
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_waiter_loses_no_slot() {
        let slots = RankedSlots::new(1);
        let held = slots.acquire(0).await;
        let abandoned = waiter(&slots).await;
        // Granted to the waiter, then the waiter goes away before it runs.
        drop(held);
        abandon(abandoned).await;
        let first = tokio::time::timeout(Duration::from_secs(1), slots.acquire(0)).await;
        assert!(
            first.is_ok(),
            "the slot granted to an abandoned waiter was lost"
        );
        drop(first);

        // Abandoned before any grant: passed over when a slot frees.
        let held = slots.acquire(0).await;
        abandon(waiter(&slots).await).await;
        assert_eq!(slots.waiting(), 1);
        drop(held);
        assert_eq!(slots.waiting(), 0);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), slots.acquire(0))
                .await
                .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_shrink_takes_free_slots_at_once_and_held_ones_as_they_come_back() {
        let slots = RankedSlots::new(3);
        let (a, b) = (slots.acquire(0).await, slots.acquire(0).await);
        let acquire = || tokio::time::timeout(Duration::from_secs(1), slots.acquire(0));
        // Down to one slot: the free one goes now, one of the two held is owed.
        slots.shrink(2);
        drop(a);
        assert!(
            acquire().await.is_err(),
            "the slot that came back paid what was owed"
        );
        drop(b);
        let one = acquire().await;
        assert!(one.is_ok());
        assert!(acquire().await.is_err(), "one slot left in circulation");
        // Growing back adds a slot.
        slots.add(1);
        assert!(acquire().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_granted_to_an_abandoned_waiter_pays_what_is_owed() {
        let slots = RankedSlots::new(1);
        let held = slots.acquire(0).await;
        let abandoned = waiter(&slots).await;
        drop(held);
        // Shrunk to none after the slot was granted, before the waiter ran.
        slots.shrink(1);
        abandon(abandoned).await;
        let acquire = tokio::time::timeout(Duration::from_secs(1), slots.acquire(0));
        assert!(acquire.await.is_err(), "no slot left in circulation");
    }

    #[tokio::test]
    async fn the_ticket_is_the_one_in_scope() {
        let rank = || async { current_ticket().rank };
        assert_eq!(rank().await, 0);
        let ticket = |rank| Ticket {
            rank,
            withdrawn: None,
        };
        assert_eq!(with_ticket(ticket(7), rank()).await, 7);
        let nested = with_ticket(ticket(3), with_ticket(ticket(1), rank())).await;
        assert_eq!(nested, 1);
    }
}
