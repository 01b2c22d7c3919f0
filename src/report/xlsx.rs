//! XLSX: one sheet per analysis section, then the events (the same columns as `csv`), each
//! table with a bold frozen header and an autofilter. Events are written in constant memory,
//! read back from the canonical event stream the writer keeps anyway.

use std::borrow::Cow;
use std::io;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::context::ReportContext;
use super::document::{self, Block};
use super::render::csv::COLUMNS;
use super::summary::Summary;

/// The most rows a sheet holds; events continue on a further sheet.
const MAX_ROWS: u32 = 1_048_576;

fn xlsx_error(e: XlsxError) -> io::Error {
    io::Error::other(format!("xlsx: {e}"))
}

/// The most characters an Excel cell holds.
const MAX_CELL_CHARS: usize = 32_767;

/// A cell's text within Excel's limit: a longer value is cut with a visible marker (the full
/// value is in the csv and ndjson), so that one long field never fails the workbook.
fn cell_text(text: &str) -> Cow<'_, str> {
    let length = text.chars().count();
    if length <= MAX_CELL_CHARS {
        return Cow::Borrowed(text);
    }
    let marker =
        format!(" [... cut: {length} characters in all; the full value is in the csv and ndjson]");
    let kept: String = text
        .chars()
        .take(MAX_CELL_CHARS - marker.chars().count())
        .collect();
    Cow::Owned(kept + &marker)
}

/// A plain decimal number as the report's own tables write counts and shares (`42`, `-3`,
/// `12.5`): no exponent, no leading zero, no sign other than `-`. Anything else (`1e5`, `007`,
/// `+1`) is text.
fn plain_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return None,
        None => (digits, ""),
    };
    let plain = !whole.is_empty()
        && whole.len() < 16
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (whole == "0" || !whole.starts_with('0'))
        && fraction.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| text.parse().ok()).flatten()
}

/// Sheet names are at most 31 characters without `[]:*?/\`.
fn sheet_name(title: &str) -> String {
    title
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect()
}

/// Writes a table at `row`; returns the row after it. The first table of a sheet gets the
/// frozen header and the autofilter.
fn write_table(
    sheet: &mut Worksheet,
    row: u32,
    columns: &[String],
    rows: &[Vec<String>],
    bold: &Format,
    first: bool,
) -> Result<u32, XlsxError> {
    sheet.write_row_with_format(row, 0, columns.iter().map(String::as_str), bold)?;
    // A column is numeric only when every value in it is a plain number: a user named `1e5`
    // or `42` among names stays text.
    let numeric: Vec<bool> = (0..columns.len())
        .map(|c| {
            rows.iter()
                .filter_map(|cells| cells.get(c))
                .all(|cell| plain_number(cell).is_some())
        })
        .collect();
    for (i, cells) in rows.iter().enumerate() {
        let r = row + 1 + i as u32;
        for (c, cell) in cells.iter().enumerate() {
            match plain_number(cell) {
                Some(number) if numeric.get(c).copied().unwrap_or(false) => {
                    sheet.write_number(r, c as u16, number)?
                }
                _ => sheet.write_string(r, c as u16, cell_text(cell))?,
            };
        }
    }
    let last_row = row + rows.len() as u32;
    if first {
        sheet.set_freeze_panes(row + 1, 0)?;
        sheet.autofilter(row, 0, last_row, columns.len().saturating_sub(1) as u16)?;
    }
    for c in 0..columns.len() {
        sheet.set_column_width(c as u16, 22)?;
    }
    Ok(last_row + 2)
}

/// Writes the workbook to `path`. `events` yields the NDJSON line of each event, in order.
pub fn write(
    path: &Path,
    ctx: &ReportContext,
    summary: &Summary,
    events: &mut dyn Iterator<Item = io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    for section in document::sections(ctx, summary) {
        let sheet = workbook.add_worksheet();
        sheet
            .set_name(sheet_name(&section.title))
            .map_err(xlsx_error)?;
        let mut row = 0;
        let mut first_table = true;
        for block in &section.blocks {
            match block {
                Block::Paragraph(text) => {
                    sheet
                        .write_string(row, 0, cell_text(text))
                        .map_err(xlsx_error)?;
                    row += 2;
                }
                Block::Bullets(items) => {
                    for item in items {
                        sheet
                            .write_string(row, 0, cell_text(&format!("- {item}")))
                            .map_err(xlsx_error)?;
                        row += 1;
                    }
                    row += 1;
                }
                Block::Table { columns, rows } => {
                    row = write_table(sheet, row, columns, rows, &bold, first_table)
                        .map_err(xlsx_error)?;
                    first_table = false;
                }
            }
        }
    }
    write_events(&mut workbook, &bold, events)?;
    workbook.save(path).map_err(xlsx_error)
}

fn write_events(
    workbook: &mut Workbook,
    bold: &Format,
    events: &mut dyn Iterator<Item = io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let mut part = 1;
    let mut sheet = events_sheet(workbook, bold, part)?;
    let mut row = 1u32;
    for line in events {
        let event: serde_json::Value = serde_json::from_slice(&line?).map_err(io::Error::other)?;
        if row == MAX_ROWS {
            finish_sheet(sheet, row)?;
            part += 1;
            sheet = events_sheet(workbook, bold, part)?;
            row = 1;
        }
        for (c, column) in COLUMNS.iter().enumerate() {
            let value = &event[*column];
            let c = c as u16;
            match value {
                serde_json::Value::Number(n) => {
                    sheet.write_number(row, c, n.as_f64().unwrap_or_default())
                }
                serde_json::Value::String(s) => sheet.write_string(row, c, cell_text(s)),
                serde_json::Value::Array(items) => {
                    let joined: Vec<String> = items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect();
                    sheet.write_string(row, c, cell_text(&joined.join(";")))
                }
                _ => Ok(&mut *sheet),
            }
            .map_err(xlsx_error)?;
        }
        row += 1;
    }
    finish_sheet(sheet, row)
}

fn events_sheet<'a>(
    workbook: &'a mut Workbook,
    bold: &Format,
    part: u32,
) -> io::Result<&'a mut Worksheet> {
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(xlsx_error)?;
    let name = if part == 1 {
        "Events".to_owned()
    } else {
        format!("Events {part}")
    };
    sheet.set_name(name).map_err(xlsx_error)?;
    sheet
        .write_row_with_format(0, 0, COLUMNS, bold)
        .map_err(xlsx_error)?;
    sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
    Ok(sheet)
}

fn finish_sheet(sheet: &mut Worksheet, rows: u32) -> io::Result<()> {
    sheet
        .autofilter(
            0,
            0,
            rows.saturating_sub(1).max(1),
            (COLUMNS.len() - 1) as u16,
        )
        .map_err(xlsx_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_decimals_only() {
        for (text, number) in [
            ("42", Some(42.0)),
            ("-3", Some(-3.0)),
            ("12.5", Some(12.5)),
            ("0", Some(0.0)),
        ] {
            assert_eq!(plain_number(text), number, "{text}");
        }
        for text in [
            "1e5",
            "007",
            "+1",
            "1.",
            ".5",
            "",
            "-",
            "NaN",
            "inf",
            "1 000",
            "12345678901234567",
        ] {
            assert_eq!(plain_number(text), None, "{text}");
        }
    }

    #[test]
    fn long_cells_are_cut_at_excels_limit_with_a_marker() {
        let long = "é".repeat(40_000);
        let cut = cell_text(&long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with("40000 characters in all; the full value is in the csv and ndjson]"));
        assert_eq!(cell_text("short"), Cow::Borrowed("short"));
    }
}
