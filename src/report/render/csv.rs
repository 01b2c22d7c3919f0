//! CSV (RFC 4180): one row per event, stable English column names, CRLF line ends, and cells
//! that a spreadsheet would run as a formula neutralised with a leading apostrophe.

use std::borrow::Cow;
use std::io::{self, Write};

use super::Renderer;
use crate::docspace::Source;
use crate::report::context::ReportContext;
use crate::report::summary::Summary;
use crate::report::view::EventView;
use crate::text::one_line;

/// The column names, in order.
pub const COLUMNS: [&str; 22] = [
    "source",
    "id",
    "timeUtc",
    "timeLocal",
    "actionId",
    "actionName",
    "category",
    "actionType",
    "location",
    "user",
    "userId",
    "login",
    "description",
    "targets",
    "entryTypes",
    "context",
    "ip",
    "country",
    "city",
    "browser",
    "platform",
    "page",
];

/// The `csv` format.
pub struct CsvRenderer;

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

/// Escapes control and bidi characters visibly (see [`one_line`]; a tab or a carriage return
/// becomes `\t`, `\r`), then prefixes text that a spreadsheet would evaluate (`= + - @`).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let line = one_line(cell);
    match line.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@') => Cow::Owned(format!("'{line}")),
        _ => line,
    }
}

fn text(value: Option<&str>) -> Cow<'_, str> {
    neutralise(value.unwrap_or(""))
}

impl Renderer for CsvRenderer {
    fn preamble(&mut self, _: &ReportContext, _: &Summary, out: &mut dyn Write) -> io::Result<()> {
        let mut writer = csv_writer(out);
        writer.write_record(COLUMNS)?;
        writer.flush()
    }

    fn section(&mut self, _: Source, _: u64, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn epilogue(&mut self, _: &ReportContext, _: &Summary, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn events(&mut self, events: &[EventView<'_>], out: &mut Vec<u8>) -> io::Result<()> {
        let mut writer = csv_writer(out);
        for e in events {
            write_row(&mut writer, e)?;
        }
        writer.flush()
    }
}

fn write_row<W: Write>(writer: &mut csv::Writer<W>, e: &EventView<'_>) -> io::Result<()> {
    let targets = e.targets.join(";");
    let entry_types = e.entry_types.join(";");
    let id = e.id.to_string();
    let action_id = e.action_id.to_string();
    writer.write_record([
        e.source,
        &id,
        &e.time_utc,
        &e.time_local,
        &action_id,
        &e.action_name,
        e.category,
        e.action_type.unwrap_or(""),
        e.location.unwrap_or(""),
        &text(e.user),
        &text(e.user_id),
        &text(e.login),
        &text(e.description),
        &neutralise(&targets),
        &entry_types,
        &text(e.context),
        &text(e.ip),
        &text(e.country),
        &text(e.city),
        &text(e.browser),
        &text(e.platform),
        &text(e.page),
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_plain_text_is_not() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tx"), "\\tx");
        assert_eq!(neutralise("a\nb\u{202e}"), "a\\nb\\u{202e}");
        assert_eq!(neutralise("Jane Smith"), "Jane Smith");
        assert_eq!(neutralise(""), "");
    }
}
