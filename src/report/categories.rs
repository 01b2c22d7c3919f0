//! The compliance categories of DocSpace actions, from the versioned mapping in
//! `data/compliance-categories.json`: which category (and so which report section) an event
//! belongs to, and why.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::docspace::catalog::ActionCatalog;

/// One category of actions.
#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    /// Stable id, e.g. `authentication-failure`; the `category` column of csv and ndjson.
    pub id: String,
    /// A title for reports.
    pub title: String,
    /// The report section that analyses it.
    pub section: String,
    /// What it covers.
    pub description: String,
    /// MessageAction names.
    pub actions: Vec<String>,
}

/// An action deliberately left out of every category.
#[derive(Debug, Clone, Deserialize)]
pub struct Uncategorised {
    /// The MessageAction name.
    pub action: String,
    /// Why.
    pub reason: String,
}

/// The whole mapping.
#[derive(Debug, Clone, Deserialize)]
pub struct CategoryMap {
    /// Version, stated on report covers.
    pub version: String,
    /// The categories.
    pub categories: Vec<Category>,
    /// Actions in no category.
    pub uncategorised: Vec<Uncategorised>,
    #[serde(skip)]
    by_action: HashMap<i32, usize>,
}

/// The id reported for actions in no category (and unknown actions).
pub const UNCATEGORISED: &str = "uncategorised";

static MAP: LazyLock<CategoryMap> = LazyLock::new(|| {
    let mut map: CategoryMap = serde_json::from_str(include_str!(
        "../../data/compliance-categories.json"
    ))
    .unwrap_or_else(|_| CategoryMap {
        version: "invalid".to_owned(),
        categories: Vec::new(),
        uncategorised: Vec::new(),
        by_action: HashMap::new(),
    });
    let catalog = ActionCatalog::get();
    for (index, category) in map.categories.iter().enumerate() {
        for name in &category.actions {
            if let Some(action) = catalog.by_name(name) {
                map.by_action.insert(action.id, index);
            }
        }
    }
    map
});

impl CategoryMap {
    /// The mapping compiled into the binary.
    pub fn get() -> &'static CategoryMap {
        &MAP
    }

    /// The category of an action id.
    pub fn of(&self, action_id: i32) -> Option<&Category> {
        self.by_action.get(&action_id).map(|&i| &self.categories[i])
    }

    /// The category id of an action id, or [`UNCATEGORISED`].
    pub fn id_of(&self, action_id: i32) -> &str {
        self.of(action_id).map_or(UNCATEGORISED, |c| c.id.as_str())
    }

    /// The category with this id.
    pub fn by_id(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_action_is_in_exactly_one_category_or_explicitly_uncategorised() {
        let map = CategoryMap::get();
        assert_ne!(map.version, "invalid", "the mapping parses");
        let catalog = ActionCatalog::get();
        let mut seen = HashSet::new();
        for category in &map.categories {
            for name in &category.actions {
                assert!(
                    catalog.by_name(name).is_some(),
                    "{name} in {} is not a DocSpace action",
                    category.id
                );
                assert!(seen.insert(name.clone()), "{name} is in two categories");
            }
        }
        for entry in &map.uncategorised {
            assert!(
                catalog.by_name(&entry.action).is_some(),
                "{} is not a DocSpace action",
                entry.action
            );
            assert!(!entry.reason.is_empty());
            assert!(
                seen.insert(entry.action.clone()),
                "{} is both categorised and not",
                entry.action
            );
        }
        let missing: Vec<&str> = catalog
            .all()
            .iter()
            .map(|a| a.name.as_str())
            .filter(|n| !seen.contains(*n))
            .collect();
        assert!(
            missing.is_empty(),
            "actions with no category and no reason: {missing:?}"
        );
    }

    #[test]
    fn lookups() {
        let map = CategoryMap::get();
        assert_eq!(map.id_of(1023), "authentication-failure");
        assert_eq!(map.id_of(5009), "download-export");
        assert_eq!(map.id_of(5088), "external-sharing");
        assert_eq!(map.id_of(5018), "deletion");
        assert_eq!(map.id_of(-1), UNCATEGORISED);
        assert_eq!(map.id_of(99_999), UNCATEGORISED);
        assert_eq!(
            map.by_id("deletion").map(|c| c.section.as_str()),
            Some("deletions")
        );
    }
}
