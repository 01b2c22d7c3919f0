//! Deterministic event generation. Events are stored as compact fixed-size records (32 bytes)
//! sorted by date; the JSON objects are built from them only when served.

use std::ops::Range;

use super::catalog::{AUDIT_ACTIONS, LOGIN_ACTIONS, Subject};
use super::weighted::WeightedIndex;
use super::world::World;

/// What the date-sorted event tables need of a stored event.
pub(crate) trait EventRecord: Copy {
    /// Date, UTC seconds.
    fn ts(&self) -> i64;
    /// Row id.
    fn id(&self) -> i64;
    /// Sets the row id.
    fn set_id(&mut self, id: i64);
}

/// One stored audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AuditRec {
    /// Date, UTC seconds.
    pub ts: i64,
    /// Row id.
    pub id: i64,
    /// Seed of the event's cosmetic details (address, browser, role in texts, ...).
    pub seed: u64,
    /// Index of the target entity; its kind depends on the action's [`Subject`].
    pub entity: u32,
    /// Index into [`AUDIT_ACTIONS`].
    pub action: u16,
    /// Index into [`World::users`] of the initiator.
    pub user: u8,
}

/// One stored login event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoginRec {
    /// Date, UTC seconds.
    pub ts: i64,
    /// Row id.
    pub id: i64,
    /// Seed of the cosmetic details.
    pub seed: u64,
    /// Index into [`LOGIN_ACTIONS`].
    pub action: u16,
    /// Index into [`World::users`], or [`UNKNOWN_USER`] for a login of nobody known.
    pub user: u8,
}

/// Implements [`EventRecord`] for record types with `ts` and `id` fields.
macro_rules! event_record {
    ($($rec:ty),*) => {$(
        impl EventRecord for $rec {
            fn ts(&self) -> i64 {
                self.ts
            }
            fn id(&self) -> i64 {
                self.id
            }
            fn set_id(&mut self, id: i64) {
                self.id = id;
            }
        }
    )*};
}

event_record!(AuditRec, LoginRec);

/// Marks a login attempt with an e-mail that belongs to no user.
pub(crate) const UNKNOWN_USER: u8 = u8::MAX;

/// Relative activity per local hour of day, in percent of the busiest hour.
const HOUR_WEIGHT: [u32; 24] = [
    3, 2, 2, 2, 2, 3, 8, 25, 65, 95, 100, 100, 75, 90, 100, 100, 90, 65, 35, 20, 14, 10, 6, 4,
];
/// Weekend activity in percent of a weekday's.
const WEEKEND_PERCENT: u32 = 12;
/// Probability (percent) that an event happens in the same second as the previous one.
const BURST_PERCENT: u8 = 7;

/// Draws the details of audit events.
#[derive(Debug)]
pub(crate) struct AuditDraw {
    actions: WeightedIndex,
}

impl Default for AuditDraw {
    fn default() -> Self {
        Self {
            actions: WeightedIndex::new(AUDIT_ACTIONS.iter().map(|a| a.weight)),
        }
    }
}

impl AuditDraw {
    /// Draws an event (date left 0, id left 0). With `actor`, the event is by that user and
    /// about a file (a burst of activity).
    pub fn draw(&self, world: &World, rng: &mut fastrand::Rng, actor: Option<u8>) -> AuditRec {
        let mut action = self.actions.draw(rng);
        if actor.is_some() {
            for _ in 0..8 {
                if AUDIT_ACTIONS[action].subject == Subject::File {
                    break;
                }
                action = self.actions.draw(rng);
            }
            if AUDIT_ACTIONS[action].subject != Subject::File {
                action = 0;
            }
        }
        let spec = &AUDIT_ACTIONS[action];
        let user = match actor {
            Some(u) => usize::from(u),
            None if spec.admin_only => world.admin_weights.draw(rng),
            None => world.user_weights.draw(rng),
        };
        let entity = self.entity(world, rng, spec.subject, user);
        AuditRec {
            ts: 0,
            id: 0,
            seed: rng.u64(..),
            entity,
            action: u16::try_from(action).unwrap_or(0),
            user: u8::try_from(user).unwrap_or(0),
        }
    }

    fn entity(&self, world: &World, rng: &mut fastrand::Rng, subject: Subject, user: usize) -> u32 {
        let room = |rng: &mut fastrand::Rng| {
            if rng.u8(0..100) < 70 {
                world.users[user].home_room
            } else {
                world.room_weights.draw(rng)
            }
        };
        let index = match subject {
            Subject::File => {
                let range = world.files_by_room[room(rng)].clone();
                // Skewed towards the first files of a room: some documents are hot.
                let len = range.len().max(1);
                range.start + rng.usize(..len).min(rng.usize(..len))
            }
            Subject::Folder => {
                let range = world.folders_by_room[room(rng)].clone();
                range.start + rng.usize(..range.len().max(1))
            }
            Subject::Room => room(rng),
            Subject::User | Subject::SettingsUser => {
                let other = rng.usize(..world.users.len() - 1);
                if other >= user { other + 1 } else { other }
            }
            Subject::Group => rng.usize(..world.groups.len()),
            Subject::Settings | Subject::Trash => 0,
        };
        u32::try_from(index).unwrap_or(0)
    }
}

/// Draws a second in `[from_s, to_s)` following the working-hours pattern of a user whose
/// local time is UTC + `offset_secs`.
fn draw_second(rng: &mut fastrand::Rng, from_s: i64, to_s: i64, offset_secs: i32) -> i64 {
    if to_s <= from_s + 1 {
        return from_s;
    }
    let mut t = from_s;
    for _ in 0..16 {
        t = rng.i64(from_s..to_s);
        let local = t + i64::from(offset_secs);
        let hour = usize::try_from(local.rem_euclid(86_400) / 3600).unwrap_or(0);
        // 1970-01-01 was a Thursday: day 0 has weekday index 3 (Monday = 0).
        let weekday = (local.div_euclid(86_400) + 3).rem_euclid(7);
        let mut weight = HOUR_WEIGHT[hour];
        if weekday >= 5 {
            weight = weight * WEEKEND_PERCENT / 100;
        }
        if rng.u32(0..100) < weight.max(1) {
            return t;
        }
    }
    t
}

fn mix(seed: u64, salt: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ salt
}

/// Generates `n` events with `draw` (given the previous event), sorts them by date and numbers
/// them from a first id drawn from `first_ids`, so ids increase with date. `salt` separates the
/// random streams of the tables.
fn generate<R: EventRecord>(
    seed: u64,
    salt: u64,
    first_ids: Range<i64>,
    n: usize,
    mut draw: impl FnMut(&mut fastrand::Rng, Option<&R>) -> R,
) -> Vec<R> {
    let mut rng = fastrand::Rng::with_seed(mix(seed, salt));
    let base_id = rng.i64(first_ids);
    let mut recs: Vec<R> = Vec::with_capacity(n);
    for _ in 0..n {
        let rec = draw(&mut rng, recs.last());
        recs.push(rec);
    }
    recs.sort_by_key(R::ts);
    for (i, rec) in recs.iter_mut().enumerate() {
        rec.set_id(base_id + i64::try_from(i).unwrap_or(0));
    }
    recs
}

/// Generates `n` audit events with dates in `[from_s, to_s)`, sorted by date, with ids
/// increasing with date.
pub(crate) fn seed_audit(
    world: &World,
    draw: &AuditDraw,
    seed: u64,
    from_s: i64,
    to_s: i64,
    n: usize,
) -> Vec<AuditRec> {
    generate::<AuditRec>(seed, 0xA0D1_7E7E, 1_000..10_000, n, |rng, prev| {
        let burst = match prev {
            Some(prev) if rng.u8(0..100) < BURST_PERCENT => Some((prev.ts, prev.user)),
            _ => None,
        };
        let mut rec = draw.draw(world, rng, burst.map(|(_, u)| u));
        rec.ts = match burst {
            Some((ts, _)) => ts,
            None => {
                let offset = world.users[usize::from(rec.user)].offset_secs;
                draw_second(rng, from_s, to_s, offset)
            }
        };
        rec
    })
}

/// Generates `n` login events with dates in `[from_s, to_s)`, sorted by date.
pub(crate) fn seed_login(
    world: &World,
    seed: u64,
    from_s: i64,
    to_s: i64,
    n: usize,
) -> Vec<LoginRec> {
    let actions = WeightedIndex::new(LOGIN_ACTIONS.iter().map(|a| a.weight));
    generate(seed, 0x1091_4E7E, 100..1_000, n, |rng, _| {
        let action = actions.draw(rng);
        let mut user = world.user_weights.draw(rng);
        let offset = world.users[user].offset_secs;
        if LOGIN_ACTIONS[action].failure && rng.u8(0..100) < 25 {
            user = usize::from(UNKNOWN_USER);
        }
        LoginRec {
            ts: draw_second(rng, from_s, to_s, offset),
            id: 0,
            seed: rng.u64(..),
            action: u16::try_from(action).unwrap_or(0),
            user: u8::try_from(user).unwrap_or(UNKNOWN_USER),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    use crate::test_support::{MARCH_FROM as FROM, MARCH_TO as TO};

    fn world() -> World {
        World::generate(11, 2025, (FROM + TO) / 2)
    }

    #[test]
    fn record_is_compact() {
        assert_eq!(std::mem::size_of::<AuditRec>(), 32);
        assert_eq!(std::mem::size_of::<LoginRec>(), 32);
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let w = world();
        let d = AuditDraw::default();
        let a = seed_audit(&w, &d, 11, FROM, TO, 2000);
        let b = seed_audit(&w, &d, 11, FROM, TO, 2000);
        let c = seed_audit(&w, &d, 12, FROM, TO, 2000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            seed_login(&w, 11, FROM, TO, 300),
            seed_login(&w, 11, FROM, TO, 300)
        );
    }

    #[test]
    fn events_sorted_in_window_with_increasing_unique_ids() {
        let w = world();
        let recs = seed_audit(&w, &AuditDraw::default(), 5, FROM, TO, 5000);
        assert_eq!(recs.len(), 5000);
        assert!(recs.iter().all(|r| (FROM..TO).contains(&r.ts)));
        assert!(
            recs.windows(2)
                .all(|p| p[0].ts <= p[1].ts && p[0].id < p[1].id)
        );
        assert!(recs[0].id > 0);
        let shared = recs.windows(2).filter(|p| p[0].ts == p[1].ts).count();
        assert!(shared > 50, "only {shared} events share a second");
    }

    #[test]
    fn action_mix_and_time_of_day_are_realistic() {
        let w = world();
        let recs = seed_audit(&w, &AuditDraw::default(), 5, FROM, TO, 20_000);
        let mut by_action: HashMap<i32, usize> = HashMap::new();
        for r in &recs {
            *by_action
                .entry(AUDIT_ACTIONS[usize::from(r.action)].id)
                .or_default() += 1;
        }
        let n = |id| by_action.get(&id).copied().unwrap_or(0);
        assert!(n(5064) > n(5018) * 5);
        assert!(n(5011) > n(4000) * 5);
        assert!(n(5075) > 0 && n(5088) > 0 && n(4000) > 0);
        assert!(by_action.keys().any(|id| (6000..7000).contains(id)));
        // Most events happen on weekdays during the users' business hours.
        let business = recs
            .iter()
            .filter(|r| {
                let local = r.ts + i64::from(w.users[usize::from(r.user)].offset_secs);
                let hour = local.rem_euclid(86_400) / 3600;
                let weekday = (local.div_euclid(86_400) + 3).rem_euclid(7);
                (8..18).contains(&hour) && weekday < 5
            })
            .count();
        assert!(business * 100 / recs.len() > 60, "{business}");
        // Settings changes are made by admins only.
        for r in &recs {
            let spec = &AUDIT_ACTIONS[usize::from(r.action)];
            if spec.admin_only {
                assert!(w.users[usize::from(r.user)].admin);
            }
        }
    }

    #[test]
    fn login_events_mix_successes_failures_and_unknown_logins() {
        let w = world();
        let recs = seed_login(&w, 3, FROM, TO, 3000);
        let ids: HashSet<i32> = recs
            .iter()
            .map(|r| LOGIN_ACTIONS[usize::from(r.action)].id)
            .collect();
        for id in [1000, 1002, 1006] {
            assert!(ids.contains(&id), "{id}");
        }
        assert!(recs.iter().any(|r| r.user == UNKNOWN_USER));
        assert!(
            recs.windows(2)
                .all(|p| p[0].ts <= p[1].ts && p[0].id < p[1].id)
        );
    }

    #[test]
    fn tiny_window_puts_everything_in_its_only_second() {
        let w = world();
        let recs = seed_audit(&w, &AuditDraw::default(), 5, FROM, FROM + 1, 10);
        assert!(recs.iter().all(|r| r.ts == FROM));
    }
}
