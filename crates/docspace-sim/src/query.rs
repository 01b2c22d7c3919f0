//! Query-string parsing and model binding of the audit and login filters (§1.1, §3.1), with the
//! server's validation failures.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use docspace_catalog::{ACTION_TYPES, ActionCatalog, ENTRY_TYPES, LOCATION_TYPES};

use super::dates::{ceil_secs, floor_secs, parse_api_date};
use super::envelope::{ValidationErrors, not_valid};
use super::guid::{EMPTY_GUID, parse_guid};

/// Default and maximum page size.
pub(crate) const MAX_COUNT: usize = 100;

/// Decoded query parameters, in order; names compare case-insensitively like ASP.NET binding.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses an `application/x-www-form-urlencoded` query string (`+` is a space).
    pub fn parse(raw: Option<&str>) -> Self {
        let Some(raw) = raw else {
            return Self::default();
        };
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self(pairs)
    }

    /// First non-empty value of `name` (empty values bind as missing).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Handlers take the decoded query string as an argument.
impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query()))
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a query component; `+` means space.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parameters both filter endpoints bind; `GET /api/2.0/security/audit/login/filter` takes
/// exactly these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventFilter {
    /// Lowercase hyphenated user id; `None` also for `Guid.Empty`.
    pub user_id: Option<String>,
    /// Exact `MessageAction`; `None` for missing, 0 or -1.
    pub action: Option<i32>,
    /// Inclusive lower bound, whole UTC seconds.
    pub from: Option<i64>,
    /// `from` in microseconds, exactly as sent.
    pub from_us: Option<i64>,
    /// Inclusive upper bound, whole UTC seconds.
    pub to: Option<i64>,
    /// `to` in microseconds, exactly as sent (sub-microsecond digits dropped).
    pub to_us: Option<i64>,
    /// Page size, 1..=100.
    pub count: usize,
    /// Offset.
    pub start_index: usize,
}

/// Parameters of `GET /api/2.0/security/audit/events/filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AuditFilter {
    /// User, action, date window and page, bound as for login events.
    pub common: EventFilter,
    /// `ActionType`; `None` for missing or 0.
    pub action_type: Option<i32>,
    /// `EntryType`; `None` for missing or 0.
    pub entry_type: Option<i32>,
    /// Target filter value.
    pub target: Option<String>,
    /// `LocationType` of `moduleType`; `None` for missing or 0.
    pub module_type: Option<i32>,
}

struct Binder<'a> {
    params: &'a Params,
    errors: ValidationErrors,
}

impl<'a> Binder<'a> {
    fn new(params: &'a Params) -> Self {
        Self {
            params,
            errors: ValidationErrors::new(),
        }
    }

    fn invalid(&mut self, key: &str, value: &str) {
        self.errors
            .entry(key.to_owned())
            .or_default()
            .push(not_valid(key, value));
    }

    /// Binds `name` with `parse`; reports an error under `key` when it fails.
    fn bind<T>(&mut self, name: &str, key: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let value = self.params.get(name)?;
        let parsed = parse(value.trim());
        if parsed.is_none() {
            self.invalid(key, value);
        }
        parsed
    }

    /// Binds an enum given by number or by (case-insensitive) name; 0 (`None`) binds as
    /// missing.
    fn enumeration(
        &mut self,
        name: &str,
        key: &str,
        by_name: impl Fn(&str) -> Option<i32>,
    ) -> Option<i32> {
        self.bind(name, key, |v| v.parse::<i32>().ok().or_else(|| by_name(v)))
            .filter(|&v| v != 0)
    }

    fn date(&mut self, name: &str, key: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        self.bind(name, key, parse_api_date)
    }

    /// The parameters both endpoints bind.
    fn common(&mut self) -> EventFilter {
        let from = self.date("from", "From");
        let to = self.date("to", "To");
        EventFilter {
            user_id: self
                .bind("userId", "UserId", parse_guid)
                .filter(|g| g != EMPTY_GUID),
            action: self
                .enumeration("action", "Action", message_action_id)
                .filter(|&a| a != -1),
            from: from.map(|d| ceil_secs(&d)),
            from_us: from.map(|d| {
                let us = d.timestamp_micros();
                // Round up: a bound between two microseconds excludes the earlier one.
                if d.timestamp_subsec_nanos() % 1000 > 0 {
                    us + 1
                } else {
                    us
                }
            }),
            to: to.map(|d| floor_secs(&d)),
            to_us: to.map(|d| d.timestamp_micros()),
            count: self.count(),
            start_index: self.start_index(),
        }
    }

    fn count(&mut self) -> usize {
        let Some(value) = self.params.get("count") else {
            return MAX_COUNT;
        };
        match value.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => usize::try_from(n).unwrap_or(MAX_COUNT),
            Ok(_) => {
                self.errors
                    .entry("Count".to_owned())
                    .or_default()
                    .push("The field Count must be between 1 and 100.".to_owned());
                MAX_COUNT
            }
            Err(_) => {
                self.invalid("Count", value);
                MAX_COUNT
            }
        }
    }

    fn start_index(&mut self) -> usize {
        self.bind("startIndex", "StartIndex", |v| v.parse::<i32>().ok())
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    }

    fn finish<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

/// The `MessageAction` id of an enum name, matched case-insensitively like ASP.NET binding.
fn message_action_id(name: &str) -> Option<i32> {
    ActionCatalog::get()
        .all()
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.id)
}

/// Binds the audit filter parameters.
pub(crate) fn parse_audit(params: &Params) -> Result<AuditFilter, ValidationErrors> {
    let mut b = Binder::new(params);
    let filter = AuditFilter {
        common: b.common(),
        action_type: b.enumeration("actionType", "ActionType", |n| ACTION_TYPES.id_of(n)),
        entry_type: b.enumeration("entryType", "EntryType", |n| ENTRY_TYPES.id_of(n)),
        target: params.get("target").map(str::to_owned),
        module_type: b.enumeration("moduleType", "ModuleType", |n| LOCATION_TYPES.id_of(n)),
    };
    b.finish(filter)
}

/// Binds the login filter parameters.
pub(crate) fn parse_login(params: &Params) -> Result<EventFilter, ValidationErrors> {
    let mut b = Binder::new(params);
    let filter = b.common();
    b.finish(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Params {
        Params::parse(Some(q))
    }

    #[test]
    fn decodes_percent_and_plus() {
        let params = p("to=2025-03-01T00%3A00%3A00%2B01%3A00&from=a+b&x=%zz&Count=5");
        assert_eq!(params.get("to"), Some("2025-03-01T00:00:00+01:00"));
        assert_eq!(params.get("FROM"), Some("a b"));
        assert_eq!(params.get("x"), Some("%zz"));
        assert_eq!(params.get("count"), Some("5"));
        assert_eq!(Params::parse(Some("a=%4")).get("a"), Some("%4"));
    }

    #[test]
    fn defaults() {
        let f = parse_audit(&p("")).unwrap().common;
        assert_eq!(f.count, 100);
        assert_eq!(f.start_index, 0);
        assert_eq!(f.action, None);
        assert_eq!(f, parse_login(&p("")).unwrap());
    }

    #[test]
    fn count_validation() {
        for bad in ["0", "101", "-1", "abc", "1.5"] {
            let errors = parse_audit(&p(&format!("count={bad}"))).unwrap_err();
            assert!(errors.contains_key("Count"), "{bad}");
        }
        assert_eq!(parse_audit(&p("count=1")).unwrap().common.count, 1);
        assert_eq!(parse_audit(&p("count=100")).unwrap().common.count, 100);
        assert_eq!(parse_login(&p("count=7")).unwrap().count, 7);
        assert!(parse_login(&p("count=1000")).is_err());
    }

    #[test]
    fn dates_must_have_offsets() {
        assert!(
            parse_audit(&p("from=2025-03-01"))
                .unwrap_err()
                .contains_key("From")
        );
        assert!(
            parse_audit(&p("to=2025-03-01T00:00:00"))
                .unwrap_err()
                .contains_key("To")
        );
        let f = parse_login(&p(
            "from=2025-03-01T00:00:00.500Z&to=2025-03-01T00:00:09.900Z",
        ))
        .unwrap();
        assert_eq!(f.from, Some(1_740_787_201));
        assert_eq!(f.to, Some(1_740_787_209));
    }

    #[test]
    fn enums_by_number_or_name_and_none_values() {
        let f = parse_audit(&p(
            "action=FileUploaded&actionType=upload&entryType=File&moduleType=Files",
        ))
        .unwrap();
        assert_eq!(f.common.action, Some(5011));
        assert_eq!(f.action_type, Some(13));
        assert_eq!(f.entry_type, Some(1));
        assert_eq!(f.module_type, Some(1));
        let f = parse_audit(&p("action=0&actionType=0&moduleType=0")).unwrap();
        assert_eq!(
            (f.common.action, f.action_type, f.module_type),
            (None, None, None)
        );
        assert_eq!(parse_login(&p("action=None")).unwrap().action, None);
        assert_eq!(parse_login(&p("action=logout")).unwrap().action, Some(1006));
        assert!(
            parse_audit(&p("action=NoSuchAction"))
                .unwrap_err()
                .contains_key("Action")
        );
        assert_eq!(parse_login(&p("startIndex=-5")).unwrap().start_index, 0);
        assert!(parse_audit(&p("startIndex=x")).is_err());
    }

    #[test]
    fn user_ids() {
        let f = parse_login(&p("userId=6B0F7B1E2A1C4B8E9D2A0C1F5E6A7B8C")).unwrap();
        assert_eq!(
            f.user_id.as_deref(),
            Some("6b0f7b1e-2a1c-4b8e-9d2a-0c1f5e6a7b8c")
        );
        let f = parse_login(&p("userId=00000000-0000-0000-0000-000000000000")).unwrap();
        assert_eq!(f.user_id, None);
        assert!(
            parse_audit(&p("userId=123"))
                .unwrap_err()
                .contains_key("UserId")
        );
    }
}
