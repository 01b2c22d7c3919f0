//! Which periods skipped runs leave unreported, as a pure function: the entries of
//! `status.gaps`.
//!
//! A skipped instant of a calendar period (`PreviousDay`, `PreviousWeek`, `PreviousMonth`)
//! leaves its period unreported unless a run that does happen reports the same period. A
//! `SinceLastRun` report has no holes while it runs: its next run starts where the last one
//! ended, so the run after skipped instants covers them. Only instants skipped with no run at
//! all (every due instant past `startingDeadlineSeconds`) move its start past a stretch of time
//! no report covers.

use chrono::{DateTime, Utc};

use super::decide::Skipped;
use crate::schedule::{Schedule, period_for};
use crate::spec::{Gap, Period};

/// What follows the skipped instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Following {
    /// The instant that runs now.
    RunsNow(DateTime<Utc>),
    /// Nothing runs now; the schedule's next instant, if any.
    Waits(Option<DateTime<Utc>>),
}

/// The periods `skipped` leaves unreported, merged where they touch, oldest first.
/// `last_scheduled` is the previous run's instant (where a `SinceLastRun` period starts).
pub fn uncovered(
    period: Period,
    schedule: &Schedule,
    skipped: &Skipped,
    last_scheduled: Option<DateTime<Utc>>,
    following: Following,
) -> Vec<Gap> {
    let Some(&(newest, reason)) = skipped.instants.last() else {
        return Vec::new();
    };
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    if period == Period::SinceLastRun {
        if matches!(following, Following::Waits(_))
            && let Ok(first) = period_for(period, schedule, skipped.instants[0].0, last_scheduled)
        {
            spans.push((first.from, newest));
        }
    } else {
        // Where the next report made begins: periods ending by then are nobody's.
        let next = match following {
            Following::RunsNow(at) | Following::Waits(Some(at)) => Some(at),
            Following::Waits(None) => None,
        };
        let covered_from = next
            .and_then(|at| period_for(period, schedule, at, None).ok())
            .map(|p| p.from);
        spans = skipped
            .instants
            .iter()
            .filter_map(|(at, _)| period_for(period, schedule, *at, last_scheduled).ok())
            .map(|p| (p.from, p.to))
            .filter(|(_, to)| covered_from.is_none_or(|from| *to <= from))
            .collect();
        spans.sort();
        spans.dedup();
    }
    // Merge touching periods; after a jump over uncounted instants everything is one stretch.
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>, u32)> = Vec::new();
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 || skipped.at_least => {
                last.1 = last.1.max(to);
                last.2 += 1;
            }
            _ => merged.push((from, to, 1)),
        }
    }
    let tz = schedule.time_zone();
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
    let total = u32::try_from(skipped.total).unwrap_or(u32::MAX);
    let single = merged.len() == 1;
    merged
        .into_iter()
        .map(|(from, to, runs)| Gap {
            from: local(from),
            to: local(to),
            skipped_runs: if single { total.max(runs) } else { runs },
            reason: reason.as_str().to_owned(),
        })
        .collect()
}

/// Adds `gap` to `gaps` (newest first) unless an entry already covers it; entries it covers
/// are replaced, so that a decision made again (a run that kept failing) never lists a period
/// twice.
pub fn insert(gaps: &mut Vec<Gap>, gap: Gap) {
    let span = |g: &Gap| {
        let parse = |t: &str| DateTime::parse_from_rfc3339(t).map(|t| t.to_utc()).ok();
        parse(&g.from).zip(parse(&g.to))
    };
    let Some((from, to)) = span(&gap) else {
        return;
    };
    let covers = |outer: (DateTime<Utc>, DateTime<Utc>), inner: (DateTime<Utc>, DateTime<Utc>)| {
        outer.0 <= inner.0 && inner.1 <= outer.1
    };
    if gaps
        .iter()
        .filter_map(span)
        .any(|old| covers(old, (from, to)))
    {
        return;
    }
    gaps.retain(|old| span(old).is_none_or(|old| !covers((from, to), old)));
    gaps.insert(0, gap);
}

/// Takes the period a run reported, `[from, to)`, out of `gaps` (a re-run that filled a
/// gap): a gap within it goes, one it overlaps is cut, one around it is split. The skipped
/// runs of what remains are counted again from the schedule: the distinct periods of its
/// instants that lie within each piece (at least one).
pub fn cover(
    gaps: &mut Vec<Gap>,
    period: Period,
    schedule: &Schedule,
    covered: (DateTime<Utc>, DateTime<Utc>),
) {
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).map(|t| t.to_utc()).ok();
    let tz = schedule.time_zone();
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
    let (from, to) = covered;
    let mut kept = Vec::with_capacity(gaps.len());
    for gap in gaps.drain(..) {
        let Some((gap_from, gap_to)) = parse(&gap.from).zip(parse(&gap.to)) else {
            kept.push(gap);
            continue;
        };
        if to <= gap_from || gap_to <= from {
            kept.push(gap);
            continue;
        }
        // Newest first, as the list is.
        for (piece_from, piece_to) in [(to, gap_to), (gap_from, from)] {
            if piece_from < piece_to {
                kept.push(Gap {
                    from: local(piece_from),
                    to: local(piece_to),
                    skipped_runs: periods_within(period, schedule, piece_from, piece_to).max(1),
                    reason: gap.reason.clone(),
                });
            }
        }
    }
    *gaps = kept;
}

/// How many distinct report periods of the schedule's instants lie within `[from, to)`. It
/// looks at no more than [`MAX_INSTANTS`] instants (a reconcile must stay short); past them the
/// count is extrapolated from the share of the piece they spanned.
fn periods_within(
    period: Period,
    schedule: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> u32 {
    let mut counted: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut at = from;
    for _ in 0..MAX_INSTANTS {
        let Some(next) = schedule.next_after(at) else {
            return count(counted.len());
        };
        at = next;
        let Ok(reported) = period_for(period, schedule, next, None) else {
            continue;
        };
        if reported.from >= to {
            return count(counted.len());
        }
        let span = (reported.from, reported.to);
        if reported.from >= from && reported.to <= to && counted.last() != Some(&span) {
            counted.push(span);
        }
    }
    let looked = (at - from).num_seconds().max(1) as f64;
    let whole = (to - from).num_seconds().max(1) as f64;
    count((counted.len() as f64 * whole / looked).round() as usize)
}

/// Instants [`periods_within`] looks at: a year of hourly runs.
const MAX_INSTANTS: usize = 10_000;

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::decide::SkipReason;
    use crate::schedule::parse_time_zone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn skipped(at: &[&str], why: SkipReason) -> Skipped {
        Skipped {
            instants: at.iter().map(|a| (utc(a), why)).collect(),
            total: at.len(),
            at_least: false,
        }
    }

    fn schedule(cron: &str) -> Schedule {
        Schedule::parse(cron, parse_time_zone("UTC").unwrap()).unwrap()
    }

    #[test]
    fn a_gap_decided_again_is_listed_once() {
        let gap = |from: &str, to: &str, runs: u32| Gap {
            from: from.into(),
            to: to.into(),
            skipped_runs: runs,
            reason: "MissedRunsLatest".into(),
        };
        let mut gaps = Vec::new();
        insert(
            &mut gaps,
            gap("2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00", 1),
        );
        // The same decision a month later covers one more month: it replaces the first.
        insert(
            &mut gaps,
            gap("2025-01-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00", 2),
        );
        assert_eq!(
            gaps,
            vec![gap(
                "2025-01-01T00:00:00+00:00",
                "2025-03-01T00:00:00+00:00",
                2
            )]
        );
        // A part of it adds nothing.
        insert(
            &mut gaps,
            gap("2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00", 1),
        );
        assert_eq!(gaps.len(), 1);
        // A later one is added in front.
        insert(
            &mut gaps,
            gap("2025-05-01T00:00:00+00:00", "2025-06-01T00:00:00+00:00", 1),
        );
        assert_eq!(gaps.len(), 2);
        assert_eq!(gaps[0].from, "2025-05-01T00:00:00+00:00");
    }

    #[test]
    fn a_rerun_takes_its_period_out_of_the_gaps() {
        let daily = schedule("30 0 * * *");
        let gap = |from: &str, to: &str, runs: u32| Gap {
            from: from.into(),
            to: to.into(),
            skipped_runs: runs,
            reason: "StartingDeadlineExceeded".into(),
        };
        let day = |d: u32| utc(&format!("2025-01-{d:02}T00:00:00Z"));
        let mut gaps = vec![
            gap("2025-02-01T00:00:00+00:00", "2025-02-03T00:00:00+00:00", 2),
            gap("2025-01-01T00:00:00+00:00", "2025-01-06T00:00:00+00:00", 5),
        ];
        // The middle day: the January gap splits into two days before and two after.
        cover(&mut gaps, Period::PreviousDay, &daily, (day(3), day(4)));
        assert_eq!(
            gaps,
            vec![
                gap("2025-02-01T00:00:00+00:00", "2025-02-03T00:00:00+00:00", 2),
                gap("2025-01-04T00:00:00+00:00", "2025-01-06T00:00:00+00:00", 2),
                gap("2025-01-01T00:00:00+00:00", "2025-01-03T00:00:00+00:00", 2),
            ]
        );
        // An edge day cuts; the last day of a piece removes it.
        cover(&mut gaps, Period::PreviousDay, &daily, (day(1), day(2)));
        cover(&mut gaps, Period::PreviousDay, &daily, (day(2), day(3)));
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert_eq!(
            gaps[1],
            gap("2025-01-04T00:00:00+00:00", "2025-01-06T00:00:00+00:00", 2)
        );
        // A period touching no gap changes nothing.
        let before = gaps.clone();
        cover(&mut gaps, Period::PreviousDay, &daily, (day(20), day(21)));
        assert_eq!(gaps, before);
    }

    #[test]
    fn a_recount_past_its_bound_is_extrapolated() {
        // 30 days of minutely runs: 43,200 periods, far past the instants looked at.
        let minutely = schedule("* * * * *");
        let from = utc("2025-01-01T00:00:00Z");
        let to = utc("2025-01-31T00:00:00Z");
        let n = periods_within(Period::SinceLastRun, &minutely, from, to);
        assert!((43_000..=43_400).contains(&n), "{n}");
        // Within the bound it is exact.
        let day = periods_within(
            Period::SinceLastRun,
            &minutely,
            from,
            utc("2025-01-02T00:00:00Z"),
        );
        assert_eq!(day, 1_440);
    }

    #[test]
    fn skipped_months_are_gaps_merged_where_they_touch() {
        let gaps = uncovered(
            Period::PreviousMonth,
            &schedule("0 3 1 * *"),
            &skipped(
                &["2025-02-01T03:00:00Z", "2025-03-01T03:00:00Z"],
                SkipReason::StartingDeadlineExceeded,
            ),
            None,
            Following::RunsNow(utc("2025-04-01T03:00:00Z")),
        );
        assert_eq!(
            gaps,
            vec![Gap {
                from: "2025-01-01T00:00:00+00:00".into(),
                to: "2025-03-01T00:00:00+00:00".into(),
                skipped_runs: 2,
                reason: "StartingDeadlineExceeded".into(),
            }]
        );
    }

    #[test]
    fn a_period_that_a_run_still_reports_is_no_gap() {
        // Hourly runs of the previous day: the skipped 01:00 reports the same day as the
        // 02:00 run that happens.
        let gaps = uncovered(
            Period::PreviousDay,
            &schedule("0 * * * *"),
            &skipped(&["2025-01-02T01:00:00Z"], SkipReason::BackfillLimit),
            None,
            Following::RunsNow(utc("2025-01-02T02:00:00Z")),
        );
        assert_eq!(gaps, Vec::new());
    }

    #[test]
    fn since_last_run_has_a_gap_only_when_no_run_follows() {
        let hourly = schedule("0 * * * *");
        let skip = skipped(
            &["2025-01-01T02:00:00Z", "2025-01-01T03:00:00Z"],
            SkipReason::StartingDeadlineExceeded,
        );
        let last = Some(utc("2025-01-01T01:00:00Z"));
        assert_eq!(
            uncovered(
                Period::SinceLastRun,
                &hourly,
                &skip,
                last,
                Following::RunsNow(utc("2025-01-01T04:00:00Z"))
            ),
            Vec::new()
        );
        assert_eq!(
            uncovered(
                Period::SinceLastRun,
                &hourly,
                &skip,
                last,
                Following::Waits(Some(utc("2025-01-01T04:00:00Z")))
            ),
            vec![Gap {
                from: "2025-01-01T01:00:00+00:00".into(),
                to: "2025-01-01T03:00:00+00:00".into(),
                skipped_runs: 2,
                reason: "StartingDeadlineExceeded".into(),
            }]
        );
    }
}
