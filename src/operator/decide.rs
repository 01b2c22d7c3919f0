//! CronJob semantics, as a pure function: given the schedule, the last scheduled run and now,
//! is a run due, for which scheduled instant, and which missed instants will never run?

use chrono::{DateTime, TimeDelta, Utc};

use crate::schedule::Schedule;
use crate::spec::MissedRuns;

/// More missed schedules than this are not walked one by one (as Kubernetes' CronJob
/// controller does): the walk jumps to the most recent ones.
pub const MAX_MISSED_COUNTED: usize = 100;

/// With `missedRuns: All`, at most this many missed instants run, oldest first; older ones are
/// skipped (and listed as gaps).
pub const MAX_BACKFILL: usize = 12;

/// Why a scheduled instant will never run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// It could not start within `startingDeadlineSeconds`.
    StartingDeadlineExceeded,
    /// `missedRuns: Latest` runs only the most recent missed instant.
    MissedRunsLatest,
    /// More instants were missed than one wave backfills (12, `MAX_BACKFILL`).
    BackfillLimit,
}

impl SkipReason {
    /// The CamelCase reason written to `status.gaps`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartingDeadlineExceeded => "StartingDeadlineExceeded",
            Self::MissedRunsLatest => "MissedRunsLatest",
            Self::BackfillLimit => "BackfillLimit",
        }
    }
}

/// Scheduled instants that will never run, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Each skipped instant seen, with why. After a long downtime the walk jumps, so there
    /// may be more (`total` counts them; `at_least` says it is a lower bound).
    pub instants: Vec<(DateTime<Utc>, SkipReason)>,
    /// Skipped instants counted.
    pub total: usize,
    /// More were skipped than counted.
    pub at_least: bool,
}

impl Skipped {
    /// Nothing skipped.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the report of `scheduled`.
    Run {
        /// The scheduled instant the run stands for.
        scheduled: DateTime<Utc>,
        /// Earlier instants since the last run that will never run.
        skipped: Skipped,
        /// Later missed instants that run after this one (`missedRuns: All`).
        backlog: usize,
    },
    /// Every due instant is older than the starting deadline: skip them.
    DeadlinePassed {
        /// The skipped instants.
        skipped: Skipped,
        /// The next scheduled instant.
        next: Option<DateTime<Utc>>,
    },
    /// Nothing is due before `next`.
    Wait {
        /// The next scheduled instant.
        next: Option<DateTime<Utc>>,
    },
}

/// The instants in `(since, now]`, oldest first, and whether the walk jumped over some.
fn due_instants(
    schedule: &Schedule,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (Vec<DateTime<Utc>>, bool) {
    let mut due = Vec::new();
    let mut cursor = since;
    while let Some(next) = schedule.next_after(cursor) {
        if next > now {
            return (due, false);
        }
        due.push(next);
        cursor = next;
        if due.len() > MAX_MISSED_COUNTED {
            // Jump near `now`: the most recent instants matter, the rest are counted as skipped.
            let mut recent = Vec::new();
            let mut at = now;
            while recent.len() < MAX_BACKFILL
                && let Some(latest) = schedule.latest_at_or_before(at)
                && latest > cursor
            {
                recent.push(latest);
                at = latest - TimeDelta::nanoseconds(1);
            }
            let jumped = !recent.is_empty();
            recent.reverse();
            due.extend(recent);
            return (due, jumped);
        }
    }
    (due, false)
}

/// Decides what to do at `now`. `since` is the last scheduled instant that ran (or was
/// skipped), else the resource's creation time: schedules at or before it never run again.
pub fn decide(
    schedule: &Schedule,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    starting_deadline_seconds: Option<i64>,
    missed_runs: MissedRuns,
) -> Decision {
    let (due, jumped) = due_instants(schedule, since, now);
    let next = schedule.next_after(now.max(since));
    let expired = |at: DateTime<Utc>| {
        starting_deadline_seconds.is_some_and(|seconds| now - at > TimeDelta::seconds(seconds))
    };
    // The instants that may still run, oldest first.
    let live: Vec<DateTime<Utc>> = due.iter().copied().filter(|at| !expired(*at)).collect();
    let chosen: &[DateTime<Utc>] = match missed_runs {
        MissedRuns::Latest => live.last().map(std::slice::from_ref).unwrap_or_default(),
        MissedRuns::All => &live[live.len().saturating_sub(MAX_BACKFILL)..],
    };
    let skip_reason = |at: DateTime<Utc>| {
        if expired(at) {
            SkipReason::StartingDeadlineExceeded
        } else if missed_runs == MissedRuns::Latest {
            SkipReason::MissedRunsLatest
        } else {
            SkipReason::BackfillLimit
        }
    };
    let first_chosen = chosen.first().copied();
    let instants: Vec<(DateTime<Utc>, SkipReason)> = due
        .iter()
        .copied()
        .filter(|at| first_chosen.is_none_or(|first| *at < first))
        .map(|at| (at, skip_reason(at)))
        .collect();
    let skipped = Skipped {
        total: instants.len(),
        at_least: jumped,
        instants,
    };
    match first_chosen {
        Some(scheduled) => Decision::Run {
            scheduled,
            skipped,
            backlog: chosen.len() - 1,
        },
        None if skipped.is_empty() => Decision::Wait { next },
        None => Decision::DeadlinePassed { skipped, next },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::parse_time_zone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn monthly() -> Schedule {
        Schedule::parse("0 3 1 * *", parse_time_zone("UTC").unwrap()).unwrap()
    }

    fn hourly() -> Schedule {
        Schedule::parse("@hourly", parse_time_zone("UTC").unwrap()).unwrap()
    }

    fn run(scheduled: &str, skipped: Skipped, backlog: usize) -> Decision {
        Decision::Run {
            scheduled: utc(scheduled),
            skipped,
            backlog,
        }
    }

    fn skipped(instants: &[(&str, SkipReason)]) -> Skipped {
        Skipped {
            instants: instants.iter().map(|(at, why)| (utc(at), *why)).collect(),
            total: instants.len(),
            at_least: false,
        }
    }

    #[test]
    fn waits_until_the_first_schedule() {
        let d = decide(
            &monthly(),
            utc("2025-03-10T00:00:00Z"),
            utc("2025-03-20T00:00:00Z"),
            None,
            MissedRuns::All,
        );
        assert_eq!(
            d,
            Decision::Wait {
                next: Some(utc("2025-04-01T03:00:00Z"))
            }
        );
    }

    #[test]
    fn runs_a_due_schedule_once() {
        for mode in [MissedRuns::All, MissedRuns::Latest] {
            let d = decide(
                &monthly(),
                utc("2025-03-10T00:00:00Z"),
                utc("2025-04-01T03:00:05Z"),
                None,
                mode,
            );
            assert_eq!(d, run("2025-04-01T03:00:00Z", Skipped::default(), 0));
            // Once it ran, the same instant is never due again.
            let d = decide(
                &monthly(),
                utc("2025-04-01T03:00:00Z"),
                utc("2025-04-01T03:00:09Z"),
                None,
                mode,
            );
            assert_eq!(
                d,
                Decision::Wait {
                    next: Some(utc("2025-05-01T03:00:00Z"))
                }
            );
        }
    }

    #[test]
    fn with_latest_only_the_most_recent_missed_schedule_runs() {
        let d = decide(
            &monthly(),
            utc("2025-01-01T03:00:00Z"),
            utc("2025-04-15T00:00:00Z"),
            None,
            MissedRuns::Latest,
        );
        let why = SkipReason::MissedRunsLatest;
        assert_eq!(
            d,
            run(
                "2025-04-01T03:00:00Z",
                skipped(&[("2025-02-01T03:00:00Z", why), ("2025-03-01T03:00:00Z", why)]),
                0
            )
        );
        let d = decide(
            &hourly(),
            utc("2025-01-01T00:00:00Z"),
            utc("2025-03-01T00:30:00Z"),
            None,
            MissedRuns::Latest,
        );
        let Decision::Run {
            scheduled,
            skipped,
            backlog: 0,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(scheduled, utc("2025-03-01T00:00:00Z"));
        assert!(skipped.at_least && skipped.total >= MAX_MISSED_COUNTED);
    }

    #[test]
    fn with_all_every_missed_schedule_runs_oldest_first() {
        let d = decide(
            &monthly(),
            utc("2025-01-01T03:00:00Z"),
            utc("2025-04-15T00:00:00Z"),
            None,
            MissedRuns::All,
        );
        assert_eq!(d, run("2025-02-01T03:00:00Z", Skipped::default(), 2));
        // The next wave goes on from there.
        let d = decide(
            &monthly(),
            utc("2025-02-01T03:00:00Z"),
            utc("2025-04-15T00:00:00Z"),
            None,
            MissedRuns::All,
        );
        assert_eq!(d, run("2025-03-01T03:00:00Z", Skipped::default(), 1));
    }

    #[test]
    fn backfill_stops_at_its_limit_and_skips_the_older_instants() {
        // 14 hours missed: the 12 most recent run, the 2 oldest are skipped.
        let d = decide(
            &hourly(),
            utc("2025-01-01T00:00:00Z"),
            utc("2025-01-01T14:10:00Z"),
            None,
            MissedRuns::All,
        );
        let why = SkipReason::BackfillLimit;
        assert_eq!(
            d,
            run(
                "2025-01-01T03:00:00Z",
                skipped(&[("2025-01-01T01:00:00Z", why), ("2025-01-01T02:00:00Z", why)]),
                MAX_BACKFILL - 1
            )
        );
        // After a long downtime the walk jumps, and still backfills the most recent ones.
        let d = decide(
            &hourly(),
            utc("2025-01-01T00:00:00Z"),
            utc("2025-03-01T00:30:00Z"),
            None,
            MissedRuns::All,
        );
        let Decision::Run {
            scheduled,
            skipped,
            backlog,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(scheduled, utc("2025-02-28T13:00:00Z"));
        assert_eq!(backlog, MAX_BACKFILL - 1);
        assert!(skipped.at_least && skipped.total > MAX_MISSED_COUNTED);
        assert!(skipped.instants.iter().all(|(at, _)| *at < scheduled));
    }

    #[test]
    fn a_passed_starting_deadline_skips() {
        let d = decide(
            &monthly(),
            utc("2025-03-10T00:00:00Z"),
            utc("2025-04-02T04:00:00Z"),
            Some(3600),
            MissedRuns::All,
        );
        assert_eq!(
            d,
            Decision::DeadlinePassed {
                skipped: skipped(&[("2025-04-01T03:00:00Z", SkipReason::StartingDeadlineExceeded)]),
                next: Some(utc("2025-05-01T03:00:00Z"))
            }
        );
        let d = decide(
            &monthly(),
            utc("2025-03-10T00:00:00Z"),
            utc("2025-04-01T03:30:00Z"),
            Some(3600),
            MissedRuns::All,
        );
        assert!(matches!(d, Decision::Run { .. }));
        // Backfill stays within the deadline: instants older than it are skipped.
        let d = decide(
            &hourly(),
            utc("2025-01-01T00:00:00Z"),
            utc("2025-01-01T03:10:00Z"),
            Some(2 * 3600),
            MissedRuns::All,
        );
        assert_eq!(
            d,
            run(
                "2025-01-01T02:00:00Z",
                skipped(&[("2025-01-01T01:00:00Z", SkipReason::StartingDeadlineExceeded)]),
                1
            )
        );
    }
}
