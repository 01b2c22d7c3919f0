//! Audit and login events as the client hands them on: every instant in UTC, every enum a raw
//! integer (new values appear with each server release), every optional field optional.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dates;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// `/api/2.0/security/audit/events/filter`.
    Audit,
    /// `/api/2.0/security/audit/login/filter`.
    Login,
}

impl Source {
    /// A short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audit => "audit",
            Self::Login => "login",
        }
    }

    /// The endpoint's name in errors and logs.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Audit => "audit events",
            Self::Login => "login history",
        }
    }
}

/// One audit or login event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Which source the event came from.
    pub source: Source,
    /// The server's row id; unique within a source.
    pub id: i64,
    /// When it happened, in UTC.
    pub date: DateTime<Utc>,
    /// Display name of the user.
    pub user: Option<String>,
    /// User id (UUID).
    pub user_id: Option<String>,
    /// The login (email) used; login history only.
    pub login: Option<String>,
    /// The server's localized description; display only.
    pub action: Option<String>,
    /// `MessageAction` id.
    pub action_id: i32,
    /// `ActionType` id; audit events only.
    pub action_type: Option<i32>,
    /// `LocationType` id (`module` on servers before 3.5).
    pub location: Option<i32>,
    /// `ProductType` id.
    pub product: Option<i32>,
    /// Client IP as the server stored it (IPv6 addresses arrive truncated at the first `:`).
    pub ip: Option<String>,
    /// GeoIP country.
    pub country: Option<String>,
    /// GeoIP city.
    pub city: Option<String>,
    /// Browser family and major version.
    pub browser: Option<String>,
    /// Operating system and device.
    pub platform: Option<String>,
    /// Referer or request path.
    pub page: Option<String>,
    /// Target ids (file, folder, room or user ids).
    pub target: Vec<String>,
    /// `EntryType` ids of the targets.
    pub entries: Vec<i32>,
    /// Where it happened, e.g. `Rooms: Legal`.
    pub context: Option<String>,
}

impl Event {
    /// A digest of the whole event, to tell a repeated event from a different one that
    /// reuses its id (valid within one process).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::BuildHasher;
        foldhash::quality::FixedState::default().hash_one(self)
    }
}

/// The wire shape of `AuditEventDto` and `LoginEventDto`. Unknown fields are ignored and every
/// field but `id`, `date` and `actionId` may be missing.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireEvent {
    id: i64,
    date: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    action_id: Option<i32>,
    #[serde(default)]
    action_type: Option<i32>,
    #[serde(default, alias = "module")]
    location: Option<i32>,
    #[serde(default)]
    product: Option<i32>,
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    browser: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    target: Option<Targets>,
    #[serde(default)]
    entries: Option<Vec<i32>>,
    #[serde(default)]
    context: Option<String>,
}

/// `target` is an array of strings on current servers; tolerate a plain comma-joined string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Targets {
    List(Vec<serde_json::Value>),
    Joined(String),
}

impl Targets {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::List(items) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            Self::Joined(s) => s
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

impl WireEvent {
    /// Converts to an [`Event`], normalising the date to UTC.
    pub(crate) fn into_event(self, source: Source) -> Result<Event, String> {
        let date = dates::parse(&self.date).map_err(|e| {
            format!(
                "event {} has an unreadable date {:?}: {e}",
                self.id, self.date
            )
        })?;
        Ok(Event {
            source,
            id: self.id,
            date,
            user: self.user,
            user_id: self.user_id,
            login: self.login,
            action: self.action,
            action_id: self.action_id.unwrap_or(-1),
            action_type: self.action_type,
            location: self.location,
            product: self.product,
            ip: self.ip,
            country: self.country,
            city: self.city,
            browser: self.browser,
            platform: self.platform,
            page: self.page,
            target: self.target.map(Targets::into_vec).unwrap_or_default(),
            entries: self.entries.unwrap_or_default(),
            context: self.context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sparse_and_extended_events() {
        let json = r#"[
          {"id":1,"date":"2025-03-14T15:22:41.0000000+01:00","actionId":5011,"target":["23817"],
           "entries":[1],"module":1,"somethingNew":{"x":1}},
          {"id":2,"date":"2025-03-14T14:00:00.0000000Z","actionId":1000,"login":"a@b.c","target":"1,2"}
        ]"#;
        let wire: Vec<WireEvent> = serde_json::from_str(json).unwrap();
        let events: Vec<Event> = wire
            .into_iter()
            .map(|w| w.into_event(Source::Audit).unwrap())
            .collect();
        assert_eq!(events[0].date.to_rfc3339(), "2025-03-14T14:22:41+00:00");
        assert_eq!(events[0].location, Some(1));
        assert_eq!(events[0].user, None);
        assert_eq!(events[1].target, vec!["1", "2"]);
        assert_eq!(events[1].login.as_deref(), Some("a@b.c"));
    }

    #[test]
    fn reports_an_unreadable_date() {
        let wire: WireEvent = serde_json::from_str(r#"{"id":7,"date":"yesterday"}"#).unwrap();
        let err = wire.into_event(Source::Audit).unwrap_err();
        assert!(err.contains("event 7"), "{err}");
    }
}
