//! The actions the simulator seeds, with the mapper metadata of §2.3 (action type, product,
//! location, entries), what the target refers to, a relative frequency and the text template
//! used for the localized-looking `action` string.
//!
//! The `ActionType`, `EntryType` and `LocationType` values are looked up by name in the shared
//! DocSpace catalog ([`docspace_catalog`]) when compiling.

use docspace_catalog::{ACTION_TYPES, ENTRY_TYPES, LOCATION_TYPES, SmallEnum};

/// The id of `name` in `table`. Only used to define constants, so an unknown name fails the
/// build instead of panicking at run time.
const fn id(table: &SmallEnum, name: &str) -> i32 {
    match table.const_id_of(name) {
        Some(id) => id,
        None => panic!("not a name of this DocSpace enum"),
    }
}

const CREATE: i32 = id(&ACTION_TYPES, "Create");
const UPDATE: i32 = id(&ACTION_TYPES, "Update");
const DELETE: i32 = id(&ACTION_TYPES, "Delete");
const SEND: i32 = id(&ACTION_TYPES, "Send");
const UPDATE_ACCESS: i32 = id(&ACTION_TYPES, "UpdateAccess");
const DOWNLOAD: i32 = id(&ACTION_TYPES, "Download");
const UPLOAD: i32 = id(&ACTION_TYPES, "Upload");
const COPY: i32 = id(&ACTION_TYPES, "Copy");
const MOVE: i32 = id(&ACTION_TYPES, "Move");

const ENTRY_FILE: i32 = id(&ENTRY_TYPES, "File");
const ENTRY_FOLDER: i32 = id(&ENTRY_TYPES, "Folder");
const ENTRY_USER: i32 = id(&ENTRY_TYPES, "User");
const ENTRY_GROUP: i32 = id(&ENTRY_TYPES, "Group");
const ENTRY_ROOM: i32 = id(&ENTRY_TYPES, "Room");

const LOCATION_FILES: i32 = id(&LOCATION_TYPES, "Files");
const LOCATION_FOLDERS: i32 = id(&LOCATION_TYPES, "Folders");
const LOCATION_ROOMS: i32 = id(&LOCATION_TYPES, "Rooms");
const LOCATION_SETTINGS: i32 = id(&LOCATION_TYPES, "Settings");
const LOCATION_CONTACTS: i32 = id(&LOCATION_TYPES, "Contacts");

/// `ProductType` values (not in the shared catalog: the operator only passes them through).
const PRODUCT_DOCUMENTS: i32 = 2;
const PRODUCT_SETTINGS: i32 = 7;
const PRODUCT_CONTACTS: i32 = 8;

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
    pub action_type: i32,
    /// `ProductType`.
    pub product: i32,
    /// `LocationType`.
    pub location: i32,
    /// `EntryType` values.
    pub entries: &'static [i32],
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

/// Where in the portal an action happens: the mapper's product, location and entries, what
/// the target refers to and whether only administrators perform it.
#[derive(Clone, Copy)]
struct Area {
    product: i32,
    location: i32,
    entries: &'static [i32],
    subject: Subject,
    admin_only: bool,
}

const FILES: Area = Area {
    product: PRODUCT_DOCUMENTS,
    location: LOCATION_FILES,
    entries: &[ENTRY_FILE],
    subject: Subject::File,
    admin_only: false,
};
/// Moves and copies list files and folders.
const FILES_AND_FOLDERS: Area = Area {
    entries: &[ENTRY_FILE, ENTRY_FOLDER],
    ..FILES
};
const TRASH: Area = Area {
    subject: Subject::Trash,
    ..FILES
};
const FOLDERS: Area = Area {
    location: LOCATION_FOLDERS,
    entries: &[ENTRY_FOLDER],
    subject: Subject::Folder,
    ..FILES
};
const ROOMS: Area = Area {
    location: LOCATION_ROOMS,
    entries: &[ENTRY_ROOM],
    subject: Subject::Room,
    ..FILES
};
const ROOMS_ADMIN: Area = Area {
    admin_only: true,
    ..ROOMS
};
const USERS: Area = Area {
    product: PRODUCT_CONTACTS,
    location: LOCATION_CONTACTS,
    entries: &[ENTRY_USER],
    subject: Subject::User,
    admin_only: true,
};
const GROUPS: Area = Area {
    entries: &[ENTRY_GROUP],
    subject: Subject::Group,
    ..USERS
};
const SETTINGS: Area = Area {
    product: PRODUCT_SETTINGS,
    location: LOCATION_SETTINGS,
    entries: &[],
    subject: Subject::Settings,
    admin_only: true,
};
const SETTINGS_USER: Area = Area {
    subject: Subject::SettingsUser,
    ..SETTINGS
};

const fn action(
    id: i32,
    area: Area,
    action_type: i32,
    weight: u32,
    template: &'static str,
) -> ActionSpec {
    ActionSpec {
        id,
        action_type,
        product: area.product,
        location: area.location,
        entries: area.entries,
        subject: area.subject,
        weight,
        admin_only: area.admin_only,
        template,
    }
}

/// Every audit action the simulator generates, one row each. Weights sum to roughly 1000.
#[rustfmt::skip]
pub(crate) const AUDIT_ACTIONS: &[ActionSpec] = &[
    // Files: the bulk of a portal's audit trail.
    action(5064, FILES, UPDATE, 290, "File Opened: {file}"),
    action(5009, FILES, DOWNLOAD, 140, "File Downloaded: {file}"),
    action(5011, FILES, UPLOAD, 120, "File Uploaded: {file}"),
    action(5002, FILES, UPDATE, 140, "File Updated: {file}"),
    action(5000, FILES, CREATE, 35, "File Created: {file}"),
    action(5003, FILES, CREATE, 12, "File Version Created: {file}"),
    action(5001, FILES, UPDATE, 10, "File Renamed: {file}"),
    action(5010, FILES, DOWNLOAD, 12, "File Downloaded As: {file}"),
    action(5099, FILES, UPLOAD, 10, "File Uploaded With Overwriting: {file}"),
    action(5018, FILES, DELETE, 18, "File Deleted: {file}"),
    action(5017, FILES, MOVE, 14, "File Moved To Trash: {file}"),
    action(5015, FILES_AND_FOLDERS, MOVE, 8, "Files [{file}]. Moved From Folder \"{room}\" To Folder: \"{dest}\""),
    action(5013, FILES_AND_FOLDERS, COPY, 7, "Files [{file}]. Copied From Folder \"{room}\" To Folder: \"{dest}\""),
    action(5006, FILES, UPDATE, 5, "File Locked: {file}"),
    action(5007, FILES, UPDATE, 5, "File Unlocked: {file}"),
    action(5091, FILES, CREATE, 5, "File External Link Created: {file}"),
    action(5068, FILES, UPDATE_ACCESS, 5, "File Access Updated: {file}. {user}: {role}"),
    action(6046, FILES, UPDATE, 3, "Form Submitted: {file}"),
    action(5045, FILES, SEND, 1, "Document Sent To Sign: {file}"),
    action(5061, TRASH, DELETE, 1, "Trash Emptied"),
    // Folders.
    action(5019, FOLDERS, CREATE, 8, "Folder Created: {folder}"),
    action(5020, FOLDERS, UPDATE, 2, "Folder Renamed: {folder}"),
    action(5057, FOLDERS, DOWNLOAD, 4, "Folder Downloaded: {folder}"),
    action(5026, FOLDERS, MOVE, 1, "Folder Moved To Trash: {folder}"),
    // Rooms: sharing and permission changes are ActionType Update.
    action(5075, ROOMS, UPDATE, 20, "{user} appointed: {role}"),
    action(5088, ROOMS, UPDATE, 9, "External Link Created: {link}. Room: {room}"),
    action(5085, ROOMS, UPDATE, 6, "User Added To Room: {user}. Room: {room}"),
    action(5084, ROOMS, UPDATE, 4, "User Removed From Room: {user}. Room: {room}"),
    action(5078, ROOMS, UPDATE, 2, "Tags Added: {tag}. Room: {room}"),
    action(5090, ROOMS, UPDATE, 2, "External Link Deleted: {link}. Room: {room}"),
    action(5070, ROOMS_ADMIN, CREATE, 2, "Room Created: {room}"),
    action(5071, ROOMS_ADMIN, UPDATE, 1, "Room Renamed: {room}"),
    action(5072, ROOMS_ADMIN, UPDATE, 1, "Room Archived: {room}"),
    // Contacts.
    action(4000, USERS, CREATE, 5, "User Created: {user}"),
    action(4001, USERS, CREATE, 3, "Guest Created: {user}"),
    action(4006, USERS, UPDATE, 5, "User Updated: {user}"),
    action(4017, USERS, UPDATE, 2, "User Password Updated: {user}"),
    action(4019, USERS, UPDATE, 2, "Users Type Updated: {user}"),
    action(4018, USERS, DELETE, 1, "User Deleted: {user}"),
    action(4027, GROUPS, UPDATE, 1, "Group Updated: {group}"),
    // Security and portal settings.
    action(6004, SETTINGS, UPDATE, 1, "Password Strength Settings Updated"),
    action(6005, SETTINGS, UPDATE, 1, "Two-factor Authentication Settings Updated"),
    action(6003, SETTINGS, UPDATE, 1, "Trusted Mail Domain Settings Updated"),
    action(6032, SETTINGS, UPDATE, 1, "Cookie Settings Updated"),
    action(6035, SETTINGS, UPDATE, 1, "Audit Trail Settings Updated"),
    action(6094, SETTINGS, UPDATE, 1, "IP Restrictions Settings Updated"),
    action(6095, SETTINGS, UPDATE, 1, "Login Settings Updated"),
    action(6058, SETTINGS, CREATE, 1, "API Key Created"),
    action(6009, SETTINGS_USER, CREATE, 1, "Administrator Added: {user}"),
    action(6011, SETTINGS_USER, UPDATE_ACCESS, 1, "Administrator Deleted: {user}"),
    action(6027, SETTINGS, DOWNLOAD, 1, "Login History Report Downloaded"),
    action(6028, SETTINGS, DOWNLOAD, 2, "Audit Trail Report Downloaded"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use docspace_catalog::ActionCatalog;

    #[test]
    fn every_seeded_action_is_a_real_message_action() {
        let catalog = ActionCatalog::get();
        for spec in AUDIT_ACTIONS {
            assert!(catalog.by_id(spec.id).is_some(), "{}", spec.id);
            assert!(spec.id >= 2000);
            assert!(spec.weight > 0);
            assert!(ACTION_TYPES.contains(spec.action_type), "{}", spec.id);
            assert!(LOCATION_TYPES.contains(spec.location), "{}", spec.id);
            assert!(spec.entries.iter().all(|&e| ENTRY_TYPES.contains(e)));
        }
        for spec in LOGIN_ACTIONS {
            assert!(catalog.by_id(spec.id).is_some(), "{}", spec.id);
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
}
