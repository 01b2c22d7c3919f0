//! Streams events into every requested format at once, in bounded memory.
//!
//! Batches arrive newest first (DocSpace's order). Each batch is rendered oldest first into a
//! per-format spool file as one chunk; when the report is finished the header (which needs the
//! totals) is written, then the chunks in reverse order, so the report reads chronologically
//! while memory holds one batch at a time. Every artefact gets a SHA-256 as it is written.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::context::ReportContext;
use super::render::{Renderer, renderer_for};
use super::summary::{FetchFacts, Summary};
use super::view::EventView;
use crate::docspace::{Event, Source};
use crate::integrity::EventsDigest;
use crate::spec::ReportFormat;

/// What an artefact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtefactKind {
    /// A report in a format.
    Report(ReportFormat),
    /// The run's manifest.
    Manifest,
    /// The manifest's detached signature.
    Signature,
}

impl ArtefactKind {
    /// `txt`, `csv`, ..., `manifest` or `signature`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Report(format) => format.extension(),
            Self::Manifest => "manifest",
            Self::Signature => "signature",
        }
    }

    /// The MIME type used when uploading it.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Report(format) => super::render::content_type(format),
            Self::Manifest | Self::Signature => "application/json",
        }
    }
}

/// A rendered report file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// What it is.
    pub kind: ArtefactKind,
    /// Its file name (`stem.ext`).
    pub file_name: String,
    /// Where it was written.
    pub path: PathBuf,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// Whether it was gzipped after rendering (`report.compress`).
    pub gzip: bool,
}

impl Artefact {
    /// The content type it is uploaded with.
    pub fn content_type(&self) -> &'static str {
        if self.gzip {
            "application/gzip"
        } else {
            self.kind.content_type()
        }
    }
}

struct Spool {
    /// `None` for the canonical events stream, which is hashed and not written out.
    format: Option<ReportFormat>,
    renderer: Box<dyn Renderer>,
    file: BufWriter<File>,
    chunks: Vec<(u64, u64)>,
    written: u64,
    buffer: Vec<u8>,
}

struct Section {
    source: Source,
    first_chunk: usize,
    events: u64,
}

/// Renders a stream of event batches into several formats.
pub struct ReportWriter {
    context: ReportContext,
    /// Whether an XLSX workbook is wanted (built from the canonical stream at the end).
    xlsx: bool,
    spools: Vec<Spool>,
    sections: Vec<Section>,
    /// The place in the report of each chunk (the same for every spool): larger is older.
    chunk_orders: Vec<u64>,
    summary: Summary,
}

impl ReportWriter {
    /// A writer for `formats`, spooling into anonymous temporary files in `spool_dir`.
    pub fn new(
        context: ReportContext,
        formats: &[ReportFormat],
        spool_dir: &Path,
    ) -> io::Result<Self> {
        let spools = formats
            .iter()
            .filter(|f| **f != ReportFormat::Xlsx)
            .map(|&format| Some(format))
            // The canonical event stream is the ndjson rendering; spool it once more only when
            // ndjson is not among the formats.
            .chain((!formats.contains(&ReportFormat::Ndjson)).then_some(None))
            .map(|format| {
                Ok(Spool {
                    format,
                    renderer: renderer_for(format.unwrap_or(ReportFormat::Ndjson), &context),
                    file: BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(spool_dir)?),
                    chunks: Vec::new(),
                    written: 0,
                    buffer: Vec::with_capacity(64 * 1024),
                })
            })
            .collect::<io::Result<_>>()?;
        let summary = Summary::new(context.analysis.clone());
        Ok(Self {
            xlsx: formats.contains(&ReportFormat::Xlsx),
            context,
            spools,
            sections: Vec::new(),
            chunk_orders: Vec::new(),
            summary,
        })
    }

    /// Sets the report's chain link description (known only once the upload folder was
    /// searched for the previous manifest, which happens while events are read).
    pub fn set_chain(&mut self, chain: String) {
        self.context.chain = chain;
    }

    /// Events fetched so far, all sources, before filtering.
    pub fn fetched_count(&self) -> u64 {
        self.summary.total_fetched()
    }

    /// Events in the report so far, all sources.
    pub fn reported_count(&self) -> u64 {
        self.summary.total_reported()
    }

    /// Events in the report by compliance category id.
    pub fn counts_by_category(&self) -> std::collections::BTreeMap<String, u64> {
        self.summary
            .analysis
            .by_category
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    /// Counts `n` events fetched from `source`, before filtering.
    pub fn count_fetched(&mut self, source: Source, n: u64) {
        self.summary.count_fetched(source, n);
    }

    /// A sign-in from before the period, which only tells where users signed in from before.
    pub fn note_baseline(&mut self, event: &Event) {
        self.summary.analysis.baseline(event);
    }

    /// Starts the events of `source`; later batches belong to it.
    pub fn begin_source(&mut self, source: Source) {
        let first_chunk = self.chunk_orders.len();
        self.sections.push(Section {
            source,
            first_chunk,
            events: 0,
        });
    }

    /// Renders one batch of kept events, given newest first, each batch no newer than the one
    /// before it.
    pub fn write_batch(&mut self, newest_first: &[Event]) -> io::Result<()> {
        let order = self.chunk_orders.len() as u64;
        self.write_batch_at(order, newest_first)
    }

    /// Renders one batch of kept events, given newest first, whose place in the report is
    /// `order`: within a source, batches are reported from the largest `order` to the
    /// smallest, so batches read concurrently may arrive in any order.
    pub fn write_batch_at(&mut self, order: u64, newest_first: &[Event]) -> io::Result<()> {
        let time_zone = self.context.period.time_zone;
        for spool in &mut self.spools {
            spool.buffer.clear();
        }
        // Oldest first; ties in order of source and id, so the order does not depend on how
        // the server ordered events within one second.
        let mut ordered: Vec<&Event> = newest_first.iter().collect();
        ordered.sort_by_key(|e| (e.date, e.source as u8, e.id));
        let views: Vec<EventView<'_>> = ordered
            .into_iter()
            .map(|event| {
                let view = EventView::new(event, time_zone);
                self.summary.count_reported(event, &view, time_zone);
                view
            })
            .collect();
        for spool in &mut self.spools {
            spool.renderer.events(&views, &mut spool.buffer)?;
        }
        if let Some(section) = self.sections.last_mut() {
            section.events += newest_first.len() as u64;
        }
        for spool in &mut self.spools {
            spool.file.write_all(&spool.buffer)?;
            let len = spool.buffer.len() as u64;
            spool.chunks.push((spool.written, len));
            spool.written += len;
        }
        self.chunk_orders.push(order);
        Ok(())
    }

    /// The chunk indices of every section in report order: sections as begun, chunks of each
    /// from the largest order to the smallest.
    fn report_order(&self) -> Vec<Vec<usize>> {
        let total = self.chunk_orders.len();
        self.sections
            .iter()
            .enumerate()
            .map(|(index, section)| {
                let end = self
                    .sections
                    .get(index + 1)
                    .map_or(total, |next| next.first_chunk);
                let mut chunks: Vec<usize> = (section.first_chunk..end).collect();
                chunks.sort_by_key(|&chunk| std::cmp::Reverse(self.chunk_orders[chunk]));
                chunks
            })
            .collect()
    }

    /// Writes the final files `{stem}.{ext}` into `dir`, stating `facts` (how the events were
    /// read), and returns them with their hashes and the digest of the events in canonical form
    /// (their NDJSON lines in report order).
    pub fn finish(
        mut self,
        facts: FetchFacts,
        dir: &Path,
        stem: &str,
    ) -> io::Result<(Vec<Artefact>, EventsDigest)> {
        self.summary.learn(facts);
        let mut events = EventsDigest {
            count: self.summary.total_reported(),
            sha256: String::new(),
        };
        // Fetching is over: finish the formats side by side, one thread each.
        let order = self.report_order();
        let (context, summary, sections) = (&self.context, &self.summary, &self.sections);
        let order = &order;
        let finished: Vec<io::Result<Finished>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .spools
                .iter_mut()
                .map(|spool| {
                    scope.spawn(move || {
                        finish_spool(spool, context, summary, sections, order, dir, stem)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a render thread panicked")))
                })
                .collect()
        });
        let mut artefacts = Vec::with_capacity(finished.len());
        for result in finished {
            match result? {
                Finished::Canonical(sha256) => events.sha256 = sha256,
                Finished::File(artefact) => {
                    if artefact.kind == ArtefactKind::Report(ReportFormat::Ndjson) {
                        events.sha256.clone_from(&artefact.sha256);
                    }
                    artefacts.push(artefact);
                }
            }
        }
        if self.xlsx {
            artefacts.push(self.write_xlsx(dir, stem)?);
        }
        Ok((artefacts, events))
    }

    fn write_xlsx(&mut self, dir: &Path, stem: &str) -> io::Result<Artefact> {
        let order = self.report_order();
        let file_name = format!("{stem}.xlsx");
        let path = dir.join(&file_name);
        let canonical = self
            .spools
            .iter_mut()
            .find(|s| matches!(s.format, None | Some(ReportFormat::Ndjson)));
        let Some(canonical) = canonical else {
            return Err(io::Error::other("the canonical event stream is missing"));
        };
        canonical.file.flush()?;
        let ranges: Vec<(u64, u64)> = order
            .iter()
            .flatten()
            .map(|&chunk| canonical.chunks[chunk])
            .collect();
        let mut lines = ChunkLines {
            file: canonical.file.get_ref(),
            ranges: ranges.into_iter(),
            pending: Vec::new().into_iter(),
        };
        super::xlsx::write(&path, &self.context, &self.summary, &mut lines)?;
        let bytes = std::fs::read(&path)?;
        Ok(Artefact {
            kind: ArtefactKind::Report(ReportFormat::Xlsx),
            file_name,
            path,
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
            gzip: false,
        })
    }
}

/// The lines of a spool's chunks, read one chunk at a time.
struct ChunkLines<'a> {
    file: &'a File,
    ranges: std::vec::IntoIter<(u64, u64)>,
    pending: std::vec::IntoIter<Vec<u8>>,
}

impl Iterator for ChunkLines<'_> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(line) = self.pending.next() {
                return Some(Ok(line));
            }
            let (offset, len) = self.ranges.next()?;
            let mut buffer = vec![0; len as usize];
            if let Err(e) = self.file.read_exact_at(&mut buffer, offset) {
                return Some(Err(e));
            }
            self.pending = buffer
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
                .into_iter();
        }
    }
}

/// What finishing one spool produced.
enum Finished {
    /// The hash of the canonical event stream.
    Canonical(String),
    /// A report file.
    File(Artefact),
}

/// Writes one spool's final file (or hashes the canonical stream).
fn finish_spool(
    spool: &mut Spool,
    context: &ReportContext,
    summary: &Summary,
    sections: &[Section],
    order: &[Vec<usize>],
    dir: &Path,
    stem: &str,
) -> io::Result<Finished> {
    let Some(format) = spool.format else {
        let mut out = HashingWriter::new(io::sink());
        copy_chunks(spool, sections, order, &mut out, false)?;
        return Ok(Finished::Canonical(out.finish()?.0));
    };
    let file_name = format!("{stem}.{}", format.extension());
    let path = dir.join(&file_name);
    let mut out = HashingWriter::new(BufWriter::with_capacity(256 * 1024, File::create(&path)?));
    spool.renderer.preamble(context, summary, &mut out)?;
    copy_chunks(spool, sections, order, &mut out, true)?;
    spool.renderer.epilogue(context, summary, &mut out)?;
    let (sha256, bytes) = out.finish()?;
    Ok(Finished::File(Artefact {
        kind: ArtefactKind::Report(format),
        file_name,
        path,
        sha256,
        bytes,
        gzip: false,
    }))
}

/// Copies a spool's chunks in report `order` (per section, see `ReportWriter::report_order`)
/// to `out`, with the renderer's section headings when `headings` is set.
fn copy_chunks(
    spool: &mut Spool,
    sections: &[Section],
    order: &[Vec<usize>],
    out: &mut dyn Write,
    headings: bool,
) -> io::Result<()> {
    spool.file.flush()?;
    let mut buffer = Vec::new();
    for (section, chunks) in sections.iter().zip(order) {
        if headings {
            spool
                .renderer
                .section(section.source, section.events, out)?;
        }
        for &chunk in chunks {
            let (offset, len) = spool.chunks[chunk];
            buffer.resize(len as usize, 0);
            spool.file.get_ref().read_exact_at(&mut buffer, offset)?;
            out.write_all(&buffer)?;
        }
    }
    Ok(())
}

/// A writer that hashes (SHA-256) and counts what passes through.
pub(crate) struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Writes through to `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Flushes; returns the lowercase hex SHA-256 and the count of what was written.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        self.inner.flush()?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{context, event, no_facts};

    fn render(formats: &[ReportFormat], batches: &[Vec<Event>]) -> Vec<(Artefact, String)> {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ReportWriter::new(context(), formats, dir.path()).unwrap();
        writer.begin_source(Source::Audit);
        for batch in batches {
            writer.write_batch(batch).unwrap();
        }
        let out = tempfile::tempdir().unwrap().keep();
        writer
            .finish(no_facts(), &out, "report")
            .unwrap()
            .0
            .into_iter()
            .map(|a| {
                let text = std::fs::read_to_string(&a.path).unwrap();
                (a, text)
            })
            .collect()
    }

    fn at(id: i64, second: i64) -> Event {
        let mut e = event(id, 5011);
        e.date += chrono::TimeDelta::seconds(second);
        e
    }

    #[test]
    fn batches_newest_first_come_out_oldest_first() {
        let batches = vec![
            vec![at(6, 6), at(5, 5)],
            vec![at(4, 4), at(3, 3)],
            vec![at(2, 2), at(1, 1)],
        ];
        let out = render(&[ReportFormat::Ndjson], &batches);
        let ids: Vec<i64> = out[0]
            .1
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn batches_read_concurrently_come_out_in_the_order_they_name() {
        let ids = |out: &[(Artefact, String)]| -> Vec<i64> {
            out[0]
                .1
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                        .as_i64()
                        .unwrap()
                })
                .collect()
        };
        let sequential = render(
            &[ReportFormat::Ndjson],
            &[
                vec![at(6, 6), at(5, 5)],
                vec![at(4, 4), at(3, 3)],
                vec![at(2, 2), at(1, 1)],
            ],
        );
        // Slice 0 is the newest (events 4..6 in two batches), slice 1 the oldest; they
        // arrive interleaved.
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ReportWriter::new(context(), &[ReportFormat::Ndjson], dir.path()).unwrap();
        writer.begin_source(Source::Audit);
        writer
            .write_batch_at(1 << 32, &[at(3, 3), at(2, 2)])
            .unwrap();
        writer.write_batch_at(0, &[at(6, 6), at(5, 5)]).unwrap();
        writer.write_batch_at((1 << 32) | 1, &[at(1, 1)]).unwrap();
        writer.write_batch_at(1, &[at(4, 4)]).unwrap();
        let out = tempfile::tempdir().unwrap().keep();
        let (artefacts, digest) = writer.finish(no_facts(), &out, "report").unwrap();
        let text = std::fs::read_to_string(&artefacts[0].path).unwrap();
        let concurrent = vec![(artefacts[0].clone(), text)];
        assert_eq!(ids(&concurrent), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(
            concurrent[0].1, sequential[0].1,
            "the same bytes either way"
        );
        assert_eq!(digest.count, 6);
    }

    #[test]
    fn hashes_and_sizes_match_the_files() {
        let out = render(
            &[ReportFormat::Txt, ReportFormat::Csv, ReportFormat::Md],
            &[vec![at(2, 2), at(1, 1)]],
        );
        for (artefact, text) in &out {
            assert_eq!(artefact.bytes, text.len() as u64);
            assert_eq!(
                artefact.sha256,
                hex::encode(Sha256::digest(text.as_bytes()))
            );
        }
        assert!(out[0].1.contains("Total events: 2"), "{}", out[0].1);
        assert!(out[0].1.contains("Upload"), "{}", out[0].1);
        assert_eq!(out[1].1.lines().count(), 3, "header and two rows");
        assert!(out[2].1.contains("## Activity overview"), "{}", out[2].1);
        assert!(out[2].1.contains("| Jane Smith | 2 |"), "{}", out[2].1);
        assert!(
            out[2].1.contains("## Review and attestation"),
            "{}",
            out[2].1
        );
    }

    #[test]
    fn csv_quotes_per_rfc_4180_and_neutralises_formulas() {
        let mut e = at(1, 1);
        e.user = Some("=cmd|' /C calc'!A0".into());
        e.action = Some("File \"Q1, final\".pdf\nuploaded".into());
        let out = render(&[ReportFormat::Csv], &[vec![e]]);
        let mut reader = csv::Reader::from_reader(out[0].1.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let row = reader.records().next().unwrap().unwrap();
        let get = |name: &str| {
            row.get(headers.iter().position(|h| h == name).unwrap())
                .unwrap()
                .to_owned()
        };
        assert_eq!(get("user"), "'=cmd|' /C calc'!A0");
        // Quotes and commas are quoted; a line break is shown, not kept (one event, one line).
        assert_eq!(get("description"), "File \"Q1, final\".pdf\\nuploaded");
        assert!(
            out[0]
                .1
                .contains("\"File \"\"Q1, final\"\".pdf\\nuploaded\"")
        );
        assert!(out[0].1.contains("\r\n"));
    }

    #[test]
    fn one_long_field_is_cut_in_xlsx_only_and_number_like_names_stay_text() {
        use calamine::{Data, Reader, Xlsx, open_workbook};
        let mut e = at(1, 1);
        e.action = Some("x".repeat(40_000));
        e.user = Some("1e5".into());
        let dir = tempfile::tempdir().unwrap();
        let mut writer = ReportWriter::new(
            context(),
            &[ReportFormat::Xlsx, ReportFormat::Csv],
            dir.path(),
        )
        .unwrap();
        writer.begin_source(Source::Audit);
        writer.write_batch(&[e]).unwrap();
        let out = tempfile::tempdir().unwrap();
        let (artefacts, _) = writer.finish(no_facts(), out.path(), "report").unwrap();
        let path = |ext: &str| {
            artefacts
                .iter()
                .find(|a| a.file_name.ends_with(ext))
                .unwrap()
                .path
                .clone()
        };
        let mut workbook: Xlsx<_> = open_workbook(path(".xlsx")).unwrap();
        let events = workbook.worksheet_range("Events").unwrap();
        let header: Vec<String> = events
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let row: Vec<&Data> = events.rows().nth(1).unwrap().iter().collect();
        let column = |name: &str| row[header.iter().position(|h| h == name).unwrap()];
        let description = column("description").to_string();
        assert_eq!(description.chars().count(), 32_767);
        assert!(description.ends_with("the full value is in the csv and ndjson]"));
        assert_eq!(column("user"), &Data::String("1e5".into()));
        let csv = std::fs::read_to_string(path(".csv")).unwrap();
        assert!(
            csv.contains(&"x".repeat(40_000)),
            "the csv keeps the full value"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn with_text(text: &str) -> Event {
            let mut e = at(1, 1);
            e.user = Some(text.to_owned());
            e.user_id = Some(text.to_owned());
            e.login = Some(text.to_owned());
            e.action = Some(text.to_owned());
            e.ip = Some(text.to_owned());
            e.country = Some(text.to_owned());
            e.city = Some(text.to_owned());
            e.browser = Some(text.to_owned());
            e.platform = Some(text.to_owned());
            e.page = Some(text.to_owned());
            e.context = Some(text.to_owned());
            e.target = vec![text.to_owned(), text.to_owned()];
            e
        }

        fn nasty() -> impl Strategy<Value = String> {
            let pieces = prop_oneof![
                Just("\n".to_owned()),
                Just("\r".to_owned()),
                Just("\u{1b}[2J".to_owned()),
                Just("\u{85}\u{2028}\u{2029}\u{0b}\u{0c}\0".to_owned()),
                Just("\u{202a}\u{202e}\u{2066}\u{2069}".to_owned()),
                Just("|*_`[]<>\\\",;=".to_owned()),
                any::<String>(),
            ];
            prop::collection::vec(pieces, 1..6).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

            /// A field's text never adds or breaks a line, and no raw control or bidi
            /// character reaches txt, md or csv.
            #[test]
            fn rendered_fields_stay_one_line_without_raw_controls(text in nasty()) {
                let formats = [ReportFormat::Txt, ReportFormat::Md, ReportFormat::Csv];
                let plain = render(&formats, &[vec![with_text("x")]]);
                let nasty = render(&formats, &[vec![with_text(&text)]]);
                for ((artefact, baseline), (_, out)) in plain.iter().zip(&nasty) {
                    let lines = |s: &str| s.split('\n').count();
                    prop_assert_eq!(lines(out), lines(baseline), "{}", artefact.file_name);
                    let raw = out
                        .chars()
                        .find(|&c| c != '\n' && c != '\r' && crate::text::is_unsafe(c));
                    prop_assert!(raw.is_none(), "{}: {:?}", artefact.file_name, raw);
                }
                let csv = &nasty[2].1;
                let mut reader = csv::Reader::from_reader(csv.as_bytes());
                let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
                prop_assert_eq!(records.len(), 1);
            }
        }
    }
}
