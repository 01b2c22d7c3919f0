//! The portal's file storage for uploads: titles, versions and the duplicate-name rules of
//! §4.1.

use super::state::StoredFile;

/// Longest title the server keeps (`Global.MaxTitle`).
const MAX_TITLE: usize = 170;

/// Metadata of a stored file (what the `FileDto` is built from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub id: i64,
    pub folder_id: i64,
    pub title: String,
    pub version: u32,
    pub size: u64,
    /// Creation date, UTC seconds.
    pub created: i64,
    /// Date of the latest version, UTC seconds.
    pub updated: i64,
}

/// An earlier version of a file.
#[derive(Debug, Clone)]
struct OldVersion {
    version: u32,
    content: Vec<u8>,
    updated: i64,
}

#[derive(Debug)]
struct FileEntry {
    meta: FileMeta,
    content: Vec<u8>,
    locked: bool,
    /// Earlier versions, oldest first.
    history: Vec<OldVersion>,
}

/// Why versions cannot be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionError {
    /// No such file.
    NoFile,
    /// The file has no such version.
    NoVersion,
    /// Every version would go; delete the file instead.
    LastVersion,
}

/// Files uploaded to the simulated portal.
#[derive(Debug)]
pub(crate) struct FileStore {
    files: Vec<FileEntry>,
    next_id: i64,
}

impl Default for FileStore {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            next_id: 30_001,
        }
    }
}

impl FileStore {
    fn find(&self, folder_id: i64, title: &str) -> Option<usize> {
        self.files
            .iter()
            .position(|f| f.meta.folder_id == folder_id && f.meta.title == title)
    }

    /// Stores an upload. An existing file of the same title gets a new version unless
    /// `create_new_if_exist`, which stores a new file titled `name (1).ext`, `(2)`, ... An
    /// existing file that is locked (or being edited) cannot take a version: the server stores a
    /// second file with the same title (`FileUploader.cs`).
    pub fn upload(
        &mut self,
        folder_id: i64,
        title: &str,
        content: Vec<u8>,
        create_new_if_exist: bool,
        now: i64,
    ) -> FileMeta {
        let size = u64::try_from(content.len()).unwrap_or(u64::MAX);
        let existing = self.find(folder_id, title);
        let locked = existing.is_some_and(|index| self.files[index].locked);
        if let (Some(index), false, false) = (existing, create_new_if_exist, locked) {
            let entry = &mut self.files[index];
            entry.history.push(OldVersion {
                version: entry.meta.version,
                content: std::mem::take(&mut entry.content),
                updated: entry.meta.updated,
            });
            entry.meta.version += 1;
            entry.meta.size = size;
            entry.meta.updated = now;
            entry.content = content;
            return entry.meta.clone();
        }
        let title = if existing.is_some() && !locked {
            available_title(title, |t| self.find(folder_id, t).is_some())
        } else {
            title.to_owned()
        };
        let meta = FileMeta {
            id: self.next_id,
            folder_id,
            title,
            version: 1,
            size,
            created: now,
            updated: now,
        };
        self.next_id += 1;
        self.files.push(FileEntry {
            locked: false,
            meta: meta.clone(),
            content,
            history: Vec::new(),
        });
        meta
    }

    /// Deletes `versions` of a file (`fileops/deleteversion`); deleting the current version
    /// makes the newest remaining one current again.
    pub fn delete_versions(&mut self, id: i64, versions: &[u32]) -> Result<FileMeta, VersionError> {
        let entry = self
            .files
            .iter_mut()
            .find(|f| f.meta.id == id)
            .ok_or(VersionError::NoFile)?;
        let known =
            |v: &u32| *v == entry.meta.version || entry.history.iter().any(|h| h.version == *v);
        if !versions.iter().all(known) {
            return Err(VersionError::NoVersion);
        }
        let remaining = entry.history.len() + 1
            - versions
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len();
        if remaining == 0 {
            return Err(VersionError::LastVersion);
        }
        entry.history.retain(|h| !versions.contains(&h.version));
        if versions.contains(&entry.meta.version)
            && let Some(previous) = entry.history.pop()
        {
            entry.meta.version = previous.version;
            entry.meta.size = u64::try_from(previous.content.len()).unwrap_or(u64::MAX);
            entry.meta.updated = previous.updated;
            entry.content = previous.content;
        }
        Ok(entry.meta.clone())
    }

    /// The subset of `titles` that exist in `folder_id`.
    pub fn existing_titles(&self, folder_id: i64, titles: &[String]) -> Vec<String> {
        titles
            .iter()
            .filter(|t| self.find(folder_id, t).is_some())
            .cloned()
            .collect()
    }

    /// Locks or unlocks a file; `None` if there is no such file.
    pub fn set_locked(&mut self, id: i64, locked: bool) -> Option<FileMeta> {
        let entry = self.files.iter_mut().find(|f| f.meta.id == id)?;
        entry.locked = locked;
        Some(entry.meta.clone())
    }

    /// Removes a file; `None` if there is no such file.
    pub fn delete(&mut self, id: i64) -> Option<FileMeta> {
        let index = self.files.iter().position(|f| f.meta.id == id)?;
        Some(self.files.remove(index).meta)
    }

    /// Metadata of every file.
    pub fn list_all(&self) -> Vec<FileMeta> {
        self.files.iter().map(|f| f.meta.clone()).collect()
    }

    /// Metadata of the files in `folder_id`.
    pub fn list(&self, folder_id: i64) -> Vec<FileMeta> {
        self.files
            .iter()
            .filter(|f| f.meta.folder_id == folder_id)
            .map(|f| f.meta.clone())
            .collect()
    }

    /// Copies of all current files, by id.
    pub fn snapshot(&self) -> Vec<StoredFile> {
        let mut out: Vec<StoredFile> = self
            .files
            .iter()
            .map(|f| StoredFile {
                id: f.meta.id,
                folder_id: f.meta.folder_id,
                title: f.meta.title.clone(),
                version: f.meta.version,
                content: f.content.clone(),
                locked: f.locked,
            })
            .collect();
        out.sort_by_key(|f| f.id);
        out
    }
}

/// Sanitizes an uploaded file name like `Global.ReplaceInvalidCharsAndTruncate`: trims,
/// shortens to 170 characters (keeping a short extension) and replaces `\ / : * ? " < > |`
/// with `_`.
pub(crate) fn sanitize_title(raw: &str) -> String {
    let title = raw.trim();
    let chars: Vec<char> = title.chars().collect();
    let title: String = if chars.len() > MAX_TITLE {
        match chars.iter().rposition(|&c| c == '.') {
            Some(dot) if dot > MAX_TITLE - 20 => {
                let ext_len = chars.len() - dot;
                let keep = MAX_TITLE.saturating_sub(ext_len);
                chars[..keep].iter().chain(&chars[dot..]).collect()
            }
            _ => chars[..MAX_TITLE].iter().collect(),
        }
    } else {
        title.to_owned()
    };
    title
        .chars()
        .map(|c| match c {
            '\\' | '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            other => other,
        })
        .collect()
}

/// First of `name (1).ext`, `name (2).ext`, ... for which `exists` is false.
pub(crate) fn available_title(title: &str, exists: impl Fn(&str) -> bool) -> String {
    let (base, ext) = match title.rfind('.') {
        Some(dot) if dot > 0 => title.split_at(dot),
        _ => (title, ""),
    };
    (1u64..)
        .map(|n| format!("{base} ({n}){ext}"))
        .find(|candidate| !exists(candidate))
        .unwrap_or_else(|| title.to_owned())
}

/// `FileType` of an extension (lowercase, with dot).
pub(crate) fn file_type(ext: &str) -> u8 {
    match ext {
        ".pdf" => 10,
        ".docx" | ".doc" | ".odt" | ".rtf" | ".txt" | ".md" | ".html" | ".htm" => 7,
        ".xlsx" | ".xls" | ".ods" | ".csv" => 5,
        ".pptx" | ".ppt" | ".odp" => 6,
        ".png" | ".jpg" | ".jpeg" | ".gif" | ".svg" => 4,
        ".zip" | ".gz" | ".7z" | ".tar" => 1,
        ".json" | ".xml" => 7,
        _ => 0,
    }
}

/// Lowercase extension with the dot (`""` when there is none).
pub(crate) fn extension(title: &str) -> String {
    match title.rfind('.') {
        Some(dot) if dot > 0 => title[dot..].to_lowercase(),
        _ => String::new(),
    }
}

/// Human-readable size like the server's `FileSizeComment` (`"182.4 KB"`).
pub(crate) fn size_string(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_can_be_deleted_and_the_previous_one_returns() {
        let mut store = FileStore::default();
        let v1 = store.upload(1045, "r.csv", b"one".to_vec(), false, 1);
        let v2 = store.upload(1045, "r.csv", b"two".to_vec(), false, 2);
        assert_eq!((v1.id, v2.version), (v2.id, 2));
        let back = store.delete_versions(v1.id, &[2]).unwrap();
        assert_eq!((back.version, back.size), (1, 3));
        assert_eq!(store.snapshot()[0].content, b"one");
        assert_eq!(
            store.delete_versions(v1.id, &[1]),
            Err(VersionError::LastVersion)
        );
        assert_eq!(
            store.delete_versions(v1.id, &[7]),
            Err(VersionError::NoVersion)
        );
        assert_eq!(store.delete_versions(99, &[1]), Err(VersionError::NoFile));
    }

    #[test]
    fn a_locked_file_gets_a_second_file_with_the_same_title() {
        let mut store = FileStore::default();
        let first = store.upload(1045, "r.csv", b"one".to_vec(), false, 1);
        store.set_locked(first.id, true);
        let second = store.upload(1045, "r.csv", b"two".to_vec(), false, 2);
        assert_ne!(second.id, first.id);
        assert_eq!((second.title.as_str(), second.version), ("r.csv", 1));
    }

    use super::*;

    #[test]
    fn sanitizes_invalid_characters() {
        assert_eq!(
            sanitize_title(r#" a\b/c:d*e?f"g<h>i|j.pdf "#),
            "a_b_c_d_e_f_g_h_i_j.pdf"
        );
        assert_eq!(sanitize_title("audit-2025-03.pdf"), "audit-2025-03.pdf");
    }

    #[test]
    fn truncates_long_titles_keeping_extension() {
        let long = format!("{}.pdf", "x".repeat(300));
        let t = sanitize_title(&long);
        assert_eq!(t.chars().count(), 170);
        assert!(t.ends_with(".pdf"));
    }

    #[test]
    fn versions_and_renames() {
        let mut store = FileStore::default();
        let a = store.upload(1, "r.pdf", b"1".to_vec(), false, 10);
        let b = store.upload(1, "r.pdf", b"22".to_vec(), false, 20);
        assert_eq!((a.id, a.version), (b.id, 1));
        assert_eq!(b.version, 2);
        assert_eq!((b.size, b.created, b.updated), (2, 10, 20));
        let c = store.upload(1, "r.pdf", b"3".to_vec(), true, 30);
        assert_eq!(c.title, "r (1).pdf");
        assert_ne!(c.id, a.id);
        let d = store.upload(1, "r.pdf", b"4".to_vec(), true, 40);
        assert_eq!(d.title, "r (2).pdf");
        let other_folder = store.upload(2, "r.pdf", b"5".to_vec(), false, 50);
        assert_eq!(other_folder.version, 1);
        assert_ne!(other_folder.id, a.id);
        let snap = store.snapshot();
        assert_eq!(snap.len(), 4);
        assert_eq!(snap[0].content, b"22");
        assert_eq!(
            store.existing_titles(1, &["r.pdf".into(), "x.pdf".into(), "r (2).pdf".into()]),
            vec!["r.pdf".to_owned(), "r (2).pdf".to_owned()]
        );
        assert!(store.delete(a.id).is_some());
        assert!(store.delete(a.id).is_none());
        assert_eq!(store.list(1).len(), 2);
    }

    #[test]
    fn available_title_without_extension() {
        assert_eq!(available_title("notes", |t| t == "notes (1)"), "notes (2)");
        assert_eq!(available_title(".env", |_| false), ".env (1)");
    }

    #[test]
    fn sizes_and_types() {
        assert_eq!(size_string(512), "512 bytes");
        assert_eq!(size_string(186_781), "182.4 KB");
        assert_eq!(size_string(3 * 1024 * 1024), "3 MB");
        assert_eq!(file_type(&extension("Report.PDF")), 10);
        assert_eq!(extension("noext"), "");
        assert_eq!(file_type(".csv"), 5);
    }
}
