//! Where a run keeps its rendered files until they are uploaded: a private directory (0700)
//! locked for as long as the run lives. A run that was killed leaves its spool behind unlocked,
//! and the next run in the same place removes it.

use std::fs::{DirBuilder, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Names of spool directories start with this.
pub const PREFIX: &str = ".docspace-report-";
/// The lock file inside a spool.
const LOCK: &str = ".lock";
/// A spool without a lock file this old is a leftover too (a run killed while creating it).
const UNLOCKED_GRACE: Duration = Duration::from_secs(600);

/// A run's spool; removed when dropped.
#[derive(Debug)]
pub struct Spool {
    dir: tempfile::TempDir,
    /// Held (locked) until the run ends.
    _lock: File,
}

impl Spool {
    /// Creates `parent` if needed (0700), removes the spools of runs that no longer live, and
    /// creates and locks a new one.
    pub fn create(parent: &Path) -> io::Result<Self> {
        create_private_dir(parent)?;
        let removed = sweep(parent);
        if removed > 0 {
            tracing::info!(parent = %parent.display(), removed, "removed the spools of runs that were killed");
        }
        let dir = tempfile::Builder::new().prefix(PREFIX).tempdir_in(parent)?;
        let lock = File::create(dir.path().join(LOCK))?;
        lock.try_lock().map_err(io::Error::other)?;
        Ok(Self { dir, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Creates `dir` and its missing parents readable by the owner only (existing ones are left as
/// they are).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes `file` readable and writable by the owner only.
pub fn make_private(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Removes the spools under `parent` whose lock nobody holds; returns how many.
pub fn sweep(parent: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let stale: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|dir| is_abandoned(dir))
        .collect();
    stale
        .iter()
        .filter(|dir| std::fs::remove_dir_all(dir).is_ok())
        .count()
}

fn is_abandoned(dir: &Path) -> bool {
    match File::open(dir.join(LOCK)) {
        // The lock is released when its run ends, however it ends.
        Ok(lock) => lock.try_lock().is_ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age > UNLOCKED_GRACE),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_spool_stays_and_a_killed_runs_spool_goes() {
        let parent = tempfile::tempdir().unwrap();
        let live = Spool::create(parent.path()).unwrap();
        // A killed run: its spool is there, its lock file free.
        let dead = parent.path().join(format!("{PREFIX}dead"));
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK), "").unwrap();
        std::fs::write(dead.join("report.csv"), "personal data").unwrap();
        let unrelated = parent.path().join("keep-me");
        std::fs::create_dir(&unrelated).unwrap();
        let next = Spool::create(parent.path()).unwrap();
        assert!(!dead.exists(), "the killed run's spool is removed");
        assert!(live.path().exists() && next.path().exists() && unrelated.exists());
        let path = live.path().to_owned();
        drop(live);
        assert!(!path.exists(), "a spool is removed when its run ends");
    }

    #[cfg(unix)]
    #[test]
    fn new_directories_and_kept_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("a/b");
        create_private_dir(&out).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o700);
        let file = out.join("report.csv");
        std::fs::write(&file, "x").unwrap();
        make_private(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }
}
