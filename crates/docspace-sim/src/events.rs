//! What the server shows of a stored event (§2, §3.1): the user, the localized-looking action
//! text, where the request came from, the page and the target. A view borrows every text from
//! [`Texts`] and is built without allocating; [`super::render`] writes it as JSON.
//!
//! The cosmetic details are drawn from a generator seeded by the record, so the order of the
//! draws below is part of the output and must not change.

use super::catalog::{AUDIT_ACTIONS, ActionSpec, LOGIN_ACTIONS, Subject};
use super::guid::EMPTY_GUID;
use super::json::JsonStr;
use super::seed::{AuditRec, LoginRec, UNKNOWN_USER};
use super::texts::{ClientText, PlaceText, Slot, Template, Texts, UNKNOWN_LOGINS, UserText};
use super::world::{
    DESKTOP_CLIENTS, LINK_TITLES, MOBILE_CLIENTS, PLACES, ROOM_ROLES, TAGS, User, World,
};

/// Actions whose page is the document editor of the file.
const EDITOR_ACTIONS: [i32; 3] = [5064, 5002, 6046];

/// The `ip` of an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ip<'a> {
    /// A fixed address (the user's home address).
    Fixed(&'a JsonStr),
    /// `net.host`: an address drawn from a place's network.
    Drawn { net: &'a JsonStr, host: u8 },
}

/// Address, location and client of one event. GeoIP may not resolve the address: then
/// `geo` is `None` and neither `country` nor `city` is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub ip: Ip<'a>,
    pub geo: Option<&'a PlaceText>,
    pub client: &'a ClientText,
}

/// An address of the network of `PLACES[place]`.
fn address<'a>(texts: &'a Texts, place: usize, rng: &mut fastrand::Rng) -> Ip<'a> {
    Ip::Drawn {
        net: &texts.places[place].net,
        host: rng.u8(2..=254),
    }
}

/// Where a known user's request came from: mostly the home address and usual browser,
/// sometimes a phone on a mobile network, another desktop browser or a trip.
fn origin<'a>(
    texts: &'a Texts,
    user: &User,
    user_text: &'a UserText,
    rng: &mut fastrand::Rng,
) -> Origin<'a> {
    let roll = rng.u8(0..100);
    let client = if roll < 10 {
        &texts.mobile_clients[user.mobile % MOBILE_CLIENTS.len()]
    } else if roll < 14 {
        &texts.desktop_clients[rng.usize(..DESKTOP_CLIENTS.len())]
    } else {
        &texts.desktop_clients[user.desktop % DESKTOP_CLIENTS.len()]
    };
    let home = user.place % PLACES.len();
    let (ip, place, geo) = if roll < 10 {
        // Mobile network of the home country.
        (address(texts, home, rng), home, true)
    } else if rng.u8(0..100) < 6 {
        // Travelling or on a VPN.
        let other = rng.usize(..PLACES.len());
        (address(texts, other, rng), other, true)
    } else {
        (Ip::Fixed(&user_text.home_ip), home, user.home_geo)
    };
    let geo = geo && rng.u8(0..100) >= 8;
    Origin {
        ip,
        geo: geo.then(|| &texts.places[place]),
        client,
    }
}

/// The target column of an audit event as the server stores it (comma-joined ids).
pub(crate) fn audit_target<'a>(
    world: &'a World,
    texts: &'a Texts,
    rec: &AuditRec,
) -> Option<&'a str> {
    let spec = AUDIT_ACTIONS.get(usize::from(rec.action))?;
    let e = usize::try_from(rec.entity).unwrap_or(0);
    match spec.subject {
        Subject::File => texts.files.get(e).map(|f| f.target.as_str()),
        Subject::Folder => texts.folders.get(e).map(|f| f.target.as_str()),
        Subject::Room => texts.rooms.get(e).map(|r| r.target.as_str()),
        Subject::User | Subject::SettingsUser => world.users.get(e).map(|u| u.id.as_str()),
        Subject::Group => texts.groups.get(e).map(|g| g.target.as_str()),
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

/// The values of an action text's placeholders.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotValues<'a> {
    pub file: &'a JsonStr,
    pub folder: &'a JsonStr,
    pub room: &'a JsonStr,
    pub user: &'a JsonStr,
    pub group: &'a JsonStr,
    pub role: &'a JsonStr,
    pub dest: &'a JsonStr,
    pub tag: &'a JsonStr,
    pub link: &'a JsonStr,
}

impl<'a> SlotValues<'a> {
    /// Every placeholder empty (templates without placeholders).
    fn empty(texts: &'a Texts) -> Self {
        let e = &texts.empty;
        Self {
            file: e,
            folder: e,
            room: e,
            user: e,
            group: e,
            role: e,
            dest: e,
            tag: e,
            link: e,
        }
    }

    /// The value of `slot`.
    pub fn get(&self, slot: Slot) -> &'a JsonStr {
        match slot {
            Slot::File => self.file,
            Slot::Folder => self.folder,
            Slot::Room => self.room,
            Slot::User => self.user,
            Slot::Group => self.group,
            Slot::Role => self.role,
            Slot::Dest => self.dest,
            Slot::Tag => self.tag,
            Slot::Link => self.link,
        }
    }
}

/// The `action` text of an audit event: a template and its placeholder values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionText<'a> {
    pub template: &'a Template,
    pub values: SlotValues<'a>,
}

/// The page an audit event was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuditPage {
    /// `/doceditor?fileid={id}`.
    DocEditor(i64),
    /// `/rooms/shared/{id}/filter?folder={id}`.
    RoomFilter(i64),
    /// `/rooms/trash`.
    Trash,
    /// `/accounts/people/filter`.
    People,
    /// `/portal-settings/security/access-portal`.
    AccessPortal,
}

/// The `context` of an audit event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Context<'a> {
    /// `Rooms: {room title}`.
    Room(&'a JsonStr),
    /// A fixed text: `Trash`, `Contacts` or `Settings`.
    Fixed(&'static str),
}

/// `AuditEventDto` (§2) of one record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuditView<'a> {
    pub id: i64,
    pub ts: i64,
    /// Microseconds past `ts` (0 unless the portal stores microseconds).
    pub micros: u32,
    pub spec: &'static ActionSpec,
    pub user: &'a UserText,
    pub action: ActionText<'a>,
    pub origin: Origin<'a>,
    pub page: Option<AuditPage>,
    /// Raw target column (written split at commas).
    pub target: Option<&'a str>,
    pub context: Option<Context<'a>>,
}

/// The placeholder values of an audit event's text, drawn in the server text builder's order
/// (other user, destination folder, role, tag, link).
fn slot_values<'a>(
    world: &'a World,
    texts: &'a Texts,
    rec: &AuditRec,
    spec: &ActionSpec,
    room: Option<usize>,
    rng: &mut fastrand::Rng,
) -> SlotValues<'a> {
    let e = usize::try_from(rec.entity).unwrap_or(0);
    let empty = &texts.empty;
    let subject_user = match spec.subject {
        Subject::User | Subject::SettingsUser => texts.users.get(e).map(|u| &u.name),
        _ => None,
    };
    let user = subject_user.unwrap_or_else(|| &texts.users[rng.usize(..world.users.len())].name);
    // Moves and copies go to a folder of the same room.
    let dest = audit_room(world, rec)
        .and_then(|r| world.folders_by_room.get(r))
        .filter(|range| !range.is_empty())
        .and_then(|range| texts.folders.get(range.start + rng.usize(..range.len())))
        .map_or(&texts.default_dest, |f| &f.title);
    SlotValues {
        file: texts.files.get(e).map_or(empty, |f| &f.title),
        folder: texts.folders.get(e).map_or(empty, |f| &f.title),
        room: room.map_or(empty, |r| &texts.rooms[r].title),
        user,
        group: texts.groups.get(e).map_or(empty, |g| &g.title),
        role: &texts.room_roles[rng.usize(..ROOM_ROLES.len())],
        dest,
        tag: &texts.tags[rng.usize(..TAGS.len())],
        link: &texts.link_titles[rng.usize(..LINK_TITLES.len())],
    }
}

/// Builds the view of an audit event.
pub(crate) fn audit_view<'a>(world: &'a World, texts: &'a Texts, rec: &AuditRec) -> AuditView<'a> {
    let action = usize::from(rec.action) % AUDIT_ACTIONS.len();
    let spec = &AUDIT_ACTIONS[action];
    let user_index = usize::from(rec.user) % world.users.len();
    let user = &texts.users[user_index];
    let mut rng = fastrand::Rng::with_seed(rec.seed);
    let origin = origin(texts, &world.users[user_index], user, &mut rng);
    let e = usize::try_from(rec.entity).unwrap_or(0);
    let room = audit_room(world, rec).filter(|&r| r < world.rooms.len());

    let template = &texts.audit_templates[action];
    let values = if template.has_placeholders {
        slot_values(world, texts, rec, spec, room, &mut rng)
    } else {
        SlotValues::empty(texts)
    };

    let (context, page) = match spec.subject {
        Subject::File | Subject::Folder | Subject::Room => {
            let page = if EDITOR_ACTIONS.contains(&spec.id) {
                AuditPage::DocEditor(world.files.get(e).map_or(0, |f| f.id))
            } else {
                AuditPage::RoomFilter(room.map_or(0, |r| world.rooms[r].id))
            };
            (room.map(|r| Context::Room(&texts.rooms[r].title)), page)
        }
        Subject::Trash => (Some(Context::Fixed("Trash")), AuditPage::Trash),
        Subject::User | Subject::Group => (Some(Context::Fixed("Contacts")), AuditPage::People),
        Subject::Settings | Subject::SettingsUser => {
            (Some(Context::Fixed("Settings")), AuditPage::AccessPortal)
        }
    };
    let page = (rng.u8(0..100) >= 5).then_some(page);

    AuditView {
        id: rec.id,
        ts: rec.ts,
        micros: 0,
        spec,
        user,
        action: ActionText { template, values },
        origin,
        page,
        target: audit_target(world, texts, rec),
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

/// The page a login event was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginPage {
    /// `/api/2.0/authentication` (logins via API).
    Authentication,
    /// `/login`.
    Login,
}

/// `LoginEventDto` (§3.1) of one record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginView<'a> {
    pub id: i64,
    pub ts: i64,
    /// The user, `None` for a login of nobody known.
    pub user: Option<&'a UserText>,
    /// Login tried (an e-mail).
    pub login: &'a JsonStr,
    pub action: &'a JsonStr,
    pub action_id: i32,
    pub origin: Origin<'a>,
    pub page: LoginPage,
}

/// Builds the view of a login event.
pub(crate) fn login_view<'a>(world: &'a World, texts: &'a Texts, rec: &LoginRec) -> LoginView<'a> {
    let action = usize::from(rec.action) % LOGIN_ACTIONS.len();
    let spec = &LOGIN_ACTIONS[action];
    let mut rng = fastrand::Rng::with_seed(rec.seed);
    let page = if spec.id == 1010 {
        LoginPage::Authentication
    } else {
        LoginPage::Login
    };
    let known =
        Some(usize::from(rec.user)).filter(|&u| u < world.users.len() && rec.user != UNKNOWN_USER);
    let (user, login, origin) = match known {
        Some(u) => {
            let text = &texts.users[u];
            let origin = origin(texts, &world.users[u], text, &mut rng);
            (Some(text), &text.email, origin)
        }
        None => {
            let place = rng.usize(..PLACES.len());
            let client = &texts.desktop_clients[rng.usize(..DESKTOP_CLIENTS.len())];
            let login = &texts.unknown_logins[rng.usize(..UNKNOWN_LOGINS.len())];
            let origin = Origin {
                ip: address(texts, place, &mut rng),
                geo: Some(&texts.places[place]),
                client,
            };
            (None, login, origin)
        }
    };
    LoginView {
        id: rec.id,
        ts: rec.ts,
        user,
        login,
        action: &texts.login_actions[action],
        action_id: spec.id,
        origin,
        page,
    }
}
