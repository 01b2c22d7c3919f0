//! Newline-delimited JSON: one event per line with the stable field names of [`EventView`].

use std::io::{self, Write};

use super::Renderer;
use crate::docspace::Source;
use crate::report::context::ReportContext;
use crate::report::summary::Summary;
use crate::report::view::EventView;

/// The `ndjson` format.
pub struct NdjsonRenderer;

impl Renderer for NdjsonRenderer {
    fn preamble(&mut self, _: &ReportContext, _: &Summary, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn section(&mut self, _: Source, _: u64, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn epilogue(&mut self, _: &ReportContext, _: &Summary, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn events(&mut self, events: &[EventView<'_>], out: &mut Vec<u8>) -> io::Result<()> {
        events.iter().try_for_each(|e| Self::event(e, out))
    }
}

impl NdjsonRenderer {
    fn event(e: &EventView<'_>, out: &mut Vec<u8>) -> io::Result<()> {
        serde_json::to_writer(&mut *out, e)?;
        out.push(b'\n');
        Ok(())
    }
}
