//! Reading one manifest file for verification: its bytes' SHA-256, its contents and period.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::open::{MAX_MANIFEST_BYTES, open_regular, read_at_most};
use crate::integrity::digest::sha256_hex;
use crate::integrity::error::IntegrityError;
use crate::integrity::manifest::{Manifest, signature_file_name, stem_of_manifest_name};

/// A manifest file as read from disk.
pub(super) struct Loaded {
    /// Its path.
    pub(super) path: PathBuf,
    /// Its file name, used in messages.
    pub(super) name: String,
    /// The name of its signature file.
    pub(super) signature_name: String,
    /// SHA-256 of its bytes (what the next manifest links to).
    pub(super) sha256: String,
    /// Its bytes (what the signature covers).
    pub(super) bytes: Vec<u8>,
    /// Its contents.
    pub(super) manifest: Manifest,
    /// Start of its period.
    pub(super) from: DateTime<Utc>,
    /// End of its period.
    pub(super) to: DateTime<Utc>,
}

impl Loaded {
    /// A file beside the manifest.
    pub(super) fn beside(&self, name: &str) -> PathBuf {
        self.path
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(name)
    }
}

/// Reads and checks the manifest at `path`.
pub(super) fn load(path: &Path, follow_symlinks: bool) -> Result<Loaded, IntegrityError> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    let stem = stem_of_manifest_name(&name)
        .ok_or_else(|| IntegrityError::NotAManifest(path.to_path_buf()))?;
    let signature_name = signature_file_name(stem);
    let file = open_regular(path, follow_symlinks)?.ok_or_else(|| IntegrityError::Read {
        path: path.to_path_buf(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let bytes = read_at_most(path, file, MAX_MANIFEST_BYTES)?;
    let manifest = Manifest::from_json(&bytes).map_err(|e| e.in_file(name.clone()))?;
    let (from, to) = manifest
        .period()
        .map_err(|reason| IntegrityError::InvalidManifest(reason).in_file(name.clone()))?;
    Ok(Loaded {
        path: path.to_path_buf(),
        sha256: sha256_hex(&bytes),
        name,
        signature_name,
        bytes,
        manifest,
        from,
        to,
    })
}
