//! The compliance categories of DocSpace actions, from the versioned mapping in
//! `data/compliance-categories.json` (compiled in by build.rs): which category, and so which
//! report section, an event belongs to, and why. Sections read the categories they analyse
//! from the mapping's `section` field, so the code and the text name the same ones.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::docspace::catalog::ActionCatalog;

/// One category of actions.
#[derive(Debug, Clone, Copy)]
pub struct Category {
    /// Stable id, e.g. `authentication-failure`; the `category` column of csv and ndjson.
    pub id: &'static str,
    /// A title for reports.
    pub title: &'static str,
    /// The report section that analyses it.
    pub section: &'static str,
    /// What it covers.
    pub description: &'static str,
    /// MessageAction names.
    pub actions: &'static [&'static str],
}

/// An action deliberately left out of every category.
#[derive(Debug, Clone, Copy)]
pub struct Uncategorised {
    /// The MessageAction name.
    pub action: &'static str,
    /// Why.
    pub reason: &'static str,
}

// `VERSION`, `CATEGORIES` and `LEFT_OUT`, written by build.rs from the mapping.
include!(concat!(env!("OUT_DIR"), "/categories.rs"));

/// The whole mapping.
#[derive(Debug)]
pub struct CategoryMap {
    /// Version, stated on report covers.
    pub version: &'static str,
    /// The categories.
    pub categories: &'static [Category],
    /// Actions in no category.
    pub uncategorised: &'static [Uncategorised],
    by_action: HashMap<i32, usize>,
}

/// The id reported for actions in no category (and unknown actions).
pub const UNCATEGORISED: &str = "uncategorised";

static MAP: LazyLock<CategoryMap> = LazyLock::new(|| {
    let catalog = ActionCatalog::get();
    let mut by_action = HashMap::new();
    for (index, category) in CATEGORIES.iter().enumerate() {
        for name in category.actions {
            if let Some(action) = catalog.by_name(name) {
                by_action.insert(action.id, index);
            }
        }
    }
    CategoryMap {
        version: VERSION,
        categories: CATEGORIES,
        uncategorised: LEFT_OUT,
        by_action,
    }
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
        self.of(action_id).map_or(UNCATEGORISED, |c| c.id)
    }

    /// The category with this id.
    pub fn by_id(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The report section that analyses an action id (`""` for uncategorised actions).
    pub fn section_of(&self, action_id: i32) -> &str {
        self.of(action_id).map_or("", |c| c.section)
    }

    /// The ids of the categories a section analyses, comma-separated, for the section's text.
    pub fn ids_in_section(&self, section: &str) -> String {
        let ids: Vec<&str> = self
            .categories
            .iter()
            .filter(|c| c.section == section)
            .map(|c| c.id)
            .collect();
        ids.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_action_is_in_exactly_one_category_or_explicitly_uncategorised() {
        let map = CategoryMap::get();
        assert!(!map.version.is_empty() && !map.categories.is_empty());
        let catalog = ActionCatalog::get();
        let mut seen = HashSet::new();
        for category in map.categories {
            for name in category.actions {
                assert!(
                    catalog.by_name(name).is_some(),
                    "{name} in {} is not a DocSpace action",
                    category.id
                );
                assert!(seen.insert(*name), "{name} is in two categories");
            }
        }
        for entry in map.uncategorised {
            assert!(
                catalog.by_name(entry.action).is_some(),
                "{} is not a DocSpace action",
                entry.action
            );
            assert!(!entry.reason.is_empty());
            assert!(
                seen.insert(entry.action),
                "{} is both categorised and not",
                entry.action
            );
        }
        let missing: Vec<&str> = catalog
            .all()
            .iter()
            .map(|a| a.name)
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
        assert_eq!(map.by_id("deletion").map(|c| c.section), Some("deletions"));
    }
}
