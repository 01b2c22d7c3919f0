//! Query-string parsing and model binding of the audit and login filters (§1.1, §3.1), with the
//! server's validation failures.

use super::action_names::action_id_by_name;
use super::catalog::{ENTRY_TYPE_NAMES, LOCATION_TYPE_NAMES, action_type_by_name, value_by_name};
use super::dates::{ceil_secs, floor_secs, parse_api_date};
use super::envelope::ValidationErrors;

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

/// Parameters of `GET /api/2.0/security/audit/events/filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AuditFilter {
    /// Lowercase hyphenated user id; `None` also for `Guid.Empty`.
    pub user_id: Option<String>,
    /// Exact `MessageAction`; `None` for missing, 0 or -1.
    pub action: Option<i32>,
    /// `ActionType`; `None` for missing or 0.
    pub action_type: Option<i32>,
    /// `EntryType`; `None` for missing or 0.
    pub entry_type: Option<i32>,
    /// Target filter value.
    pub target: Option<String>,
    /// `LocationType` of `moduleType`; `None` for missing or 0.
    pub module_type: Option<i32>,
    /// Inclusive lower bound, whole UTC seconds.
    pub from: Option<i64>,
    /// Inclusive upper bound, whole UTC seconds.
    pub to: Option<i64>,
    /// Page size, 1..=100.
    pub count: usize,
    /// Offset.
    pub start_index: usize,
}

/// Parameters of `GET /api/2.0/security/audit/login/filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoginFilter {
    /// Lowercase hyphenated user id; `None` also for `Guid.Empty`.
    pub user_id: Option<String>,
    /// Exact `MessageAction`.
    pub action: Option<i32>,
    /// Inclusive lower bound, whole UTC seconds.
    pub from: Option<i64>,
    /// Inclusive upper bound, whole UTC seconds.
    pub to: Option<i64>,
    /// Page size, 1..=100.
    pub count: usize,
    /// Offset.
    pub start_index: usize,
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
            .push(format!("The value '{value}' is not valid for {key}."));
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

    fn user_id(&mut self) -> Option<String> {
        self.bind("userId", "UserId", parse_guid)
            .filter(|g| g != "00000000-0000-0000-0000-000000000000")
    }

    fn action(&mut self) -> Option<i32> {
        self.bind("action", "Action", |v| {
            v.parse::<i32>().ok().or_else(|| action_id_by_name(v))
        })
        .filter(|&a| a != 0 && a != -1)
    }

    fn date(&mut self, name: &str, key: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        self.bind(name, key, parse_api_date)
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

fn enum_value(v: &str, by_name: impl Fn(&str) -> Option<i32>) -> Option<i32> {
    v.parse::<i32>().ok().or_else(|| by_name(v))
}

/// Parses a GUID in any of .NET's `N`, `D`, `B` or `P` forms into lowercase `D` form.
pub(crate) fn parse_guid(value: &str) -> Option<String> {
    let inner = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('(').and_then(|v| v.strip_suffix(')')))
        .unwrap_or(value);
    let hex: String = if inner.len() == 36 {
        let b = inner.as_bytes();
        if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        inner.chars().filter(|&c| c != '-').collect()
    } else if inner.len() == 32 {
        inner.to_owned()
    } else {
        return None;
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Binds the audit filter parameters.
pub(crate) fn parse_audit(params: &Params) -> Result<AuditFilter, ValidationErrors> {
    let mut b = Binder::new(params);
    let user_id = b.user_id();
    let action = b.action();
    let action_type = b
        .bind("actionType", "ActionType", |v| {
            enum_value(v, action_type_by_name)
        })
        .filter(|&t| t != 0);
    let entry_type = b
        .bind("entryType", "EntryType", |v| {
            enum_value(v, |n| value_by_name(ENTRY_TYPE_NAMES, n))
        })
        .filter(|&t| t != 0);
    let module_type = b
        .bind("moduleType", "ModuleType", |v| {
            enum_value(v, |n| value_by_name(LOCATION_TYPE_NAMES, n))
        })
        .filter(|&t| t != 0);
    let target = params.get("target").map(str::to_owned);
    let from = b.date("from", "From").map(|d| ceil_secs(&d));
    let to = b.date("to", "To").map(|d| floor_secs(&d));
    let count = b.count();
    let start_index = b.start_index();
    b.finish(AuditFilter {
        user_id,
        action,
        action_type,
        entry_type,
        target,
        module_type,
        from,
        to,
        count,
        start_index,
    })
}

/// Binds the login filter parameters.
pub(crate) fn parse_login(params: &Params) -> Result<LoginFilter, ValidationErrors> {
    let mut b = Binder::new(params);
    let user_id = b.user_id();
    let action = b.action();
    let from = b.date("from", "From").map(|d| ceil_secs(&d));
    let to = b.date("to", "To").map(|d| floor_secs(&d));
    let count = b.count();
    let start_index = b.start_index();
    b.finish(LoginFilter {
        user_id,
        action,
        from,
        to,
        count,
        start_index,
    })
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
        let f = parse_audit(&p("")).unwrap();
        assert_eq!(f.count, 100);
        assert_eq!(f.start_index, 0);
        assert_eq!(f.action, None);
    }

    #[test]
    fn count_validation() {
        for bad in ["0", "101", "-1", "abc", "1.5"] {
            let errors = parse_audit(&p(&format!("count={bad}"))).unwrap_err();
            assert!(errors.contains_key("Count"), "{bad}");
        }
        assert_eq!(parse_audit(&p("count=1")).unwrap().count, 1);
        assert_eq!(parse_audit(&p("count=100")).unwrap().count, 100);
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
        let f = parse_audit(&p("from=2025-03-01T00:00:00.5Z&to=2025-03-01T00:00:09.9Z")).unwrap();
        assert_eq!(f.from, Some(1_740_787_201));
        assert_eq!(f.to, Some(1_740_787_209));
    }

    #[test]
    fn enums_by_number_or_name_and_none_values() {
        let f = parse_audit(&p(
            "action=FileUploaded&actionType=upload&entryType=File&moduleType=Files",
        ))
        .unwrap();
        assert_eq!(f.action, Some(5011));
        assert_eq!(f.action_type, Some(13));
        assert_eq!(f.entry_type, Some(1));
        assert_eq!(f.module_type, Some(1));
        let f = parse_audit(&p("action=0&actionType=0&moduleType=0")).unwrap();
        assert_eq!((f.action, f.action_type, f.module_type), (None, None, None));
        assert!(
            parse_audit(&p("action=NoSuchAction"))
                .unwrap_err()
                .contains_key("Action")
        );
        assert_eq!(parse_audit(&p("startIndex=-5")).unwrap().start_index, 0);
        assert!(parse_audit(&p("startIndex=x")).is_err());
    }

    #[test]
    fn guids() {
        let d = "6b0f7b1e-2a1c-4b8e-9d2a-0c1f5e6a7b8c";
        assert_eq!(parse_guid(d).as_deref(), Some(d));
        assert_eq!(parse_guid(&d.to_uppercase()).as_deref(), Some(d));
        assert_eq!(parse_guid(&d.replace('-', "")).as_deref(), Some(d));
        assert_eq!(parse_guid(&format!("{{{d}}}")).as_deref(), Some(d));
        assert_eq!(parse_guid("nope"), None);
        let f = parse_audit(&p("userId=00000000-0000-0000-0000-000000000000")).unwrap();
        assert_eq!(f.user_id, None);
        assert!(
            parse_audit(&p("userId=123"))
                .unwrap_err()
                .contains_key("UserId")
        );
    }
}
