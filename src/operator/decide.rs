//! CronJob semantics, as a pure function: given the schedule, the last scheduled run and now,
//! is a run due, and for which scheduled instant?

use chrono::{DateTime, TimeDelta, Utc};

use crate::schedule::Schedule;

/// More missed schedules than this are not counted one by one (as Kubernetes' CronJob
/// controller does); the most recent one still runs.
pub const MAX_MISSED_COUNTED: usize = 100;

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the report of `scheduled`. `missed` earlier schedules were skipped (downtime).
    Run {
        /// The scheduled instant the run stands for.
        scheduled: DateTime<Utc>,
        /// Earlier scheduled instants since the last run that will not run.
        missed: usize,
    },
    /// The most recent schedule is older than the starting deadline: skip it.
    DeadlinePassed {
        /// The skipped instant.
        scheduled: DateTime<Utc>,
        /// The next scheduled instant.
        next: Option<DateTime<Utc>>,
    },
    /// Nothing is due before `next`.
    Wait {
        /// The next scheduled instant.
        next: Option<DateTime<Utc>>,
    },
}

/// Decides what to do at `now`. `since` is the last scheduled instant that ran (or was
/// skipped), else the resource's creation time: schedules at or before it never run again.
pub fn decide(
    schedule: &Schedule,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    starting_deadline_seconds: Option<i64>,
) -> Decision {
    let mut due = Vec::new();
    let mut cursor = since;
    let mut counted = 0usize;
    while let Some(next) = schedule.next_after(cursor) {
        if next > now {
            break;
        }
        counted += 1;
        due.push(next);
        if due.len() > 2 {
            due.remove(0);
        }
        cursor = next;
        if counted > MAX_MISSED_COUNTED {
            // Jump near `now` instead of walking every missed instant.
            if let Some(latest) = schedule.latest_at_or_before(now)
                && latest > cursor
            {
                due = vec![latest];
            }
            break;
        }
    }
    let next = schedule.next_after(now.max(since));
    let Some(&scheduled) = due.last() else {
        return Decision::Wait { next };
    };
    if let Some(deadline) = starting_deadline_seconds
        && now - scheduled > TimeDelta::seconds(deadline)
    {
        return Decision::DeadlinePassed { scheduled, next };
    }
    Decision::Run {
        scheduled,
        missed: counted.saturating_sub(1),
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

    #[test]
    fn waits_until_the_first_schedule() {
        let d = decide(
            &monthly(),
            utc("2025-03-10T00:00:00Z"),
            utc("2025-03-20T00:00:00Z"),
            None,
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
        let d = decide(
            &monthly(),
            utc("2025-03-10T00:00:00Z"),
            utc("2025-04-01T03:00:05Z"),
            None,
        );
        assert_eq!(
            d,
            Decision::Run {
                scheduled: utc("2025-04-01T03:00:00Z"),
                missed: 0
            }
        );
        // Once it ran, the same instant is never due again.
        let d = decide(
            &monthly(),
            utc("2025-04-01T03:00:00Z"),
            utc("2025-04-01T03:00:09Z"),
            None,
        );
        assert_eq!(
            d,
            Decision::Wait {
                next: Some(utc("2025-05-01T03:00:00Z"))
            }
        );
    }

    #[test]
    fn after_downtime_only_the_latest_missed_schedule_runs() {
        let d = decide(
            &monthly(),
            utc("2025-01-01T03:00:00Z"),
            utc("2025-04-15T00:00:00Z"),
            None,
        );
        assert_eq!(
            d,
            Decision::Run {
                scheduled: utc("2025-04-01T03:00:00Z"),
                missed: 2
            }
        );
        let hourly = Schedule::parse("@hourly", parse_time_zone("UTC").unwrap()).unwrap();
        let d = decide(
            &hourly,
            utc("2025-01-01T00:00:00Z"),
            utc("2025-03-01T00:30:00Z"),
            None,
        );
        assert!(
            matches!(d, Decision::Run { scheduled, missed } if scheduled == utc("2025-03-01T00:00:00Z") && missed >= MAX_MISSED_COUNTED)
        );
    }

    #[test]
    fn a_passed_starting_deadline_skips() {
        let d = decide(
            &monthly(),
            utc("2025-03-10T00:00:00Z"),
            utc("2025-04-02T04:00:00Z"),
            Some(3600),
        );
        assert_eq!(
            d,
            Decision::DeadlinePassed {
                scheduled: utc("2025-04-01T03:00:00Z"),
                next: Some(utc("2025-05-01T03:00:00Z"))
            }
        );
        let d = decide(
            &monthly(),
            utc("2025-03-10T00:00:00Z"),
            utc("2025-04-01T03:30:00Z"),
            Some(3600),
        );
        assert!(matches!(d, Decision::Run { .. }));
    }
}
