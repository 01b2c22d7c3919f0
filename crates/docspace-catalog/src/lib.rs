//! DocSpace's enumerations: every `MessageAction` (from the server's own list, shipped in the
//! repository's `data/docspace-message-actions.json` and compiled in by build.rs), and the
//! small `ActionType`, `EntryType` and `LocationType` enums. Lookups work both ways, by name
//! and by id. Shared by the operator and the DocSpace simulator.

use std::collections::HashMap;
use std::sync::LazyLock;

/// One `MessageAction` of the DocSpace server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageAction {
    /// The server's region (group) of the action, e.g. `Documents`, `Login`.
    pub group: &'static str,
    /// The enum name, e.g. `FileDeleted`.
    pub name: &'static str,
    /// The numeric id, e.g. `5018`.
    pub id: i32,
    /// A short English description.
    pub description: &'static str,
}

// `static ACTIONS: &[MessageAction]`, written by build.rs from the server's list.
include!(concat!(env!("OUT_DIR"), "/actions.rs"));

/// All message actions, indexed by id and by name.
pub struct ActionCatalog {
    actions: &'static [MessageAction],
    by_id: HashMap<i32, usize>,
    by_name: HashMap<&'static str, usize>,
}

static CATALOG: LazyLock<ActionCatalog> = LazyLock::new(|| ActionCatalog {
    actions: ACTIONS,
    by_id: ACTIONS.iter().enumerate().map(|(i, a)| (a.id, i)).collect(),
    by_name: ACTIONS
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name, i))
        .collect(),
});

impl ActionCatalog {
    /// The catalog compiled into the binary.
    pub fn get() -> &'static ActionCatalog {
        &CATALOG
    }

    /// Every action, in the server's order.
    pub fn all(&self) -> &'static [MessageAction] {
        self.actions
    }

    /// The action with this id.
    pub fn by_id(&self, id: i32) -> Option<&'static MessageAction> {
        self.by_id.get(&id).and_then(|&i| self.actions.get(i))
    }

    /// The action with this exact name.
    pub fn by_name(&self, name: &str) -> Option<&'static MessageAction> {
        self.by_name.get(name).and_then(|&i| self.actions.get(i))
    }

    /// The enum name for an id, or `None` for ids this catalog does not know.
    pub fn name_of(&self, id: i32) -> Option<&'static str> {
        self.by_id(id).map(|a| a.name)
    }
}

/// A small DocSpace enum: `(id, name)` pairs.
pub struct SmallEnum {
    /// What the enum is called, for error messages.
    pub label: &'static str,
    entries: &'static [(i32, &'static str)],
}

impl SmallEnum {
    /// The name of an id, if known.
    pub fn name_of(&self, id: i32) -> Option<&'static str> {
        self.entries.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
    }

    /// The id of a name, matched case-insensitively.
    pub fn id_of(&self, name: &str) -> Option<i32> {
        self.entries
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(i, _)| *i)
    }

    /// Whether the id is known.
    pub fn contains(&self, id: i32) -> bool {
        self.name_of(id).is_some()
    }

    /// All names, for error messages.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|(_, n)| *n).collect()
    }

    /// The id of a name, matched exactly. Unlike [`SmallEnum::id_of`] this is a `const fn`,
    /// so constants can be written by name and checked when compiling:
    /// `const UPLOAD: Option<i32> = ACTION_TYPES.const_id_of("Upload");`.
    pub const fn const_id_of(&self, name: &str) -> Option<i32> {
        let mut i = 0;
        while i < self.entries.len() {
            let (id, entry) = self.entries[i];
            if same_bytes(entry.as_bytes(), name.as_bytes()) {
                return Some(id);
            }
            i += 1;
        }
        None
    }
}

/// Byte-wise equality, for `const fn`s (slice `==` is not `const`).
const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `ActionType` (SRV `ASC.AuditTrail/Types/ActionType.cs`).
pub const ACTION_TYPES: SmallEnum = SmallEnum {
    label: "action type",
    entries: &[
        (0, "None"),
        (1, "Create"),
        (2, "Update"),
        (3, "Delete"),
        (4, "Link"),
        (5, "Unlink"),
        (6, "Attach"),
        (7, "Detach"),
        (8, "Send"),
        (9, "Import"),
        (10, "Export"),
        (11, "UpdateAccess"),
        (12, "Download"),
        (13, "Upload"),
        (14, "Copy"),
        (15, "Move"),
        (16, "Reassigns"),
        (17, "Follow"),
        (18, "Unfollow"),
        (19, "Logout"),
    ],
};

/// `EntryType` (SRV `ASC.AuditTrail/Types/EntryType.cs`).
pub const ENTRY_TYPES: SmallEnum = SmallEnum {
    label: "entry type",
    entries: &[
        (0, "None"),
        (1, "File"),
        (2, "Folder"),
        (23, "User"),
        (24, "Group"),
        (25, "Room"),
        (26, "Tag"),
        (27, "Agent"),
    ],
};

/// `LocationType` (servers from v3.5 on).
pub const LOCATION_TYPES: SmallEnum = SmallEnum {
    label: "location",
    entries: &[
        (0, "None"),
        (1, "Files"),
        (2, "Folders"),
        (3, "DocumentsSettings"),
        (27, "Rooms"),
        (29, "Settings"),
        (30, "Contacts"),
        (31, "Agents"),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_every_action_of_the_server_list() {
        let catalog = ActionCatalog::get();
        assert_eq!(catalog.all().len(), 334);
        assert_eq!(catalog.by_name("FileDeleted").map(|a| a.id), Some(5018));
        assert_eq!(catalog.name_of(5075), Some("RoomUpdateAccessForUser"));
        assert_eq!(catalog.by_id(1000).map(|a| a.group), Some("Login"));
        assert!(catalog.by_id(123_456).is_none());
    }

    #[test]
    fn small_enums_look_up_both_ways() {
        assert_eq!(ACTION_TYPES.id_of("updateaccess"), Some(11));
        assert_eq!(ACTION_TYPES.name_of(12), Some("Download"));
        assert_eq!(ENTRY_TYPES.id_of("Room"), Some(25));
        assert_eq!(LOCATION_TYPES.name_of(27), Some("Rooms"));
        assert!(!ENTRY_TYPES.contains(3));
    }

    #[test]
    fn const_lookup_is_exact_and_works_in_constants() {
        const UPLOAD: Option<i32> = ACTION_TYPES.const_id_of("Upload");
        assert_eq!(UPLOAD, Some(13));
        assert_eq!(ENTRY_TYPES.const_id_of("Agent"), Some(27));
        assert_eq!(LOCATION_TYPES.const_id_of("DocumentsSettings"), Some(3));
        assert_eq!(ACTION_TYPES.const_id_of("upload"), None);
        assert_eq!(ACTION_TYPES.const_id_of("Uploa"), None);
        assert_eq!(ACTION_TYPES.const_id_of(""), None);
        for name in LOCATION_TYPES.names() {
            assert_eq!(LOCATION_TYPES.const_id_of(name), LOCATION_TYPES.id_of(name));
        }
    }
}
