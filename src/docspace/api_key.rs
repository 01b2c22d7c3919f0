//! The DocSpace API key, kept out of every log line, error and debug print.

use std::fmt;

/// A DocSpace API key. Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key, trimming surrounding white space (Secrets often end in a newline), and
    /// registers it so that every log line, status and error text is redacted of it
    /// ([`crate::text::redact`]). Returns `None` for an empty key.
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return None;
        }
        crate::text::register_secret(trimmed);
        Some(Self(trimmed.to_owned()))
    }

    /// The `Authorization` header value.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_key() {
        let key = ApiKey::new(" sk-abc123\n").unwrap();
        assert_eq!(format!("{key:?} {key}"), "ApiKey([redacted]) [redacted]");
        assert_eq!(key.bearer(), "Bearer sk-abc123");
        assert_eq!(
            crate::text::redact("x SK-ABC123 y sk-abc123"),
            "x [redacted] y [redacted]"
        );
        assert!(ApiKey::new("  \n").is_none());
    }
}
