//! The binary as a user runs it: `report` against the simulator, and its errors.

mod support;

use std::process::Output;

use docspace_sim::SimHandle;
use support::sim::{sim, sim_key, utc};

const BIN: &str = env!("CARGO_BIN_EXE_docspace-compliance-operator");

fn report_file(dir: &std::path::Path, url: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("report.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\nmetadata:\n  name: cli\n  namespace: team\n\
             spec:\n  portal:\n    url: {url}\n    tokenSecretRef: {{name: docspace}}\n  schedule: '0 3 * * *'\n  \
             period: PreviousDay\n  upload: {{folderId: '1045'}}\n{extra}"
        ),
    )
    .unwrap();
    path
}

async fn run_cli(args: &[&str], token: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .env_remove("DOCSPACE_TOKEN")
        .env("RUST_LOG", "trace");
    if let Some(token) = token {
        command.env("DOCSPACE_TOKEN", token);
    }
    command.output().await.unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn day_sim() -> SimHandle {
    sim(400, "2025-03-14T00:00:00Z", "2025-03-16T00:00:00Z", |_| {}).await
}

#[tokio::test]
async fn report_prints_one_json_object_and_never_the_key() {
    let sim = day_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = report_file(dir.path(), &sim.base_url(), "");
    let out_dir = dir.path().join("out");
    let output = run_cli(
        &[
            "report",
            "--file",
            file.to_str().unwrap(),
            "--at",
            "2025-03-15T03:00:00Z",
            "--out-dir",
            out_dir.to_str().unwrap(),
        ],
        Some(&sim_key()),
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stdout.contains(&sim_key()) && !stderr.contains(&sim_key()),
        "the API key leaked"
    );
    assert!(
        stderr.contains("DEBUG") || stderr.contains("TRACE"),
        "trace logging was on: {stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["period"]["from"], "2025-03-14T00:00:00+00:00");
    assert_eq!(json["period"]["to"], "2025-03-15T00:00:00+00:00");
    let truth = sim
        .audit_event_ids_in(utc("2025-03-14T00:00:00Z"), utc("2025-03-14T23:59:59Z"))
        .len() as u64;
    assert_eq!(json["eventCount"], truth);
    assert_eq!(json["fetchedCount"], truth);
    let uploads = json["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 3, "txt and csv by default, and the manifest");
    let stored = sim.uploads();
    for upload in uploads {
        let file = stored
            .iter()
            .find(|f| f.title == upload["fileName"])
            .unwrap();
        assert_eq!(upload["fileId"], file.id.to_string());
        assert_eq!(upload["bytes"], file.content.len());
        assert_eq!(
            upload["fileName"].as_str().unwrap().split('.').next(),
            Some("compliance-report-cli-2025-03-14")
        );
    }
    assert!(
        out_dir
            .join("compliance-report-cli-2025-03-14.txt")
            .exists()
    );
}

#[tokio::test]
async fn dry_run_reports_null_file_ids() {
    let sim = day_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = report_file(dir.path(), &sim.base_url(), "  report: {formats: [md]}\n");
    let output = run_cli(
        &[
            "report",
            "-f",
            file.to_str().unwrap(),
            "--at",
            "2025-03-15T03:00:00Z",
            "--dry-run",
        ],
        Some(&sim_key()),
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["uploads"][0]["fileId"], serde_json::Value::Null);
    assert!(sim.uploads().is_empty());
}

#[tokio::test]
async fn failures_exit_non_zero_with_one_line_and_no_key() {
    let sim = day_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let file = report_file(dir.path(), &sim.base_url(), "");
    let wrong_key = "sk-0000000000000000000000000000000000000000000000000000000000000000";
    let output = run_cli(
        &["report", "--file", file.to_str().unwrap(), "--log", "warn"],
        Some(wrong_key),
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        // The key preflight (GET keys/@self) is the first request.
        stderr.starts_with("error: connect failed") && stderr.contains("401"),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong_key));

    let output = run_cli(&["report", "--file", file.to_str().unwrap()], None).await;
    assert!(!output.status.success());
    assert!(text(&output).1.contains(
        "the environment variable DOCSPACE_TOKEN not found; set it to the DocSpace API key"
    ));

    let bad = report_file(
        dir.path(),
        "http://docspace.example.com",
        "  timeZone: Mars/Base\n",
    );
    let output = run_cli(
        &["report", "--file", bad.to_str().unwrap()],
        Some(wrong_key),
    )
    .await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("spec.portal.url") && stderr.contains("spec.timeZone"),
        "{stderr}"
    );
    assert!(sim.uploads().is_empty());
}
