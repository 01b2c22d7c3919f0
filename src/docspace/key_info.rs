//! What the API key may do and until when (`GET /api/2.0/keys/@self`), so that a run fails
//! fast naming a missing scope instead of failing half-way, and warns before the key expires.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::client::DocSpaceClient;
use super::dates;
use super::error::DocSpaceError;

/// The scope every run needs: `GET security/*` has no narrower scope than `*:read`.
pub const READ_SCOPE: &str = "*:read";
/// The scope an uploading run needs as well.
pub const UPLOAD_SCOPE: &str = "files:write";

/// The calling key as DocSpace describes it (`ApiKeyResponseDto`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// Granted scopes, e.g. `*`, `*:read`, `files:write`; empty means everything.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// When the key expires, as DocSpace renders dates.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Whether the key is active.
    #[serde(default = "active")]
    pub is_active: bool,
}

fn active() -> bool {
    true
}

impl KeyInfo {
    /// When the key expires, if it does and the date is readable.
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        self.expires_at
            .as_deref()
            .and_then(|d| dates::parse(d).ok())
    }

    /// Whether the key grants `scope` (`resource:read` or `resource:write`): `*` and an empty
    /// list grant everything, `x:write` implies `x:read`, `*:...` covers every resource.
    pub fn grants(&self, scope: &str) -> bool {
        if self.permissions.is_empty() {
            return true;
        }
        let (resource, access) = scope.split_once(':').unwrap_or((scope, "read"));
        self.permissions.iter().any(|granted| {
            let granted = granted.trim();
            if granted == "*" {
                return true;
            }
            let (g_resource, g_access) = granted.split_once(':').unwrap_or((granted, "write"));
            let resource_ok = g_resource == "*" || g_resource == resource;
            let access_ok = g_access == access || g_access == "write";
            resource_ok && access_ok
        })
    }

    /// The scopes of `needed` the key lacks.
    pub fn missing<'a>(&self, needed: &[&'a str]) -> Vec<&'a str> {
        needed.iter().copied().filter(|s| !self.grants(s)).collect()
    }
}

impl DocSpaceClient {
    /// The calling key's permissions and expiry; `None` where the server has no such endpoint
    /// (older versions), so the run goes on and fails where it would have.
    pub async fn key_info(&self) -> Result<Option<KeyInfo>, DocSpaceError> {
        match self
            .get_json::<KeyInfo>("API key", "/api/2.0/keys/@self", &[])
            .await
        {
            Ok(info) => Ok(Some(info)),
            Err(DocSpaceError::NotFound { .. } | DocSpaceError::Malformed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(permissions: &[&str]) -> KeyInfo {
        KeyInfo {
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            expires_at: Some("2026-12-10T12:00:00.0000000+01:00".into()),
            is_active: true,
        }
    }

    #[test]
    fn scopes_are_granted_as_docspace_grants_them() {
        let needed = [READ_SCOPE, UPLOAD_SCOPE];
        assert!(key(&[]).missing(&needed).is_empty(), "empty is everything");
        assert!(key(&["*"]).missing(&needed).is_empty());
        assert!(key(&["*:write"]).missing(&needed).is_empty());
        assert!(key(&["*:read", "files:write"]).missing(&needed).is_empty());
        assert_eq!(key(&["*:read"]).missing(&needed), [UPLOAD_SCOPE]);
        assert_eq!(key(&["files:write"]).missing(&needed), [READ_SCOPE]);
        assert_eq!(
            key(&["files:read", "accounts:read"]).missing(&needed),
            needed
        );
        assert_eq!(
            key(&[]).expires().unwrap().to_rfc3339(),
            "2026-12-10T11:00:00+00:00"
        );
    }
}
