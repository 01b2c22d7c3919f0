//! Schedules and reporting periods: cron expressions evaluated in an IANA time zone, and the
//! `[from, to)` period a run covers. Pure functions of their inputs; no I/O.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::spec::Period;

/// Why a schedule, time zone or period cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error("invalid cron expression {expression:?}: {reason}")]
    InvalidCron {
        /// The expression.
        expression: String,
        /// What the parser said.
        reason: String,
    },
    /// The time zone is not an IANA name.
    #[error("unknown time zone {0:?}; use an IANA name such as Europe/Berlin or UTC")]
    UnknownTimeZone(String),
    /// No period can be computed (a date outside chrono's range, or a schedule with no earlier run).
    #[error("cannot compute the {period:?} period at {at}: {reason}")]
    NoPeriod {
        /// The period kind.
        period: Period,
        /// The reference instant.
        at: DateTime<Utc>,
        /// Why.
        reason: String,
    },
}

/// Parses an IANA time zone name.
pub fn parse_time_zone(name: &str) -> Result<Tz, ScheduleError> {
    Tz::from_str(name).map_err(|_| ScheduleError::UnknownTimeZone(name.to_owned()))
}

/// A cron schedule in a time zone, with Kubernetes CronJob syntax: five fields or a macro
/// (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`), `?` meaning `*`.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    time_zone: Tz,
}

impl Schedule {
    /// Parses `expression` to be evaluated in `time_zone`.
    pub fn parse(expression: &str, time_zone: Tz) -> Result<Self, ScheduleError> {
        let invalid = |reason: String| ScheduleError::InvalidCron {
            expression: expression.to_owned(),
            reason,
        };
        let trimmed = expression.trim();
        if trimmed.contains("TZ=") {
            return Err(invalid(
                "set the time zone in spec.timeZone, not in the schedule".to_owned(),
            ));
        }
        if !trimmed.starts_with('@') && trimmed.split_whitespace().count() != 5 {
            return Err(invalid(
                "expected five fields: minute hour day-of-month month day-of-week".to_owned(),
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(trimmed)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self { cron, time_zone })
    }

    /// The schedule's time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first scheduled instant strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.time_zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The last scheduled instant at or before `at`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.time_zone), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The last scheduled instant strictly before `before`.
    pub fn latest_before(&self, before: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&before.with_timezone(&self.time_zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The span a report covers: `[from, to)`, with a label for file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPeriod {
    /// First instant included.
    pub from: DateTime<Utc>,
    /// First instant excluded.
    pub to: DateTime<Utc>,
    /// The time zone the period was computed in.
    pub time_zone: Tz,
    /// A short label: `2025-03`, `2025-W11`, `2025-03-14`, or `20250314T0300-20250315T0300`.
    pub label: String,
}

impl ReportPeriod {
    /// The last instant DocSpace should include: its `to` is inclusive, and parsed to 100 ns
    /// (seven fraction digits). On PostgreSQL portals dates carry microseconds, so one second
    /// less would drop the events of the period's last second.
    pub fn to_inclusive(&self) -> DateTime<Utc> {
        self.to - TimeDelta::nanoseconds(100)
    }

    /// The earliest instant the period may be read: its end plus `settle_seconds`, so that
    /// audit events DocSpace stores late (asynchronously, stamped with when they happened) are
    /// in (`spec.settleSeconds`).
    pub fn settled_at(&self, settle_seconds: u32) -> DateTime<Utc> {
        self.to + TimeDelta::seconds(i64::from(settle_seconds))
    }

    /// `from` in the period's time zone, RFC 3339.
    pub fn from_local(&self) -> String {
        self.from.with_timezone(&self.time_zone).to_rfc3339()
    }

    /// `to` in the period's time zone, RFC 3339.
    pub fn to_local(&self) -> String {
        self.to.with_timezone(&self.time_zone).to_rfc3339()
    }
}

/// The first instant of a local calendar date. Where midnight falls into a DST gap the day
/// starts at the first instant that exists.
fn start_of_day(date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight: NaiveDateTime = date.and_hms_opt(0, 0, 0)?;
    for minutes in (0..=180).step_by(15) {
        let local = midnight + TimeDelta::minutes(minutes);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

/// Computes the period a run scheduled at `scheduled` covers.
///
/// Calendar periods are computed in `schedule`'s time zone. `SinceLastRun` starts at
/// `last_scheduled` (the previous run's scheduled instant) or, without one, at the schedule's
/// previous instant before `scheduled`.
pub fn period_for(
    period: Period,
    schedule: &Schedule,
    scheduled: DateTime<Utc>,
    last_scheduled: Option<DateTime<Utc>>,
) -> Result<ReportPeriod, ScheduleError> {
    let tz = schedule.time_zone();
    let no_period = |reason: &str| ScheduleError::NoPeriod {
        period,
        at: scheduled,
        reason: reason.to_owned(),
    };
    let today = scheduled.with_timezone(&tz).date_naive();
    let (first_day, next_first_day, label) = match period {
        Period::PreviousDay => {
            let day = today
                .pred_opt()
                .ok_or_else(|| no_period("date out of range"))?;
            (day, today, day.format("%Y-%m-%d").to_string())
        }
        Period::PreviousWeek => {
            let this_monday = today
                .checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))
                .ok_or_else(|| no_period("date out of range"))?;
            let monday = this_monday
                .checked_sub_days(Days::new(7))
                .ok_or_else(|| no_period("date out of range"))?;
            let week = monday.iso_week();
            (
                monday,
                this_monday,
                format!("{}-W{:02}", week.year(), week.week()),
            )
        }
        Period::PreviousMonth => {
            let this_first = today
                .with_day(1)
                .ok_or_else(|| no_period("date out of range"))?;
            let first = this_first
                .checked_sub_months(Months::new(1))
                .ok_or_else(|| no_period("date out of range"))?;
            (first, this_first, first.format("%Y-%m").to_string())
        }
        Period::SinceLastRun => {
            let from = match last_scheduled {
                Some(last) if last < scheduled => last,
                _ => schedule
                    .latest_before(scheduled)
                    .ok_or_else(|| no_period("the schedule has no earlier run"))?,
            };
            let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y%m%dT%H%M").to_string();
            return Ok(ReportPeriod {
                from,
                to: scheduled,
                time_zone: tz,
                label: format!("{}-{}", fmt(from), fmt(scheduled)),
            });
        }
    };
    let from = start_of_day(first_day, tz).ok_or_else(|| no_period("no local midnight"))?;
    let to = start_of_day(next_first_day, tz).ok_or_else(|| no_period("no local midnight"))?;
    Ok(ReportPeriod {
        from,
        to,
        time_zone: tz,
        label,
    })
}

#[cfg(test)]
mod tests;
