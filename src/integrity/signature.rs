//! The detached signature file (`S.manifest.sig`): an Ed25519 signature over the manifest's
//! exact bytes, with the signer's public key and key id.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;

use super::canonical::Json;
use super::error::IntegrityError;
use super::keys::key_id;

/// A detached Ed25519 signature over a manifest's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetachedSignature {
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The signer's key id: first 16 hex characters of the SHA-256 of the public key.
    pub key_id: String,
    /// The signer's public key, base64 of its 32 bytes.
    pub public_key: String,
    /// The signature, base64 of its 64 bytes.
    pub signature: String,
}

/// A signature's public key and signature bytes, decoded and checked against its key id.
pub(crate) struct Decoded {
    pub(crate) key: VerifyingKey,
    pub(crate) signature: Signature,
}

impl DetachedSignature {
    /// The only algorithm: `Ed25519`.
    pub const ALGORITHM: &str = "Ed25519";

    /// The canonical bytes: keys in declaration order (camelCase), pretty-printed with two
    /// spaces, trailing newline.
    pub fn to_json(&self) -> Vec<u8> {
        Json::Object(vec![
            ("algorithm", Json::String(&self.algorithm)),
            ("keyId", Json::String(&self.key_id)),
            ("publicKey", Json::String(&self.public_key)),
            ("signature", Json::String(&self.signature)),
        ])
        .to_bytes()
    }

    /// Reads a signature file and checks its fields: the algorithm, a valid public key whose
    /// key id is `keyId`, a 64-byte signature.
    pub fn from_json(bytes: &[u8]) -> Result<Self, IntegrityError> {
        let signature: Self = serde_json::from_slice(bytes)
            .map_err(|e| IntegrityError::InvalidSignatureFile(e.to_string()))?;
        signature.decode()?;
        Ok(signature)
    }

    /// Decodes the public key and signature, and checks the key id.
    pub(crate) fn decode(&self) -> Result<Decoded, IntegrityError> {
        if self.algorithm != Self::ALGORITHM {
            return Err(IntegrityError::InvalidSignatureFile(format!(
                "algorithm is {:?}; only {:?} is supported",
                self.algorithm,
                Self::ALGORITHM
            )));
        }
        let public = STANDARD
            .decode(&self.public_key)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| {
                IntegrityError::InvalidSignatureFile(
                    "publicKey is not base64 of 32 bytes".to_owned(),
                )
            })?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| {
            IntegrityError::InvalidSignatureFile(
                "publicKey is not a valid Ed25519 public key".to_owned(),
            )
        })?;
        let signature = STANDARD
            .decode(&self.signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes.as_slice()).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or_else(|| {
                IntegrityError::InvalidSignatureFile(
                    "signature is not base64 of 64 bytes".to_owned(),
                )
            })?;
        let actual = key_id(&key);
        if actual != self.key_id {
            return Err(IntegrityError::InvalidSignatureFile(format!(
                "keyId {} does not belong to its publicKey (whose key id is {actual}); the \
                 signature file was edited",
                self.key_id
            )));
        }
        Ok(Decoded { key, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::keys::SigningKey;
    use crate::integrity::keys::tests::SEED;

    fn signed() -> DetachedSignature {
        SigningKey::from_secret_bytes(&SEED)
            .unwrap()
            .sign(b"manifest\n")
    }

    #[test]
    fn round_trips_in_canonical_form() {
        let signature = signed();
        let json = signature.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.starts_with("{\n  \"algorithm\": \"Ed25519\",\n  \"keyId\": \""));
        assert!(text.ends_with("\"\n}\n"));
        assert_eq!(DetachedSignature::from_json(&json).unwrap(), signature);
        let decoded = signature.decode().unwrap();
        assert!(
            decoded
                .key
                .verify_strict(b"manifest\n", &decoded.signature)
                .is_ok()
        );
        assert!(
            decoded
                .key
                .verify_strict(b"manifest!", &decoded.signature)
                .is_err()
        );
    }

    #[test]
    fn rejects_malformed_fields() {
        type Edit = fn(&mut DetachedSignature);
        let cases: [(Edit, &str); 4] = [
            (|s| s.algorithm = "RSA".into(), "algorithm is \"RSA\""),
            (
                |s| s.public_key = "AAAA".into(),
                "publicKey is not base64 of 32 bytes",
            ),
            (
                |s| s.signature.truncate(10),
                "signature is not base64 of 64 bytes",
            ),
            (
                |s| s.key_id = "0000000000000000".into(),
                "keyId 0000000000000000 does not belong",
            ),
        ];
        for (edit, expected) in cases {
            let mut signature = signed();
            edit(&mut signature);
            let error = DetachedSignature::from_json(&signature.to_json())
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with("not a valid detached signature: "),
                "{error}"
            );
            assert!(error.contains(expected), "{error}");
        }
        let error = DetachedSignature::from_json(b"{}").unwrap_err().to_string();
        assert!(error.contains("missing field"), "{error}");
    }
}
