//! Logging to stderr through the one choke point every log line passes: secrets are
//! redacted (see [`crate::text::redact`]) before a line is written, whatever the level or the
//! format, and every line is one line: control characters inside it are escaped.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // No colour codes: every control character of a line is escaped.
        .with_ansi(false)
        .with_writer(RedactingStderr);
    match format {
        Format::Text => builder.init(),
        Format::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
