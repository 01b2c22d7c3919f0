//! Compiles the server's `MessageAction` list (`data/docspace-message-actions.json`, rows of
//! `[group, name, id, description]`) into a static table, so that a broken or missing list
//! fails the build with what is wrong instead of leaving the catalog empty at run time.

use std::collections::HashSet;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let source = manifest_dir.join("../../data/docspace-message-actions.json");
    println!("cargo::rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
    let rows: Vec<(String, String, i32, String)> =
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{}: expected a list of [group, name, id, description] rows: {e}",
                source.display()
            )
        });
    assert!(!rows.is_empty(), "{}: no actions", source.display());
    let (mut ids, mut names) = (HashSet::new(), HashSet::new());
    let mut table = String::from("static ACTIONS: &[MessageAction] = &[\n");
    for (group, name, id, description) in &rows {
        assert!(ids.insert(*id), "{}: id {id} twice", source.display());
        assert!(
            names.insert(name),
            "{}: name {name} twice",
            source.display()
        );
        table.push_str(&format!(
            "    MessageAction {{ group: {group:?}, name: {name:?}, id: {id}, description: {description:?} }},\n"
        ));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("actions.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
