//! Reading the API key from the Secret named in `spec.portal.tokenSecretRef`, in the resource's
//! own namespace only.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::docspace::ApiKey;
use crate::spec::SecretKeyRef;

/// Why the API key could not be read. Messages never contain the key.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No such Secret.
    #[error(
        "Secret {namespace}/{name} not found; create it with the DocSpace API key under key {key:?}"
    )]
    NotFound {
        /// Namespace searched.
        namespace: String,
        /// Secret name.
        name: String,
        /// Expected key.
        key: String,
    },
    /// The Secret lacks the key or it is empty.
    #[error(
        "Secret {namespace}/{name} has no non-empty key {key:?}; put the DocSpace API key there"
    )]
    MissingKey {
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// Expected key.
        key: String,
    },
    /// The API server refused or failed.
    #[error("cannot read Secret {namespace}/{name}: {source}")]
    Api {
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The error.
        source: kube::Error,
    },
}

/// Reads the DocSpace API key named by `reference` from a Secret in `namespace`.
pub async fn read_api_key(
    client: &Client,
    namespace: &str,
    reference: &SecretKeyRef,
) -> Result<ApiKey, SecretError> {
    let value = read_value(client, namespace, reference).await?;
    ApiKey::new(value).ok_or_else(|| SecretError::MissingKey {
        namespace: namespace.to_owned(),
        name: reference.name.clone(),
        key: reference.key.clone(),
    })
}

/// Reads the non-empty value named by `reference` from a Secret in `namespace`.
pub async fn read_value(
    client: &Client,
    namespace: &str,
    reference: &SecretKeyRef,
) -> Result<String, SecretError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(&reference.name)
        .await
        .map_err(|source| SecretError::Api {
            namespace: namespace.to_owned(),
            name: reference.name.clone(),
            source,
        })?;
    let Some(secret) = secret else {
        return Err(SecretError::NotFound {
            namespace: namespace.to_owned(),
            name: reference.name.clone(),
            key: reference.key.clone(),
        });
    };
    let from_data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .and_then(|v| String::from_utf8(v.0.clone()).ok());
    let from_string_data = secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .cloned();
    from_data
        .or(from_string_data)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| SecretError::MissingKey {
            namespace: namespace.to_owned(),
            name: reference.name.clone(),
            key: reference.key.clone(),
        })
}
