//! Markdown: the analysis sections, then the events (the appendix), then the review block.

use std::borrow::Cow;
use std::io::{self, Write};

use super::{Renderer, source_title};
use crate::docspace::Source;
use crate::report::context::ReportContext;
use crate::report::document::{self, Block, SectionDoc};
use crate::report::summary::Summary;
use crate::report::view::EventView;
use crate::spec::SectionName;
use crate::text::one_line;

/// The `md` format.
pub struct MdRenderer {
    /// Whether the events are listed (the appendix section is selected).
    pub appendix: bool,
    /// Whether the review block ends the report.
    pub review: bool,
}

/// Escapes text for a table cell: control and bidi characters (visibly, see
/// [`one_line`]), pipes, backslashes and markup characters.
fn cell(text: &str) -> Cow<'_, str> {
    let text = one_line(text);
    if !text.contains(['|', '\\', '<', '>', '*', '_', '`', '[', ']']) {
        return text;
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' => {
                escaped.push('\\');
                escaped.push(c);
            }
            _ => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn write_section(out: &mut dyn Write, section: &SectionDoc) -> io::Result<()> {
    writeln!(out, "## {}\n", section.title)?;
    for block in &section.blocks {
        match block {
            Block::Paragraph(text) => writeln!(out, "{}\n", cell(text))?,
            Block::Bullets(items) => {
                for item in items {
                    writeln!(out, "- {}", cell(item))?;
                }
                writeln!(out)?;
            }
            Block::Table { columns, rows } => {
                if rows.is_empty() {
                    writeln!(out, "None.\n")?;
                    continue;
                }
                let header: Vec<Cow<'_, str>> = columns.iter().map(|c| cell(c)).collect();
                writeln!(out, "| {} |", header.join(" | "))?;
                writeln!(out, "|{}", "---|".repeat(columns.len()))?;
                for row in rows {
                    let cells: Vec<Cow<'_, str>> = row.iter().map(|c| cell(c)).collect();
                    writeln!(out, "| {} |", cells.join(" | "))?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

impl Renderer for MdRenderer {
    fn preamble(
        &mut self,
        ctx: &ReportContext,
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "# Compliance report: {}\n", cell(&ctx.resource))?;
        writeln!(out, "{} | {}\n", ctx.period_local(), ctx.period_utc())?;
        for section in document::sections(ctx, summary) {
            write_section(out, &section)?;
        }
        if self.appendix {
            writeln!(out, "## {}\n", document::title(SectionName::Appendix))?;
        }
        Ok(())
    }

    fn section(&mut self, source: Source, count: u64, out: &mut dyn Write) -> io::Result<()> {
        if !self.appendix {
            return Ok(());
        }
        writeln!(out, "### {} events ({count})\n", source_title(source))?;
        writeln!(
            out,
            "| Time | User | Action | Category | Target | Context | IP | Description |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")
    }

    fn epilogue(&mut self, _: &ReportContext, _: &Summary, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        if self.review {
            write_section(out, &document::review())?;
        }
        Ok(())
    }

    fn events(&mut self, events: &[EventView<'_>], out: &mut Vec<u8>) -> io::Result<()> {
        if !self.appendix {
            return Ok(());
        }
        events.iter().try_for_each(|e| {
            writeln!(
                out,
                "| {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
                e.time_local,
                cell(e.user_label()),
                e.action_name,
                e.action_id,
                e.category,
                cell(&e.targets.join(", ")),
                cell(e.context.unwrap_or("")),
                cell(e.ip.unwrap_or("")),
                cell(e.description.unwrap_or(""))
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b\\\\nc");
        assert_eq!(cell("x\u{1b}[31m\u{202e}"), "x\\\\u{1b}\\[31m\\\\u{202e}");
        assert_eq!(cell("<script>"), "&lt;script&gt;");
        assert_eq!(cell("plain"), "plain");
    }
}
