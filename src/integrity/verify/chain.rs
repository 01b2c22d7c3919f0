//! Checking that manifests, sorted by period, form a chain: same report, no overlapping
//! periods, each linking to the SHA-256 of the one before.

use super::load::Loaded;
use crate::integrity::error::IntegrityError;

/// Checks consecutive pairs of `sorted` (by period start); returns how many links there are
/// and how many times the chain restarts with a recorded reason (`chainRestart`). A restart
/// without a recorded reason is a broken chain.
pub(super) fn check(sorted: &[Loaded]) -> Result<(usize, usize), IntegrityError> {
    let mut restarts = 0;
    for pair in sorted.windows(2) {
        let [previous, next] = pair else { continue };
        same_report(previous, next)?;
        if next.from < previous.to {
            return Err(IntegrityError::PeriodsOverlap {
                previous: previous.name.clone(),
                previous_from: previous.manifest.period_from.clone(),
                previous_to: previous.manifest.period_to.clone(),
                next: next.name.clone(),
                next_from: next.manifest.period_from.clone(),
            });
        }
        let stated = next.manifest.previous_manifest_sha256.as_deref();
        if stated.is_none() && next.manifest.chain_restart.is_some() {
            restarts += 1;
            continue;
        }
        if stated != Some(previous.sha256.as_str()) {
            return Err(IntegrityError::ChainBroken {
                previous: previous.name.clone(),
                next: next.name.clone(),
                stated: stated.unwrap_or("null").to_owned(),
                actual: previous.sha256.clone(),
                hint: hint(sorted, previous, next, stated),
            });
        }
    }
    Ok((sorted.len().saturating_sub(1) - restarts, restarts))
}

fn same_report(previous: &Loaded, next: &Loaded) -> Result<(), IntegrityError> {
    let report = |m: &Loaded| format!("{} on {}", m.manifest.resource, m.manifest.portal);
    let (a, b) = (report(previous), report(next));
    if a == b {
        Ok(())
    } else {
        Err(IntegrityError::DifferentReports {
            previous: previous.name.clone(),
            next: next.name.clone(),
            previous_report: a,
            next_report: b,
        })
    }
}

/// What probably happened, in parentheses: the link names another manifest of the set, or a
/// manifest between the two is missing.
fn hint(sorted: &[Loaded], previous: &Loaded, next: &Loaded, stated: Option<&str>) -> String {
    if stated.is_none() {
        return format!(
            " ({} starts a new chain without a recorded reason)",
            next.name
        );
    }
    if let Some(other) = sorted.iter().find(|m| Some(m.sha256.as_str()) == stated) {
        return format!(
            " (that is the hash of {}: the chain is out of order)",
            other.name
        );
    }
    if previous.to < next.from {
        return format!(
            " (a manifest between them may be missing: {} ends at {}, {} starts at {})",
            previous.name, previous.manifest.period_to, next.name, next.manifest.period_from
        );
    }
    String::new()
}
