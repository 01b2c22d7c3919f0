//! JSON objects the server returns (`AuditEventDto`, `LoginEventDto`, `FileDto`), built on
//! demand from the compact records.

use chrono_tz::Tz;
use serde::Serialize;

use super::catalog::{AUDIT_ACTIONS, LOGIN_ACTIONS, Subject};
use super::dates::format_api_date;
use super::files::{FileMeta, extension, file_type, size_string};
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

/// Lowercase user id of a login event (`Guid.Empty` for unknown logins).
pub(crate) fn login_user_id<'w>(world: &'w World, rec: &LoginRec) -> &'w str {
    if rec.user == UNKNOWN_USER {
        EMPTY_GUID
    } else {
        world
            .users
            .get(usize::from(rec.user))
            .map_or(EMPTY_GUID, |u| u.id.as_str())
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

/// The creator/updater of uploaded files (the API key's owner).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmployeeDto {
    pub id: String,
    pub display_name: String,
    pub avatar_small: String,
    pub profile_url: String,
    pub has_avatar: bool,
    pub is_anonim: bool,
}

/// `FileDto` (§4.1), the fields a client reads.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileDto {
    pub folder_id: i64,
    pub version: u32,
    pub version_group: u32,
    pub content_length: String,
    pub pure_content_length: u64,
    pub file_status: u8,
    pub mute: bool,
    pub view_url: String,
    pub web_url: String,
    pub short_web_url: String,
    pub file_type: u8,
    pub file_exst: String,
    pub thumbnail_status: u8,
    pub deny_download: bool,
    pub deny_sharing: bool,
    pub file_entry_type: u8,
    pub id: i64,
    pub root_folder_id: i64,
    pub can_share: bool,
    pub title: String,
    pub access: u8,
    pub shared: bool,
    pub created: String,
    pub created_by: EmployeeDto,
    pub updated: String,
    pub root_folder_type: u8,
    pub parent_id: i64,
    pub updated_by: EmployeeDto,
}

fn employee(world: &World, base_url: &str) -> EmployeeDto {
    let owner = &world.users[0];
    EmployeeDto {
        id: owner.id.clone(),
        display_name: owner.display_name.clone(),
        avatar_small: "/static/images/default_user_photo_size_32-32.png".to_owned(),
        profile_url: format!("{base_url}/accounts/people/filter?email={}", owner.email),
        has_avatar: false,
        is_anonim: false,
    }
}

/// Builds the JSON object of an uploaded file.
pub(crate) fn file_dto(world: &World, meta: &FileMeta, tz: Tz, base_url: &str) -> FileDto {
    let ext = extension(&meta.title);
    FileDto {
        folder_id: meta.folder_id,
        version: meta.version,
        version_group: meta.version,
        content_length: size_string(meta.size),
        pure_content_length: meta.size,
        file_status: 0,
        mute: false,
        view_url: format!(
            "{base_url}/filehandler.ashx?action=download&fileid={}",
            meta.id
        ),
        web_url: format!(
            "{base_url}/doceditor?fileid={}&version={}",
            meta.id, meta.version
        ),
        short_web_url: String::new(),
        file_type: file_type(&ext),
        file_exst: ext,
        thumbnail_status: 0,
        deny_download: false,
        deny_sharing: false,
        file_entry_type: 2,
        id: meta.id,
        root_folder_id: meta.folder_id,
        can_share: true,
        title: meta.title.clone(),
        access: 0,
        shared: false,
        created: format_api_date(meta.created, tz),
        created_by: employee(world, base_url),
        updated: format_api_date(meta.updated, tz),
        root_folder_type: 14,
        parent_id: meta.folder_id,
        updated_by: employee(world, base_url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::seed::seed_login;
    use crate::sim::test_support::{MARCH_FROM as FROM, MARCH_TO as TO, march_audit};

    #[test]
    fn audit_events_have_contract_fields() {
        let (world, recs) = march_audit(1, 3000);
        let mut saw_truncated_ip = false;
        for rec in &recs {
            let dto = audit_event(&world, rec, Tz::UTC, "http://h");
            let spec = &AUDIT_ACTIONS[usize::from(rec.action)];
            assert_eq!(dto.details.action_id, spec.id);
            assert!(!dto.details.action.contains('{'), "{}", dto.details.action);
            assert!(dto.date.ends_with(".0000000Z"));
            match spec.subject {
                Subject::Settings | Subject::Trash => assert!(dto.target.is_none()),
                _ => assert_eq!(dto.target.as_ref().map(Vec::len), Some(1)),
            }
            if spec.product == 2 && spec.subject != Subject::Trash {
                assert!(
                    dto.context
                        .as_deref()
                        .is_some_and(|c| c.starts_with("Rooms: "))
                );
            }
            if dto.details.origin.ip == "2001" {
                saw_truncated_ip = true;
            }
            if spec.id == 5011 {
                assert!(dto.details.action.starts_with("File Uploaded: "));
            }
        }
        assert!(saw_truncated_ip);
    }

    #[test]
    fn login_events_use_email_and_empty_guid_for_unknown() {
        let world = World::generate(1, 2025, FROM);
        let recs = seed_login(&world, 1, FROM, TO, 2000);
        let dtos: Vec<_> = recs
            .iter()
            .map(|r| login_event(&world, r, Tz::UTC, "http://h"))
            .collect();
        assert!(dtos.iter().all(|d| d.login.contains('@')));
        assert!(
            dtos.iter()
                .any(|d| d.user.is_none() && d.user_id == EMPTY_GUID)
        );
        for (rec, dto) in recs.iter().zip(&dtos) {
            assert_eq!(login_user_id(&world, rec), dto.user_id);
        }
    }
}
