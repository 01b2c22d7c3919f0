//! The keys a cycle needs (the DocSpace API key, the privacy key of `Hash` and `Pseudonym`,
//! the manifest signing key), read from one of two sources: environment variables (the CLI)
//! or Secrets in the resource's namespace (the operator). Keys stay bytes until their user
//! parses them, so a binary key (the 32-byte raw Ed25519 seed) reads as well as a text one,
//! and every source fails with the same messages. No message contains a key.

use std::future::Future;
use std::sync::Arc;

use crate::docspace::ApiKey;
use crate::integrity::SigningKey;
use crate::report::{Privacy, PrivacyKey};
use crate::spec::{ComplianceReportSpec, SecretKeyRef};

/// Which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The DocSpace API key.
    Api,
    /// The key of keyed IP hashes and user pseudonyms.
    Privacy,
    /// The Ed25519 key that signs manifests.
    Signing,
}

impl KeyRole {
    /// The spec field that names the key's Secret.
    pub fn field(self) -> &'static str {
        match self {
            Self::Api => "spec.portal.tokenSecretRef",
            Self::Privacy => "spec.report.privacy.keySecretRef",
            Self::Signing => "spec.report.signingKeySecretRef",
        }
    }

    /// What the key is, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Self::Api => "the DocSpace API key",
            Self::Privacy => "the privacy key (a random value)",
            Self::Signing => {
                "the Ed25519 signing key (a 32-byte seed, raw, hex or base64, or a PKCS#8 PEM)"
            }
        }
    }
}

/// Why a key cannot be had. Messages name the place and what to put there, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The place that should hold the key does not exist.
    #[error("{field}: {place} not found; {remedy}")]
    NotFound {
        /// The spec field that asks for the key.
        field: &'static str,
        /// Where the key was looked for, e.g. `Secret team/docspace`.
        place: String,
        /// What to do.
        remedy: String,
    },
    /// The place exists but holds nothing under the key's name.
    #[error("{field}: {place} is empty or missing; put {what} there")]
    Empty {
        /// The spec field that asks for the key.
        field: &'static str,
        /// Where, e.g. `key "token" of Secret team/docspace`.
        place: String,
        /// What belongs there.
        what: &'static str,
    },
    /// The source could not be read.
    #[error("{field}: cannot read {place}: {detail}")]
    Unreadable {
        /// The spec field that asks for the key.
        field: &'static str,
        /// Where.
        place: String,
        /// Why.
        detail: String,
    },
    /// The value is there but is not a usable key.
    #[error("{field}: the value in {place} is not usable: {detail}")]
    Unusable {
        /// The spec field that asks for the key.
        field: &'static str,
        /// Where.
        place: String,
        /// Why.
        detail: String,
    },
}

/// Where keys come from.
pub trait KeySource: Sync {
    /// Where `role`'s key (named by `reference` in the spec) is looked for, for messages.
    fn place(&self, role: KeyRole, reference: &SecretKeyRef) -> String;

    /// The bytes of `role`'s key, named by `reference` in the spec.
    fn read(
        &self,
        role: KeyRole,
        reference: &SecretKeyRef,
    ) -> impl Future<Output = Result<Vec<u8>, KeyError>> + Send;
}

/// The keys of one cycle.
#[derive(Debug)]
pub struct CycleKeys {
    /// The DocSpace API key.
    pub api_key: ApiKey,
    /// The privacy key, when the spec names one.
    pub privacy_key: Option<PrivacyKey>,
    /// The signing key, when the spec names one.
    pub signing_key: Option<Arc<SigningKey>>,
}

/// Reads and checks every key `spec` names from `source`.
pub async fn resolve(
    source: &impl KeySource,
    spec: &ComplianceReportSpec,
) -> Result<CycleKeys, KeyError> {
    let unusable = |role: KeyRole, reference: &SecretKeyRef, detail: String| KeyError::Unusable {
        field: role.field(),
        place: source.place(role, reference),
        detail,
    };
    let reference = &spec.portal.token_secret_ref;
    let bytes = source.read(KeyRole::Api, reference).await?;
    let text = String::from_utf8(bytes).map_err(|_| {
        unusable(
            KeyRole::Api,
            reference,
            "an API key is text, and this is not UTF-8".to_owned(),
        )
    })?;
    let api_key = ApiKey::new(text).ok_or_else(|| KeyError::Empty {
        field: KeyRole::Api.field(),
        place: source.place(KeyRole::Api, reference),
        what: KeyRole::Api.what(),
    })?;
    let privacy_key = match &spec.report.privacy.key_secret_ref {
        Some(reference) => Some(
            PrivacyKey::new(source.read(KeyRole::Privacy, reference).await?).ok_or_else(|| {
                KeyError::Empty {
                    field: KeyRole::Privacy.field(),
                    place: source.place(KeyRole::Privacy, reference),
                    what: KeyRole::Privacy.what(),
                }
            })?,
        ),
        None => None,
    };
    // The modes that need a key say so before anything runs.
    Privacy::new(&spec.report.privacy, privacy_key.clone()).map_err(|e| {
        let reference = spec
            .report
            .privacy
            .key_secret_ref
            .clone()
            .unwrap_or(SecretKeyRef {
                name: String::new(),
                key: String::new(),
            });
        unusable(KeyRole::Privacy, &reference, e.to_string())
    })?;
    let signing_key = match &spec.report.signing_key_secret_ref {
        Some(reference) => {
            let bytes = source.read(KeyRole::Signing, reference).await?;
            let key = SigningKey::from_secret_bytes(&bytes)
                .map_err(|e| unusable(KeyRole::Signing, reference, e.to_string()))?;
            Some(Arc::new(key))
        }
        None => None,
    };
    Ok(CycleKeys {
        api_key,
        privacy_key,
        signing_key,
    })
}

/// Keys from environment variables, one per role (the CLI's `--token-env`,
/// `--privacy-key-env` and `--signing-key-env`); the spec's Secret names are not used.
#[derive(Debug, Clone)]
pub struct EnvKeys {
    /// The variable of the API key.
    pub api_key: String,
    /// The variable of the privacy key.
    pub privacy_key: String,
    /// The variable of the signing key.
    pub signing_key: String,
}

impl EnvKeys {
    fn variable(&self, role: KeyRole) -> &str {
        match role {
            KeyRole::Api => &self.api_key,
            KeyRole::Privacy => &self.privacy_key,
            KeyRole::Signing => &self.signing_key,
        }
    }
}

impl KeySource for EnvKeys {
    fn place(&self, role: KeyRole, _: &SecretKeyRef) -> String {
        format!("the environment variable {}", self.variable(role))
    }

    async fn read(&self, role: KeyRole, reference: &SecretKeyRef) -> Result<Vec<u8>, KeyError> {
        use std::os::unix::ffi::OsStringExt;
        let place = self.place(role, reference);
        match std::env::var_os(self.variable(role)) {
            Some(value) if !value.is_empty() => Ok(value.into_vec()),
            Some(_) => Err(KeyError::Empty {
                field: role.field(),
                place,
                what: role.what(),
            }),
            None => Err(KeyError::NotFound {
                field: role.field(),
                place,
                remedy: format!(
                    "set it to {} (the command line reads keys from the environment)",
                    role.what()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Keys in memory, by Secret name.
    struct Fixed(HashMap<String, Vec<u8>>);

    impl KeySource for Fixed {
        fn place(&self, _: KeyRole, reference: &SecretKeyRef) -> String {
            format!("Secret {}", reference.name)
        }

        async fn read(&self, role: KeyRole, reference: &SecretKeyRef) -> Result<Vec<u8>, KeyError> {
            self.0
                .get(&reference.name)
                .cloned()
                .ok_or_else(|| KeyError::NotFound {
                    field: role.field(),
                    place: self.place(role, reference),
                    remedy: "create it".to_owned(),
                })
        }
    }

    fn spec(patch: serde_json::Value) -> ComplianceReportSpec {
        let mut value = serde_json::json!({
            "portal": {"url": "https://acme.onlyoffice.com", "tokenSecretRef": {"name": "api"}},
            "schedule": "@monthly",
            "upload": {"folderId": "1"},
            "report": patch
        });
        if value["report"].is_null() {
            value["report"] = serde_json::json!({});
        }
        serde_json::from_value(value).unwrap()
    }

    fn source(entries: &[(&str, &[u8])]) -> Fixed {
        Fixed(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect(),
        )
    }

    #[tokio::test]
    async fn a_raw_32_byte_seed_signs() {
        // Not UTF-8: a reader of text would lose it.
        let seed: Vec<u8> = (0..32u8)
            .map(|b| b.wrapping_mul(37).wrapping_add(200))
            .collect();
        assert!(String::from_utf8(seed.clone()).is_err());
        let keys = resolve(
            &source(&[("api", b"sk-key"), ("sign", &seed)]),
            &spec(serde_json::json!({"signingKeySecretRef": {"name": "sign", "key": "seed"}})),
        )
        .await
        .unwrap();
        assert!(keys.signing_key.is_some());
        assert_eq!(keys.api_key.bearer(), "Bearer sk-key");
    }

    #[tokio::test]
    async fn each_failure_names_the_field_and_the_place_and_never_the_key() {
        let missing = resolve(&source(&[]), &spec(serde_json::Value::Null))
            .await
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "spec.portal.tokenSecretRef: Secret api not found; create it"
        );
        let empty = resolve(&source(&[("api", b"  ")]), &spec(serde_json::Value::Null))
            .await
            .unwrap_err();
        assert!(matches!(empty, KeyError::Empty { .. }), "{empty}");
        let needs_key = resolve(
            &source(&[("api", b"sk-secret-value")]),
            &spec(serde_json::json!({"privacy": {"users": "Pseudonym"}})),
        )
        .await
        .unwrap_err();
        assert!(
            needs_key
                .to_string()
                .starts_with("spec.report.privacy.keySecretRef:"),
            "{needs_key}"
        );
        let bad_seed = resolve(
            &source(&[("api", b"sk-secret-value"), ("sign", b"sk-secret-value")]),
            &spec(serde_json::json!({"signingKeySecretRef": {"name": "sign"}})),
        )
        .await
        .unwrap_err();
        let text = bad_seed.to_string();
        assert!(
            text.starts_with("spec.report.signingKeySecretRef: the value in Secret sign"),
            "{text}"
        );
        for error in [missing, empty, needs_key, bad_seed] {
            assert!(!error.to_string().contains("sk-secret-value"), "{error}");
        }
    }
}
