//! `report.compress: gzip`: the text formats are gzipped in the spool before they are hashed
//! for the manifest and uploaded, so the manifest describes the files as uploaded.

use std::fs::File;
use std::io::{self, BufReader};

use flate2::Compression as Level;
use flate2::write::GzEncoder;

use crate::report::{Artefact, ArtefactKind, HashingWriter};
use crate::spec::{Compression, ReportFormat};

/// Whether `kind` is compressed under `compression`.
fn applies(compression: Compression, kind: ArtefactKind) -> bool {
    compression == Compression::Gzip
        && matches!(kind, ArtefactKind::Report(format) if format != ReportFormat::Xlsx)
}

/// Gzips the artefacts `compression` applies to, in place of the originals (streamed, in
/// constant memory); each gets the `.gz` name, size and SHA-256 of the compressed file.
pub(super) fn apply(compression: Compression, artefacts: &mut [Artefact]) -> io::Result<()> {
    for artefact in artefacts
        .iter_mut()
        .filter(|a| applies(compression, a.kind))
    {
        let file_name = format!("{}.gz", artefact.file_name);
        let path = artefact.path.with_file_name(&file_name);
        let mut reader = BufReader::with_capacity(1 << 20, File::open(&artefact.path)?);
        let mut encoder = GzEncoder::new(
            HashingWriter::new(io::BufWriter::with_capacity(1 << 20, File::create(&path)?)),
            Level::default(),
        );
        io::copy(&mut reader, &mut encoder)?;
        let (sha256, bytes) = encoder.finish()?.finish()?;
        std::fs::remove_file(&artefact.path)?;
        artefact.file_name = file_name;
        artefact.path = path;
        artefact.sha256 = sha256;
        artefact.bytes = bytes;
        artefact.gzip = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::io::Read;

    #[test]
    fn text_formats_are_gzipped_and_hashed_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, kind, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            Artefact {
                kind,
                file_name: name.to_owned(),
                path,
                sha256: String::new(),
                bytes: text.len() as u64,
                gzip: false,
            }
        };
        let text = "id,action\n".repeat(1000);
        let mut artefacts = vec![
            write("r.csv", ArtefactKind::Report(ReportFormat::Csv), &text),
            write("r.xlsx", ArtefactKind::Report(ReportFormat::Xlsx), "zip"),
        ];
        apply(Compression::Gzip, &mut artefacts).unwrap();
        let csv = &artefacts[0];
        assert_eq!(csv.file_name, "r.csv.gz");
        assert!(!dir.path().join("r.csv").exists());
        let bytes = std::fs::read(&csv.path).unwrap();
        assert_eq!(csv.bytes, bytes.len() as u64);
        assert_eq!(csv.sha256, hex::encode(Sha256::digest(&bytes)));
        assert!(csv.bytes < 1000, "compressed: {} bytes", csv.bytes);
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, text);
        assert_eq!(artefacts[1].file_name, "r.xlsx", "xlsx stays as it is");
        apply(Compression::None, &mut artefacts).unwrap();
        assert_eq!(artefacts[0].file_name, "r.csv.gz");
    }
}
