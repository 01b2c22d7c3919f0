//! The Argo CD resource actions of a ComplianceReport (run-now, suspend, resume): their tests
//! pass on Lua 5.1 under scripts/argocd-health-test.lua, argocd/argocd-cm-patch.yaml embeds
//! the scripts unchanged, and the runner reports a wrong expectation as a failure.
//!
//! Standalone: needs only lua5.1 with lyaml, found (and installed if missing) by
//! scripts/test-tools.sh like the other tool-based tests.

mod support;

use std::path::Path;

use support::files::{copy_dir, read, yaml};
use support::tools::{ROOT, lua, run, text};

const ACTIONS_DIR: &str =
    "argocd/resource_customizations/compliance.docspace.dev/ComplianceReport/actions";
const RUNNER: &str = "scripts/argocd-health-test.lua";
const ACTIONS_KEY: &str =
    "resource.customizations.actions.compliance.docspace.dev_ComplianceReport";

/// Discovery tests plus action tests in an action_test.yaml.
fn test_count(action_test_yaml: &str) -> usize {
    let spec = yaml(action_test_yaml);
    ["discoveryTests", "actionTests"]
        .iter()
        .map(|key| spec[key].as_array().map_or(0, Vec::len))
        .sum()
}

/// The action names: the subdirectories of the actions directory that hold an action.lua.
fn action_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("{ROOT}/{ACTIONS_DIR}"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("action.lua").is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn argocd_actions_pass_their_tests_on_lua_5_1() {
    let lua = lua();
    let out = run(&lua, &[RUNNER, ACTIONS_DIR]);
    let stdout = text(&out.stdout);
    println!("{stdout}{}", text(&out.stderr));
    assert!(
        out.status.success(),
        "Argo CD action tests failed:\n{stdout}"
    );
    let expected = test_count(&read(format!("{ROOT}/{ACTIONS_DIR}/action_test.yaml")));
    assert!(expected > 0);
    assert!(
        stdout.contains(&format!("\n{expected} passed, 0 failed")),
        "{stdout}"
    );
    // Every action has at least one action test.
    let spec = yaml(&read(format!("{ROOT}/{ACTIONS_DIR}/action_test.yaml")));
    for name in action_names() {
        assert!(
            spec["actionTests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["action"] == name.as_str()),
            "action_test.yaml has no test of {name}"
        );
    }
}

#[test]
fn argocd_cm_patch_embeds_the_action_scripts() {
    let patch = yaml(&read(format!("{ROOT}/argocd/argocd-cm-patch.yaml")));
    let embedded = patch["data"][ACTIONS_KEY]
        .as_str()
        .unwrap_or_else(|| panic!("argocd/argocd-cm-patch.yaml has no data.{ACTIONS_KEY}"));
    let actions = yaml(embedded);
    let mut keys: Vec<&String> = actions.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["definitions", "discovery.lua"], "{actions}");
    assert_eq!(
        actions["discovery.lua"].as_str(),
        Some(read(format!("{ROOT}/{ACTIONS_DIR}/discovery.lua")).as_str()),
        "argocd/argocd-cm-patch.yaml must embed {ACTIONS_DIR}/discovery.lua unchanged"
    );
    let definitions = actions["definitions"].as_array().unwrap();
    let mut names: Vec<String> = definitions
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        action_names(),
        "argocd/argocd-cm-patch.yaml must define each action under {ACTIONS_DIR} once"
    );
    for definition in definitions {
        let name = definition["name"].as_str().unwrap();
        assert_eq!(
            definition["action.lua"].as_str(),
            Some(read(format!("{ROOT}/{ACTIONS_DIR}/{name}/action.lua")).as_str()),
            "argocd/argocd-cm-patch.yaml must embed {ACTIONS_DIR}/{name}/action.lua unchanged"
        );
    }
}

#[test]
fn the_runner_fails_on_a_wrong_expectation_and_names_the_test() {
    let lua = lua();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("actions");
    copy_dir(&Path::new(ROOT).join(ACTIONS_DIR), &dir);
    let spec_path = dir.join("action_test.yaml");
    let spec = read(&spec_path);
    // suspend must set spec.suspend; expect the unchanged object instead.
    let right = "  - action: suspend\n    inputPath: testdata/report.yaml\n    \
                 expectedOutputPath: testdata/report-suspended.yaml\n";
    let wrong = "  - action: suspend\n    inputPath: testdata/report.yaml\n    \
                 expectedOutputPath: testdata/report.yaml\n";
    assert_eq!(spec.matches(right).count(), 1, "{spec}");
    // run-now stamps the pinned instant; pin another one than its expected output shows.
    let pinned = "now: \"2026-11-20T09:15:00Z\"";
    assert!(spec.contains(pinned), "{spec}");
    let broken = spec
        .replace(right, wrong)
        .replacen(pinned, "now: \"2026-11-20T09:16:00Z\"", 1);
    std::fs::write(&spec_path, &broken).unwrap();

    let out = run(&lua, &[RUNNER, dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    println!("{stdout}{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  action suspend testdata/report.yaml: ")
            && stdout.contains("at spec.suspend"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  action run-now testdata/report.yaml: ")
            && stdout.contains("\"2026-11-20T09:16:00Z\""),
        "{stdout}"
    );
    let total = test_count(&broken);
    assert!(
        stdout.contains(&format!("\n{} passed, 2 failed", total - 2)),
        "{stdout}"
    );
}
