//! Privacy: IP addresses and users as the spec asks, applied to each event before anything is
//! rendered or hashed, so no artefact carries what the mode removes.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::docspace::Event;
use crate::docspace::catalog::ActionCatalog;
use crate::spec::{IpPrivacy, PrivacySpec, UserPrivacy};

/// A key for keyed hashes and pseudonyms; never printed.
#[derive(Clone)]
pub struct PrivacyKey(Vec<u8>);

impl PrivacyKey {
    /// Wraps key bytes; `None` when empty.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes: Vec<u8> = bytes.into();
        let trimmed = bytes.trim_ascii().to_vec();
        (!trimmed.is_empty()).then_some(Self(trimmed))
    }
}

impl fmt::Debug for PrivacyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivacyKey([redacted])")
    }
}

/// Why privacy settings cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.report.privacy: {0}")]
pub struct PrivacyError(String);

/// A keyed hash (HMAC-SHA-256) for hashed IPs and pseudonyms.
#[derive(Clone)]
struct Keyed(Hmac<Sha256>);

impl Keyed {
    fn new(key: &PrivacyKey) -> Result<Self, PrivacyError> {
        Hmac::<Sha256>::new_from_slice(&key.0)
            .map(Self)
            .map_err(|e| PrivacyError(format!("the key cannot be used: {e}")))
    }

    /// `prefix` and the first 12 hex digits of the keyed hash of `prefix:value`.
    fn token(&self, prefix: &str, value: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(prefix.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        let digest = hex::encode(mac.finalize().into_bytes());
        format!("{prefix}-{}", &digest[..12])
    }
}

impl fmt::Debug for Keyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keyed([redacted])")
    }
}

/// How IPs are shown; the keyed mode carries its key.
#[derive(Debug, Clone)]
enum IpRule {
    Full,
    Truncate,
    Hash(Keyed),
    Drop,
}

/// How users are shown; the keyed mode carries its key.
#[derive(Debug, Clone)]
enum UserRule {
    Name,
    Id,
    Pseudonym(Keyed),
}

/// The privacy settings of a run.
#[derive(Debug, Clone)]
pub struct Privacy {
    ip: IpRule,
    users: UserRule,
}

fn looks_like_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().filter(|b| *b == b'-').count() == 4
        && text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

impl Privacy {
    /// Settings for `spec`; `key` is required by `ip: Hash` and `users: Pseudonym`.
    pub fn new(spec: &PrivacySpec, key: Option<PrivacyKey>) -> Result<Self, PrivacyError> {
        let keyed = || {
            match &key {
            Some(key) => Keyed::new(key),
            None => Err(PrivacyError(
                "ip: Hash and users: Pseudonym need a key; set keySecretRef to a Secret key holding a random value".to_owned(),
            )),
        }
        };
        let ip = match spec.ip.value() {
            IpPrivacy::Full => IpRule::Full,
            IpPrivacy::Truncate => IpRule::Truncate,
            IpPrivacy::Hash => IpRule::Hash(keyed()?),
            IpPrivacy::Drop => IpRule::Drop,
        };
        let users = match spec.users.value() {
            UserPrivacy::Name => UserRule::Name,
            UserPrivacy::Id => UserRule::Id,
            UserPrivacy::Pseudonym => UserRule::Pseudonym(keyed()?),
        };
        Ok(Self { ip, users })
    }

    /// No changes at all.
    pub fn none() -> Self {
        Self {
            ip: IpRule::Full,
            users: UserRule::Name,
        }
    }

    /// A line for report covers, e.g. `ip=truncate users=pseudonym`.
    pub fn describe(&self) -> String {
        let ip = match self.ip {
            IpRule::Full => "full",
            IpRule::Truncate => "truncate",
            IpRule::Hash(_) => "hash",
            IpRule::Drop => "drop",
        };
        let users = match self.users {
            UserRule::Name => "name",
            UserRule::Id => "id",
            UserRule::Pseudonym(_) => "pseudonym",
        };
        format!("ip={ip} users={users}")
    }

    /// Applies the settings to one event.
    pub fn apply(&self, event: &mut Event) {
        match &self.ip {
            IpRule::Full => {}
            IpRule::Truncate => {
                if let Some(ip) = &mut event.ip {
                    let octets: Vec<&str> = ip.split('.').collect();
                    if octets.len() == 4 {
                        *ip = format!("{}.{}.{}.0", octets[0], octets[1], octets[2]);
                    }
                }
            }
            IpRule::Hash(keyed) => event.ip = event.ip.take().map(|ip| keyed.token("ip", &ip)),
            IpRule::Drop => event.ip = None,
        }
        if let UserRule::Name = self.users {
            return;
        }
        let generic = ActionCatalog::get()
            .by_id(event.action_id)
            .map(|a| a.description.to_owned());
        event.action = generic;
        event.login = None;
        match &self.users {
            UserRule::Name => {}
            UserRule::Id => event.user = event.user_id.clone(),
            UserRule::Pseudonym(keyed) => {
                let subject = event.user_id.clone().or_else(|| event.user.clone());
                let pseudonym = subject.map(|s| keyed.token("user", &s.to_lowercase()));
                event.user = pseudonym.clone();
                event.user_id = pseudonym;
                for target in &mut event.target {
                    if looks_like_uuid(target) {
                        *target = keyed.token("user", &target.to_lowercase());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::event;

    fn privacy(ip: IpPrivacy, users: UserPrivacy) -> Privacy {
        let spec = PrivacySpec {
            ip: ip.into(),
            users: users.into(),
            key_secret_ref: None,
        };
        Privacy::new(&spec, PrivacyKey::new("k3y")).unwrap()
    }

    #[test]
    fn ip_modes() {
        let mut e = event(1, 5011);
        privacy(IpPrivacy::Truncate, UserPrivacy::Name).apply(&mut e);
        assert_eq!(e.ip.as_deref(), Some("203.0.113.0"));
        let mut e = event(1, 5011);
        privacy(IpPrivacy::Hash, UserPrivacy::Name).apply(&mut e);
        let hashed = e.ip.clone().unwrap();
        assert!(hashed.starts_with("ip-") && hashed.len() == 15, "{hashed}");
        let mut again = event(2, 5011);
        privacy(IpPrivacy::Hash, UserPrivacy::Name).apply(&mut again);
        assert_eq!(again.ip, e.ip, "stable across events and runs");
        let mut e = event(1, 5011);
        privacy(IpPrivacy::Drop, UserPrivacy::Name).apply(&mut e);
        assert_eq!(e.ip, None);
    }

    #[test]
    fn user_modes_remove_names_everywhere() {
        let mut e = event(1, 5075);
        e.login = Some("jane@acme.example".into());
        e.target = vec!["9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b".into(), "1045".into()];
        e.action = Some("John Doe appointed: Editor".into());
        let p = privacy(IpPrivacy::Full, UserPrivacy::Pseudonym);
        p.apply(&mut e);
        let text = format!("{e:?}");
        for secret in ["Jane", "John", "jane@", "6b0f7b1e", "9f1c2d3e"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert!(e.user.as_deref().unwrap().starts_with("user-"));
        assert_eq!(e.user, e.user_id);
        assert_eq!(e.target[1], "1045");
        let mut by_id = event(1, 5075);
        privacy(IpPrivacy::Full, UserPrivacy::Id).apply(&mut by_id);
        assert_eq!(by_id.user, by_id.user_id);
        assert!(!format!("{by_id:?}").contains("Jane"));
    }

    #[test]
    fn keyed_modes_need_a_key() {
        let spec = PrivacySpec {
            ip: IpPrivacy::Hash.into(),
            users: UserPrivacy::Name.into(),
            key_secret_ref: None,
        };
        let err = Privacy::new(&spec, None).unwrap_err();
        assert!(err.to_string().contains("keySecretRef"), "{err}");
        assert_eq!(
            format!("{:?}", PrivacyKey::new("secret").unwrap()),
            "PrivacyKey([redacted])"
        );
    }
}
