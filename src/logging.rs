//! Logging to stderr through the one choke point every log line passes: secrets are
//! redacted (see [`crate::text::redact`]) before a line is written, whatever the level or the
//! format, and every line is one line: control characters inside it are escaped.
//!
//! Both formats name the spans an event happened in, with their fields: a line logged during a
//! report run says which report (`cycle{namespace=… report=… scheduled=…}` in text, `span` and
//! `spans` in JSON), so the lines of runs at once can be told apart. Span fields pass the same
//! redaction and escaping as the rest of the line.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{DefaultFields, Format as EventFormat, Json, JsonFields};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

use crate::text::{one_line, redact};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// Makes a [`LineWriter`] for each log event.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

/// Collects one formatted log event, then writes it to stderr with secrets redacted.
#[derive(Debug, Default)]
pub struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        // A log line that cannot be written has nowhere else to go.
        let _ = io::stderr().lock().write_all(safe_line(&self.0).as_bytes());
    }
}

/// One formatted event as it may be written: secrets redacted and, so that one event stays
/// one line, every line break or terminal escape inside it (an error message from the portal,
/// whatever field holds it) escaped.
fn safe_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    format!("{}\n", one_line(&redact(body)))
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter::default()
    }
}

/// Installs the global subscriber: `filter` in `RUST_LOG` syntax (`warn` when unusable).
pub fn init(format: Format, filter: &str) {
    let builder = text(filter, RedactingStderr);
    match format {
        Format::Text => builder.init(),
        Format::Json => json(builder).init(),
    }
}

/// The text subscriber writing through `writer`; each line starts with the spans it was
/// logged in, fields included (the formatter's default).
fn text<W>(filter: &str, writer: W) -> SubscriberBuilder<DefaultFields, EventFormat, EnvFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // No colour codes: every control character of a line is escaped.
        .with_ansi(false)
        .with_writer(writer)
}

/// `builder` writing JSON: the innermost span (`span`) and every span from the outermost
/// (`spans`), each with its fields.
fn json<W>(
    builder: SubscriberBuilder<DefaultFields, EventFormat, EnvFilter, W>,
) -> SubscriberBuilder<JsonFields, EventFormat<Json>, EnvFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    builder.json().with_current_span(true).with_span_list(true)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects each formatted event as [`LineWriter`] would write it, into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<String>>);

    struct CapturedLine(Vec<u8>, Arc<Mutex<String>>);

    impl Write for CapturedLine {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for CapturedLine {
        fn drop(&mut self) {
            if !self.0.is_empty() {
                self.1.lock().unwrap().push_str(&safe_line(&self.0));
            }
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = CapturedLine;

        fn make_writer(&'a self) -> Self::Writer {
            CapturedLine(Vec::new(), Arc::clone(&self.0))
        }
    }

    const KEY: &str = "sk-span-test-0123456789abcdef";

    /// A run's span as the cycle makes it: the key is an argument, never a field.
    #[tracing::instrument(
        name = "cycle",
        skip_all,
        fields(namespace = %namespace, report = %name, scheduled = "2025-04-01T03:00:00+00:00")
    )]
    fn run(namespace: &str, name: &str, api_key: &str) {
        let _ = api_key;
        tracing::info_span!(
            "docspace_request",
            method = "GET",
            endpoint = "audit events"
        )
        .in_scope(|| tracing::warn!(wait_ms = 500, "DocSpace request failed; retrying"));
    }

    /// What `run` logs in `format`, as it would reach stderr.
    fn log_run(format: Format, namespace: &str) -> String {
        let lines = Captured::default();
        let builder = text("info", lines.clone());
        let dispatch: tracing::Dispatch = match format {
            Format::Text => builder.finish().into(),
            Format::Json => json(builder).finish().into(),
        };
        tracing::dispatcher::with_default(&dispatch, || run(namespace, "echo", KEY));
        lines.0.lock().unwrap().clone()
    }

    #[test]
    fn json_lines_carry_the_fields_of_their_spans_but_no_key() {
        let out = log_run(Format::Json, "team");
        assert_eq!(out.lines().count(), 1, "{out}");
        let line: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            line["fields"]["message"],
            "DocSpace request failed; retrying"
        );
        assert_eq!(line["span"]["name"], "docspace_request");
        assert_eq!(line["span"]["method"], "GET");
        assert_eq!(line["span"]["endpoint"], "audit events");
        // The span's own `name` is the span's name: the report's name is `report`.
        let cycle = &line["spans"][0];
        assert_eq!(cycle["name"], "cycle", "{out}");
        assert_eq!(cycle["namespace"], "team", "{out}");
        assert_eq!(cycle["report"], "echo", "{out}");
        assert_eq!(cycle["scheduled"], "2025-04-01T03:00:00+00:00", "{out}");
        assert_eq!(line["spans"][1]["name"], "docspace_request", "{out}");
        assert!(!out.contains(KEY) && !out.contains("api_key"), "{out}");
    }

    #[test]
    fn text_lines_start_with_their_spans_and_fields_but_no_key() {
        let out = log_run(Format::Text, "team");
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.contains(
                "cycle{namespace=team report=echo scheduled=\"2025-04-01T03:00:00+00:00\"}:docspace_request{method=\"GET\" endpoint=\"audit events\"}:"
            ),
            "{out}"
        );
        assert!(!out.contains(KEY) && !out.contains("api_key"), "{out}");
    }

    #[test]
    fn control_characters_in_span_fields_are_escaped() {
        let forged = "team\n{\"forged\": true}\r\n\u{1b}[2J";
        for format in [Format::Text, Format::Json] {
            let out = log_run(format, forged);
            assert_eq!(out.lines().count(), 1, "{format:?}: {out}");
            assert!(
                !out.contains('\u{1b}') && !out.contains('\r'),
                "{format:?}: {out:?}"
            );
        }
    }

    #[test]
    fn a_line_is_collected_whole() {
        let mut writer = RedactingStderr.make_writer();
        writer.write_all(b"part one, ").unwrap();
        writer.write_all(b"part two\n").unwrap();
        assert_eq!(writer.0, b"part one, part two\n");
    }

    #[test]
    fn control_characters_inside_a_line_are_escaped() {
        let line = safe_line(b"WARN error=denied\n{\"forged\": true}\r\n\x1b[2J end\n");
        assert_eq!(
            line,
            "WARN error=denied\\n{\"forged\": true}\\r\\n\\u{1b}[2J end\n"
        );
    }
}
