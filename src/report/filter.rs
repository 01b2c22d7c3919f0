//! The event filter of a `ComplianceReport`: every non-empty list must match (AND), any entry
//! within a list may match (OR); exclusions always win.

use std::collections::HashSet;

use crate::docspace::catalog::{ACTION_TYPES, ActionCatalog, ENTRY_TYPES, SmallEnum};
use crate::docspace::{Event, ServerFilter};
use crate::spec::{EventFilterSpec, NameOrId};

/// A filter entry that names nothing DocSpace knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FilterError {
    /// The spec field, e.g. `spec.filter.actions[2]`.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

/// A compiled filter; names are resolved to ids once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    action_types: HashSet<i32>,
    actions: HashSet<i32>,
    exclude_actions: HashSet<i32>,
    users: HashSet<String>,
    exclude_users: HashSet<String>,
    entry_types: HashSet<i32>,
    targets: HashSet<String>,
    contexts: HashSet<String>,
}

fn resolve_actions(field: &str, values: &[NameOrId]) -> Result<HashSet<i32>, FilterError> {
    let catalog = ActionCatalog::get();
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let found = match value {
                NameOrId::Id(id) => catalog.by_id(*id),
                NameOrId::Name(name) => catalog
                    .by_name(name.trim())
                    .or_else(|| name.trim().parse().ok().and_then(|id| catalog.by_id(id))),
            };
            found.map(|a| a.id).ok_or_else(|| FilterError {
                field: format!("spec.filter.{field}[{i}]"),
                message: format!(
                    "unknown DocSpace action {value:?}; use a MessageAction name such as FileDeleted or its id such as 5018"
                ),
            })
        })
        .collect()
}

fn resolve_enum(
    field: &str,
    table: &SmallEnum,
    values: &[NameOrId],
) -> Result<HashSet<i32>, FilterError> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let id = match value {
                NameOrId::Id(id) => table.contains(*id).then_some(*id),
                NameOrId::Name(name) => table
                    .id_of(name.trim())
                    .or_else(|| name.trim().parse().ok().filter(|id| table.contains(*id))),
            };
            id.ok_or_else(|| FilterError {
                field: format!("spec.filter.{field}[{i}]"),
                message: format!(
                    "unknown {} {value:?}; expected one of {}",
                    table.label,
                    table.names().join(", ")
                ),
            })
        })
        .collect()
}

/// A UUID in its 8-4-4-4-12 form (what `userId` carries).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether DocSpace's action mappers know the action (the server returns only mapped actions,
/// and asking for an unmapped one explicitly may fail).
fn mapped_action(id: i32) -> bool {
    !UNMAPPED_ACTIONS.contains(&id)
}

/// Actions in `MessageAction` that no mapper lists (see the API reference).
const UNMAPPED_ACTIONS: [i32; 11] = [
    5083, 5101, 5102, 5103, 5104, 5105, 5098, 7001, 7002, 7003, 7004,
];

fn normalized(values: &[String]) -> HashSet<String> {
    values.iter().map(|v| v.trim().to_lowercase()).collect()
}

impl EventFilter {
    /// Resolves names against DocSpace's enumerations.
    pub fn compile(spec: &EventFilterSpec) -> Result<Self, Vec<FilterError>> {
        let mut errors = Vec::new();
        let mut take = |r: Result<HashSet<i32>, FilterError>| {
            r.unwrap_or_else(|e| {
                errors.push(e);
                HashSet::new()
            })
        };
        let filter = Self {
            action_types: take(resolve_enum(
                "actionTypes",
                &ACTION_TYPES,
                &spec.action_types,
            )),
            actions: take(resolve_actions("actions", &spec.actions)),
            exclude_actions: take(resolve_actions("excludeActions", &spec.exclude_actions)),
            entry_types: take(resolve_enum("entryTypes", &ENTRY_TYPES, &spec.entry_types)),
            users: normalized(&spec.users),
            exclude_users: normalized(&spec.exclude_users),
            targets: spec.targets.iter().map(|t| t.trim().to_owned()).collect(),
            contexts: normalized(&spec.contexts),
        };
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(errors)
        }
    }

    /// Whether the event belongs in the report.
    pub fn matches(&self, event: &Event) -> bool {
        if self.exclude_actions.contains(&event.action_id) {
            return false;
        }
        let user = event.user_id.as_deref().map(str::to_lowercase);
        if let Some(user) = &user
            && self.exclude_users.contains(user)
        {
            return false;
        }
        (self.action_types.is_empty()
            || event
                .action_type
                .is_some_and(|t| self.action_types.contains(&t)))
            && (self.actions.is_empty() || self.actions.contains(&event.action_id))
            && (self.users.is_empty() || user.is_some_and(|u| self.users.contains(&u)))
            && (self.entry_types.is_empty()
                || event.entries.iter().any(|e| self.entry_types.contains(e)))
            && (self.targets.is_empty() || event.target.iter().any(|t| self.targets.contains(t)))
            && (self.contexts.is_empty()
                || event
                    .context
                    .as_deref()
                    .is_some_and(|c| self.contexts.contains(&c.trim().to_lowercase())))
    }

    /// The part of the filter the portal can apply before paging: the user when the spec
    /// names exactly one by UUID, the action when it names exactly one, else the action type
    /// when it names exactly one. Events the portal returns still pass [`Self::matches`]. An
    /// action outside every DocSpace mapper is never sent (the server cannot describe it).
    pub fn server_side(&self) -> ServerFilter {
        let single = |set: &HashSet<i32>| {
            (set.len() == 1)
                .then(|| set.iter().copied().next())
                .flatten()
        };
        let user_id = (self.users.len() == 1)
            .then(|| self.users.iter().next())
            .flatten()
            .filter(|user| is_uuid(user))
            .cloned();
        let action = single(&self.actions).filter(|id| mapped_action(*id));
        let action_type = if self.actions.is_empty() {
            single(&self.action_types)
        } else {
            None
        };
        ServerFilter {
            user_id,
            action,
            action_type,
        }
    }

    /// Whether the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::event;

    fn spec(json: &str) -> EventFilterSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn empty_filter_keeps_everything() {
        let f = EventFilter::compile(&EventFilterSpec::default()).unwrap();
        assert!(f.is_empty());
        assert!(f.matches(&event(1, 5011)));
    }

    #[test]
    fn names_and_ids_resolve_and_lists_combine() {
        let f = EventFilter::compile(&spec(
            r#"{"actionTypes":["Delete","Upload"],"excludeActions":["FileUploadedWithOverwriting"],"contexts":["rooms: legal"]}"#,
        ))
        .unwrap();
        let mut upload = event(1, 5011);
        upload.action_type = Some(13);
        upload.context = Some("Rooms: Legal".into());
        assert!(f.matches(&upload));
        let mut overwrite = upload.clone();
        overwrite.action_id = 5099;
        assert!(!f.matches(&overwrite), "exclusions win");
        let mut elsewhere = upload.clone();
        elsewhere.context = Some("Rooms: HR".into());
        assert!(!f.matches(&elsewhere));
        let mut read = upload.clone();
        read.action_type = Some(2);
        assert!(!f.matches(&read));
    }

    #[test]
    fn users_targets_and_entry_types() {
        let f = EventFilter::compile(&spec(
            r#"{"users":["6B0F7B1E-2A1C-4B8E-9D2A-0C1F5E6A7B8C"],"targets":["1045"],"entryTypes":["Room", 1]}"#,
        ))
        .unwrap();
        let mut e = event(1, 5075);
        e.user_id = Some("6b0f7b1e-2a1c-4b8e-9d2a-0c1f5e6a7b8c".into());
        e.target = vec!["1045".into()];
        e.entries = vec![25];
        assert!(f.matches(&e));
        e.entries = vec![23];
        assert!(!f.matches(&e));
    }

    #[test]
    fn only_single_values_go_to_the_server() {
        let server = |json: &str| EventFilter::compile(&spec(json)).unwrap().server_side();
        assert!(server("{}").is_empty());
        let one = server(
            r#"{"users":["6B0F7B1E-2A1C-4B8E-9D2A-0C1F5E6A7B8C"],"actions":["FileDeleted"],"actionTypes":["Delete"]}"#,
        );
        assert_eq!(
            one.query(),
            [
                ("userId", "6b0f7b1e-2a1c-4b8e-9d2a-0c1f5e6a7b8c".to_owned()),
                ("action", "5018".to_owned())
            ]
        );
        // Two users, a user by name, two actions: filtered here only.
        assert!(server(r#"{"users":["a@example.com"]}"#).is_empty());
        assert!(server(r#"{"actions":["FileDeleted","FileUploaded"]}"#).is_empty());
        assert_eq!(
            server(r#"{"actionTypes":["Delete"]}"#).query(),
            [("actionType", "3".to_owned())]
        );
        // With two actions the single action type is not sent either: the server would
        // apply it alone and the client needs both lists.
        assert!(
            server(r#"{"actions":["FileDeleted","FileUploaded"],"actionTypes":["Delete"]}"#)
                .is_empty()
        );
        // An action no mapper knows stays client-side.
        assert!(server(r#"{"actions":[7001]}"#).is_empty());
    }

    #[test]
    fn unknown_names_are_errors_naming_the_field() {
        let errors = EventFilter::compile(&spec(
            r#"{"actions":["FileDeleted","FileShredded"],"actionTypes":["Destroy"],"entryTypes":[3]}"#,
        ))
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{text:?}");
        assert!(
            text[0].starts_with("spec.filter.actionTypes[0]"),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("spec.filter.actions[1]") && t.contains("FileShredded"))
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("spec.filter.entryTypes[0]"))
        );
    }
}
