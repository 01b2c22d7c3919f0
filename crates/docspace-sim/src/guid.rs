//! GUIDs as the server writes them: lowercase hyphenated (.NET's `D` form).

/// `Guid.Empty`.
pub(crate) const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Formats 32 hex digits in `D` form (`8-4-4-4-12`), lowercase.
fn hyphenated(hex: &str) -> String {
    let hex = hex.to_ascii_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Formats 128 random bits as a version-4 UUID string (lowercase).
pub(crate) fn uuid_from(rng: &mut fastrand::Rng) -> String {
    let mut v = rng.u128(..);
    v &= !(0xF_u128 << 76);
    v |= 0x4_u128 << 76;
    v &= !(0x3_u128 << 62);
    v |= 0x2_u128 << 62;
    hyphenated(&format!("{v:032x}"))
}

/// Parses a GUID in any of .NET's `N`, `D`, `B` or `P` forms into lowercase `D` form.
pub(crate) fn parse_guid(value: &str) -> Option<String> {
    let inner = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('(').and_then(|v| v.strip_suffix(')')))
        .unwrap_or(value);
    let hex: String = if inner.len() == 36 {
        let b = inner.as_bytes();
        if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        inner.chars().filter(|&c| c != '-').collect()
    } else if inner.len() == 32 {
        inner.to_owned()
    } else {
        return None;
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(hyphenated(&hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_into_lowercase_d_form() {
        let d = "6b0f7b1e-2a1c-4b8e-9d2a-0c1f5e6a7b8c";
        assert_eq!(parse_guid(d).as_deref(), Some(d));
        assert_eq!(parse_guid(&d.to_uppercase()).as_deref(), Some(d));
        assert_eq!(parse_guid(&d.replace('-', "")).as_deref(), Some(d));
        assert_eq!(parse_guid(&format!("{{{d}}}")).as_deref(), Some(d));
        assert_eq!(parse_guid(&format!("({d})")).as_deref(), Some(d));
        assert_eq!(parse_guid(EMPTY_GUID).as_deref(), Some(EMPTY_GUID));
        assert_eq!(parse_guid("nope"), None);
        assert_eq!(parse_guid(&d.replace('-', "_")), None);
    }

    #[test]
    fn uuids_are_version_4() {
        let mut rng = fastrand::Rng::with_seed(3);
        let id = uuid_from(&mut rng);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(parse_guid(&id), Some(id));
    }
}
