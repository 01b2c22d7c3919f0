//! Date handling: the server's output format (§1.4), parsing of `from`/`to`, and whole-second
//! arithmetic (events are stored at second precision).

use chrono::{DateTime, Datelike, FixedOffset, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::json::push_2digits;

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

/// First UTC second (0001-01-01T00:00:00Z) that [`push_api_date`] formats itself.
const FAST_MIN_TS: i64 = -62_135_596_800;
/// Last UTC second (9998-12-31T23:59:59Z) that [`push_api_date`] formats itself. With any
/// offset below a day, local years stay within 0000..=9999, written with four digits.
const FAST_MAX_TS: i64 = 253_370_764_799;

/// Year, month and day of a count of days since 1970-01-01 (proleptic Gregorian calendar;
/// Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, small(month), small(day))
}

/// A small non-negative number (a day, month, year or second of the day) as `u32`.
fn small(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Appends the [`format_api_date`] text of `ts` (plus `micros`) to `out` without going through chrono's
/// formatter: the portal offset is looked up, then the fixed-width
/// `yyyy-MM-ddTHH:mm:ss.0000000` and `Z` or `±HH:mm` are written digit by digit.
pub(crate) fn push_api_date(out: &mut Vec<u8>, ts: i64, micros: u32, tz: Tz) {
    if !(FAST_MIN_TS..=FAST_MAX_TS).contains(&ts) {
        out.extend_from_slice(format_api_date(ts, tz).as_bytes());
        return;
    }
    let offset = offset_secs_at(tz, ts);
    let local = ts + i64::from(offset);
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let secs = small(local.rem_euclid(86_400));
    let year = small(year);
    push_2digits(out, year / 100);
    push_2digits(out, year % 100);
    out.push(b'-');
    push_2digits(out, month);
    out.push(b'-');
    push_2digits(out, day);
    out.push(b'T');
    push_2digits(out, secs / 3600);
    out.push(b':');
    push_2digits(out, secs / 60 % 60);
    out.push(b':');
    push_2digits(out, secs % 60);
    // Seven digits of 100 ns, as ApiDateTime writes them.
    out.push(b'.');
    let ticks = micros.min(999_999) * 10;
    for divisor in [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1] {
        out.push(b'0' + u8::try_from(ticks / divisor % 10).unwrap_or(0));
    }
    if offset == 0 {
        out.push(b'Z');
    } else {
        out.push(if offset < 0 { b'-' } else { b'+' });
        let abs = offset.unsigned_abs();
        push_2digits(out, abs / 3600);
        out.push(b':');
        push_2digits(out, (abs % 3600) / 60);
    }
}

/// Parses a `from`/`to` query value. Accepted: ISO-8601 date-time with a `Z` or `±HH:mm`
/// offset, optional fraction of any length, `T` separator, and the server's alternative
/// `yyyy-MM-ddTHH-mm-ss` time form. Date-only values and values without an offset are
/// rejected (the real server fails to bind them).
pub(crate) fn parse_api_date(value: &str) -> Option<DateTime<FixedOffset>> {
    let value = value.trim();
    if !fraction_digits_accepted(value) {
        return None;
    }
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

/// Whether a fraction of seconds, if any, has 0, 3 or 7 digits: the only lengths `ApiDateTime`
/// parses (anything else is a 400).
fn fraction_digits_accepted(value: &str) -> bool {
    // The fraction follows the seconds: `...:ss.fffZ` or `...-ss.fff+01:00`, after position 19.
    let Some(dot) = value
        .get(19..)
        .and_then(|rest| rest.find('.'))
        .map(|i| i + 19)
    else {
        return true;
    };
    let digits = value[dot + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    matches!(digits, 3 | 7)
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
    fn hand_rolled_dates_equal_chrono_formatting() {
        let zones = [
            Tz::UTC,
            chrono_tz::Europe::Berlin,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::America::St_Johns,
            chrono_tz::Pacific::Chatham,
            chrono_tz::Africa::Monrovia,
            chrono_tz::Europe::Amsterdam,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::America::Los_Angeles,
        ];
        let mut rng = fastrand::Rng::with_seed(17);
        let mut stamps = vec![
            0,
            -1,
            FAST_MIN_TS,
            FAST_MIN_TS - 1,
            FAST_MAX_TS,
            FAST_MAX_TS + 1,
            951_782_400, // 2000-02-29
            4_107_542_399,
            i64::MIN,
            i64::MAX,
        ];
        stamps.extend((0..20_000).map(|_| rng.i64(FAST_MIN_TS - 86_400..=FAST_MAX_TS + 86_400)));
        stamps.extend((0..20_000).map(|_| rng.i64(1_700_000_000..1_800_000_000)));
        for tz in zones {
            for &ts in &stamps {
                let mut out = Vec::new();
                push_api_date(&mut out, ts, 0, tz);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    format_api_date(ts, tz),
                    "{ts} {tz}"
                );
            }
        }
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
            // Fractions of other lengths than 0, 3 or 7 digits.
            "2025-03-01T00:00:00.5Z",
            "2025-03-01T00:00:00.123456Z",
            "2025-03-01T00:00:00.99999999Z",
            "2025-03-01T01:00:00.12+01:00",
        ] {
            assert!(parse_api_date(s).is_none(), "{s} accepted");
        }
        assert!(parse_api_date("2025-03-01T00:00:00.9999999Z").is_some());
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
