//! Integrity evidence for report runs: a manifest per run listing every artefact's SHA-256 and
//! size and a digest of the reported events, a hash chain from period to period (each manifest
//! holds the SHA-256 of the previous one's bytes), an optional detached Ed25519 signature over
//! the manifest, and [`verify`] to check a set of them.
//!
//! For a report stem `S` the files are `S.manifest.json` ([`Manifest::to_json`], the exact
//! bytes that are hashed, signed and uploaded) and `S.manifest.sig` ([`DetachedSignature`]).
//! Everything here is synchronous and does no network I/O.

mod canonical;
mod digest;
mod error;
mod keys;
mod manifest;
mod signature;
mod verify;

pub use error::IntegrityError;
pub use keys::SigningKey;
pub use manifest::{
    EventsDigest, GENERATOR, MANIFEST_FORMAT, Manifest, ManifestArtefact, manifest_file_name,
    signature_file_name,
};
pub use signature::DetachedSignature;
pub use verify::{VerifyOptions, VerifyReport, verify};
