//! Every string an event response repeats, escaped for JSON once when the simulator starts:
//! the population's names, ids and addresses, the static tables (places, clients, roles, ...)
//! and the action-text templates split into literal parts and placeholders.

use super::catalog::{AUDIT_ACTIONS, LOGIN_ACTIONS};
use super::json::JsonStr;
use super::world::{
    DESKTOP_CLIENTS, LINK_TITLES, MAIL_DOMAIN, MOBILE_CLIENTS, PLACES, ROOM_ROLES, TAGS, World,
};

/// Logins tried that belong to nobody.
pub(crate) const UNKNOWN_LOGINS: &[&str] =
    &["admin", "test", "root", "info", "j.smith", "administrator"];

/// Destination folder of moves and copies in rooms without folders.
const DEFAULT_DEST: &str = "Archive";

/// Escaped texts of a user.
#[derive(Debug)]
pub(crate) struct UserText {
    /// Display name.
    pub name: JsonStr,
    /// Lowercase hyphenated id; also the raw id (a GUID needs no escaping).
    pub id: JsonStr,
    /// Login e-mail.
    pub email: JsonStr,
    /// Usual `ip` value.
    pub home_ip: JsonStr,
}

/// Escaped texts of a [`PLACES`] entry.
#[derive(Debug)]
pub(crate) struct PlaceText {
    pub country: JsonStr,
    pub city: JsonStr,
    /// First three octets of the place's IPv4 network.
    pub net: JsonStr,
}

/// Escaped `(browser, platform)` pair.
#[derive(Debug)]
pub(crate) struct ClientText {
    pub browser: JsonStr,
    pub platform: JsonStr,
}

/// A titled entity events refer to (file, folder, room or group), with its id as the
/// server's target column holds it.
#[derive(Debug)]
pub(crate) struct EntityText {
    /// Title or name.
    pub title: JsonStr,
    /// Target value: the numeric id, or the GUID of a group.
    pub target: String,
}

/// The placeholders of action-text templates, in the order the server's text builder
/// substitutes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    File,
    Folder,
    Room,
    User,
    Group,
    Role,
    Dest,
    Tag,
    Link,
}

impl Slot {
    /// All slots, in substitution order.
    pub const ALL: [Slot; 9] = [
        Slot::File,
        Slot::Folder,
        Slot::Room,
        Slot::User,
        Slot::Group,
        Slot::Role,
        Slot::Dest,
        Slot::Tag,
        Slot::Link,
    ];

    /// The placeholder as written in templates.
    pub fn key(self) -> &'static str {
        match self {
            Slot::File => "{file}",
            Slot::Folder => "{folder}",
            Slot::Room => "{room}",
            Slot::User => "{user}",
            Slot::Group => "{group}",
            Slot::Role => "{role}",
            Slot::Dest => "{dest}",
            Slot::Tag => "{tag}",
            Slot::Link => "{link}",
        }
    }
}

/// A piece of a compiled template.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Text written as is (escaped).
    Literal(JsonStr),
    /// A value substituted per event.
    Slot(Slot),
}

/// An action-text template split at its placeholders.
#[derive(Debug)]
pub(crate) struct Template {
    /// Whether the template has any `{`: only then are substitution values drawn.
    pub has_placeholders: bool,
    pub segments: Vec<Segment>,
}

impl Template {
    /// Splits `template` at every occurrence of a [`Slot`] key. Substitution values never
    /// contain `{`, so filling the slots gives the same text as replacing the keys one after
    /// another.
    pub fn compile(template: &str) -> Self {
        let mut segments = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let next = Slot::ALL
                .iter()
                .filter_map(|&slot| rest.find(slot.key()).map(|at| (at, slot)))
                .min_by_key(|&(at, _)| at);
            let Some((at, slot)) = next else {
                segments.push(Segment::Literal(JsonStr::new(rest)));
                break;
            };
            if at > 0 {
                segments.push(Segment::Literal(JsonStr::new(&rest[..at])));
            }
            segments.push(Segment::Slot(slot));
            rest = &rest[at + slot.key().len()..];
        }
        Self {
            has_placeholders: template.contains('{'),
            segments,
        }
    }
}

/// The escaped texts of a simulated portal; indices match [`World`] and the static tables.
#[derive(Debug)]
pub(crate) struct Texts {
    pub users: Vec<UserText>,
    pub files: Vec<EntityText>,
    pub folders: Vec<EntityText>,
    pub rooms: Vec<EntityText>,
    pub groups: Vec<EntityText>,
    pub places: Vec<PlaceText>,
    pub desktop_clients: Vec<ClientText>,
    pub mobile_clients: Vec<ClientText>,
    pub room_roles: Vec<JsonStr>,
    pub tags: Vec<JsonStr>,
    pub link_titles: Vec<JsonStr>,
    /// `<login>@<mail domain>` of [`UNKNOWN_LOGINS`].
    pub unknown_logins: Vec<JsonStr>,
    /// Compiled templates of [`AUDIT_ACTIONS`].
    pub audit_templates: Vec<Template>,
    /// Texts of [`LOGIN_ACTIONS`].
    pub login_actions: Vec<JsonStr>,
    /// Destination of moves in rooms without folders.
    pub default_dest: JsonStr,
    /// The empty string (value of a placeholder whose entity does not exist).
    pub empty: JsonStr,
}

fn clients(table: &[(&str, &str)]) -> Vec<ClientText> {
    table
        .iter()
        .map(|&(browser, platform)| ClientText {
            browser: JsonStr::new(browser),
            platform: JsonStr::new(platform),
        })
        .collect()
}

fn escaped_all(table: &[&str]) -> Vec<JsonStr> {
    table.iter().map(|s| JsonStr::new(s)).collect()
}

impl Texts {
    /// Escapes the texts of `world` and of the static tables.
    pub fn new(world: &World) -> Self {
        let entity = |title: &str, target: String| EntityText {
            title: JsonStr::new(title),
            target,
        };
        Self {
            users: world
                .users
                .iter()
                .map(|u| UserText {
                    name: JsonStr::new(&u.display_name),
                    id: JsonStr::new(&u.id),
                    email: JsonStr::new(&u.email),
                    home_ip: JsonStr::new(&u.home_ip),
                })
                .collect(),
            files: world
                .files
                .iter()
                .map(|f| entity(&f.title, f.id.to_string()))
                .collect(),
            folders: world
                .folders
                .iter()
                .map(|f| entity(f.title, f.id.to_string()))
                .collect(),
            rooms: world
                .rooms
                .iter()
                .map(|r| entity(r.title, r.id.to_string()))
                .collect(),
            groups: world
                .groups
                .iter()
                .map(|g| entity(g.name, g.id.clone()))
                .collect(),
            places: PLACES
                .iter()
                .map(|p| PlaceText {
                    country: JsonStr::new(p.country),
                    city: JsonStr::new(p.city),
                    net: JsonStr::new(p.net),
                })
                .collect(),
            desktop_clients: clients(DESKTOP_CLIENTS),
            mobile_clients: clients(MOBILE_CLIENTS),
            room_roles: escaped_all(ROOM_ROLES),
            tags: escaped_all(TAGS),
            link_titles: escaped_all(LINK_TITLES),
            unknown_logins: UNKNOWN_LOGINS
                .iter()
                .map(|login| JsonStr::new(&format!("{login}@{MAIL_DOMAIN}")))
                .collect(),
            audit_templates: AUDIT_ACTIONS
                .iter()
                .map(|spec| Template::compile(spec.template))
                .collect(),
            login_actions: LOGIN_ACTIONS.iter().map(|s| JsonStr::new(s.text)).collect(),
            default_dest: JsonStr::new(DEFAULT_DEST),
            empty: JsonStr::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::MARCH_FROM;

    fn lit(s: &str) -> Segment {
        Segment::Literal(JsonStr::new(s))
    }

    #[test]
    fn templates_split_at_placeholders() {
        let t = Template::compile("Files [{file}]. Moved From \"{room}\" To: \"{dest}\"");
        assert!(t.has_placeholders);
        assert_eq!(
            t.segments,
            vec![
                lit("Files ["),
                Segment::Slot(Slot::File),
                lit("]. Moved From \""),
                Segment::Slot(Slot::Room),
                lit("\" To: \""),
                Segment::Slot(Slot::Dest),
                lit("\""),
            ]
        );
        let t = Template::compile("{user} appointed: {role}");
        assert_eq!(
            t.segments,
            vec![
                Segment::Slot(Slot::User),
                lit(" appointed: "),
                Segment::Slot(Slot::Role)
            ]
        );
        let t = Template::compile("Trash Emptied");
        assert!(!t.has_placeholders);
        assert_eq!(t.segments, vec![lit("Trash Emptied")]);
        let t = Template::compile("{unknown} stays");
        assert!(t.has_placeholders);
        assert_eq!(t.segments, vec![lit("{unknown} stays")]);
    }

    #[test]
    fn substitution_values_have_no_braces() {
        // Filling slots equals sequential replacement only if no value contains a key.
        let world = World::generate(3, 2025, MARCH_FROM);
        let values = world
            .users
            .iter()
            .map(|u| u.display_name.as_str())
            .chain(world.files.iter().map(|f| f.title.as_str()))
            .chain(world.folders.iter().map(|f| f.title))
            .chain(world.rooms.iter().map(|r| r.title))
            .chain(world.groups.iter().map(|g| g.name))
            .chain(ROOM_ROLES.iter().copied())
            .chain(TAGS.iter().copied())
            .chain(LINK_TITLES.iter().copied())
            .chain([DEFAULT_DEST]);
        for value in values {
            assert!(!value.contains('{'), "{value}");
        }
    }
}
