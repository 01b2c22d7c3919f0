//! One event prepared for rendering: names looked up and times formatted once, shared by every
//! format.

use std::borrow::Cow;

use chrono::SecondsFormat;
use chrono_tz::Tz;
use serde::Serialize;

use crate::docspace::Event;
use crate::docspace::catalog::{ACTION_TYPES, ActionCatalog, ENTRY_TYPES, LOCATION_TYPES};
use crate::report::categories::CategoryMap;

/// Stable, English field names; the `ndjson` format serialises exactly this.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView<'a> {
    /// `audit` or `login`.
    pub source: &'static str,
    /// DocSpace row id.
    pub id: i64,
    /// UTC, RFC 3339 with `Z`.
    pub time_utc: String,
    /// In the report's time zone, RFC 3339 with offset.
    pub time_local: String,
    /// `MessageAction` id.
    pub action_id: i32,
    /// `MessageAction` name, or `Unknown(<id>)`.
    pub action_name: Cow<'static, str>,
    /// Compliance category id (see `data/compliance-categories.json`).
    pub category: &'static str,
    /// The report section that analyses its category (`""` when uncategorised).
    pub section: &'static str,
    /// `ActionType` name, if any.
    pub action_type: Option<&'static str>,
    /// `LocationType` name, if any.
    pub location: Option<&'static str>,
    /// Display name of the user.
    pub user: Option<&'a str>,
    /// User id.
    pub user_id: Option<&'a str>,
    /// Login used (login history).
    pub login: Option<&'a str>,
    /// The server's description.
    pub description: Option<&'a str>,
    /// Targets.
    pub targets: &'a [String],
    /// Entry type names of the targets.
    pub entry_types: Vec<&'static str>,
    /// Context, e.g. `Rooms: Legal`.
    pub context: Option<&'a str>,
    /// Client IP.
    pub ip: Option<&'a str>,
    /// GeoIP country.
    pub country: Option<&'a str>,
    /// GeoIP city.
    pub city: Option<&'a str>,
    /// Browser.
    pub browser: Option<&'a str>,
    /// Platform.
    pub platform: Option<&'a str>,
    /// Page.
    pub page: Option<&'a str>,
}

impl<'a> EventView<'a> {
    /// Prepares `event` for rendering in `time_zone`.
    pub fn new(event: &'a Event, time_zone: Tz) -> Self {
        Self {
            source: event.source.as_str(),
            id: event.id,
            time_utc: event.date.to_rfc3339_opts(SecondsFormat::Secs, true),
            time_local: event
                .date
                .with_timezone(&time_zone)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            action_id: event.action_id,
            action_name: action_name(event.action_id),
            category: CategoryMap::get().id_of(event.action_id),
            section: CategoryMap::get().section_of(event.action_id),
            action_type: event.action_type.and_then(|t| ACTION_TYPES.name_of(t)),
            location: event.location.and_then(|l| LOCATION_TYPES.name_of(l)),
            user: event.user.as_deref(),
            user_id: event.user_id.as_deref(),
            login: event.login.as_deref(),
            description: event.action.as_deref(),
            targets: &event.target,
            entry_types: event
                .entries
                .iter()
                .filter_map(|e| ENTRY_TYPES.name_of(*e))
                .collect(),
            context: event.context.as_deref(),
            ip: event.ip.as_deref(),
            country: event.country.as_deref(),
            city: event.city.as_deref(),
            browser: event.browser.as_deref(),
            platform: event.platform.as_deref(),
            page: event.page.as_deref(),
        }
    }

    /// The user as a reader wants it: display name, else login, else id.
    pub fn user_label(&self) -> &str {
        self.user
            .or(self.login)
            .or(self.user_id)
            .unwrap_or("(unknown)")
    }
}

/// The `MessageAction` name of an id, or `Unknown(<id>)`.
pub fn action_name(id: i32) -> Cow<'static, str> {
    ActionCatalog::get()
        .name_of(id)
        .map_or_else(|| Cow::Owned(format!("Unknown({id})")), Cow::Borrowed)
}
