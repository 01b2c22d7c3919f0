//! Report formats. Each renderer writes a header (which may use the summary, since it is
//! written last), one block per event, and a footer; the writer streams events through it.

pub(super) mod csv;
mod md;
mod ndjson;
mod txt;

use std::io::{self, Write};

use super::context::ReportContext;
use super::summary::Summary;
use super::view::EventView;
use crate::docspace::Source;
use crate::spec::{ReportFormat, SectionName};

/// One report format.
pub trait Renderer: Send {
    /// Everything before the events: title, period, totals, summary tables.
    fn preamble(
        &mut self,
        ctx: &ReportContext,
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()>;
    /// A heading before the events of one source.
    fn section(&mut self, source: Source, count: u64, out: &mut dyn Write) -> io::Result<()>;
    /// A run of events, oldest first.
    fn events(&mut self, events: &[EventView<'_>], out: &mut Vec<u8>) -> io::Result<()>;
    /// Everything after the events.
    fn epilogue(
        &mut self,
        ctx: &ReportContext,
        summary: &Summary,
        out: &mut dyn Write,
    ) -> io::Result<()>;
}

/// The renderer for a format; `md` and `txt` follow the context's section selection.
pub fn renderer_for(format: ReportFormat, ctx: &ReportContext) -> Box<dyn Renderer> {
    let appendix = ctx.sections.contains(&SectionName::Appendix);
    let review = ctx.sections.contains(&SectionName::Review);
    match format {
        ReportFormat::Txt => Box::new(txt::TxtRenderer { appendix, review }),
        ReportFormat::Csv => Box::new(csv::CsvRenderer),
        ReportFormat::Ndjson => Box::new(ndjson::NdjsonRenderer),
        ReportFormat::Md => Box::new(md::MdRenderer { appendix, review }),
        // XLSX is a workbook, not a byte stream: the writer builds it from the canonical
        // event stream; this renderer only feeds that stream.
        ReportFormat::Xlsx => Box::new(ndjson::NdjsonRenderer),
    }
}

/// The MIME type used when uploading a format.
pub fn content_type(format: ReportFormat) -> &'static str {
    match format {
        ReportFormat::Txt => "text/plain; charset=utf-8",
        ReportFormat::Csv => "text/csv; charset=utf-8",
        ReportFormat::Ndjson => "application/x-ndjson",
        ReportFormat::Md => "text/markdown; charset=utf-8",
        ReportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
}

/// A human title for a source's section.
fn source_title(source: Source) -> &'static str {
    match source {
        Source::Audit => "Audit trail",
        Source::Login => "Login history",
    }
}
