//! Checking a manifest's artefacts: each beside it, with the size and SHA-256 it lists.

use std::io::Read;

use super::load::Loaded;
use super::open::open_regular;
use crate::integrity::digest::file_sha256;
use crate::integrity::error::IntegrityError;

/// Checks every artefact of `manifest`; returns how many there are.
/// Only regular files beside the manifest are read (see [`open_regular`]), and never more than
/// one byte past the size the manifest states.
pub(super) fn check(manifest: &Loaded, follow_symlinks: bool) -> Result<usize, IntegrityError> {
    for artefact in &manifest.manifest.artefacts {
        let path = manifest.beside(&artefact.file);
        let Some(file) = open_regular(&path, follow_symlinks)? else {
            return Err(IntegrityError::ArtefactMissing {
                file: artefact.file.clone(),
                manifest: manifest.name.clone(),
                expected: path,
            });
        };
        let read_error = |source| IntegrityError::Read {
            path: path.clone(),
            source,
        };
        let on_disk = file.metadata().map_err(read_error)?.len();
        if on_disk != artefact.bytes {
            return Err(IntegrityError::ArtefactSize {
                file: artefact.file.clone(),
                manifest: manifest.name.clone(),
                actual: on_disk,
                expected: artefact.bytes,
            });
        }
        // A file that grows while it is read is still read no further than this.
        let mut bounded = file.take(artefact.bytes.saturating_add(1));
        let (sha256, bytes) = file_sha256(&mut bounded).map_err(|source| IntegrityError::Read {
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
