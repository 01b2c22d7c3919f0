//! Portal settings that tell how complete a report can be.

use serde::Deserialize;

use super::client::DocSpaceClient;
use super::error::DocSpaceError;

/// How long the portal keeps its logs (`GET /api/2.0/security/audit/settings/lifetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLifetime {
    /// Days of login history kept; older login events are deleted daily.
    pub login_history_life_time: u32,
    /// Days of audit trail shown; since server 2.6 audit rows are not deleted by it.
    pub audit_trail_life_time: u32,
}

impl DocSpaceClient {
    /// The portal's log lifetimes, or `None` when the server does not tell (older versions,
    /// or a key that may read the audit trail but not its settings).
    pub async fn audit_lifetime(&self) -> Result<Option<AuditLifetime>, DocSpaceError> {
        match self
            .get_json::<AuditLifetime>(
                "audit lifetime",
                "/api/2.0/security/audit/settings/lifetime",
                &[],
            )
            .await
        {
            Ok(lifetime) => Ok(Some(lifetime)),
            Err(
                e @ (DocSpaceError::Unauthorized { .. } | DocSpaceError::PaymentRequired { .. }),
            ) => Err(e),
            Err(e) => {
                tracing::info!(error = %e, "the audit lifetime settings are not readable; the report says so");
                Ok(None)
            }
        }
    }
}
