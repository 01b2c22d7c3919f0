//! The manifest of one report run: what was reported, which files hold it, their digests, and
//! the link to the previous run's manifest.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::canonical::Json;
use super::digest::{is_sha256_hex, sha256_hex};
use super::error::IntegrityError;

/// The `format` of manifests this crate writes and reads.
pub const MANIFEST_FORMAT: &str = "docspace-compliance-manifest/v1";

/// The `generator` this build writes: `docspace-compliance-operator <version>`.
pub const GENERATOR: &str = concat!("docspace-compliance-operator ", env!("CARGO_PKG_VERSION"));

const MANIFEST_SUFFIX: &str = ".manifest.json";
const SIGNATURE_SUFFIX: &str = ".manifest.sig";

/// The manifest file name for a report stem `S`: `S.manifest.json`.
pub fn manifest_file_name(stem: &str) -> String {
    format!("{stem}{MANIFEST_SUFFIX}")
}

/// The detached signature file name for a report stem `S`: `S.manifest.sig`.
pub fn signature_file_name(stem: &str) -> String {
    format!("{stem}{SIGNATURE_SUFFIX}")
}

/// The report stem of a manifest file name (`S` of `S.manifest.json`), if it is one.
pub(crate) fn stem_of_manifest_name(file_name: &str) -> Option<&str> {
    file_name
        .strip_suffix(MANIFEST_SUFFIX)
        .filter(|stem| !stem.is_empty())
}

/// One artefact in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestArtefact {
    /// The file name, beside the manifest (no directories).
    pub file: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The file's size.
    pub bytes: u64,
}

/// Digest of the reported events in canonical form: their ndjson lines in report order, each
/// ended by `\n` (the report writer hashes that stream as it spools it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsDigest {
    /// How many events were reported.
    pub count: u64,
    /// Lowercase hex SHA-256 of their canonical lines, each ended by `\n`.
    pub sha256: String,
}

/// The manifest of one report run.
///
/// Its canonical bytes ([`Manifest::to_json`]) are what is hashed, signed and uploaded as
/// `S.manifest.json`; the next run's manifest links to their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// What wrote it, e.g. [`GENERATOR`].
    pub generator: String,
    /// The ComplianceReport, `namespace/name`.
    pub resource: String,
    /// The portal's base URL.
    pub portal: String,
    /// Start of the period (inclusive), RFC 3339 UTC with `Z`.
    pub period_from: String,
    /// End of the period (exclusive), RFC 3339 UTC with `Z`.
    pub period_to: String,
    /// The IANA time zone the period was computed in.
    pub time_zone: String,
    /// When the report was generated, RFC 3339 UTC.
    pub generated_at: String,
    /// The report files, each beside the manifest.
    pub artefacts: Vec<ManifestArtefact>,
    /// Digest of the reported events.
    pub events: EventsDigest,
    /// SHA-256 of the previous run's manifest bytes; `None` for the first run.
    #[serde(default)]
    pub previous_manifest_sha256: Option<String>,
    /// Where the link to the previous manifest came from, e.g. the previous manifest found in
    /// the DocSpace folder, or the resource's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_manifest_source: Option<String>,
    /// Why the chain starts over at this manifest (no previous manifest could be found), if it
    /// does: `verify` accepts a restart only with a recorded reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_restart: Option<String>,
    /// Privacy settings applied, shown to auditors, e.g. `ip=truncate users=pseudonym`.
    pub privacy: String,
}

impl Manifest {
    /// The canonical bytes: keys in declaration order (camelCase), pretty-printed with two
    /// spaces, trailing newline. This exact byte string is hashed, signed and uploaded.
    pub fn to_json(&self) -> Vec<u8> {
        let artefacts = self
            .artefacts
            .iter()
            .map(|a| {
                Json::Object(vec![
                    ("file", Json::String(&a.file)),
                    ("sha256", Json::String(&a.sha256)),
                    ("bytes", Json::Number(a.bytes)),
                ])
            })
            .collect();
        let mut fields = vec![
            ("format", Json::String(&self.format)),
            ("generator", Json::String(&self.generator)),
            ("resource", Json::String(&self.resource)),
            ("portal", Json::String(&self.portal)),
            ("periodFrom", Json::String(&self.period_from)),
            ("periodTo", Json::String(&self.period_to)),
            ("timeZone", Json::String(&self.time_zone)),
            ("generatedAt", Json::String(&self.generated_at)),
            ("artefacts", Json::Array(artefacts)),
            (
                "events",
                Json::Object(vec![
                    ("count", Json::Number(self.events.count)),
                    ("sha256", Json::String(&self.events.sha256)),
                ]),
            ),
            (
                "previousManifestSha256",
                self.previous_manifest_sha256.as_deref().into(),
            ),
        ];
        // Written only when set, so that manifests without them keep their exact bytes.
        if let Some(source) = &self.previous_manifest_source {
            fields.push(("previousManifestSource", Json::String(source)));
        }
        if let Some(reason) = &self.chain_restart {
            fields.push(("chainRestart", Json::String(reason)));
        }
        fields.push(("privacy", Json::String(&self.privacy)));
        Json::Object(fields).to_bytes()
    }

    /// Reads a manifest and checks it: the format, RFC 3339 times with the period's start
    /// before its end, an IANA time zone, plain and unique artefact names, well-formed digests.
    pub fn from_json(bytes: &[u8]) -> Result<Self, IntegrityError> {
        let manifest: Self = serde_json::from_slice(bytes)
            .map_err(|e| IntegrityError::InvalidManifest(e.to_string()))?;
        manifest.check().map_err(IntegrityError::InvalidManifest)?;
        Ok(manifest)
    }

    /// Lowercase hex SHA-256 of [`Manifest::to_json`]: the value the next manifest's
    /// `previous_manifest_sha256` holds.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.to_json())
    }

    /// The period as instants, `[from, to)`.
    pub(crate) fn period(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
        let from = instant("periodFrom", &self.period_from)?;
        let to = instant("periodTo", &self.period_to)?;
        if from >= to {
            return Err(format!(
                "periodFrom {} is not before periodTo {}",
                self.period_from, self.period_to
            ));
        }
        Ok((from, to))
    }

    fn check(&self) -> Result<(), String> {
        if self.format != MANIFEST_FORMAT {
            return Err(format!(
                "format is {:?}; this verifier reads {MANIFEST_FORMAT:?}",
                self.format
            ));
        }
        self.period()?;
        instant("generatedAt", &self.generated_at)?;
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(format!(
                "timeZone {:?} is not an IANA time zone such as \"Europe/Berlin\"",
                self.time_zone
            ));
        }
        digest("events.sha256", &self.events.sha256)?;
        if let Some(previous) = &self.previous_manifest_sha256 {
            digest("previousManifestSha256", previous)?;
        }
        let mut seen = HashSet::new();
        for artefact in &self.artefacts {
            if !is_plain_file_name(&artefact.file) {
                return Err(format!(
                    "artefact {:?} is not a plain file name; artefacts lie beside the manifest",
                    artefact.file
                ));
            }
            if !seen.insert(artefact.file.as_str()) {
                return Err(format!("artefact {:?} is listed twice", artefact.file));
            }
            digest(&format!("sha256 of {}", artefact.file), &artefact.sha256)?;
        }
        Ok(())
    }
}

fn instant(field: &str, value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{field} {value:?} is not an RFC 3339 time ({e})"))
}

fn digest(field: &str, value: &str) -> Result<(), String> {
    if is_sha256_hex(value) {
        Ok(())
    } else {
        Err(format!(
            "{field} {value:?} is not a SHA-256 (64 lowercase hex characters)"
        ))
    }
}

/// A name without directories: not empty, not `.` or `..`, no `/`, `\` or NUL.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid manifest for tests.
    pub(crate) fn sample() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            generator: GENERATOR.to_owned(),
            resource: "team/monthly".to_owned(),
            portal: "https://acme.onlyoffice.com".to_owned(),
            period_from: "2025-02-28T23:00:00Z".to_owned(),
            period_to: "2025-03-31T22:00:00Z".to_owned(),
            time_zone: "Europe/Berlin".to_owned(),
            generated_at: "2025-04-01T01:00:03Z".to_owned(),
            artefacts: vec![
                ManifestArtefact {
                    file: "compliance-report-x-2025-03.csv".to_owned(),
                    sha256: sha256_hex(b"csv"),
                    bytes: 3,
                },
                ManifestArtefact {
                    file: "compliance-report-x-2025-03.txt".to_owned(),
                    sha256: sha256_hex(b"txt"),
                    bytes: 3,
                },
            ],
            events: EventsDigest {
                count: 2,
                sha256: sha256_hex(b"{}\n{}\n"),
            },
            previous_manifest_sha256: None,
            previous_manifest_source: None,
            chain_restart: None,
            privacy: "ip=truncate users=pseudonym".to_owned(),
        }
    }

    #[test]
    fn canonical_json_is_stable_and_round_trips() {
        let manifest = sample();
        let json = manifest.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.starts_with(
            "{\n  \"format\": \"docspace-compliance-manifest/v1\",\n  \"generator\": \"docspace-compliance-operator "
        ));
        assert!(text.contains(
            "  \"artefacts\": [\n    {\n      \"file\": \"compliance-report-x-2025-03.csv\",\n"
        ));
        assert!(text.contains("  \"previousManifestSha256\": null,\n"));
        assert!(text.ends_with("  \"privacy\": \"ip=truncate users=pseudonym\"\n}\n"));
        let back = Manifest::from_json(&json).unwrap();
        assert_eq!(back, manifest);
        assert_eq!(back.to_json(), json);
        assert_eq!(manifest.sha256(), sha256_hex(&json));
    }

    #[test]
    fn chain_link_round_trips() {
        let mut manifest = sample();
        manifest.previous_manifest_sha256 = Some(sample().sha256());
        let back = Manifest::from_json(&manifest.to_json()).unwrap();
        assert_eq!(back.previous_manifest_sha256, Some(sample().sha256()));
        assert_ne!(manifest.sha256(), sample().sha256());
    }

    fn rejection(edit: impl FnOnce(&mut Manifest)) -> String {
        let mut manifest = sample();
        edit(&mut manifest);
        Manifest::from_json(&manifest.to_json())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn rejects_what_a_verifier_cannot_trust() {
        assert!(rejection(|m| m.format = "v0".into()).contains("format is \"v0\""));
        assert!(rejection(|m| m.period_to = m.period_from.clone()).contains("is not before"));
        assert!(rejection(|m| m.period_from = "March".into()).contains("periodFrom \"March\""));
        assert!(rejection(|m| m.generated_at = "".into()).contains("generatedAt"));
        assert!(rejection(|m| m.time_zone = "Mars/Base".into()).contains("Mars/Base"));
        assert!(rejection(|m| m.events.sha256 = "AB".into()).contains("events.sha256"));
        assert!(
            rejection(|m| m.previous_manifest_sha256 = Some("x".into()))
                .contains("previousManifestSha256")
        );
        assert!(
            rejection(|m| m.artefacts[0].file = "../etc/passwd".into())
                .contains("not a plain file name")
        );
        assert!(
            rejection(|m| m.artefacts[1].file = m.artefacts[0].file.clone())
                .contains("listed twice")
        );
        assert!(
            rejection(|m| m.artefacts[0].sha256 = "x".into())
                .contains("sha256 of compliance-report-x-2025-03.csv")
        );
    }

    #[test]
    fn rejects_unknown_fields_and_bad_json() {
        let text = String::from_utf8(sample().to_json()).unwrap();
        let extra = text.replacen("{\n", "{\n  \"signedBy\": \"me\",\n", 1);
        let error = Manifest::from_json(extra.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `signedBy`"), "{error}");
        let error = Manifest::from_json(b"not json").unwrap_err().to_string();
        assert!(error.starts_with("not a valid docspace-compliance-manifest/v1 manifest"));
    }

    #[test]
    fn file_names() {
        assert_eq!(manifest_file_name("r-2025-03"), "r-2025-03.manifest.json");
        assert_eq!(signature_file_name("r-2025-03"), "r-2025-03.manifest.sig");
        assert_eq!(
            stem_of_manifest_name("r-2025-03.manifest.json"),
            Some("r-2025-03")
        );
        assert_eq!(stem_of_manifest_name(".manifest.json"), None);
        assert_eq!(stem_of_manifest_name("r.json"), None);
    }
}
