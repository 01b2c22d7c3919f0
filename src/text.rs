//! Text that leaves the program: report fields, status messages, events and log lines.
//!
//! Two guards, each in one place:
//! - [`one_line`] escapes every character that could forge a line or drive a terminal or a
//!   viewer (C0 and C1 controls such as newline, ESC and NEL, DEL, the line and paragraph
//!   separators, and the bidirectional overrides and isolates), visibly, as `\n` or `\u{1b}`.
//! - [`redact`] removes every registered secret (API keys), whatever its letter case, also
//!   without its `sk-` prefix. Keys register themselves when they are created.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::RwLock;

/// Whether `c` must not appear raw in a one-line field or message.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'
                ..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every unsafe character escaped visibly, so it stays one line and shows what
/// it holds.
pub fn one_line(text: &str) -> Cow<'_, str> {
    // Printable ASCII, the usual case, is safe: checked byte by byte, without decoding.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) || !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Secrets shorter than this are not registered: redacting them would mangle ordinary text.
const MIN_SECRET_LEN: usize = 8;
/// A key's form without its `sk-` prefix is registered only from this length on: a short one
/// could be an ordinary word (a key `sk-rejected` must not redact "rejected").
const MIN_BARE_KEY_LEN: usize = 16;

static SECRETS: RwLock<BTreeSet<String>> = RwLock::new(BTreeSet::new());

/// Registers a secret (ASCII-lowercased) so that [`redact`] removes it from every text; also
/// its form without an `sk-` prefix.
pub fn register_secret(secret: &str) {
    let secret = secret.trim().to_ascii_lowercase();
    let mut forms = vec![secret.clone()];
    if let Some(rest) = secret
        .strip_prefix("sk-")
        .filter(|r| r.len() >= MIN_BARE_KEY_LEN)
    {
        forms.push(rest.to_owned());
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for form in forms {
        if form.len() >= MIN_SECRET_LEN {
            secrets.insert(form);
        }
    }
}

/// `text` with every registered secret replaced by `[redacted]`, matched without regard to
/// ASCII letter case.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    let lower = text.to_ascii_lowercase();
    // Byte ranges to cut; ASCII lowercasing keeps every byte where it was.
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    // Longest first, so that a key is cut whole rather than as its prefix-less form.
    let mut by_length: Vec<&String> = secrets.iter().collect();
    by_length.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in by_length {
        let mut from = 0;
        while let Some(at) = lower[from..].find(secret.as_str()) {
            let start = from + at;
            let end = start + secret.len();
            if !cuts.iter().any(|&(s, e)| start < e && s < end) {
                cuts.push((start, end));
            }
            from = end;
        }
    }
    if cuts.is_empty() {
        return Cow::Borrowed(text);
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in cuts {
        out.push_str(&text[last..start]);
        out.push_str("[redacted]");
        last = end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// `text` made safe to show: secrets redacted, then kept on one line.
pub fn safe_message(text: &str) -> String {
    one_line(&redact(text)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_visibly() {
        assert_eq!(one_line("plain text"), Cow::Borrowed("plain text"));
        assert_eq!(
            one_line("a\nID: 1\r\u{1b}]8;;x\u{7}\u{85}\u{2028}\u{202e}z\u{2066}\0\u{7f}"),
            "a\\nID: 1\\r\\u{1b}]8;;x\\u{7}\\u{85}\\u{2028}\\u{202e}z\\u{2066}\\u{0}\\u{7f}"
        );
        assert!(!one_line("é ü 中文 🙂").contains('\\'));
    }

    #[test]
    fn secrets_are_redacted_in_any_case_and_without_their_prefix() {
        register_secret("sk-Test0123456789abcdef");
        let echoed = "authorization: Bearer sk-test0123456789ABCDEF; AUTHORIZATION: BEARER \
                      SK-TEST0123456789ABCDEF; key=Test0123456789abcdef.";
        let redacted = redact(echoed);
        assert!(
            !redacted
                .to_ascii_lowercase()
                .contains("test0123456789abcdef"),
            "{redacted}"
        );
        assert_eq!(redacted.matches("[redacted]").count(), 3, "{redacted}");
        assert_eq!(redact("nothing to hide"), Cow::Borrowed("nothing to hide"));
        register_secret("short");
        assert_eq!(redact("a short text"), "a short text");
        register_secret("sk-rejected");
        assert_eq!(
            redact("DocSpace rejected sk-rejected"),
            "DocSpace rejected [redacted]"
        );
    }
}
