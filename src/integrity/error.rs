//! Everything that can go wrong when reading keys, manifests and signatures, and when verifying
//! a report set. Each message names the file and what differs, so an auditor knows where to look.

use std::path::PathBuf;

use super::manifest::MANIFEST_FORMAT;

/// Why a key, manifest or signature cannot be used, or why a report set does not verify.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// The bytes are not a valid v1 manifest.
    #[error("not a valid {MANIFEST_FORMAT} manifest: {0}")]
    InvalidManifest(String),
    /// The bytes are not a valid detached signature.
    #[error("not a valid detached signature: {0}")]
    InvalidSignatureFile(String),
    /// A parse error, with the file it came from.
    #[error("{file}: {source}")]
    InFile {
        /// The file (name or path).
        file: String,
        /// What is wrong with it.
        #[source]
        source: Box<IntegrityError>,
    },
    /// The Secret does not hold a usable Ed25519 signing key. The key itself is never shown.
    #[error("the signing key {0}")]
    SigningKey(String),
    /// The trusted public key is not usable.
    #[error("the trusted public key {0}")]
    TrustedKey(String),
    /// A file or directory cannot be read.
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the set is not something `verify` reads.
    #[error("{}: refused: {what}", path.display())]
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// A file given as a manifest is not named like one.
    #[error("{}: not a manifest; manifest files are named <report>.manifest.json", .0.display())]
    NotAManifest(PathBuf),
    /// A directory holds no manifests.
    #[error("{}: holds no *.manifest.json files; name the directory the report set was saved in", .0.display())]
    NoManifests(PathBuf),
    /// No path was given.
    #[error("no manifests to verify: name *.manifest.json files or directories that hold them")]
    NothingToVerify,
    /// An artefact listed in a manifest is not beside it.
    #[error("{file}: missing; {manifest} lists it, expected at {}", expected.display())]
    ArtefactMissing {
        /// The artefact's name.
        file: String,
        /// The manifest that lists it.
        manifest: String,
        /// Where it was looked for.
        expected: PathBuf,
    },
    /// An artefact's size differs from the manifest.
    #[error("{file}: size is {actual} bytes, the manifest {manifest} says {expected}")]
    ArtefactSize {
        /// The artefact's name.
        file: String,
        /// The manifest that lists it.
        manifest: String,
        /// Size on disk.
        actual: u64,
        /// Size in the manifest.
        expected: u64,
    },
    /// An artefact's SHA-256 differs from the manifest.
    #[error("{file}: sha256 is {actual}, the manifest {manifest} says {expected}")]
    ArtefactDigest {
        /// The artefact's name.
        file: String,
        /// The manifest that lists it.
        manifest: String,
        /// SHA-256 of the file on disk.
        actual: String,
        /// SHA-256 in the manifest.
        expected: String,
    },
    /// A signature is required but the manifest has none.
    #[error(
        "{manifest} is not signed: {signature} is missing beside it (sign the report with the \
         key from the Secret, or verify without --require-signature and --public-key)"
    )]
    SignatureMissing {
        /// The manifest.
        manifest: String,
        /// The signature file that was looked for.
        signature: String,
    },
    /// The signature was made by a key other than the trusted one.
    #[error(
        "{signature}: signed with key id {key_id}, not with the trusted key (key id \
         {trusted_key_id}); check --public-key or which key signed the report"
    )]
    UntrustedKey {
        /// The signature file.
        signature: String,
        /// The key id that made it.
        key_id: String,
        /// The trusted key's id.
        trusted_key_id: String,
    },
    /// The signature does not match the manifest's bytes.
    #[error(
        "signature of {manifest} does not verify with key id {key_id}: the manifest was changed \
         after signing, or {signature} is damaged"
    )]
    SignatureMismatch {
        /// The manifest.
        manifest: String,
        /// The signature file.
        signature: String,
        /// The key id the signature names.
        key_id: String,
    },
    /// Two manifests of one set belong to different reports.
    #[error(
        "{previous} and {next} belong to different reports ({previous_report} and {next_report}); \
         verify each report's manifests separately"
    )]
    DifferentReports {
        /// The earlier manifest.
        previous: String,
        /// The later manifest.
        next: String,
        /// `resource on portal` of the earlier one.
        previous_report: String,
        /// `resource on portal` of the later one.
        next_report: String,
    },
    /// Two periods overlap.
    #[error(
        "periods overlap: {previous} covers {previous_from} to {previous_to}, {next} starts at \
         {next_from}"
    )]
    PeriodsOverlap {
        /// The earlier manifest.
        previous: String,
        /// Its period start.
        previous_from: String,
        /// Its period end.
        previous_to: String,
        /// The later manifest.
        next: String,
        /// Its period start.
        next_from: String,
    },
    /// A manifest does not link to the one before it.
    #[error(
        "chain broken between {previous} and {next}: {next}'s previousManifestSha256 is {stated}, \
         {previous} hashes to {actual}{hint}"
    )]
    ChainBroken {
        /// The earlier manifest.
        previous: String,
        /// The later manifest.
        next: String,
        /// The later manifest's link (`null` when it has none).
        stated: String,
        /// SHA-256 of the earlier manifest's bytes.
        actual: String,
        /// What probably happened, in parentheses, or empty.
        hint: String,
    },
}

impl IntegrityError {
    /// Attaches the file a parse error came from.
    pub(crate) fn in_file(self, file: impl Into<String>) -> Self {
        Self::InFile {
            file: file.into(),
            source: Box::new(self),
        }
    }
}
