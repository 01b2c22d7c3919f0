//! Date handling: the server's output format (§1.4), parsing of `from`/`to`, and whole-second
//! arithmetic (events are stored at second precision).

use chrono::{DateTime, Datelike, FixedOffset, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Start and exclusive end of the calendar month before the one containing `now`, in UTC.
pub fn previous_month_utc(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let (year, month) = (now.year(), now.month());
    let (prev_year, prev_month) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    let start = Utc
        .with_ymd_and_hms(prev_year, prev_month, 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let end = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    (start, end)
}

/// Renders a UTC timestamp (whole seconds) like `ApiDateTime`: portal-local time,
/// `yyyy-MM-ddTHH:mm:ss.fffffff`, then `Z` for offset 0 or `±HH:mm`.
pub(crate) fn format_api_date(ts: i64, tz: Tz) -> String {
    let utc = DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default();
    let local = utc.with_timezone(&tz);
    let offset = local.offset().fix().local_minus_utc();
    // Stored dates have whole seconds, so the seven fraction digits are always zero.
    let stamp = local.format("%Y-%m-%dT%H:%M:%S.0000000");
    if offset == 0 {
        format!("{stamp}Z")
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        format!("{stamp}{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
    }
}

/// Parses a `from`/`to` query value. Accepted: ISO-8601 date-time with a `Z` or `±HH:mm`
/// offset, optional fraction of any length, `T` separator, and the server's alternative
/// `yyyy-MM-ddTHH-mm-ss` time form. Date-only values and values without an offset are
/// rejected (the real server fails to bind them).
pub(crate) fn parse_api_date(value: &str) -> Option<DateTime<FixedOffset>> {
    let value = value.trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(value) {
        return Some(parsed);
    }
    // `yyyy-MM-ddTHH-mm-ss[.f]K`: dashes instead of colons in the time part.
    let bytes = value.as_bytes();
    if bytes.len() >= 20 && bytes[10].eq_ignore_ascii_case(&b'T') && bytes[13] == b'-' {
        if bytes[16] != b'-' {
            return None;
        }
        let mut fixed = String::with_capacity(value.len());
        fixed.push_str(&value[..13]);
        fixed.push(':');
        fixed.push_str(&value[14..16]);
        fixed.push(':');
        fixed.push_str(&value[17..]);
        return DateTime::parse_from_rfc3339(&fixed).ok();
    }
    None
}

/// Smallest whole second `s` with `s >= t`.
pub(crate) fn ceil_secs<Z: TimeZone>(t: &DateTime<Z>) -> i64 {
    let secs = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// Largest whole second `s` with `s <= t`.
pub(crate) fn floor_secs<Z: TimeZone>(t: &DateTime<Z>) -> i64 {
    t.timestamp()
}

/// Offset of `tz` from UTC, in seconds, at the instant `ts`.
pub(crate) fn offset_secs_at(tz: Tz, ts: i64) -> i32 {
    let utc = DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default();
    tz.offset_from_utc_datetime(&utc.naive_utc())
        .fix()
        .local_minus_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn formats_utc_with_z_and_seven_zero_digits() {
        let ts = utc("2025-03-14T14:22:41Z").timestamp();
        assert_eq!(format_api_date(ts, Tz::UTC), "2025-03-14T14:22:41.0000000Z");
    }

    #[test]
    fn formats_portal_zone_with_offset() {
        let ts = utc("2025-03-14T14:22:41Z").timestamp();
        assert_eq!(
            format_api_date(ts, chrono_tz::Europe::Berlin),
            "2025-03-14T15:22:41.0000000+01:00"
        );
        assert_eq!(
            format_api_date(ts, chrono_tz::America::New_York),
            "2025-03-14T10:22:41.0000000-04:00"
        );
        assert_eq!(
            format_api_date(ts, chrono_tz::Asia::Kolkata),
            "2025-03-14T19:52:41.0000000+05:30"
        );
    }

    #[test]
    fn parses_accepted_forms() {
        let expected = utc("2025-03-01T00:00:00Z");
        for s in [
            "2025-03-01T00:00:00Z",
            "2025-03-01T00:00:00.000Z",
            "2025-03-01T00:00:00.0000000Z",
            "2025-03-01T01:00:00+01:00",
            "2025-03-01T00-00-00Z",
            "2025-03-01T00-00-00.000Z",
        ] {
            let parsed = parse_api_date(s).unwrap_or_else(|| panic!("{s} rejected"));
            assert_eq!(parsed.with_timezone(&Utc), expected, "{s}");
        }
    }

    #[test]
    fn rejects_date_only_missing_offset_and_garbage() {
        for s in [
            "2025-03-01",
            "2025-03-01T00:00:00",
            "2025-03-01T00:00:00 01:00",
            "yesterday",
            "",
            "2025-13-01T00:00:00Z",
        ] {
            assert!(parse_api_date(s).is_none(), "{s} accepted");
        }
    }

    #[test]
    fn whole_second_rounding() {
        let t = utc("2025-03-01T00:00:00.5Z");
        assert_eq!(ceil_secs(&t), t.timestamp() + 1);
        assert_eq!(floor_secs(&t), t.timestamp());
        let whole = utc("2025-03-01T00:00:00Z");
        assert_eq!(ceil_secs(&whole), whole.timestamp());
    }

    #[test]
    fn previous_month_wraps_year() {
        let (from, to) = previous_month_utc(utc("2026-01-15T10:00:00Z"));
        assert_eq!(from, utc("2025-12-01T00:00:00Z"));
        assert_eq!(to, utc("2026-01-01T00:00:00Z"));
        let (from, to) = previous_month_utc(utc("2025-03-31T23:59:59Z"));
        assert_eq!(from, utc("2025-02-01T00:00:00Z"));
        assert_eq!(to, utc("2025-03-01T00:00:00Z"));
    }
}
