//! `report`: one cycle for a resource file.

use chrono::Utc;
use docspace_compliance_operator::cycle::keys::{self, EnvKeys};
use docspace_compliance_operator::cycle::{CycleRequest, Delivery, ResourceRef, execute, plan};
use docspace_compliance_operator::integrity::Manifest;

use super::ReportArgs;
use super::load::load_report;
use super::output::outcome_json;
use super::progress;

/// Runs `report` and prints the outcome.
pub async fn main(args: ReportArgs) -> Result<(), String> {
    let (report, validated) = load_report(&args.file)?;
    let source = EnvKeys {
        api_key: args.token_env.clone(),
        privacy_key: args.privacy_key_env.clone(),
        signing_key: args.signing_key_env.clone(),
    };
    let keys = keys::resolve(&source, &report.spec)
        .await
        .map_err(|e| e.to_string())?;
    let previous_manifest_sha256 = match &args.previous_manifest {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let manifest =
                Manifest::from_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(manifest.sha256())
        }
        None => None,
    };
    let now = Utc::now();
    let resource = ResourceRef {
        namespace: report
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        name: report
            .metadata
            .name
            .clone()
            .unwrap_or_else(|| "report".to_owned()),
    };
    let request = CycleRequest::new(
        resource,
        report.spec,
        validated,
        keys.api_key,
        keys.privacy_key,
        args.at.unwrap_or(now),
        now,
    )
    .map_err(|e| e.to_string())?;
    let request = CycleRequest {
        delivery: if args.dry_run {
            Delivery::DryRun
        } else {
            Delivery::Upload
        },
        out_dir: args.out_dir,
        previous_manifest_origin: match &args.previous_manifest {
            Some(path) => format!("--previous-manifest {}", path.display()),
            None => "none".to_owned(),
        },
        // A manifest named on the command line is the link; otherwise look in the folder.
        look_up_previous_manifest: args.previous_manifest.is_none(),
        previous_manifest_sha256,
        signing_key: keys.signing_key,
        expected_events: args.expected_events,
        timeout: match args.timeout {
            Some(seconds) => Some(std::time::Duration::from_secs(seconds.max(1))),
            None => request.timeout,
        },
        ..request
    };
    let period = plan(&request).map_err(|e| e.to_string())?;
    let settled = period.settled_at(request.spec.settle_seconds);
    // A period that has not ended is refused by the run itself; one that has ended is waited for.
    let period_over = period.to <= now;
    if settled > now && period_over {
        let seconds = request.spec.settle_seconds;
        if args.no_wait {
            return Err(format!(
                "the period ended less than spec.settleSeconds ({seconds} s) ago; DocSpace stores audit events late, so it is read from {}: run again then, or without --no-wait to wait",
                settled.to_rfc3339()
            ));
        }
        eprintln!(
            "Waiting until {} for late audit writes (spec.settleSeconds: {seconds}); --no-wait fails instead.",
            settled.to_rfc3339()
        );
    }
    let progress = progress::for_stderr();
    let outcome = execute(request, progress.clone())
        .await
        .map_err(|e| e.to_string())?;
    drop(progress);
    println!("{}", outcome_json(&outcome)?);
    if let Some(warning) =
        docspace_compliance_operator::cycle::key_expiry_warning(outcome.key_expires_at, Utc::now())
    {
        eprintln!("warning: {warning}");
    }
    Ok(())
}
