//! Checking a manifest's artefacts: each beside it, with the size and SHA-256 it lists.

use std::fs::File;
use std::io;

use super::load::Loaded;
use crate::integrity::digest::file_sha256;
use crate::integrity::error::IntegrityError;

/// Checks every artefact of `manifest`; returns how many there are.
pub(super) fn check(manifest: &Loaded) -> Result<usize, IntegrityError> {
    for artefact in &manifest.manifest.artefacts {
        let path = manifest.beside(&artefact.file);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(IntegrityError::ArtefactMissing {
                    file: artefact.file.clone(),
                    manifest: manifest.name.clone(),
                    expected: path,
                });
            }
            Err(source) => return Err(IntegrityError::Read { path, source }),
        };
        let (sha256, bytes) = file_sha256(&mut file).map_err(|source| IntegrityError::Read {
            path: path.clone(),
            source,
        })?;
        if bytes != artefact.bytes {
            return Err(IntegrityError::ArtefactSize {
                file: artefact.file.clone(),
                manifest: manifest.name.clone(),
                actual: bytes,
                expected: artefact.bytes,
            });
        }
        if sha256 != artefact.sha256 {
            return Err(IntegrityError::ArtefactDigest {
                file: artefact.file.clone(),
                manifest: manifest.name.clone(),
                actual: sha256,
                expected: artefact.sha256.clone(),
            });
        }
    }
    Ok(manifest.manifest.artefacts.len())
}
