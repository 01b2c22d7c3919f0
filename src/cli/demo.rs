//! `demo`: the simulator on a free loopback port, a seeded month, and one full cycle through
//! the same `execute` as everything else, with the example report of `examples/`.

use chrono::Utc;
use docspace_compliance_operator::cycle::{CycleRequest, ResourceRef, execute};
use docspace_compliance_operator::docspace::ApiKey;
use docspace_compliance_operator::spec::validate;
use docspace_sim::{SimConfig, Simulator, previous_month_utc};

use super::DemoArgs;
use super::load::parse_report;
use super::output::outcome_json;
use super::progress;

const EXAMPLE: &str = include_str!("../../examples/monthly-report.yaml");

/// Runs the demo and prints what happened.
pub async fn main(args: DemoArgs) -> Result<(), String> {
    let now = Utc::now();
    let (from, to) = previous_month_utc(now);
    let config = SimConfig {
        audit_events: args.events,
        login_events: args.events / 10,
        events_from: from,
        events_to: to,
        portal_time_zone: chrono_tz::Europe::Berlin,
        folders: vec![1045],
        ..SimConfig::default()
    };
    let api_key = ApiKey::new(config.api_key.clone()).ok_or("the simulator has no API key")?;
    let sim = Simulator::start(config)
        .await
        .map_err(|e| format!("cannot start the DocSpace simulator: {e}"))?;
    eprintln!(
        "DocSpace simulator listening on {} with {} audit events last month",
        sim.base_url(),
        args.events
    );

    let mut report = parse_report(EXAMPLE, "examples/monthly-report.yaml")?;
    report.spec.portal.url = sim.base_url();
    // The built-in simulator stores every event at once: nothing to wait for.
    report.spec.settle_seconds = 0;
    let validated = validate(&report.spec).map_err(|e| e.to_string())?;
    let resource = ResourceRef {
        namespace: report.metadata.namespace.clone().unwrap_or_default(),
        name: report.metadata.name.clone().unwrap_or_default(),
    };
    let request = CycleRequest::new(resource, report.spec, validated, api_key, None, now, now)
        .map_err(|e| e.to_string())?;
    let request = CycleRequest {
        out_dir: Some(args.out_dir.clone()),
        ..request
    };
    let progress = progress::for_stderr();
    let outcome = execute(request, progress.clone())
        .await
        .map_err(|e| e.to_string())?;
    drop(progress);

    println!("{}", outcome_json(&outcome)?);
    eprintln!(
        "Reported {} of {} fetched events for {} to {}.",
        outcome.event_count,
        outcome.fetched_count,
        outcome.period.from_local(),
        outcome.period.to_local()
    );
    for file in sim.uploads() {
        eprintln!(
            "  uploaded to folder {}: {} (file id {}, {} bytes)",
            file.folder_id,
            file.title,
            file.id,
            file.content.len()
        );
    }
    eprintln!("Local copies are in {}/", args.out_dir.display());
    sim.shutdown().await;
    Ok(())
}
