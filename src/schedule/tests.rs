use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn schedule(expr: &str, tz: &str) -> Schedule {
    Schedule::parse(expr, parse_time_zone(tz).unwrap()).unwrap()
}

fn period(p: Period, tz: &str, at: &str) -> ReportPeriod {
    period_for(p, &schedule("0 3 * * *", tz), utc(at), None).unwrap()
}

#[test]
fn months_of_every_length() {
    for (at, from, to, label) in [
        (
            "2025-02-01T03:00:00Z",
            "2025-01-01T00:00:00Z",
            "2025-02-01T00:00:00Z",
            "2025-01",
        ),
        (
            "2025-03-01T03:00:00Z",
            "2025-02-01T00:00:00Z",
            "2025-03-01T00:00:00Z",
            "2025-02",
        ),
        (
            "2024-03-01T03:00:00Z",
            "2024-02-01T00:00:00Z",
            "2024-03-01T00:00:00Z",
            "2024-02",
        ),
        (
            "2025-05-15T03:00:00Z",
            "2025-04-01T00:00:00Z",
            "2025-05-01T00:00:00Z",
            "2025-04",
        ),
        (
            "2025-01-01T03:00:00Z",
            "2024-12-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "2024-12",
        ),
    ] {
        let p = period(Period::PreviousMonth, "UTC", at);
        assert_eq!(
            (p.from, p.to, p.label.as_str()),
            (utc(from), utc(to), label),
            "at {at}"
        );
    }
    let feb_leap = period(Period::PreviousMonth, "UTC", "2024-03-10T00:00:00Z");
    assert_eq!((feb_leap.to - feb_leap.from).num_days(), 29);
    let feb = period(Period::PreviousMonth, "UTC", "2025-03-10T00:00:00Z");
    assert_eq!((feb.to - feb.from).num_days(), 28);
}

#[test]
fn month_in_a_zone_and_dst() {
    // March 2025 in Berlin: starts at +01:00, ends at +02:00 (DST began 30 March).
    let p = period(
        Period::PreviousMonth,
        "Europe/Berlin",
        "2025-04-01T01:00:00Z",
    );
    assert_eq!(p.from, utc("2025-02-28T23:00:00Z"));
    assert_eq!(p.to, utc("2025-03-31T22:00:00Z"));
    assert_eq!(p.to - p.from, TimeDelta::hours(31 * 24 - 1));
    assert_eq!(p.to_inclusive(), utc("2025-03-31T21:59:59.9999999Z"));
    assert_eq!(p.from_local(), "2025-03-01T00:00:00+01:00");
}

#[test]
fn iso_weeks_across_dst_changes() {
    // The week of 2025-03-24 in Berlin holds the spring change: 167 hours.
    let p = period(
        Period::PreviousWeek,
        "Europe/Berlin",
        "2025-04-02T10:00:00Z",
    );
    assert_eq!(p.label, "2025-W13");
    assert_eq!(p.from, utc("2025-03-23T23:00:00Z"));
    assert_eq!(p.to - p.from, TimeDelta::hours(167));
    // New York's autumn change on 2025-11-02 makes that week 169 hours long.
    let p = period(
        Period::PreviousWeek,
        "America/New_York",
        "2025-11-03T12:00:00Z",
    );
    assert_eq!(p.label, "2025-W44");
    assert_eq!(p.from, utc("2025-10-27T04:00:00Z"));
    assert_eq!(p.to - p.from, TimeDelta::hours(169));
    // A Monday run reports the week before, not the one starting that day.
    let p = period(Period::PreviousWeek, "UTC", "2025-01-06T00:00:00Z");
    assert_eq!(
        (p.from, p.label.as_str()),
        (utc("2024-12-30T00:00:00Z"), "2025-W01")
    );
}

#[test]
fn days_across_dst_and_year_ends() {
    let p = period(
        Period::PreviousDay,
        "America/New_York",
        "2025-03-10T12:00:00Z",
    );
    assert_eq!(
        (p.from, p.to - p.from),
        (utc("2025-03-09T05:00:00Z"), TimeDelta::hours(23))
    );
    let p = period(Period::PreviousDay, "UTC", "2025-01-01T00:00:00Z");
    assert_eq!(p.label, "2024-12-31");
    // Before local midnight in Tokyo it is already the next day there.
    let p = period(Period::PreviousDay, "Asia/Tokyo", "2025-06-30T16:00:00Z");
    assert_eq!(p.label, "2025-06-30");
}

#[test]
fn since_last_run_uses_the_last_or_previous_schedule() {
    let s = schedule("0 */6 * * *", "UTC");
    let at = utc("2025-03-01T12:00:00Z");
    let p = period_for(Period::SinceLastRun, &s, at, None).unwrap();
    assert_eq!((p.from, p.to), (utc("2025-03-01T06:00:00Z"), at));
    let p = period_for(
        Period::SinceLastRun,
        &s,
        at,
        Some(utc("2025-02-28T00:00:00Z")),
    )
    .unwrap();
    assert_eq!(p.from, utc("2025-02-28T00:00:00Z"));
}

#[test]
fn cron_is_evaluated_in_the_zone() {
    let s = schedule("0 3 1 * *", "Europe/Berlin");
    assert_eq!(
        s.next_after(utc("2025-03-15T00:00:00Z")),
        Some(utc("2025-04-01T01:00:00Z"))
    );
    assert_eq!(
        s.latest_at_or_before(utc("2025-04-01T01:00:00Z")),
        Some(utc("2025-04-01T01:00:00Z"))
    );
    let daily = schedule("@daily", "UTC");
    assert_eq!(
        daily.next_after(utc("2025-03-15T10:00:00Z")),
        Some(utc("2025-03-16T00:00:00Z"))
    );
}

#[test]
fn bad_schedules_and_zones_are_rejected() {
    let tz = parse_time_zone("UTC").unwrap();
    for bad in [
        "",
        "* * * *",
        "0 0 * * * *",
        "61 * * * *",
        "CRON_TZ=UTC 0 0 * * *",
        "TZ=UTC 0 0 * * *",
    ] {
        assert!(
            Schedule::parse(bad, tz).is_err(),
            "{bad:?} should be rejected"
        );
    }
    assert!(Schedule::parse("0 3 ? * MON", tz).is_ok());
    assert!(matches!(
        parse_time_zone("Mars/Olympus"),
        Err(ScheduleError::UnknownTimeZone(_))
    ));
}
