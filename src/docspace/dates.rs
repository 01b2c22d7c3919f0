//! DocSpace's date format on the wire.
//!
//! The server writes `yyyy-MM-ddTHH:mm:ss.fffffff` followed by `Z` or `±HH:mm`, in the portal's
//! time zone. Queries are sent as UTC with a trailing `Z`, which the server compares against its
//! UTC column.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses a DocSpace date into a UTC instant. Accepts 7-digit fractions and `Z` or an offset.
pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|d| d.with_timezone(&Utc))
}

/// Formats an instant for a `from`/`to` query parameter: UTC with a trailing `Z`, whole
/// seconds or, when it has a fraction, exactly seven fraction digits (the server parses 0, 3 or
/// 7 digits and rejects any other length with 400).
pub fn to_query(instant: DateTime<Utc>) -> String {
    let nanos = instant.timestamp_subsec_nanos();
    if nanos == 0 {
        return instant.to_rfc3339_opts(SecondsFormat::Secs, true);
    }
    format!(
        "{}.{:07}Z",
        instant.format("%Y-%m-%dT%H:%M:%S"),
        nanos / 100
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries_have_no_fraction_or_seven_digits() {
        let whole = super::parse("2025-03-31T23:59:59Z").unwrap();
        assert_eq!(super::to_query(whole), "2025-03-31T23:59:59Z");
        let last =
            super::parse("2025-04-01T00:00:00Z").unwrap() - chrono::TimeDelta::nanoseconds(100);
        assert_eq!(super::to_query(last), "2025-03-31T23:59:59.9999999Z");
        let micro = super::parse("2025-03-31T23:59:59.000001Z").unwrap();
        assert_eq!(super::to_query(micro), "2025-03-31T23:59:59.0000010Z");
    }

    use super::*;

    #[test]
    fn parses_portal_local_dates_with_seven_digit_fractions() {
        let berlin = parse("2025-03-14T15:22:41.0000000+01:00").unwrap();
        let utc = parse("2025-03-14T14:22:41.0000000Z").unwrap();
        assert_eq!(berlin, utc);
        assert_eq!(to_query(berlin), "2025-03-14T14:22:41Z");
    }

    #[test]
    fn rejects_dates_without_offset() {
        assert!(parse("2025-03-14T15:22:41").is_err());
        assert!(parse("2025-03-14").is_err());
    }
}
