//! Which manifest files to verify: the files named, and every `*.manifest.json` in the
//! directories named, each once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::integrity::error::IntegrityError;
use crate::integrity::manifest::stem_of_manifest_name;

/// The manifest files among `paths`, directories expanded (sorted by name), duplicates dropped.
pub(super) fn manifest_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, IntegrityError> {
    if paths.is_empty() {
        return Err(IntegrityError::NothingToVerify);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|source| IntegrityError::Read {
            path: path.clone(),
            source,
        })?;
        let found = if metadata.is_dir() {
            in_directory(path)?
        } else if is_manifest_name(path) {
            vec![path.clone()]
        } else {
            return Err(IntegrityError::NotAManifest(path.clone()));
        };
        for path in found {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if seen.insert(key) {
                out.push(path);
            }
        }
    }
    Ok(out)
}

fn in_directory(dir: &Path) -> Result<Vec<PathBuf>, IntegrityError> {
    let read_error = |source| IntegrityError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if is_manifest_name(&path) && path.is_file() {
            found.push(path);
        }
    }
    if found.is_empty() {
        return Err(IntegrityError::NoManifests(dir.to_path_buf()));
    }
    found.sort();
    Ok(found)
}

fn is_manifest_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .and_then(stem_of_manifest_name)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_directories_and_drops_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.manifest.json",
            "a.manifest.json",
            "a.csv",
            "a.manifest.sig",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let a = dir.path().join("a.manifest.json");
        let b = dir.path().join("b.manifest.json");
        let found = manifest_paths(&[a.clone(), dir.path().to_path_buf()]).unwrap();
        assert_eq!(found, vec![a, b]);
    }

    #[test]
    fn says_what_is_wrong_with_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        std::fs::write(&csv, "").unwrap();
        let error = manifest_paths(&[csv]).unwrap_err().to_string();
        assert!(error.contains("a.csv: not a manifest"), "{error}");
        let error = manifest_paths(&[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(error.contains("holds no *.manifest.json files"), "{error}");
        let missing = dir.path().join("gone.manifest.json");
        let error = manifest_paths(&[missing]).unwrap_err().to_string();
        assert!(
            error.contains("gone.manifest.json: cannot read it"),
            "{error}"
        );
        assert!(matches!(
            manifest_paths(&[]),
            Err(IntegrityError::NothingToVerify)
        ));
    }
}
