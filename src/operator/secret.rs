//! The operator's key source: Secrets in the resource's own namespace, read with one `get`
//! each when a run needs them. Values are the Secret's `data` bytes as they are.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::cycle::keys::{KeyError, KeyRole, KeySource};
use crate::spec::SecretKeyRef;

/// Reads keys from Secrets in one namespace.
pub struct SecretKeys<'a> {
    /// The Kubernetes client.
    pub client: &'a Client,
    /// The resource's namespace.
    pub namespace: &'a str,
}

impl KeySource for SecretKeys<'_> {
    fn place(&self, _: KeyRole, reference: &SecretKeyRef) -> String {
        format!(
            "key {:?} of Secret {}/{}",
            reference.key, self.namespace, reference.name
        )
    }

    async fn read(&self, role: KeyRole, reference: &SecretKeyRef) -> Result<Vec<u8>, KeyError> {
        let secret_name = format!("Secret {}/{}", self.namespace, reference.name);
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace);
        let secret = api
            .get_opt(&reference.name)
            .await
            .map_err(|e| KeyError::Unreadable {
                field: role.field(),
                place: secret_name.clone(),
                detail: e.to_string(),
            })?;
        let Some(secret) = secret else {
            return Err(KeyError::NotFound {
                field: role.field(),
                place: secret_name,
                remedy: format!(
                    "create it with {} under key {:?}",
                    role.what(),
                    reference.key
                ),
            });
        };
        secret
            .data
            .and_then(|mut data| data.remove(&reference.key))
            .map(|value| value.0)
            .filter(|bytes| !bytes.trim_ascii().is_empty())
            .ok_or_else(|| KeyError::Empty {
                field: role.field(),
                place: self.place(role, reference),
                what: role.what(),
            })
    }
}
