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

#[derive(Debug)]
struct FileEntry {
    meta: FileMeta,
    content: Vec<u8>,
    locked: bool,
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
    /// `create_new_if_exist`, which stores a new file titled `name (1).ext`, `(2)`, ...
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
        if let (Some(index), false) = (existing, create_new_if_exist) {
            let entry = &mut self.files[index];
            entry.meta.version += 1;
            entry.meta.size = size;
            entry.meta.updated = now;
            entry.content = content;
            return entry.meta.clone();
        }
        let title = if existing.is_some() {
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
        });
        meta
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
