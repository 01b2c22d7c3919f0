//! The run's manifest: every artefact's SHA-256, the events digest and the link to the
//! previous run's manifest, optionally signed.

use std::io;
use std::path::Path;

use chrono::SecondsFormat;

use super::CycleRequest;
use crate::integrity::{
    EventsDigest, GENERATOR, MANIFEST_FORMAT, Manifest, ManifestArtefact, SigningKey,
    manifest_file_name, signature_file_name,
};
use crate::report::{Artefact, ArtefactKind};
use crate::schedule::ReportPeriod;

/// The manifest of a run's artefacts.
pub(super) fn build(
    request: &CycleRequest,
    period: &ReportPeriod,
    artefacts: &[Artefact],
    events: EventsDigest,
    link: &super::chain::ChainLink,
) -> Manifest {
    let utc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        generator: GENERATOR.to_owned(),
        resource: format!("{}/{}", request.resource.namespace, request.resource.name),
        portal: request.validated.portal_url.to_string(),
        period_from: utc(period.from),
        period_to: utc(period.to),
        time_zone: period.time_zone.name().to_owned(),
        generated_at: utc(request.generated_at),
        artefacts: artefacts
            .iter()
            .map(|a| ManifestArtefact {
                file: a.file_name.clone(),
                sha256: a.sha256.clone(),
                bytes: a.bytes,
            })
            .collect(),
        events,
        previous_manifest_sha256: link.sha256.clone(),
        previous_manifest_source: Some(link.source.clone()),
        chain_restart: link.restart.clone(),
        privacy: request.privacy.describe(),
    }
}

fn artefact(
    dir: &Path,
    file_name: String,
    kind: ArtefactKind,
    bytes: &[u8],
) -> io::Result<Artefact> {
    use sha2::Digest;
    let path = dir.join(&file_name);
    std::fs::write(&path, bytes)?;
    Ok(Artefact {
        kind,
        file_name,
        path,
        sha256: hex::encode(sha2::Sha256::digest(bytes)),
        bytes: bytes.len() as u64,
        gzip: false,
    })
}

/// Writes `{stem}.manifest.json` and, with a key, `{stem}.manifest.sig` into `dir`.
pub(super) fn write(
    manifest: &Manifest,
    key: Option<&SigningKey>,
    dir: &Path,
    stem: &str,
) -> io::Result<Vec<Artefact>> {
    let json = manifest.to_json();
    let mut files = vec![artefact(
        dir,
        manifest_file_name(stem),
        ArtefactKind::Manifest,
        &json,
    )?];
    if let Some(key) = key {
        let signature = key.sign(&json).to_json();
        files.push(artefact(
            dir,
            signature_file_name(stem),
            ArtefactKind::Signature,
            &signature,
        )?);
    }
    Ok(files)
}
