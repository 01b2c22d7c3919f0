//! `report`: one cycle for a resource file.

use chrono::Utc;
use docspace_compliance_operator::cycle::{CycleRequest, Delivery, ResourceRef, execute, plan};
use docspace_compliance_operator::docspace::{ApiKey, RetryPolicy};
use docspace_compliance_operator::integrity::{Manifest, SigningKey};
use docspace_compliance_operator::report::{Privacy, PrivacyKey};

use super::ReportArgs;
use super::load::load_report;
use super::output::outcome_json;
use super::progress;

/// Runs `report` and prints the outcome.
pub async fn main(args: ReportArgs) -> Result<(), String> {
    let (report, validated) = load_report(&args.file)?;
    let api_key = std::env::var(&args.token_env)
        .ok()
        .and_then(ApiKey::new)
        .ok_or_else(|| {
            format!(
                "no DocSpace API key: set the environment variable {} to the key (or name another variable with --token-env)",
                args.token_env
            )
        })?;
    let privacy_key = std::env::var(&args.privacy_key_env)
        .ok()
        .and_then(PrivacyKey::new);
    let privacy = Privacy::new(&report.spec.report.privacy, privacy_key).map_err(|e| {
        format!(
            "{e} (in this mode the key comes from the environment variable {})",
            args.privacy_key_env
        )
    })?;
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
    let signing_key = match &report.spec.report.signing_key_secret_ref {
        Some(_) => {
            let secret = std::env::var(&args.signing_key_env).map_err(|_| {
                format!(
                    "spec.report.signingKeySecretRef is set: put the Ed25519 signing key in the environment variable {}",
                    args.signing_key_env
                )
            })?;
            let key = SigningKey::from_secret_bytes(secret.as_bytes())
                .map_err(|e| format!("{}: {e}", args.signing_key_env))?;
            Some(std::sync::Arc::new(key))
        }
        None => None,
    };
    let now = Utc::now();
    let timeout_seconds = args
        .timeout
        .unwrap_or(u64::from(report.spec.active_deadline_seconds));
    let request = CycleRequest {
        resource: ResourceRef {
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
        },
        spec: report.spec,
        validated,
        api_key: api_key.clone(),
        scheduled_at: args.at.unwrap_or(now),
        last_scheduled: None,
        generated_at: now,
        delivery: if args.dry_run {
            Delivery::DryRun
        } else {
            Delivery::Upload
        },
        out_dir: args.out_dir,
        retry: RetryPolicy::default(),
        resume: false,
        observer: None,
        privacy,
        previous: None,
        previous_manifest_origin: match &args.previous_manifest {
            Some(path) => format!("--previous-manifest {}", path.display()),
            None => "none".to_owned(),
        },
        // A manifest named on the command line is the link; otherwise look in the folder.
        look_up_previous_manifest: args.previous_manifest.is_none(),
        previous_manifest_sha256,
        signing_key,
        limiters: std::sync::Arc::default(),
        expected_events: args.expected_events,
        timeout: Some(std::time::Duration::from_secs(timeout_seconds.max(1))),
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
    println!("{}", outcome_json(&outcome));
    if let Some(warning) =
        docspace_compliance_operator::cycle::key_expiry_warning(outcome.key_expires_at, Utc::now())
    {
        eprintln!("warning: {warning}");
    }
    Ok(())
}
