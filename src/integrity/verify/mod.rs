//! Verifying report sets: artefacts against their manifest, signatures against the manifest's
//! bytes (and a trusted key), and manifests against each other as a hash chain.

mod artefacts;
mod chain;
mod collect;
mod load;
mod open;
mod signed;

use std::fmt;
use std::path::PathBuf;

use super::error::IntegrityError;
use super::keys::parse_public_key;

/// How strictly to verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The signer's public key, PEM (`-----BEGIN PUBLIC KEY-----`) or base64 of its 32 bytes.
    /// When given, every manifest must be signed by it.
    pub trusted_public_key: Option<String>,
    /// Every manifest must be signed (by the key it names, or the trusted key).
    pub require_signature: bool,
    /// Accept artefacts, manifests and signatures that are symbolic links (to regular files).
    pub follow_symlinks: bool,
}

/// What was verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Manifests read.
    pub manifests: usize,
    /// Artefacts whose size and SHA-256 matched.
    pub artefacts: usize,
    /// Signatures that verified.
    pub signatures: usize,
    /// Links between consecutive manifests that matched.
    pub chain_links: usize,
    /// Places where the chain starts over with a recorded reason.
    pub chain_restarts: usize,
}

impl fmt::Display for VerifyReport {
    /// `verified 3 manifests, 12 artefacts, 3 signatures, 2 chain links`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        write!(
            f,
            "verified {}, {}, {}, {}",
            count(self.manifests, "manifest"),
            count(self.artefacts, "artefact"),
            count(self.signatures, "signature"),
            count(self.chain_links, "chain link")
        )?;
        if self.chain_restarts > 0 {
            write!(
                f,
                " ({} with a recorded reason)",
                count(self.chain_restarts, "chain restart")
            )?;
        }
        Ok(())
    }
}

/// Verifies report sets.
///
/// `manifests` are `*.manifest.json` files or directories (every `*.manifest.json` in them).
/// Checks that each manifest's signature (`S.manifest.sig`, if present, or required when a
/// trusted public key is given or `require_signature` is set) is valid over the manifest's
/// exact bytes and made by the trusted key; that its artefacts exist beside it with the right
/// SHA-256 and size; and, when several manifests are given, that they form a chain: sorted by
/// `period_from`, they belong to the same report, periods do not overlap, and each
/// `previous_manifest_sha256` is the SHA-256 of the previous manifest file's bytes. The first
/// problem found is returned.
pub fn verify(
    manifests: &[PathBuf],
    options: &VerifyOptions,
) -> Result<VerifyReport, IntegrityError> {
    let trusted = options
        .trusted_public_key
        .as_deref()
        .map(parse_public_key)
        .transpose()?;
    let paths = collect::manifest_paths(manifests)?;
    let mut loaded = paths
        .iter()
        .map(|path| load::load(path, options.follow_symlinks))
        .collect::<Result<Vec<_>, _>>()?;
    loaded.sort_by_key(|manifest| manifest.from);
    let require = options.require_signature || trusted.is_some();
    let mut report = VerifyReport {
        manifests: loaded.len(),
        ..VerifyReport::default()
    };
    for manifest in &loaded {
        // The signature first: artefact digests are only evidence if the manifest is authentic.
        if signed::check(manifest, trusted.as_ref(), require, options.follow_symlinks)? {
            report.signatures += 1;
        }
        report.artefacts += artefacts::check(manifest, options.follow_symlinks)?;
    }
    (report.chain_links, report.chain_restarts) = chain::check(&loaded)?;
    Ok(report)
}

#[cfg(test)]
mod tests;
