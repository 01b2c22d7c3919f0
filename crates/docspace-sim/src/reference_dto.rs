//! The event rendering the simulator had before events were written without `serde`: DTO
//! structs built with `String`s and `format!`, serialized by `serde_json`. Kept as the oracle
//! that [`super::render`] must match byte for byte.

use chrono_tz::Tz;
use serde::Serialize;

use super::catalog::{AUDIT_ACTIONS, LOGIN_ACTIONS, Subject};
use super::dates::format_api_date;
use super::guid::EMPTY_GUID;
use super::seed::{AuditRec, LoginRec, UNKNOWN_USER};
use super::world::{
    DESKTOP_CLIENTS, LINK_TITLES, MAIL_DOMAIN, MOBILE_CLIENTS, PLACES, ROOM_ROLES, TAGS, User,
    World,
};

/// Logins tried that belong to nobody.
const UNKNOWN_LOGINS: &[&str] = &["admin", "test", "root", "info", "j.smith", "administrator"];

/// `AuditEventDto` (§2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditEventDto {
    pub id: i64,
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub user_id: String,
    #[serde(flatten)]
    pub details: EventDetails,
    pub action_type: i32,
    pub product: i32,
    pub location: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<String>>,
    pub entries: Vec<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// `LoginEventDto` (§3.1).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginEventDto {
    pub id: i64,
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub user_id: String,
    pub login: String,
    #[serde(flatten)]
    pub details: EventDetails,
}

/// The fields audit and login events share after the user: the action, where the request
/// came from and the page it was made on.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventDetails {
    pub action: String,
    pub action_id: i32,
    #[serde(flatten)]
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// Address, location and client of one event (the simulator always knows the address and
/// the client; GeoIP may not resolve the address).
#[derive(Debug, Serialize)]
pub(crate) struct Origin {
    pub ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<&'static str>,
    pub browser: &'static str,
    pub platform: &'static str,
}

fn origin(user: &User, rng: &mut fastrand::Rng) -> Origin {
    let roll = rng.u8(0..100);
    let (browser, platform) = if roll < 10 {
        MOBILE_CLIENTS[user.mobile % MOBILE_CLIENTS.len()]
    } else if roll < 14 {
        DESKTOP_CLIENTS[rng.usize(..DESKTOP_CLIENTS.len())]
    } else {
        DESKTOP_CLIENTS[user.desktop % DESKTOP_CLIENTS.len()]
    };
    let home = &PLACES[user.place % PLACES.len()];
    let (ip, place, geo) = if roll < 10 {
        // Mobile network of the home country.
        (home.address(rng), home, true)
    } else if rng.u8(0..100) < 6 {
        // Travelling or on a VPN.
        let other = &PLACES[rng.usize(..PLACES.len())];
        (other.address(rng), other, true)
    } else {
        (user.home_ip.clone(), home, user.home_geo)
    };
    let geo = geo && rng.u8(0..100) >= 8;
    Origin {
        ip,
        country: geo.then_some(place.country),
        city: geo.then_some(place.city),
        browser,
        platform,
    }
}

/// The target column of an audit event, as the comma-joined string the server stores.
pub(crate) fn audit_target(world: &World, rec: &AuditRec) -> Option<String> {
    let spec = AUDIT_ACTIONS.get(usize::from(rec.action))?;
    let e = usize::try_from(rec.entity).unwrap_or(0);
    match spec.subject {
        Subject::File => world.files.get(e).map(|f| f.id.to_string()),
        Subject::Folder => world.folders.get(e).map(|f| f.id.to_string()),
        Subject::Room => world.rooms.get(e).map(|r| r.id.to_string()),
        Subject::User | Subject::SettingsUser => world.users.get(e).map(|u| u.id.clone()),
        Subject::Group => world.groups.get(e).map(|g| g.id.clone()),
        Subject::Settings | Subject::Trash => None,
    }
}

/// Room index an audit event happens in, if any.
fn audit_room(world: &World, rec: &AuditRec) -> Option<usize> {
    let spec = AUDIT_ACTIONS.get(usize::from(rec.action))?;
    let e = usize::try_from(rec.entity).unwrap_or(0);
    match spec.subject {
        Subject::File => world.files.get(e).map(|f| f.room),
        Subject::Folder => world.folders.get(e).map(|f| f.room),
        Subject::Room => Some(e),
        _ => None,
    }
}

/// Builds the JSON object of an audit event.
pub(crate) fn audit_event(world: &World, rec: &AuditRec, tz: Tz, base_url: &str) -> AuditEventDto {
    let spec = &AUDIT_ACTIONS[usize::from(rec.action) % AUDIT_ACTIONS.len()];
    let user = &world.users[usize::from(rec.user) % world.users.len()];
    let mut rng = fastrand::Rng::with_seed(rec.seed);
    let origin = origin(user, &mut rng);
    let e = usize::try_from(rec.entity).unwrap_or(0);
    let room = audit_room(world, rec).and_then(|r| world.rooms.get(r));

    let mut text = spec.template.to_owned();
    if text.contains('{') {
        let other_user = || {
            let i = rng.usize(..world.users.len());
            world.users[i].display_name.clone()
        };
        let subject_user = match spec.subject {
            Subject::User | Subject::SettingsUser => {
                world.users.get(e).map(|u| u.display_name.clone())
            }
            _ => None,
        };
        let user_name = subject_user.unwrap_or_else(other_user);
        // Moves and copies go to a folder of the same room.
        let dest = audit_room(world, rec)
            .and_then(|r| world.folders_by_room.get(r))
            .filter(|range| !range.is_empty())
            .and_then(|range| world.folders.get(range.start + rng.usize(..range.len())))
            .map_or("Archive", |f| f.title);
        let replacements: [(&str, String); 9] = [
            (
                "{file}",
                world
                    .files
                    .get(e)
                    .map(|f| f.title.clone())
                    .unwrap_or_default(),
            ),
            (
                "{folder}",
                world
                    .folders
                    .get(e)
                    .map(|f| f.title.to_owned())
                    .unwrap_or_default(),
            ),
            (
                "{room}",
                room.map(|r| r.title.to_owned()).unwrap_or_default(),
            ),
            ("{user}", user_name),
            (
                "{group}",
                world
                    .groups
                    .get(e)
                    .map(|g| g.name.to_owned())
                    .unwrap_or_default(),
            ),
            (
                "{role}",
                ROOM_ROLES[rng.usize(..ROOM_ROLES.len())].to_owned(),
            ),
            ("{dest}", dest.to_owned()),
            ("{tag}", TAGS[rng.usize(..TAGS.len())].to_owned()),
            (
                "{link}",
                LINK_TITLES[rng.usize(..LINK_TITLES.len())].to_owned(),
            ),
        ];
        for (key, value) in replacements {
            if text.contains(key) {
                text = text.replace(key, &value);
            }
        }
    }

    let (context, page) = match spec.subject {
        Subject::File | Subject::Folder | Subject::Room => {
            let room_id = room.map_or(0, |r| r.id);
            let page = if matches!(spec.id, 5064 | 5002 | 6046) {
                let file_id = world.files.get(e).map_or(0, |f| f.id);
                format!("{base_url}/doceditor?fileid={file_id}")
            } else {
                format!("{base_url}/rooms/shared/{room_id}/filter?folder={room_id}")
            };
            (room.map(|r| format!("Rooms: {}", r.title)), page)
        }
        Subject::Trash => (Some("Trash".to_owned()), format!("{base_url}/rooms/trash")),
        Subject::User | Subject::Group => (
            Some("Contacts".to_owned()),
            format!("{base_url}/accounts/people/filter"),
        ),
        Subject::Settings | Subject::SettingsUser => (
            Some("Settings".to_owned()),
            format!("{base_url}/portal-settings/security/access-portal"),
        ),
    };
    let page = (rng.u8(0..100) >= 5).then_some(page);

    AuditEventDto {
        id: rec.id,
        date: format_api_date(rec.ts, tz),
        user: Some(user.display_name.clone()),
        user_id: user.id.clone(),
        details: EventDetails {
            action: text,
            action_id: spec.id,
            origin,
            page,
        },
        action_type: spec.action_type,
        product: spec.product,
        location: spec.location,
        target: audit_target(world, rec).map(|t| t.split(',').map(str::to_owned).collect()),
        entries: spec.entries.to_vec(),
        context,
    }
}

/// Builds the JSON object of a login event.
pub(crate) fn login_event(world: &World, rec: &LoginRec, tz: Tz, base_url: &str) -> LoginEventDto {
    let spec = &LOGIN_ACTIONS[usize::from(rec.action) % LOGIN_ACTIONS.len()];
    let mut rng = fastrand::Rng::with_seed(rec.seed);
    let page = if spec.id == 1010 {
        format!("{base_url}/api/2.0/authentication")
    } else {
        format!("{base_url}/login")
    };
    let known = world
        .users
        .get(usize::from(rec.user))
        .filter(|_| rec.user != UNKNOWN_USER);
    let (user, user_id, login, origin) = match known {
        Some(user) => (
            Some(user.display_name.clone()),
            user.id.clone(),
            user.email.clone(),
            origin(user, &mut rng),
        ),
        None => {
            let place = &PLACES[rng.usize(..PLACES.len())];
            let (browser, platform) = DESKTOP_CLIENTS[rng.usize(..DESKTOP_CLIENTS.len())];
            let login = format!(
                "{}@{MAIL_DOMAIN}",
                UNKNOWN_LOGINS[rng.usize(..UNKNOWN_LOGINS.len())]
            );
            let origin = Origin {
                ip: place.address(&mut rng),
                country: Some(place.country),
                city: Some(place.city),
                browser,
                platform,
            };
            (None, EMPTY_GUID.to_owned(), login, origin)
        }
    };
    LoginEventDto {
        id: rec.id,
        date: format_api_date(rec.ts, tz),
        user,
        user_id,
        login,
        details: EventDetails {
            action: spec.text.to_owned(),
            action_id: spec.id,
            origin,
            page: Some(page),
        },
    }
}
