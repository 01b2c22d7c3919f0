//! `verify` as a user runs it: on report sets written into a temporary directory (artefacts,
//! chained manifests, signatures by a fixed-seed key), untouched and tampered with.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use docspace_compliance_operator::integrity::{
    DetachedSignature, EventsDigest, GENERATOR, MANIFEST_FORMAT, Manifest, ManifestArtefact,
    SigningKey, manifest_file_name, signature_file_name,
};
use support::files::sha256_hex;

const BIN: &str = env!("CARGO_BIN_EXE_docspace-compliance-operator");

/// Three monthly periods in Europe/Berlin, as UTC instants.
const MONTHS: [(&str, &str, &str); 3] = [
    ("2025-01", "2024-12-31T23:00:00Z", "2025-01-31T23:00:00Z"),
    ("2025-02", "2025-01-31T23:00:00Z", "2025-02-28T23:00:00Z"),
    ("2025-03", "2025-02-28T23:00:00Z", "2025-03-31T22:00:00Z"),
];

fn key(seed: u8) -> SigningKey {
    SigningKey::from_secret_bytes(&[seed; 32]).unwrap()
}

fn stem(month: &str) -> String {
    format!("compliance-report-x-{month}")
}

/// A report set in a temporary directory: three chained monthly runs with csv, txt and ndjson
/// artefacts each.
struct ReportSet {
    dir: tempfile::TempDir,
}

impl ReportSet {
    /// Writes the set; signs every manifest when `signer` is given.
    fn write(signer: Option<&SigningKey>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut previous = None;
        for (i, (month, from, to)) in MONTHS.into_iter().enumerate() {
            let stem = stem(month);
            let lines: Vec<String> = (0..3)
                .map(|n| format!(r#"{{"id":{},"action":"FileDownloaded"}}"#, i * 10 + n))
                .collect();
            // The events digest is that of the canonical (ndjson) lines, each ended by `\n`.
            let events = EventsDigest {
                count: lines.len() as u64,
                sha256: sha256_hex(format!("{}\n", lines.join("\n")).as_bytes()),
            };
            let contents = [
                ("csv", format!("id,action\n{}\n", lines.join("\n"))),
                ("txt", format!("Audit report {month}\n")),
                ("ndjson", format!("{}\n", lines.join("\n"))),
            ];
            let artefacts = contents
                .iter()
                .map(|(ext, content)| {
                    let file = format!("{stem}.{ext}");
                    std::fs::write(dir.path().join(&file), content).unwrap();
                    ManifestArtefact {
                        file,
                        sha256: sha256_hex(content.as_bytes()),
                        bytes: content.len() as u64,
                    }
                })
                .collect();
            let manifest = Manifest {
                format: MANIFEST_FORMAT.into(),
                generator: GENERATOR.into(),
                resource: "legal/monthly".into(),
                portal: "https://acme.onlyoffice.com".into(),
                period_from: from.into(),
                period_to: to.into(),
                time_zone: "Europe/Berlin".into(),
                generated_at: to.replace("00:00Z", "00:07Z"),
                artefacts,
                events,
                previous_manifest_sha256: previous.clone(),
                previous_manifest_source: None,
                chain_restart: None,
                privacy: "ip=truncate users=pseudonym".into(),
            };
            let json = manifest.to_json();
            std::fs::write(dir.path().join(manifest_file_name(&stem)), &json).unwrap();
            if let Some(signer) = signer {
                let signature = signer.sign(&json).to_json();
                std::fs::write(dir.path().join(signature_file_name(&stem)), signature).unwrap();
            }
            previous = Some(manifest.sha256());
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn manifest_path(&self, month: &str) -> PathBuf {
        self.path(&manifest_file_name(&stem(month)))
    }

    fn signature_path(&self, month: &str) -> PathBuf {
        self.path(&signature_file_name(&stem(month)))
    }

    fn read_manifest(&self, month: &str) -> Manifest {
        Manifest::from_json(&std::fs::read(self.manifest_path(month)).unwrap()).unwrap()
    }

    fn write_manifest(&self, month: &str, manifest: &Manifest) {
        std::fs::write(self.manifest_path(month), manifest.to_json()).unwrap();
    }

    /// Writes `key`'s public key PEM into the set's directory (as a verifier would keep it).
    fn public_key_file(&self, key: &SigningKey) -> PathBuf {
        let path = self.path(&format!("signer-{}.pem", key.key_id()));
        std::fs::write(&path, key.public_key_pem()).unwrap();
        path
    }

    fn dir_arg(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Runs `verify` on the set trusting `key`, expecting failure; returns the message.
    fn rejected_trusting(&self, key: &SigningKey) -> String {
        let trusted = self.public_key_file(key);
        rejected(&[&self.dir_arg(), "--public-key", trusted.to_str().unwrap()])
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("verify")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Runs `verify` expecting success; returns stdout.
fn accepted(args: &[&str]) -> String {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "verify failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `verify` expecting failure: exit code 1 and one line `error: ...` on stderr; returns
/// the message without `error: `.
fn rejected(args: &[&str]) -> String {
    let output = run(args);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    stderr
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("no `error: ` prefix: {stderr}"))
        .trim_end()
        .to_owned()
}

/// The start of the message for a signature of `month`'s manifest that `key` does not verify.
fn does_not_verify(month: &str, key: &SigningKey) -> String {
    format!(
        "signature of {}.manifest.json does not verify with key id {}",
        stem(month),
        key.key_id()
    )
}

fn assert_names(message: &str, expected_start: &str) {
    assert!(
        message.starts_with(expected_start),
        "expected the message to start with {expected_start:?}, got: {message}"
    );
}

#[test]
fn accepts_an_untouched_signed_set() {
    let set = ReportSet::write(Some(&key(1)));
    let public_key = set.public_key_file(&key(1));
    let out = accepted(&[
        &set.dir_arg(),
        "--public-key",
        public_key.to_str().unwrap(),
        "--require-signature",
    ]);
    assert_eq!(
        out,
        "verified 3 manifests, 9 artefacts, 3 signatures, 2 chain links\n"
    );

    // Files given one by one, in any order, are the same set.
    let files: Vec<String> = ["2025-03", "2025-01", "2025-02"]
        .iter()
        .map(|m| set.manifest_path(m).display().to_string())
        .collect();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let output = run(&args);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "verified 3 manifests, 9 artefacts, 3 signatures, 2 chain links\n"
    );
    // Without --public-key it says who it did not check.
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("pass --public-key")
    );

    // The public key as base64 of its 32 bytes works too.
    let base64_key = set.path("signer.b64");
    std::fs::write(&base64_key, key(1).sign(b"").public_key).unwrap();
    accepted(&[&set.dir_arg(), "--public-key", base64_key.to_str().unwrap()]);
}

#[test]
fn accepts_an_untouched_unsigned_set_and_a_single_manifest() {
    let set = ReportSet::write(None);
    assert_eq!(
        accepted(&[&set.dir_arg()]),
        "verified 3 manifests, 9 artefacts, 0 signatures, 2 chain links\n"
    );
    let one = set.manifest_path("2025-02").display().to_string();
    assert_eq!(
        accepted(&[&one]),
        "verified 1 manifest, 3 artefacts, 0 signatures, 0 chain links\n"
    );
}

#[test]
fn rejects_a_changed_byte_in_an_artefact() {
    let set = ReportSet::write(Some(&key(1)));
    let csv = set.path("compliance-report-x-2025-02.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    let original = sha256_hex(&bytes);
    bytes[3] ^= 0x01;
    std::fs::write(&csv, &bytes).unwrap();
    let message = rejected(&[&set.dir_arg()]);
    assert_eq!(
        message,
        format!(
            "compliance-report-x-2025-02.csv: sha256 is {}, the manifest \
             compliance-report-x-2025-02.manifest.json says {original}",
            sha256_hex(&bytes)
        )
    );
}

#[test]
fn rejects_a_missing_artefact() {
    let set = ReportSet::write(None);
    std::fs::remove_file(set.path("compliance-report-x-2025-03.ndjson")).unwrap();
    let message = rejected(&[&set.dir_arg()]);
    assert_names(
        &message,
        "compliance-report-x-2025-03.ndjson: missing; compliance-report-x-2025-03.manifest.json lists it",
    );
}

#[test]
fn rejects_a_truncated_artefact_by_size() {
    let set = ReportSet::write(None);
    let txt = set.path("compliance-report-x-2025-01.txt");
    std::fs::write(&txt, "Audit").unwrap();
    let message = rejected(&[&set.dir_arg()]);
    assert_names(
        &message,
        "compliance-report-x-2025-01.txt: size is 5 bytes, the manifest compliance-report-x-2025-01.manifest.json says 21",
    );
}

#[test]
fn rejects_swapped_previous_hashes() {
    let set = ReportSet::write(None);
    let mut february = set.read_manifest("2025-02");
    let mut march = set.read_manifest("2025-03");
    std::mem::swap(
        &mut february.previous_manifest_sha256,
        &mut march.previous_manifest_sha256,
    );
    set.write_manifest("2025-02", &february);
    set.write_manifest("2025-03", &march);
    let message = rejected(&[&set.dir_arg()]);
    assert_names(
        &message,
        "chain broken between compliance-report-x-2025-01.manifest.json and \
         compliance-report-x-2025-02.manifest.json: compliance-report-x-2025-02.manifest.json's \
         previousManifestSha256 is ",
    );
    let january = sha256_hex(&std::fs::read(set.manifest_path("2025-01")).unwrap());
    assert!(
        message.contains(&format!(
            "compliance-report-x-2025-01.manifest.json hashes to {january}"
        )),
        "{message}"
    );
}

#[test]
fn rejects_a_reordered_chain() {
    // February and March trade periods but keep their links: sorted by period, March now
    // follows January, and links to February.
    let set = ReportSet::write(None);
    let mut february = set.read_manifest("2025-02");
    let mut march = set.read_manifest("2025-03");
    std::mem::swap(&mut february.period_from, &mut march.period_from);
    std::mem::swap(&mut february.period_to, &mut march.period_to);
    set.write_manifest("2025-02", &february);
    set.write_manifest("2025-03", &march);
    let message = rejected(&[&set.dir_arg()]);
    assert_names(
        &message,
        "chain broken between compliance-report-x-2025-01.manifest.json and \
         compliance-report-x-2025-03.manifest.json",
    );
}

#[test]
fn rejects_a_chain_with_the_middle_manifest_dropped() {
    let set = ReportSet::write(Some(&key(1)));
    std::fs::remove_file(set.manifest_path("2025-02")).unwrap();
    let message = rejected(&[&set.dir_arg()]);
    assert_names(
        &message,
        "chain broken between compliance-report-x-2025-01.manifest.json and \
         compliance-report-x-2025-03.manifest.json",
    );
    assert!(
        message.contains("a manifest between them may be missing"),
        "{message}"
    );
}

#[test]
fn rejects_an_overlapping_period() {
    let set = ReportSet::write(None);
    // March starts a day early; its link to February stays right.
    let mut march = set.read_manifest("2025-03");
    march.period_from = "2025-02-27T23:00:00Z".into();
    set.write_manifest("2025-03", &march);
    let message = rejected(&[&set.dir_arg()]);
    assert_eq!(
        message,
        "periods overlap: compliance-report-x-2025-02.manifest.json covers 2025-01-31T23:00:00Z \
         to 2025-02-28T23:00:00Z, compliance-report-x-2025-03.manifest.json starts at \
         2025-02-27T23:00:00Z"
    );
}

#[test]
fn rejects_a_signature_by_another_key() {
    let set = ReportSet::write(Some(&key(2)));
    let message = set.rejected_trusting(&key(1));
    assert_eq!(
        message,
        format!(
            "compliance-report-x-2025-01.manifest.sig: signed with key id {}, not with the \
             trusted key (key id {}); check --public-key or which key signed the report",
            key(2).key_id(),
            key(1).key_id()
        )
    );
}

#[test]
fn rejects_a_flipped_signature_byte() {
    let set = ReportSet::write(Some(&key(1)));
    let path = set.signature_path("2025-02");
    let mut signature = DetachedSignature::from_json(&std::fs::read(&path).unwrap()).unwrap();
    let mut bytes = STANDARD.decode(&signature.signature).unwrap();
    bytes[10] ^= 0x80;
    signature.signature = STANDARD.encode(bytes);
    std::fs::write(&path, signature.to_json()).unwrap();
    let message = set.rejected_trusting(&key(1));
    assert_names(&message, &does_not_verify("2025-02", &key(1)));
}

#[test]
fn rejects_a_manifest_edited_after_signing() {
    let set = ReportSet::write(Some(&key(1)));
    // Someone lowers the event count and rewrites the manifest canonically; the next link is
    // re-pointed too, so only the signature can tell.
    let mut february = set.read_manifest("2025-02");
    february.events.count = 2;
    set.write_manifest("2025-02", &february);
    let mut march = set.read_manifest("2025-03");
    march.previous_manifest_sha256 = Some(february.sha256());
    set.write_manifest("2025-03", &march);
    let message = rejected(&[&set.dir_arg()]);
    assert_names(&message, &does_not_verify("2025-02", &key(1)));
}

#[test]
fn rejects_a_signature_file_that_swaps_in_another_key() {
    // Re-signing with another key and the attacker's public key: valid on its own, caught by
    // the trusted key.
    let set = ReportSet::write(Some(&key(1)));
    let manifest = std::fs::read(set.manifest_path("2025-03")).unwrap();
    std::fs::write(
        set.signature_path("2025-03"),
        key(3).sign(&manifest).to_json(),
    )
    .unwrap();
    accepted(&[&set.dir_arg()]);
    let message = set.rejected_trusting(&key(1));
    assert_names(
        &message,
        &format!(
            "compliance-report-x-2025-03.manifest.sig: signed with key id {}",
            key(3).key_id()
        ),
    );
}

#[test]
fn require_signature_rejects_an_unsigned_set() {
    let set = ReportSet::write(None);
    let message = rejected(&[&set.dir_arg(), "--require-signature"]);
    assert_names(
        &message,
        "compliance-report-x-2025-01.manifest.json is not signed: \
         compliance-report-x-2025-01.manifest.sig is missing beside it",
    );
    // A trusted key requires signatures too.
    let message = set.rejected_trusting(&key(1));
    assert_names(
        &message,
        "compliance-report-x-2025-01.manifest.json is not signed",
    );
}

#[test]
fn names_unusable_inputs() {
    let set = ReportSet::write(None);
    let csv = set.path("compliance-report-x-2025-01.csv");
    assert_names(
        &rejected(&[csv.to_str().unwrap()]),
        &format!("{}: not a manifest", csv.display()),
    );
    let empty = tempfile::tempdir().unwrap();
    assert_names(
        &rejected(&[empty.path().to_str().unwrap()]),
        &format!("{}: holds no *.manifest.json files", empty.path().display()),
    );
    let not_a_key = set.path("key.txt");
    std::fs::write(&not_a_key, "hello").unwrap();
    assert_names(
        &rejected(&[&set.dir_arg(), "--public-key", not_a_key.to_str().unwrap()]),
        &format!(
            "--public-key {}: the trusted public key is ",
            not_a_key.display()
        ),
    );
    let gone = set.path("gone.pem");
    assert_names(
        &rejected(&[&set.dir_arg(), "--public-key", gone.to_str().unwrap()]),
        &format!("--public-key {}: cannot read it", gone.display()),
    );
    std::fs::write(set.manifest_path("2025-02"), b"{\"format\": 1}").unwrap();
    assert_names(
        &rejected(&[&set.dir_arg()]),
        "compliance-report-x-2025-02.manifest.json: not a valid docspace-compliance-manifest/v1 manifest",
    );
}

#[test]
fn manifests_on_disk_are_the_canonical_bytes() {
    let set = ReportSet::write(Some(&key(1)));
    let bytes = std::fs::read(set.manifest_path("2025-01")).unwrap();
    let manifest = Manifest::from_json(&bytes).unwrap();
    assert_eq!(manifest.to_json(), bytes);
    assert_eq!(manifest.sha256(), sha256_hex(&bytes));
    assert_eq!(
        set.read_manifest("2025-02").previous_manifest_sha256,
        Some(sha256_hex(&bytes))
    );
    assert!(bytes.ends_with(b"}\n"));
}

#[test]
fn refuses_symbolic_links_unless_asked_and_never_reads_fifos_or_devices() {
    let set = ReportSet::write(None);
    let outside = tempfile::tempdir().unwrap();
    let csv = set.path("compliance-report-x-2025-02.csv");
    let copy = outside.path().join("elsewhere.csv");
    std::fs::copy(&csv, &copy).unwrap();
    std::fs::remove_file(&csv).unwrap();
    std::os::unix::fs::symlink(&copy, &csv).unwrap();
    let message = rejected(&[&set.dir_arg()]);
    assert!(
        message.contains("compliance-report-x-2025-02.csv: refused: a symbolic link"),
        "{message}"
    );
    assert!(accepted(&[&set.dir_arg(), "--follow-symlinks"]).starts_with("verified 3 manifests"));

    // A link to a device, even when links are followed, and a FIFO: refused at once.
    std::fs::remove_file(&csv).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &csv).unwrap();
    let message = rejected(&[&set.dir_arg(), "--follow-symlinks"]);
    assert!(message.contains("not a regular file"), "{message}");
    std::fs::remove_file(&csv).unwrap();
    let made = Command::new("mkfifo").arg(&csv).status().unwrap();
    assert!(made.success());
    let message = rejected(&[&set.dir_arg()]);
    assert!(message.contains("not a regular file"), "{message}");
}

#[test]
fn reports_the_real_size_of_a_grown_artefact() {
    let set = ReportSet::write(None);
    let txt = set.path("compliance-report-x-2025-01.txt");
    std::fs::write(&txt, vec![b'x'; 1 << 20]).unwrap();
    let message = rejected(&[&set.dir_arg()]);
    assert_names(
        &message,
        "compliance-report-x-2025-01.txt: size is 1048576 bytes, the manifest compliance-report-x-2025-01.manifest.json says 21",
    );
}
