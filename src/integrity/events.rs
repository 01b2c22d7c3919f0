//! The events digest: SHA-256 over the reported events in canonical form, computed while the
//! report streams, so re-rendering the same events yields the same digest.

use sha2::{Digest, Sha256};

use super::manifest::EventsDigest;

/// Incremental digest of events: feed one canonical line per event, in report order.
///
/// The digest is the SHA-256 of the lines, each ended by one `\n` (a line passed with its
/// trailing `\n` is hashed the same as without it), i.e. of the canonical NDJSON file.
#[derive(Debug, Clone, Default)]
pub struct EventsHasher {
    hasher: Sha256,
    count: u64,
}

impl EventsHasher {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event's canonical line.
    pub fn update(&mut self, canonical_line: &[u8]) {
        let line = canonical_line.strip_suffix(b"\n").unwrap_or(canonical_line);
        self.hasher.update(line);
        self.hasher.update(b"\n");
        self.count += 1;
    }

    /// The count and SHA-256 of the events fed.
    pub fn finish(self) -> EventsDigest {
        EventsDigest {
            count: self.count,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::digest::sha256_hex;

    #[test]
    fn digest_is_that_of_the_ndjson_file() {
        let mut hasher = EventsHasher::new();
        hasher.update(br#"{"id":1}"#);
        hasher.update(b"{\"id\":2}\n");
        let digest = hasher.finish();
        assert_eq!(digest.count, 2);
        assert_eq!(digest.sha256, sha256_hex(b"{\"id\":1}\n{\"id\":2}\n"));
    }

    #[test]
    fn no_events() {
        let digest = EventsHasher::new().finish();
        assert_eq!(digest.count, 0);
        assert_eq!(digest.sha256, sha256_hex(b""));
    }

    #[test]
    fn order_matters() {
        let digest = |lines: &[&[u8]]| {
            let mut hasher = EventsHasher::new();
            lines.iter().for_each(|l| hasher.update(l));
            hasher.finish()
        };
        assert_ne!(digest(&[b"a", b"b"]), digest(&[b"b", b"a"]));
        // Line boundaries count: "ab" is not "a" then "b".
        assert_ne!(digest(&[b"ab"]).sha256, digest(&[b"a", b"b"]).sha256);
    }
}
