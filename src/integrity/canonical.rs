//! The canonical JSON form of manifests and signatures: keys in a fixed order, pretty-printed
//! with two spaces, a trailing newline. Written by hand so the bytes that are hashed and signed
//! do not depend on a serializer's formatting choices (and cannot fail).

/// A JSON value with keys in the order they are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Json<'a> {
    /// `null`.
    Null,
    /// A non-negative integer.
    Number(u64),
    /// A string.
    String(&'a str),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object; keys appear in this order.
    Object(Vec<(&'static str, Json<'a>)>),
}

impl Json<'_> {
    /// The canonical bytes: pretty-printed with two spaces, trailing newline.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        self.write(&mut out, 0);
        out.push('\n');
        out.into_bytes()
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Number(n) => out.push_str(&n.to_string()),
            Self::String(s) => write_string(out, s),
            Self::Array(items) if items.is_empty() => out.push_str("[]"),
            Self::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    separator(out, i, depth + 1);
                    item.write(out, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Self::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    separator(out, i, depth + 1);
                    write_string(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
        }
    }
}

impl<'a> From<Option<&'a str>> for Json<'a> {
    fn from(value: Option<&'a str>) -> Self {
        value.map_or(Self::Null, Self::String)
    }
}

fn separator(out: &mut String, index: usize, depth: usize) {
    if index > 0 {
        out.push(',');
    }
    newline(out, depth);
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Writes a JSON string the way serde_json does: `"` and `\` escaped, the short escapes for
/// `\b \f \n \r \t`, other control characters as `\u00xx`, everything else as UTF-8.
fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_pretty(value: &serde_json::Value) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(value).unwrap();
        bytes.push(b'\n');
        bytes
    }

    #[test]
    fn matches_serde_json_pretty_output() {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{7} del \u{7f} ü €";
        let ours = Json::Object(vec![
            ("name", Json::String(awkward)),
            ("count", Json::Number(u64::MAX)),
            ("none", Json::Null),
            ("empty", Json::Array(vec![])),
            ("emptyObject", Json::Object(vec![])),
            (
                "items",
                Json::Array(vec![
                    Json::Object(vec![("a", Json::Number(1)), ("b", Json::String("x"))]),
                    Json::Object(vec![("a", Json::Number(2)), ("b", Json::Null)]),
                ]),
            ),
            (
                "nested",
                Json::Object(vec![("deep", Json::Array(vec![Json::Number(0)]))]),
            ),
        ]);
        let theirs = serde_json::json!({
            "name": awkward,
            "count": u64::MAX,
            "none": null,
            "empty": [],
            "emptyObject": {},
            "items": [{"a": 1, "b": "x"}, {"a": 2, "b": null}],
            "nested": {"deep": [0]},
        });
        // serde_json's map sorts keys; compare through a parse, and the layout on a sorted copy.
        let parsed: serde_json::Value = serde_json::from_slice(&ours.to_bytes()).unwrap();
        assert_eq!(parsed, theirs);
        let sorted = Json::Object(vec![
            ("a", Json::String(awkward)),
            ("b", Json::Array(vec![Json::Number(1), Json::Null])),
            ("c", Json::Object(vec![("d", Json::Array(vec![]))])),
        ]);
        let sorted_serde = serde_json::json!({"a": awkward, "b": [1, null], "c": {"d": []}});
        assert_eq!(sorted.to_bytes(), serde_pretty(&sorted_serde));
    }

    #[test]
    fn ends_with_one_newline() {
        let bytes = Json::Object(vec![("a", Json::Number(1))]).to_bytes();
        assert_eq!(bytes, b"{\n  \"a\": 1\n}\n");
    }
}
