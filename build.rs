//! Compiles the compliance categories (`data/compliance-categories.json`) into a static table,
//! so that a mapping that does not parse fails the build with what is wrong, instead of
//! leaving every event uncategorised at run time.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

const SOURCE: &str = "data/compliance-categories.json";

fn text<'a>(value: &'a Value, field: &str, at: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{SOURCE}: {at}.{field} must be a string"))
}

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    let json =
        std::fs::read_to_string(SOURCE).unwrap_or_else(|e| panic!("cannot read {SOURCE}: {e}"));
    let map: Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{SOURCE} is not JSON: {e}"));
    let mut out = String::new();
    let version = text(&map, "version", "the mapping");
    writeln!(out, "static VERSION: &str = {version:?};").unwrap_or_default();
    out.push_str("static CATEGORIES: &[Category] = &[\n");
    let categories = map["categories"]
        .as_array()
        .unwrap_or_else(|| panic!("{SOURCE}: categories must be a list"));
    for (i, category) in categories.iter().enumerate() {
        let at = format!("categories[{i}]");
        let actions: Vec<&str> = category["actions"]
            .as_array()
            .unwrap_or_else(|| panic!("{SOURCE}: {at}.actions must be a list"))
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("{SOURCE}: {at}.actions holds a non-string"))
            })
            .collect();
        writeln!(
            out,
            "    Category {{ id: {:?}, title: {:?}, section: {:?}, description: {:?}, actions: &{:?} }},",
            text(category, "id", &at),
            text(category, "title", &at),
            text(category, "section", &at),
            text(category, "description", &at),
            actions
        )
        .unwrap_or_default();
    }
    out.push_str("];\nstatic LEFT_OUT: &[Uncategorised] = &[\n");
    let left_out = map["uncategorised"]
        .as_array()
        .unwrap_or_else(|| panic!("{SOURCE}: uncategorised must be a list"));
    for (i, entry) in left_out.iter().enumerate() {
        let at = format!("uncategorised[{i}]");
        writeln!(
            out,
            "    Uncategorised {{ action: {:?}, reason: {:?} }},",
            text(entry, "action", &at),
            text(entry, "reason", &at)
        )
        .unwrap_or_default();
    }
    out.push_str("];\n");
    let target =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("categories.rs");
    std::fs::write(&target, out)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}
