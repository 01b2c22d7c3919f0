//! The actions the simulator seeds, with the mapper metadata of §2.3 (action type, product,
//! location, entries), what the target refers to, a relative frequency and the text template
//! used for the localized-looking `action` string.

/// `ActionType` values (§2.2).
pub(crate) mod action_type {
    pub const CREATE: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const DELETE: u8 = 3;
    pub const SEND: u8 = 8;
    pub const UPDATE_ACCESS: u8 = 11;
    pub const DOWNLOAD: u8 = 12;
    pub const UPLOAD: u8 = 13;
    pub const COPY: u8 = 14;
    pub const MOVE: u8 = 15;
}

/// Names of `ActionType` values, indexed by value.
pub(crate) const ACTION_TYPE_NAMES: &[&str] = &[
    "None",
    "Create",
    "Update",
    "Delete",
    "Link",
    "Unlink",
    "Attach",
    "Detach",
    "Send",
    "Import",
    "Export",
    "UpdateAccess",
    "Download",
    "Upload",
    "Copy",
    "Move",
    "Reassigns",
    "Follow",
    "Unfollow",
    "Logout",
];

/// `(value, name)` of `EntryType`.
pub(crate) const ENTRY_TYPE_NAMES: &[(i32, &str)] = &[
    (0, "None"),
    (1, "File"),
    (2, "Folder"),
    (23, "User"),
    (24, "Group"),
    (25, "Room"),
    (26, "Tag"),
    (27, "Agent"),
];

/// `(value, name)` of `LocationType`.
pub(crate) const LOCATION_TYPE_NAMES: &[(i32, &str)] = &[
    (0, "None"),
    (1, "Files"),
    (2, "Folders"),
    (3, "DocumentsSettings"),
    (27, "Rooms"),
    (29, "Settings"),
    (30, "Contacts"),
    (31, "Agents"),
];

const PRODUCT_DOCUMENTS: u8 = 2;
const PRODUCT_SETTINGS: u8 = 7;
const PRODUCT_CONTACTS: u8 = 8;
const LOCATION_FILES: u8 = 1;
const LOCATION_FOLDERS: u8 = 2;
const LOCATION_ROOMS: u8 = 27;
const LOCATION_SETTINGS: u8 = 29;
const LOCATION_CONTACTS: u8 = 30;

/// What an event's target (and the entity in its text) refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A file inside a room; target is the file id.
    File,
    /// A folder inside a room; target is the folder id.
    Folder,
    /// A room; target is the room id.
    Room,
    /// Another user; target is the user's id.
    User,
    /// A group; target is the group's id.
    Group,
    /// A portal setting about a user (e.g. administrator added); target is the user's id.
    SettingsUser,
    /// A portal setting without target.
    Settings,
    /// The trash: no target.
    Trash,
}

/// One seedable audit action.
#[derive(Debug)]
pub(crate) struct ActionSpec {
    /// `MessageAction` id.
    pub id: i32,
    /// `ActionType` of the mapper table.
    pub action_type: u8,
    /// `ProductType`.
    pub product: u8,
    /// `LocationType`.
    pub location: u8,
    /// `EntryType` values.
    pub entries: &'static [u8],
    /// What the target refers to.
    pub subject: Subject,
    /// Relative frequency (per mille of all events, roughly).
    pub weight: u32,
    /// Performed by administrators only.
    pub admin_only: bool,
    /// Text template: `{file}`, `{folder}`, `{room}`, `{user}`, `{group}`, `{role}`, `{dest}`,
    /// `{tag}`, `{link}` are substituted.
    pub template: &'static str,
}

const fn file(
    id: i32,
    action_type: u8,
    entries: &'static [u8],
    weight: u32,
    template: &'static str,
) -> ActionSpec {
    ActionSpec {
        id,
        action_type,
        product: PRODUCT_DOCUMENTS,
        location: LOCATION_FILES,
        entries,
        subject: Subject::File,
        weight,
        admin_only: false,
        template,
    }
}

const fn folder(
    id: i32,
    action_type: u8,
    entries: &'static [u8],
    weight: u32,
    template: &'static str,
) -> ActionSpec {
    ActionSpec {
        id,
        action_type,
        product: PRODUCT_DOCUMENTS,
        location: LOCATION_FOLDERS,
        entries,
        subject: Subject::Folder,
        weight,
        admin_only: false,
        template,
    }
}

const fn room(
    id: i32,
    action_type: u8,
    weight: u32,
    admin_only: bool,
    template: &'static str,
) -> ActionSpec {
    ActionSpec {
        id,
        action_type,
        product: PRODUCT_DOCUMENTS,
        location: LOCATION_ROOMS,
        entries: &[25],
        subject: Subject::Room,
        weight,
        admin_only,
        template,
    }
}

const fn people(
    id: i32,
    action_type: u8,
    subject: Subject,
    weight: u32,
    template: &'static str,
) -> ActionSpec {
    let entries: &'static [u8] = match subject {
        Subject::Group => &[24],
        _ => &[23],
    };
    ActionSpec {
        id,
        action_type,
        product: PRODUCT_CONTACTS,
        location: LOCATION_CONTACTS,
        entries,
        subject,
        weight,
        admin_only: true,
        template,
    }
}

const fn settings(
    id: i32,
    action_type: u8,
    subject: Subject,
    weight: u32,
    template: &'static str,
) -> ActionSpec {
    ActionSpec {
        id,
        action_type,
        product: PRODUCT_SETTINGS,
        location: LOCATION_SETTINGS,
        entries: &[],
        subject,
        weight,
        admin_only: true,
        template,
    }
}

use action_type::*;

/// Every audit action the simulator generates. Weights sum to roughly 1000.
pub(crate) const AUDIT_ACTIONS: &[ActionSpec] = &[
    // Files: the bulk of a portal's audit trail.
    file(5064, UPDATE, &[1], 290, "File Opened: {file}"),
    file(5009, DOWNLOAD, &[1], 140, "File Downloaded: {file}"),
    file(5011, UPLOAD, &[1], 120, "File Uploaded: {file}"),
    file(5002, UPDATE, &[1], 140, "File Updated: {file}"),
    file(5000, CREATE, &[1], 35, "File Created: {file}"),
    file(5003, CREATE, &[1], 12, "File Version Created: {file}"),
    file(5001, UPDATE, &[1], 10, "File Renamed: {file}"),
    file(5010, DOWNLOAD, &[1], 12, "File Downloaded As: {file}"),
    file(
        5099,
        UPLOAD,
        &[1],
        10,
        "File Uploaded With Overwriting: {file}",
    ),
    file(5018, DELETE, &[1], 18, "File Deleted: {file}"),
    file(5017, MOVE, &[1], 14, "File Moved To Trash: {file}"),
    file(
        5015,
        MOVE,
        &[1, 2],
        8,
        "Files [{file}]. Moved From Folder \"{room}\" To Folder: \"{dest}\"",
    ),
    file(
        5013,
        COPY,
        &[1, 2],
        7,
        "Files [{file}]. Copied From Folder \"{room}\" To Folder: \"{dest}\"",
    ),
    file(5006, UPDATE, &[1], 5, "File Locked: {file}"),
    file(5007, UPDATE, &[1], 5, "File Unlocked: {file}"),
    file(5091, CREATE, &[1], 5, "File External Link Created: {file}"),
    file(
        5068,
        UPDATE_ACCESS,
        &[1],
        5,
        "File Access Updated: {file}. {user}: {role}",
    ),
    file(6046, UPDATE, &[1], 3, "Form Submitted: {file}"),
    file(5045, SEND, &[1], 1, "Document Sent To Sign: {file}"),
    ActionSpec {
        id: 5061,
        action_type: DELETE,
        product: PRODUCT_DOCUMENTS,
        location: LOCATION_FILES,
        entries: &[1],
        subject: Subject::Trash,
        weight: 1,
        admin_only: false,
        template: "Trash Emptied",
    },
    // Folders.
    folder(5019, CREATE, &[2], 8, "Folder Created: {folder}"),
    folder(5020, UPDATE, &[2], 2, "Folder Renamed: {folder}"),
    folder(5057, DOWNLOAD, &[2], 4, "Folder Downloaded: {folder}"),
    folder(5026, MOVE, &[2], 1, "Folder Moved To Trash: {folder}"),
    // Rooms: sharing and permission changes are ActionType Update.
    room(5075, UPDATE, 20, false, "{user} appointed: {role}"),
    room(
        5088,
        UPDATE,
        9,
        false,
        "External Link Created: {link}. Room: {room}",
    ),
    room(
        5085,
        UPDATE,
        6,
        false,
        "User Added To Room: {user}. Room: {room}",
    ),
    room(
        5084,
        UPDATE,
        4,
        false,
        "User Removed From Room: {user}. Room: {room}",
    ),
    room(5078, UPDATE, 2, false, "Tags Added: {tag}. Room: {room}"),
    room(
        5090,
        UPDATE,
        2,
        false,
        "External Link Deleted: {link}. Room: {room}",
    ),
    room(5070, CREATE, 2, true, "Room Created: {room}"),
    room(5071, UPDATE, 1, true, "Room Renamed: {room}"),
    room(5072, UPDATE, 1, true, "Room Archived: {room}"),
    // Contacts.
    people(4000, CREATE, Subject::User, 5, "User Created: {user}"),
    people(4001, CREATE, Subject::User, 3, "Guest Created: {user}"),
    people(4006, UPDATE, Subject::User, 5, "User Updated: {user}"),
    people(
        4017,
        UPDATE,
        Subject::User,
        2,
        "User Password Updated: {user}",
    ),
    people(4019, UPDATE, Subject::User, 2, "Users Type Updated: {user}"),
    people(4018, DELETE, Subject::User, 1, "User Deleted: {user}"),
    people(4027, UPDATE, Subject::Group, 1, "Group Updated: {group}"),
    // Security and portal settings.
    settings(
        6004,
        UPDATE,
        Subject::Settings,
        1,
        "Password Strength Settings Updated",
    ),
    settings(
        6005,
        UPDATE,
        Subject::Settings,
        1,
        "Two-factor Authentication Settings Updated",
    ),
    settings(
        6003,
        UPDATE,
        Subject::Settings,
        1,
        "Trusted Mail Domain Settings Updated",
    ),
    settings(
        6032,
        UPDATE,
        Subject::Settings,
        1,
        "Cookie Settings Updated",
    ),
    settings(
        6035,
        UPDATE,
        Subject::Settings,
        1,
        "Audit Trail Settings Updated",
    ),
    settings(
        6094,
        UPDATE,
        Subject::Settings,
        1,
        "IP Restrictions Settings Updated",
    ),
    settings(6095, UPDATE, Subject::Settings, 1, "Login Settings Updated"),
    settings(6058, CREATE, Subject::Settings, 1, "API Key Created"),
    settings(
        6009,
        CREATE,
        Subject::SettingsUser,
        1,
        "Administrator Added: {user}",
    ),
    settings(
        6011,
        UPDATE_ACCESS,
        Subject::SettingsUser,
        1,
        "Administrator Deleted: {user}",
    ),
    settings(
        6027,
        DOWNLOAD,
        Subject::Settings,
        1,
        "Login History Report Downloaded",
    ),
    settings(
        6028,
        DOWNLOAD,
        Subject::Settings,
        2,
        "Audit Trail Report Downloaded",
    ),
];

/// One seedable login-history action.
#[derive(Debug)]
pub(crate) struct LoginSpec {
    /// `MessageAction` id (< 2000).
    pub id: i32,
    /// Relative frequency.
    pub weight: u32,
    /// Failures are sometimes attempted with logins of no existing user.
    pub failure: bool,
    /// The localized-looking text.
    pub text: &'static str,
}

const fn login(id: i32, weight: u32, failure: bool, text: &'static str) -> LoginSpec {
    LoginSpec {
        id,
        weight,
        failure,
        text,
    }
}

/// Every login action the simulator generates.
pub(crate) const LOGIN_ACTIONS: &[LoginSpec] = &[
    login(1000, 300, false, "Login Success"),
    login(1029, 80, false, "Login Success Via Login And Password"),
    login(1021, 80, false, "Login Success Via Authenticator App"),
    login(1015, 40, false, "Login Success Via SSO"),
    login(1010, 40, false, "Login Success Via API"),
    login(1028, 10, false, "Login Success Via OAuth 2.0"),
    login(1006, 120, false, "Logout"),
    login(1002, 70, true, "Login Failed. Invalid Login Or Password"),
    login(1005, 10, true, "Login Failed"),
    login(1022, 10, true, "Login Failed Via Authenticator App"),
    login(1009, 8, true, "Login Failed. IP Security"),
    login(1023, 6, true, "Login Failed. Too Many Attempts"),
    login(1026, 3, true, "Login Failed. reCAPTCHA Check"),
    login(1004, 3, true, "Login Failed. Profile Disabled"),
];

/// Cumulative weight table for drawing an index with a uniform random number.
#[derive(Debug)]
pub(crate) struct WeightedIndex {
    cumulative: Vec<u32>,
}

impl WeightedIndex {
    /// Builds the table from weights; at least one weight must be positive.
    pub fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut sum = 0u32;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                sum += w;
                sum
            })
            .collect();
        Self { cumulative }
    }

    /// Draws an index.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return 0;
        }
        let x = rng.u32(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }
}

/// Looks up an `ActionType` value by its name, case-insensitively.
pub(crate) fn action_type_by_name(name: &str) -> Option<i32> {
    ACTION_TYPE_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .and_then(|i| i32::try_from(i).ok())
}

/// Looks up a `(value, name)` table by name, case-insensitively.
pub(crate) fn value_by_name(table: &[(i32, &str)], name: &str) -> Option<i32> {
    table
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::action_names::is_known_action;

    #[test]
    fn every_seeded_action_is_a_real_message_action() {
        for spec in AUDIT_ACTIONS {
            assert!(is_known_action(spec.id), "{}", spec.id);
            assert!(spec.id >= 2000);
            assert!(spec.weight > 0);
        }
        for spec in LOGIN_ACTIONS {
            assert!(is_known_action(spec.id), "{}", spec.id);
            assert!(spec.id < 2000);
        }
    }

    #[test]
    fn mapper_metadata_matches_contract() {
        let find = |id| AUDIT_ACTIONS.iter().find(|a| a.id == id).unwrap();
        let upload = find(5011);
        assert_eq!(
            (upload.action_type, upload.product, upload.location),
            (13, 2, 1)
        );
        assert_eq!(upload.entries, &[1]);
        let access = find(5075);
        assert_eq!((access.action_type, access.location), (2, 27));
        assert_eq!(access.entries, &[25]);
        assert_eq!(find(5015).entries, &[1, 2]);
        let created = find(4000);
        assert_eq!(
            (created.action_type, created.product, created.location),
            (1, 8, 30)
        );
        assert!(find(6028).entries.is_empty());
    }

    #[test]
    fn weighted_index_respects_weights() {
        let table = WeightedIndex::new([0, 3, 1]);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut counts = [0usize; 3];
        for _ in 0..4000 {
            counts[table.draw(&mut rng)] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1] > counts[2] * 2, "{counts:?}");
    }
}
