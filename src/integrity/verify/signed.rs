//! Checking a manifest's detached signature: present when required, made by the trusted key
//! when one is given, and valid over the manifest file's exact bytes.

use ed25519_dalek::VerifyingKey;

use super::load::Loaded;
use super::open::{MAX_SIGNATURE_BYTES, open_regular, read_at_most};
use crate::integrity::error::IntegrityError;
use crate::integrity::keys::key_id;
use crate::integrity::signature::DetachedSignature;

/// Checks the signature beside `manifest`; returns whether there is one (it verified).
pub(super) fn check(
    manifest: &Loaded,
    trusted: Option<&VerifyingKey>,
    required: bool,
    follow_symlinks: bool,
) -> Result<bool, IntegrityError> {
    let path = manifest.beside(&manifest.signature_name);
    let bytes = match open_regular(&path, follow_symlinks)? {
        Some(file) => read_at_most(&path, file, MAX_SIGNATURE_BYTES)?,
        None if !required => return Ok(false),
        None => {
            return Err(IntegrityError::SignatureMissing {
                manifest: manifest.name.clone(),
                signature: manifest.signature_name.clone(),
            });
        }
    };
    let in_file = |e: IntegrityError| e.in_file(manifest.signature_name.clone());
    let signature = DetachedSignature::from_json(&bytes).map_err(in_file)?;
    let decoded = signature.decode().map_err(in_file)?;
    if let Some(trusted) = trusted
        && trusted != &decoded.key
    {
        return Err(IntegrityError::UntrustedKey {
            signature: manifest.signature_name.clone(),
            key_id: signature.key_id,
            trusted_key_id: key_id(trusted),
        });
    }
    decoded
        .key
        .verify_strict(&manifest.bytes, &decoded.signature)
        .map_err(|_| IntegrityError::SignatureMismatch {
            manifest: manifest.name.clone(),
            signature: manifest.signature_name.clone(),
            key_id: signature.key_id,
        })?;
    Ok(true)
}
