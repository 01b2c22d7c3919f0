//! Property tests (proptest, bounded to a few hundred cases each so that `cargo test` stays
//! quick): whatever bytes a server or a user sends, the page parser, the date parser, the spec
//! loader and the text guards never panic, and text that leaves the program stays one line
//! without raw control characters.

use docspace_compliance_operator::docspace::{Source, dates, parse_page};
use docspace_compliance_operator::spec::{parse_report, validate};
use docspace_compliance_operator::text::{is_unsafe, one_line, redact, register_secret};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings rich in what breaks text: controls, bidi, separators, quotes, non-ASCII.
fn nasty_string() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\u{1b}[31m".to_owned()),
        Just("\u{1b}]8;;http://x\u{7}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{2066}".to_owned()),
        Just("\0".to_owned()),
        Just("\"".to_owned()),
        Just("=cmd|".to_owned()),
        Just("é中🙂".to_owned()),
        "[a-zA-Z0-9 ,;:.|*_<>-]{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(pieces, 0..8).prop_map(|parts| parts.concat())
}

fn event_json(id: i64, date: String, text: String) -> serde_json::Value {
    serde_json::json!({
        "id": id, "date": date, "actionId": 5011, "user": text.clone(), "userId": text.clone(),
        "action": text.clone(), "ip": text.clone(), "country": text.clone(), "page": text.clone(),
        "target": [text.clone(), text.clone()], "context": text, "entries": [1, 2]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_page_parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_page(Source::Audit, &bytes);
        let _ = parse_page(Source::Login, &bytes);
    }

    #[test]
    fn the_page_parser_takes_any_texts_and_any_dates(
        id in any::<i64>(),
        date in prop_oneof![
            Just("2025-03-14T15:22:41.0000000+01:00".to_owned()),
            Just("2025-03-14T15:22:41.123456Z".to_owned()),
            any::<String>(),
            "[0-9T:.+Z-]{0,40}",
        ],
        text in nasty_string(),
        status in prop_oneof![Just(serde_json::json!(0)), Just(serde_json::json!(1)), any::<i32>().prop_map(serde_json::Value::from)],
    ) {
        let body = serde_json::json!({"response": [event_json(id, date.clone(), text)], "status": status, "statusCode": 200});
        let parsed = parse_page(Source::Audit, body.to_string().as_bytes());
        if let Ok(events) = parsed {
            prop_assert_eq!(events.len(), 1);
            prop_assert!(dates::parse(&date).is_ok());
        }
    }

    #[test]
    fn the_date_parser_never_panics(text in any::<String>()) {
        let _ = dates::parse(&text);
    }

    #[test]
    fn the_spec_loader_and_validation_never_panic(text in any::<String>()) {
        if let Ok(report) = parse_report(&text, "fuzz.yaml") {
            let _ = validate(&report.spec);
        }
    }

    #[test]
    fn the_spec_loader_takes_any_value_in_any_field(
        schedule in nasty_string(),
        zone in nasty_string(),
        file_name in nasty_string(),
        url in nasty_string(),
        folder in nasty_string(),
    ) {
        let quoted = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let yaml = format!(
            "apiVersion: compliance.docspace.dev/v1alpha1\nkind: ComplianceReport\nmetadata: {{name: x}}\n\
             spec:\n  portal: {{url: {}, tokenSecretRef: {{name: s}}}}\n  schedule: {}\n  timeZone: {}\n  \
             report: {{fileName: {}}}\n  upload: {{folderId: {}}}\n",
            quoted(&url), quoted(&schedule), quoted(&zone), quoted(&file_name), quoted(&folder)
        );
        if let Ok(report) = parse_report(&yaml, "fuzz.yaml") {
            let _ = validate(&report.spec);
        }
    }

    #[test]
    fn one_line_leaves_no_line_break_and_no_raw_control(text in nasty_string()) {
        let line = one_line(&text);
        prop_assert!(!line.chars().any(is_unsafe), "{:?}", line);
        prop_assert_eq!(line.lines().count().max(1), 1);
        if !text.chars().any(is_unsafe) {
            prop_assert_eq!(line.as_ref(), text.as_str());
        }
    }

    #[test]
    fn redaction_removes_a_key_wherever_and_however_it_is_echoed(
        before in nasty_string(),
        after in nasty_string(),
        upper in any::<bool>(),
    ) {
        let key = "sk-PropTestKey0123456789";
        register_secret(key);
        let echoed = if upper { key.to_uppercase() } else { key.to_owned() };
        let text = format!("{before}{echoed}{after}");
        let redacted = redact(&text);
        prop_assert!(!redacted.to_ascii_lowercase().contains("proptestkey0123456789"), "{:?}", redacted);
    }
}
