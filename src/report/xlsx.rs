//! XLSX: one sheet per analysis section, then the events (the same columns as `csv`), each
//! table with a bold frozen header and an autofilter. Events are written in constant memory,
//! read back from the canonical event stream the writer keeps anyway.

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
    for (i, cells) in rows.iter().enumerate() {
        let r = row + 1 + i as u32;
        for (c, cell) in cells.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(number) if !cell.is_empty() && cell.len() < 16 && !cell.starts_with('0') => {
                    sheet.write_number(r, c as u16, number)?
                }
                _ => sheet.write_string(r, c as u16, cell)?,
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
                    sheet.write_string(row, 0, text).map_err(xlsx_error)?;
                    row += 2;
                }
                Block::Bullets(items) => {
                    for item in items {
                        sheet
                            .write_string(row, 0, format!("- {item}"))
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
                serde_json::Value::String(s) => sheet.write_string(row, c, s),
                serde_json::Value::Array(items) => {
                    let joined: Vec<String> = items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect();
                    sheet.write_string(row, c, joined.join(";"))
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
