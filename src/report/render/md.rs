//! Markdown: summary tables (by action type, by user, by day), then the events as tables.

use std::borrow::Cow;
use std::io::{self, Write};

use super::{Renderer, source_title};
use crate::docspace::Source;
use crate::report::context::ReportContext;
use crate::report::summary::Summary;
use crate::report::view::EventView;

/// The `md` format.
pub struct MdRenderer;

/// Escapes text for a table cell: pipes, backslashes, markup characters and line breaks.
fn cell(text: &str) -> Cow<'_, str> {
    if !text.contains(['|', '\\', '\n', '\r', '<', '>', '*', '_', '`', '[', ']']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\r' => escaped.push(' '),
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

fn table(out: &mut dyn Write, heading: &str, label: &str, rows: &[(&str, u64)]) -> io::Result<()> {
    writeln!(out, "## {heading}\n")?;
    if rows.is_empty() {
        return writeln!(out, "No events.\n");
    }
    writeln!(out, "| {label} | Events |\n|---|---:|")?;
    for (name, count) in rows {
        writeln!(out, "| {} | {count} |", cell(name))?;
    }
    writeln!(out)
}

impl Renderer for MdRenderer {
    fn preamble(
        &mut self,
        ctx: &ReportContext,
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "# Compliance report: {}\n", cell(&ctx.resource))?;
        writeln!(out, "| | |\n|---|---|")?;
        writeln!(out, "| Portal | {} |", cell(&ctx.portal))?;
        writeln!(out, "| Period | {} |", ctx.period_local())?;
        writeln!(out, "| Period (UTC) | {} |", ctx.period_utc())?;
        writeln!(out, "| Filter | {} |", cell(&ctx.filter))?;
        writeln!(out, "| Privacy | {} |", cell(&ctx.privacy))?;
        writeln!(out, "| Generated | {} |", ctx.generated())?;
        writeln!(out, "| Events reported | {} |", summary.total_reported())?;
        writeln!(out, "| Events fetched | {} |\n", summary.total_fetched())?;
        table(
            out,
            "Events by action type",
            "Action type",
            &Summary::by_count(&summary.by_action_type),
        )?;
        table(out, "Events by user", "User", &summary.users_by_count())?;
        let days: Vec<(String, u64)> = summary
            .by_day
            .iter()
            .map(|(d, n)| (d.to_string(), *n))
            .collect();
        let days: Vec<(&str, u64)> = days.iter().map(|(d, n)| (d.as_str(), *n)).collect();
        table(out, "Events by day", "Day", &days)
    }

    fn section(&mut self, source: Source, count: u64, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "\n## {} events ({count})\n", source_title(source))?;
        writeln!(
            out,
            "| Time | User | Action | Type | Target | Context | IP | Description |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")
    }

    fn epilogue(&mut self, _: &ReportContext, _: &Summary, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)
    }

    fn events(&mut self, events: &[EventView<'_>], out: &mut Vec<u8>) -> io::Result<()> {
        events.iter().try_for_each(|e| Self::event(e, out))
    }
}

impl MdRenderer {
    fn event(e: &EventView<'_>, out: &mut Vec<u8>) -> io::Result<()> {
        writeln!(
            out,
            "| {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
            e.time_local,
            cell(e.user_label()),
            e.action_name,
            e.action_id,
            e.action_type.unwrap_or(""),
            cell(&e.targets.join(", ")),
            cell(e.context.unwrap_or("")),
            cell(e.ip.unwrap_or("")),
            cell(e.description.unwrap_or(""))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(cell("<script>"), "&lt;script&gt;");
        assert_eq!(cell("plain"), "plain");
    }
}
