//! Plain text: the vendor tutorial's layout, with a true period, true totals and counts by
//! action type.

use std::io::{self, Write};

use super::{Renderer, source_title};
use crate::docspace::Source;
use crate::report::context::ReportContext;
use crate::report::summary::Summary;
use crate::report::view::EventView;

const RULE: &str =
    "--------------------------------------------------------------------------------";

/// The `txt` format.
pub struct TxtRenderer;

impl Renderer for TxtRenderer {
    fn preamble(
        &mut self,
        ctx: &ReportContext,
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "Compliance report")?;
        writeln!(out, "Report:       {}", ctx.resource)?;
        writeln!(out, "Portal:       {}", ctx.portal)?;
        writeln!(out, "Period:       {}", ctx.period_local())?;
        writeln!(out, "              {}", ctx.period_utc())?;
        writeln!(out, "Filter:       {}", ctx.filter)?;
        writeln!(out, "Privacy:      {}", ctx.privacy)?;
        writeln!(out, "Generated:    {}", ctx.generated())?;
        writeln!(
            out,
            "Total events: {} (fetched {}, filtered out {})",
            summary.total_reported(),
            summary.total_fetched(),
            summary
                .total_fetched()
                .saturating_sub(summary.total_reported())
        )?;
        writeln!(out)?;
        writeln!(out, "Events by action type:")?;
        let width = summary
            .by_action_type
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0);
        for (name, count) in Summary::by_count(&summary.by_action_type) {
            writeln!(out, "  {name:<width$}  {count:>8}")?;
        }
        if summary.by_action_type.is_empty() {
            writeln!(out, "  (none)")?;
        }
        Ok(())
    }

    fn section(&mut self, source: Source, count: u64, out: &mut dyn Write) -> io::Result<()> {
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
        writeln!(out)?;
        writeln!(out, "End of report: {} events.", summary.total_reported())
    }

    fn events(&mut self, events: &[EventView<'_>], out: &mut Vec<u8>) -> io::Result<()> {
        events.iter().try_for_each(|e| Self::event(e, out))
    }
}

impl TxtRenderer {
    fn event(e: &EventView<'_>, out: &mut Vec<u8>) -> io::Result<()> {
        writeln!(out, "ID: {}", e.id)?;
        writeln!(out, "Date: {} ({})", e.time_local, e.time_utc)?;
        match e.user_id {
            Some(id) => writeln!(out, "User: {} ({id})", e.user_label())?,
            None => writeln!(out, "User: {}", e.user_label())?,
        }
        if let Some(login) = e.login {
            writeln!(out, "Login: {login}")?;
        }
        write!(out, "Action: {} ({})", e.action_name, e.action_id)?;
        if let Some(t) = e.action_type {
            write!(out, " [{t}]")?;
        }
        match e.description {
            Some(d) => writeln!(out, ": {}", one_line(d))?,
            None => writeln!(out)?,
        }
        if !e.targets.is_empty() {
            writeln!(out, "Target: {}", e.targets.join(", "))?;
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
                e.ip.unwrap_or("-"),
                e.country.unwrap_or("-"),
                e.city.unwrap_or("-")
            )?;
        }
        if e.browser.is_some() || e.platform.is_some() {
            writeln!(
                out,
                "Client: {} on {}",
                e.browser.unwrap_or("-"),
                e.platform.unwrap_or("-")
            )?;
        }
        writeln!(out, "{RULE}")
    }
}

/// Keeps a field on one line so a value cannot forge report lines.
fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\n', '\r']) {
        text.replace(['\n', '\r'], " ").into()
    } else {
        text.into()
    }
}
