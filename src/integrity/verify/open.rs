//! Opening the files of a report set: regular files only, symbolic links only when asked, and
//! never more bytes than the manifest (or a sane cap) allows. A FIFO, a device or a link to
//! `/dev/zero` is refused instead of hanging `verify`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

use crate::integrity::error::IntegrityError;

/// The largest manifest read.
pub(super) const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// The largest detached signature read.
pub(super) const MAX_SIGNATURE_BYTES: u64 = 64 << 10;

fn refused(path: &Path, what: &str) -> IntegrityError {
    IntegrityError::NotRegularFile {
        path: path.to_path_buf(),
        what: what.to_owned(),
    }
}

/// Opens `path` if it is a regular file; `Ok(None)` when it does not exist. A symbolic link is
/// refused unless `follow_symlinks`; the file is opened without blocking (a FIFO would) and
/// checked again once open, so a swap between the check and the open is caught too.
pub(super) fn open_regular(
    path: &Path,
    follow_symlinks: bool,
) -> Result<Option<File>, IntegrityError> {
    let read_error = |source| IntegrityError::Read {
        path: path.to_path_buf(),
        source,
    };
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    if metadata.file_type().is_symlink() && !follow_symlinks {
        return Err(refused(
            path,
            "a symbolic link (pass --follow-symlinks to verify what links point to)",
        ));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let no_follow = if follow_symlinks { 0 } else { libc::O_NOFOLLOW };
        options.custom_flags(libc::O_NONBLOCK | no_follow);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    if !file.metadata().map_err(read_error)?.is_file() {
        return Err(refused(
            path,
            "not a regular file (a FIFO, a device or a directory)",
        ));
    }
    Ok(Some(file))
}

/// Reads all of `file` if it holds at most `limit` bytes; an error past that.
pub(super) fn read_at_most(path: &Path, file: File, limit: u64) -> Result<Vec<u8>, IntegrityError> {
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| IntegrityError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(refused(path, &format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}
