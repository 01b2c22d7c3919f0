//! Hand-written JSON output for the hot paths (event pages): string escaping and integers
//! written exactly as `serde_json`'s compact serializer writes them, and [`JsonStr`], text
//! escaped once so that serving it is a plain copy.

/// Lowercase hex digits, as `serde_json` writes `\u00XX` escapes.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// The escape `serde_json` writes for byte `b`, if it needs one: `"`, `\` and the control
/// characters below U+0020 (with the short forms `\b \t \n \f \r`). Everything else,
/// including DEL and non-ASCII UTF-8, is written as is.
fn escape_of(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        0x0C => b"\\f",
        b'\r' => b"\\r",
        0x00..=0x1F => b"\\u00",
        _ => return None,
    })
}

/// Appends the contents of a JSON string for `raw` (without the quotes), escaped like
/// `serde_json`.
pub(crate) fn push_escaped_contents(out: &mut Vec<u8>, raw: &str) {
    let bytes = raw.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let Some(escape) = escape_of(b) else {
            continue;
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        if escape == b"\\u00" {
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `raw` as a quoted, escaped JSON string.
pub(crate) fn push_str(out: &mut Vec<u8>, raw: &str) {
    out.push(b'"');
    push_escaped_contents(out, raw);
    out.push(b'"');
}

/// Appends the decimal digits of `n` (with `-` when negative), as `serde_json` writes
/// integers.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_uint(out, n.unsigned_abs());
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_uint(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `n` as exactly two digits (`n` < 100).
pub(crate) fn push_2digits(out: &mut Vec<u8>, n: u32) {
    // Both digits are below 10, so the casts cannot truncate.
    out.push(b'0' + (n / 10 % 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

/// Text already escaped for use inside a JSON string: writing it is a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JsonStr(Box<[u8]>);

impl JsonStr {
    /// Escapes `raw` once.
    pub fn new(raw: &str) -> Self {
        let mut out = Vec::with_capacity(raw.len());
        push_escaped_contents(&mut out, raw);
        Self(out.into_boxed_slice())
    }

    /// Appends the escaped text without quotes.
    pub fn push_contents(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(raw: &str) -> String {
        let mut out = Vec::new();
        push_str(&mut out, raw);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_every_ascii_character_like_serde_json() {
        for b in 0u8..=0x7F {
            let s = char::from(b).to_string();
            assert_eq!(
                quoted(&s),
                serde_json::to_string(&s).unwrap(),
                "byte {b:#x}"
            );
        }
    }

    #[test]
    fn escapes_mixed_and_non_ascii_text_like_serde_json() {
        for s in [
            "",
            "plain",
            "São Paulo",
            "we\"ird\\host",
            "a\u{1}b\u{1f}\u{7f}c\r\n\t\u{8}\u{c}",
            "✓ résumé 日本 🎉",
            "\"\"\\\\",
            "end\"",
        ] {
            assert_eq!(quoted(s), serde_json::to_string(s).unwrap(), "{s:?}");
            let mut q = b"\"".to_vec();
            JsonStr::new(s).push_contents(&mut q);
            q.push(b'"');
            assert_eq!(q, serde_json::to_vec(s).unwrap());
        }
    }

    #[test]
    fn integers_like_serde_json() {
        for n in [
            0,
            1,
            -1,
            9,
            10,
            99,
            100,
            12_345,
            -987_654_321,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            push_int(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&n).unwrap(), "{n}");
        }
        let mut out = Vec::new();
        push_uint(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
        let mut out = Vec::new();
        push_2digits(&mut out, 7);
        push_2digits(&mut out, 42);
        assert_eq!(out, b"0742");
    }
}
