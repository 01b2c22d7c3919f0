//! Golden files: every section of the `md` and `txt` reports on a fixed seeded data set,
//! reviewed by eye once and pinned. Set UPDATE_GOLDEN=1 to rewrite them after an intended
//! change, then review the diff.

mod support;

use serde_json::json;
use support::cycle::{dry_run, spec};
use support::sim::sim;

const PORTAL: &str = "https://docspace.example";

#[tokio::test]
async fn every_section_matches_the_pinned_report() {
    let sim = sim(260, "2025-02-15T00:00:00Z", "2025-04-01T00:00:00Z", |c| {
        c.login_events = 160;
        c.portal_time_zone = chrono_tz::Europe::Berlin;
    })
    .await;
    let s = spec(
        &sim,
        json!({
            "timeZone": "Europe/Berlin",
            "sources": {"loginHistory": true},
            "report": {"formats": ["md", "txt"], "massDownloadPerHour": 1}
        }),
    );
    let outcome = dry_run(s, "2025-04-01T03:00:00+02:00").await.unwrap();
    assert!(outcome.event_count > 100);
    for upload in &outcome.uploads {
        let ext = upload.file_name.rsplit('.').next().unwrap();
        if !["md", "txt"].contains(&ext) {
            continue;
        }
        let actual = std::fs::read_to_string(upload.local_path.as_ref().unwrap())
            .unwrap()
            .replace(&format!("{}/", sim.base_url()), &format!("{PORTAL}/"))
            .replace(&sim.base_url(), PORTAL);
        let golden = format!("{}/tests/golden/report.{ext}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if actual != expected {
            let line = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, e)| a != e)
                .unwrap_or(0);
            panic!(
                "{golden} differs from the report at line {} (rerun with UPDATE_GOLDEN=1 and review the diff if the change is intended):\n  got:      {:?}\n  expected: {:?}",
                line + 1,
                actual.lines().nth(line).unwrap_or(""),
                expected.lines().nth(line).unwrap_or("")
            );
        }
    }
}
