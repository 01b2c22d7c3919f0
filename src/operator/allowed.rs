//! The portals an operator may call, so that a resource cannot point it at arbitrary hosts.

use url::Url;

/// Allowed portals: host names (any scheme and port) or base URLs (that scheme, host and port).
#[derive(Debug, Clone, Default)]
pub struct AllowedPortals {
    hosts: Vec<String>,
    origins: Vec<String>,
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl AllowedPortals {
    /// Parses the entries; blank ones are ignored.
    pub fn new(entries: &[String]) -> Self {
        let mut allowed = Self::default();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            match Url::parse(entry) {
                Ok(url) if entry.contains("://") => allowed.origins.push(origin(&url)),
                _ => allowed
                    .hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase()),
            }
        }
        allowed
    }

    /// Whether `url` may be called.
    pub fn allows(&self, url: &Url) -> bool {
        if self.hosts.is_empty() && self.origins.is_empty() {
            return true;
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        self.hosts.contains(&host) || self.origins.contains(&origin(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn empty_allows_everything_and_entries_restrict() {
        assert!(AllowedPortals::new(&[]).allows(&url("https://evil.example")));
        let allowed = AllowedPortals::new(&[
            "acme.onlyoffice.com".into(),
            "http://127.0.0.1:8080".into(),
            " ".into(),
        ]);
        assert!(allowed.allows(&url("https://ACME.onlyoffice.com/")));
        assert!(allowed.allows(&url("http://127.0.0.1:8080/")));
        assert!(!allowed.allows(&url("http://127.0.0.1:9090/")));
        assert!(!allowed.allows(&url("https://acme.onlyoffice.com.evil.example/")));
    }
}
