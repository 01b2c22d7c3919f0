//! Verification of report sets built in a temporary directory.

use std::path::{Path, PathBuf};

use super::*;
use crate::integrity::digest::sha256_hex;
use crate::integrity::keys::SigningKey;
use crate::integrity::manifest::tests::sample;
use crate::integrity::manifest::{
    Manifest, ManifestArtefact, manifest_file_name, signature_file_name,
};

const MONTHS: [(&str, &str, &str); 3] = [
    ("2025-01", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
    ("2025-02", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"),
    ("2025-03", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
];

fn key(seed: u8) -> SigningKey {
    SigningKey::from_secret_bytes(&[seed; 32]).unwrap()
}

/// Writes three chained monthly runs with two artefacts each; signs them when `signer` is set.
fn write_set(dir: &Path, signer: Option<&SigningKey>) -> Vec<PathBuf> {
    let mut previous = None;
    let mut paths = Vec::new();
    for (month, from, to) in MONTHS {
        let stem = format!("report-{month}");
        let artefacts = ["csv", "txt"]
            .iter()
            .map(|ext| {
                let file = format!("{stem}.{ext}");
                let content = format!("{ext} of {month}\n");
                std::fs::write(dir.join(&file), &content).unwrap();
                ManifestArtefact {
                    file,
                    sha256: sha256_hex(content.as_bytes()),
                    bytes: content.len() as u64,
                }
            })
            .collect();
        let manifest = Manifest {
            period_from: from.into(),
            period_to: to.into(),
            time_zone: "UTC".into(),
            artefacts,
            previous_manifest_sha256: previous.clone(),
            ..sample()
        };
        let json = manifest.to_json();
        let path = dir.join(manifest_file_name(&stem));
        std::fs::write(&path, &json).unwrap();
        if let Some(signer) = signer {
            let signature = signer.sign(&json).to_json();
            std::fs::write(dir.join(signature_file_name(&stem)), signature).unwrap();
        }
        previous = Some(manifest.sha256());
        paths.push(path);
    }
    paths
}

fn error(paths: &[PathBuf], options: &VerifyOptions) -> String {
    verify(paths, options).unwrap_err().to_string()
}

#[test]
fn accepts_an_untouched_signed_chain_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = write_set(dir.path(), Some(&key(1)));
    paths.reverse();
    let options = VerifyOptions {
        trusted_public_key: Some(key(1).public_key_pem()),
        require_signature: true,
        follow_symlinks: false,
    };
    let report = verify(&paths, &options).unwrap();
    let expected = VerifyReport {
        manifests: 3,
        artefacts: 6,
        signatures: 3,
        chain_links: 2,
        chain_restarts: 0,
    };
    assert_eq!(report, expected);
    assert_eq!(
        report.to_string(),
        "verified 3 manifests, 6 artefacts, 3 signatures, 2 chain links"
    );
    // The directory, and the same manifest twice, count once.
    let twice = [dir.path().to_path_buf(), paths[0].clone()];
    assert_eq!(verify(&twice, &options).unwrap(), expected);
}

#[test]
fn a_single_unsigned_manifest_has_no_links() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), None);
    let report = verify(&paths[1..2], &VerifyOptions::default()).unwrap();
    assert_eq!(
        report.to_string(),
        "verified 1 manifest, 2 artefacts, 0 signatures, 0 chain links"
    );
}

#[test]
fn names_the_artefact_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), None);
    std::fs::write(dir.path().join("report-2025-02.csv"), "csv of 2025-0X\n").unwrap();
    let message = error(&paths, &VerifyOptions::default());
    assert!(
        message.starts_with("report-2025-02.csv: sha256 is "),
        "{message}"
    );
    assert!(
        message.contains("the manifest report-2025-02.manifest.json says "),
        "{message}"
    );
    std::fs::write(
        dir.path().join("report-2025-02.csv"),
        "longer than before\n",
    )
    .unwrap();
    let message = error(&paths, &VerifyOptions::default());
    assert!(message.starts_with("report-2025-02.csv: size is 19 bytes, the manifest report-2025-02.manifest.json says 15"), "{message}");
    std::fs::remove_file(dir.path().join("report-2025-02.csv")).unwrap();
    let message = error(&paths, &VerifyOptions::default());
    assert!(
        message.starts_with("report-2025-02.csv: missing; report-2025-02.manifest.json lists it"),
        "{message}"
    );
}

#[test]
fn signatures_must_be_valid_and_by_the_trusted_key() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), Some(&key(1)));
    let trusted = |k: &SigningKey| VerifyOptions {
        trusted_public_key: Some(k.public_key_pem()),
        require_signature: false,
        follow_symlinks: false,
    };
    let message = error(&paths, &trusted(&key(2)));
    assert!(
        message.starts_with("report-2025-01.manifest.sig: signed with key id "),
        "{message}"
    );
    assert!(message.contains(&key(2).key_id()), "{message}");

    // Edited after signing: the signature no longer covers the bytes.
    let text = std::fs::read_to_string(&paths[2]).unwrap();
    std::fs::write(&paths[2], text.replace("pseudonym", "clear")).unwrap();
    let message = error(&paths[2..], &VerifyOptions::default());
    assert!(
        message.starts_with(&format!(
            "signature of report-2025-03.manifest.json does not verify with key id {}",
            key(1).key_id()
        )),
        "{message}"
    );
}

#[test]
fn signatures_are_required_with_a_trusted_key_or_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), None);
    assert_eq!(
        verify(&paths, &VerifyOptions::default())
            .unwrap()
            .signatures,
        0
    );
    let required = VerifyOptions {
        trusted_public_key: None,
        require_signature: true,
        follow_symlinks: false,
    };
    let message = error(&paths, &required);
    assert!(
        message.starts_with(
            "report-2025-01.manifest.json is not signed: report-2025-01.manifest.sig is missing"
        ),
        "{message}"
    );
    let trusted = VerifyOptions {
        trusted_public_key: Some(key(1).public_key_pem()),
        require_signature: false,
        follow_symlinks: false,
    };
    assert!(error(&paths, &trusted).contains("is not signed"));
    let bad_key = VerifyOptions {
        trusted_public_key: Some("nonsense".into()),
        require_signature: false,
        follow_symlinks: false,
    };
    assert!(error(&paths, &bad_key).starts_with("the trusted public key is "));
}

#[test]
fn a_dropped_manifest_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), None);
    let message = error(
        &[paths[0].clone(), paths[2].clone()],
        &VerifyOptions::default(),
    );
    assert!(
        message.starts_with(
            "chain broken between report-2025-01.manifest.json and report-2025-03.manifest.json: \
             report-2025-03.manifest.json's previousManifestSha256 is "
        ),
        "{message}"
    );
    assert!(
        message.contains("a manifest between them may be missing"),
        "{message}"
    );
}

#[test]
fn links_to_the_wrong_manifest_break_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), None);
    let read = |p: &Path| Manifest::from_json(&std::fs::read(p).unwrap()).unwrap();
    let first_hash = sha256_hex(&std::fs::read(&paths[0]).unwrap());
    let mut third = read(&paths[2]);
    third.previous_manifest_sha256 = Some(first_hash);
    std::fs::write(&paths[2], third.to_json()).unwrap();
    let message = error(&paths, &VerifyOptions::default());
    assert!(
        message.starts_with(
            "chain broken between report-2025-02.manifest.json and report-2025-03.manifest.json"
        ),
        "{message}"
    );
    assert!(
        message.contains("that is the hash of report-2025-01.manifest.json"),
        "{message}"
    );

    let mut second = read(&paths[1]);
    second.previous_manifest_sha256 = None;
    std::fs::write(&paths[1], second.to_json()).unwrap();
    let message = error(&paths[..2], &VerifyOptions::default());
    assert!(
        message.contains("report-2025-02.manifest.json's previousManifestSha256 is null"),
        "{message}"
    );
}

#[test]
fn overlapping_periods_and_foreign_reports_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), None);
    let mut second = Manifest::from_json(&std::fs::read(&paths[1]).unwrap()).unwrap();
    second.period_from = "2025-01-31T00:00:00Z".into();
    std::fs::write(&paths[1], second.to_json()).unwrap();
    let message = error(&paths[..2], &VerifyOptions::default());
    assert!(message.starts_with("periods overlap: report-2025-01.manifest.json covers 2025-01-01T00:00:00Z to 2025-02-01T00:00:00Z, report-2025-02.manifest.json starts at 2025-01-31T00:00:00Z"), "{message}");

    second.period_from = "2025-02-01T00:00:00Z".into();
    second.resource = "team/other".into();
    std::fs::write(&paths[1], second.to_json()).unwrap();
    let message = error(&paths[..2], &VerifyOptions::default());
    assert!(
        message.contains("belong to different reports (team/monthly on"),
        "{message}"
    );
}

#[test]
fn a_damaged_manifest_or_signature_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), Some(&key(1)));
    std::fs::write(dir.path().join("report-2025-02.manifest.sig"), "{}").unwrap();
    let message = error(&paths, &VerifyOptions::default());
    assert!(
        message.starts_with("report-2025-02.manifest.sig: not a valid detached signature"),
        "{message}"
    );
    std::fs::write(&paths[0], "{").unwrap();
    let message = error(&paths, &VerifyOptions::default());
    assert!(
        message.starts_with(
            "report-2025-01.manifest.json: not a valid docspace-compliance-manifest/v1 manifest"
        ),
        "{message}"
    );
}

#[test]
fn a_restart_needs_a_recorded_reason() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_set(dir.path(), None);
    let rewrite = |reason: Option<&str>| {
        let mut third = Manifest::from_json(&std::fs::read(&paths[2]).unwrap()).unwrap();
        third.previous_manifest_sha256 = None;
        third.chain_restart = reason.map(str::to_owned);
        std::fs::write(&paths[2], third.to_json()).unwrap();
    };
    rewrite(None);
    let message = error(&paths, &VerifyOptions::default());
    assert!(
        message.contains("starts a new chain without a recorded reason"),
        "{message}"
    );
    rewrite(Some(
        "first run: no earlier manifest of this report in the folder or the status",
    ));
    let report = verify(&paths, &VerifyOptions::default()).unwrap();
    assert_eq!((report.chain_links, report.chain_restarts), (1, 1));
    assert!(
        report
            .to_string()
            .ends_with("(1 chain restart with a recorded reason)")
    );
}
