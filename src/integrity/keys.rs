//! Ed25519 keys: the signing key read from a Secret, and the trusted public key a verifier is
//! given. Secret material never appears in `Debug`, `Display` or errors.

use std::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signer, VerifyingKey};
use zeroize::Zeroizing;

use super::digest::sha256_hex;
use super::error::IntegrityError;
use super::signature::DetachedSignature;

/// What a Secret may hold, for error messages.
const SECRET_FORMATS: &str = "expected a 32-byte Ed25519 seed as raw bytes, as 64 hex \
    characters or base64-encoded, or a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----, e.g. from \
    `openssl genpkey -algorithm ed25519`)";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// An Ed25519 signing key read from Secret bytes. `Debug` and `Display` show only its key id;
/// the secret is zeroed when the key is dropped.
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// Reads the key from a Secret's bytes: a 32-byte raw seed, the seed as 64 hex characters,
    /// the seed base64-encoded, or a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Surrounding
    /// whitespace (a trailing newline) is ignored in the text forms.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, IntegrityError> {
        if let Ok(seed) = <[u8; 32]>::try_from(bytes) {
            return Ok(Self::from_seed(&Zeroizing::new(seed)));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| {
                IntegrityError::SigningKey(format!(
                    "is {} bytes of binary data; {SECRET_FORMATS}",
                    bytes.len()
                ))
            })?
            .trim();
        if text.is_empty() {
            return Err(IntegrityError::SigningKey(format!(
                "is empty; {SECRET_FORMATS}"
            )));
        }
        if text.starts_with("-----BEGIN") {
            return from_pem(text).map(|key| Self { key });
        }
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut seed = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(text, seed.as_mut_slice())
                .map_err(|_| IntegrityError::SigningKey("is not valid hex".to_owned()))?;
            return Ok(Self::from_seed(&seed));
        }
        let decoded = Zeroizing::new(decode_base64(text).ok_or_else(|| {
            IntegrityError::SigningKey(format!(
                "is {} characters of text that is neither hex, base64 nor PEM; {SECRET_FORMATS}",
                text.len()
            ))
        })?);
        let seed = Zeroizing::new(<[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| {
            IntegrityError::SigningKey(format!(
                "is base64 of {} bytes, not of 32; {SECRET_FORMATS}",
                decoded.len()
            ))
        })?);
        Ok(Self::from_seed(&seed))
    }

    fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The first 16 hex characters of the SHA-256 of the public key's 32 bytes.
    pub fn key_id(&self) -> String {
        key_id(&self.key.verifying_key())
    }

    /// The public key as a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`), to publish
    /// beside the reports and give to `verify --public-key`.
    pub fn public_key_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    /// Signs a manifest's canonical bytes ([`Manifest::to_json`](super::Manifest::to_json)).
    pub fn sign(&self, manifest_json: &[u8]) -> DetachedSignature {
        let public = self.key.verifying_key();
        DetachedSignature {
            algorithm: DetachedSignature::ALGORITHM.to_owned(),
            key_id: key_id(&public),
            public_key: STANDARD.encode(public.as_bytes()),
            signature: STANDARD.encode(self.key.sign(manifest_json).to_bytes()),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519 signing key {}", self.key_id())
    }
}

/// The key id of a public key: the first 16 hex characters of the SHA-256 of its bytes.
pub(crate) fn key_id(key: &VerifyingKey) -> String {
    let mut id = sha256_hex(key.as_bytes());
    id.truncate(16);
    id
}

/// Reads a trusted public key: a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`) or the
/// base64 of its 32 bytes.
pub(crate) fn parse_public_key(text: &str) -> Result<VerifyingKey, IntegrityError> {
    let text = text.trim();
    let key = if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        VerifyingKey::from_public_key_pem(text).map_err(|e| {
            IntegrityError::TrustedKey(format!(
                "is a PEM public key but not an Ed25519 one ({e}); use the key the report \
                 signer published (-----BEGIN PUBLIC KEY-----)"
            ))
        })?
    } else if let Some(label) = pem_label(text) {
        return Err(IntegrityError::TrustedKey(format!(
            "is a PEM {label:?} block; expected -----BEGIN PUBLIC KEY----- (the private key \
             never leaves the Secret; `openssl pkey -pubout` prints the public one)"
        )));
    } else {
        let bytes = decode_base64(text).ok_or_else(|| {
            IntegrityError::TrustedKey(
                "is neither PEM (-----BEGIN PUBLIC KEY-----) nor base64 of the key's 32 bytes"
                    .to_owned(),
            )
        })?;
        let bytes = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
            IntegrityError::TrustedKey(format!(
                "is base64 of {} bytes; an Ed25519 public key has 32",
                bytes.len()
            ))
        })?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| {
            IntegrityError::TrustedKey("is not a valid Ed25519 public key".to_owned())
        })?
    };
    if key.is_weak() {
        return Err(IntegrityError::TrustedKey(
            "is a weak (small-order) Ed25519 key that anyone can sign for; use the signer's real key"
                .to_owned(),
        ));
    }
    Ok(key)
}

fn from_pem(text: &str) -> Result<ed25519_dalek::SigningKey, IntegrityError> {
    match pem_label(text) {
        Some("PRIVATE KEY") => ed25519_dalek::SigningKey::from_pkcs8_pem(text).map_err(|e| {
            IntegrityError::SigningKey(format!(
                "is a PKCS#8 PEM but not a valid Ed25519 private key ({e}); {SECRET_FORMATS}"
            ))
        }),
        Some("ENCRYPTED PRIVATE KEY") => Err(IntegrityError::SigningKey(
            "is an encrypted PKCS#8 PEM; store it unencrypted in the Secret \
             (`openssl pkey -in key.pem -out plain.pem`)"
                .to_owned(),
        )),
        Some("PUBLIC KEY") => Err(IntegrityError::SigningKey(
            "is a public key; the Secret must hold the private key".to_owned(),
        )),
        label => Err(IntegrityError::SigningKey(format!(
            "is a PEM {:?} block; {SECRET_FORMATS}",
            label.unwrap_or("(unreadable)")
        ))),
    }
}

/// The label of a PEM block (`PRIVATE KEY` of `-----BEGIN PRIVATE KEY-----`).
fn pem_label(text: &str) -> Option<&str> {
    text.strip_prefix("-----BEGIN ")?
        .split_once("-----")
        .map(|(label, _)| label)
}

/// Decodes standard or URL-safe base64, with or without padding.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [alphabet::STANDARD, alphabet::URL_SAFE]
        .iter()
        .find_map(|alphabet| GeneralPurpose::new(alphabet, config).decode(text).ok())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed test seed.
    pub(crate) const SEED: [u8; 32] = [7; 32];

    /// The PKCS#8 v1 PEM of a seed, as `openssl genpkey -algorithm ed25519` writes it.
    fn pkcs8_pem(seed: [u8; 32]) -> String {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der)
        )
    }

    #[test]
    fn all_secret_forms_give_the_same_key() {
        let raw = SigningKey::from_secret_bytes(&SEED).unwrap();
        let forms = [
            hex::encode(SEED),
            format!("{}\n", hex::encode_upper(SEED)),
            STANDARD.encode(SEED),
            format!("  {}\n", STANDARD.encode(SEED).trim_end_matches('=')),
            base64::engine::general_purpose::URL_SAFE.encode([0xfb; 32]),
            pkcs8_pem(SEED),
        ];
        for (i, form) in forms.iter().enumerate() {
            let key = SigningKey::from_secret_bytes(form.as_bytes()).unwrap();
            if i == 4 {
                assert_eq!(
                    key.key_id(),
                    SigningKey::from_secret_bytes(&[0xfb; 32]).unwrap().key_id()
                );
            } else {
                assert_eq!(key.key_id(), raw.key_id(), "form {i}");
            }
        }
    }

    #[test]
    fn pkcs8_key_public_key_and_signature_match_openssl() {
        // `openssl genpkey -algorithm ed25519`, `openssl pkey -pubout`, and
        // `printf 'manifest\n' | openssl pkeyutl -sign -inkey key.pem -rawin | base64`.
        let private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIII722J2mmH3WzRMlkhX9gPGHSqpw4Is292L4tAcniQ\n-----END PRIVATE KEY-----\n";
        let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAgTn6enscx9vNK5nL3lEHqjsLyCVJd1jn0rUpenhjeL4=\n-----END PUBLIC KEY-----\n";
        let signature = "ULo4eNuOH5YG3aoOsB5KJYF2Kj3T015Cs+kfB0Qenp9aj4LzswVp9EKbcP5ynYoFfEaIAfzwh3phuteKmuXzCQ==";
        let key = SigningKey::from_secret_bytes(private.as_bytes()).unwrap();
        assert_eq!(key.public_key_pem(), public);
        assert_eq!(key.sign(b"manifest\n").signature, signature);
    }

    #[test]
    fn public_key_pem_parses_back() {
        let key = SigningKey::from_secret_bytes(&SEED).unwrap();
        let parsed = parse_public_key(&key.public_key_pem()).unwrap();
        assert_eq!(key_id(&parsed), key.key_id());
        let base64 = key.sign(b"").public_key;
        assert_eq!(key_id(&parse_public_key(&base64).unwrap()), key.key_id());
        assert_eq!(key.key_id().len(), 16);
    }

    #[test]
    fn never_shows_the_secret() {
        let key = SigningKey::from_secret_bytes(&SEED).unwrap();
        let shown = format!("{key:?} {key}");
        assert!(shown.contains(&key.key_id()));
        for secret in [hex::encode(SEED), STANDARD.encode(SEED), "7, 7".to_owned()] {
            assert!(!shown.contains(&secret), "{shown}");
        }
    }

    #[test]
    fn unusable_secrets_say_what_is_expected() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "is empty"),
            (&[0xff; 31], "bytes of binary data"),
            (b"c2hvcnQ=", "base64 of 5 bytes, not of 32"),
            (b"not a key!", "neither hex, base64 nor PEM"),
            (
                b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
                "PEM \"OPENSSH PRIVATE KEY\" block",
            ),
            (
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "encrypted",
            ),
        ];
        for (bytes, expected) in cases {
            let error = SigningKey::from_secret_bytes(bytes)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("the signing key "), "{error}");
            assert!(error.contains(expected), "{error}");
        }
        let public = SigningKey::from_secret_bytes(&SEED)
            .unwrap()
            .public_key_pem();
        let error = SigningKey::from_secret_bytes(public.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("is a public key"), "{error}");
        let broken = pkcs8_pem(SEED).replace("MC4", "MC5");
        let error = SigningKey::from_secret_bytes(broken.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a valid Ed25519 private key"), "{error}");
    }

    #[test]
    fn unusable_public_keys_are_rejected() {
        let private = pkcs8_pem(SEED);
        assert!(
            parse_public_key(&private)
                .unwrap_err()
                .to_string()
                .contains("PRIVATE KEY")
        );
        assert!(
            parse_public_key("c2hvcnQ=")
                .unwrap_err()
                .to_string()
                .contains("5 bytes")
        );
        assert!(
            parse_public_key("%%")
                .unwrap_err()
                .to_string()
                .contains("neither PEM")
        );
        // The identity point: small order, would accept forged signatures.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let error = parse_public_key(&STANDARD.encode(identity))
            .unwrap_err()
            .to_string();
        assert!(error.contains("weak"), "{error}");
    }
}
