//! Plain text: the analysis sections as aligned tables, then every event in the vendor
//! tutorial's layout (fixed: true period, both time zones, categories), then the review block.

use std::io::{self, Write};

use super::{Renderer, source_title};
use crate::docspace::Source;
use crate::report::context::ReportContext;
use crate::report::document::{self, Block, SectionDoc};
use crate::report::summary::Summary;
use crate::report::view::EventView;
use crate::spec::SectionName;
use crate::text::one_line;

const RULE: &str =
    "--------------------------------------------------------------------------------";
/// Table cells longer than this are cut, so tables stay readable; the events list is complete.
const MAX_CELL: usize = 100;

/// The `txt` format.
pub struct TxtRenderer {
    /// Whether the events are listed (the appendix section is selected).
    pub appendix: bool,
    /// Whether the review block ends the report.
    pub review: bool,
}

fn clip(text: &str) -> String {
    let line = one_line(text);
    if line.chars().count() <= MAX_CELL {
        line.into_owned()
    } else {
        let cut: String = line.chars().take(MAX_CELL - 1).collect();
        format!("{cut}~")
    }
}

fn heading(out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{title}")?;
    writeln!(out, "{}", "=".repeat(title.chars().count()))
}

fn write_section(out: &mut dyn Write, section: &SectionDoc) -> io::Result<()> {
    heading(out, &section.title)?;
    for block in &section.blocks {
        match block {
            Block::Paragraph(text) => writeln!(out, "{}", one_line(text))?,
            Block::Bullets(items) => {
                for item in items {
                    writeln!(out, "  - {}", one_line(item))?;
                }
            }
            Block::Table { columns, rows } => {
                if rows.is_empty() {
                    writeln!(out, "  (none)")?;
                    continue;
                }
                let cells: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| r.iter().map(|c| clip(c)).collect())
                    .collect();
                let widths: Vec<usize> = (0..columns.len())
                    .map(|i| {
                        cells
                            .iter()
                            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                            .chain([columns[i].chars().count()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |values: Vec<&str>| {
                    let padded: Vec<String> = values
                        .iter()
                        .zip(&widths)
                        .map(|(v, w)| format!("{v:<w$}"))
                        .collect();
                    format!("  {}", padded.join("  ").trim_end())
                };
                writeln!(
                    out,
                    "{}",
                    line(columns.iter().map(String::as_str).collect())
                )?;
                writeln!(
                    out,
                    "  {}",
                    widths
                        .iter()
                        .map(|w| "-".repeat(*w))
                        .collect::<Vec<_>>()
                        .join("  ")
                )?;
                for row in &cells {
                    writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
                }
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

impl Renderer for TxtRenderer {
    fn preamble(
        &mut self,
        ctx: &ReportContext,
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "Compliance report")?;
        writeln!(out, "Report:       {}", ctx.resource)?;
        writeln!(out, "Period:       {}", ctx.period_local())?;
        writeln!(out, "              {}", ctx.period_utc())?;
        writeln!(
            out,
            "Total events: {} (fetched {}, filtered out {})",
            summary.total_reported(),
            summary.total_fetched(),
            summary
                .total_fetched()
                .saturating_sub(summary.total_reported())
        )?;
        for section in document::sections(ctx, summary) {
            write_section(out, &section)?;
        }
        if self.appendix {
            heading(out, document::title(SectionName::Appendix))?;
        }
        Ok(())
    }

    fn section(&mut self, source: Source, count: u64, out: &mut dyn Write) -> io::Result<()> {
        if !self.appendix {
            return Ok(());
        }
        writeln!(out)?;
        writeln!(out, "{} events: {count}", source_title(source))?;
        writeln!(out, "{RULE}")
    }

    fn epilogue(
        &mut self,
        _: &ReportContext,
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if self.review {
            write_section(out, &document::review())?;
        }
        writeln!(out)?;
        writeln!(out, "End of report: {} events.", summary.total_reported())
    }

    fn events(&mut self, events: &[EventView<'_>], out: &mut Vec<u8>) -> io::Result<()> {
        if !self.appendix {
            return Ok(());
        }
        events.iter().try_for_each(|e| Self::event(e, out))
    }
}

impl TxtRenderer {
    fn event(e: &EventView<'_>, out: &mut Vec<u8>) -> io::Result<()> {
        writeln!(out, "ID: {}", e.id)?;
        writeln!(out, "Date: {} ({})", e.time_local, e.time_utc)?;
        match e.user_id {
            Some(id) => writeln!(out, "User: {} ({})", one_line(e.user_label()), one_line(id))?,
            None => writeln!(out, "User: {}", one_line(e.user_label()))?,
        }
        if let Some(login) = e.login {
            writeln!(out, "Login: {}", one_line(login))?;
        }
        write!(
            out,
            "Action: {} ({}) [{}",
            e.action_name, e.action_id, e.category
        )?;
        if let Some(t) = e.action_type {
            write!(out, ", {t}")?;
        }
        match e.description {
            Some(d) => writeln!(out, "]: {}", one_line(d))?,
            None => writeln!(out, "]")?,
        }
        if !e.targets.is_empty() {
            writeln!(out, "Target: {}", one_line(&e.targets.join(", ")))?;
        }
        if let Some(c) = e.context {
            writeln!(out, "Context: {}", one_line(c))?;
        }
        if let Some(p) = e.page {
            writeln!(out, "Page: {}", one_line(p))?;
        }
        if e.ip.is_some() || e.country.is_some() || e.city.is_some() {
            writeln!(
                out,
                "Location/IP: {} | {}, {}",
                one_line(e.ip.unwrap_or("-")),
                one_line(e.country.unwrap_or("-")),
                one_line(e.city.unwrap_or("-"))
            )?;
        }
        if e.browser.is_some() || e.platform.is_some() {
            writeln!(
                out,
                "Client: {} on {}",
                one_line(e.browser.unwrap_or("-")),
                one_line(e.platform.unwrap_or("-"))
            )?;
        }
        writeln!(out, "{RULE}")
    }
}
