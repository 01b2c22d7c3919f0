//! The Argo CD resource actions of a ComplianceReport (run-now, suspend, resume): their tests
//! pass on Lua 5.1 under scripts/argocd-health-test.lua, argocd/argocd-cm-patch.yaml embeds
//! the scripts unchanged, and the runner reports a wrong expectation as a failure.
//!
//! Standalone: needs only lua5.1 with lyaml, found (and installed if missing) by
//! scripts/test-tools.sh like the other tool-based tests.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const ACTIONS_DIR: &str =
    "argocd/resource_customizations/compliance.docspace.dev/ComplianceReport/actions";
const RUNNER: &str = "scripts/argocd-health-test.lua";
const ACTIONS_KEY: &str =
    "resource.customizations.actions.compliance.docspace.dev_ComplianceReport";

/// lua5.1 (with lyaml), installed on first use; fails the test with how to install it.
fn lua() -> String {
    let out = Command::new(format!("{ROOT}/scripts/test-tools.sh"))
        .args(["path", "lua"])
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/test-tools.sh runs");
    assert!(
        out.status.success(),
        "lua5.1 with lyaml is not available and could not be installed (see the lines above); \
         install it with `scripts/test-tools.sh install` or `apt-get install lua5.1 lua-yaml`"
    );
    let lua = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let version = run(&lua, &["-v"]);
    let version = text(&version.stdout) + &text(&version.stderr);
    assert!(
        version.contains("Lua 5.1"),
        "{lua} is not Lua 5.1: {version}"
    );
    lua
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run: {e}"))
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(source: &str) -> serde_json::Value {
    serde_saphyr::from_str(source).unwrap()
}

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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
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
