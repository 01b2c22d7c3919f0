//! The operator's notion of "now". Production uses the system clock; tests run the operator
//! with a clock file they can move, so schedules (due, missed, deadline passed) are tested
//! without waiting for real months.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use futures::Stream;

/// Tells the current instant.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock set by a file: the file holds an RFC 3339 instant, and time runs on from it at the
/// system clock's pace since the file was written (so backoff timers and retry times agree).
/// A missing or unreadable file means the system clock.
pub struct FileClock {
    path: PathBuf,
}

impl FileClock {
    /// A clock backed by `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Yields once whenever the file changes (checked every 100 ms), so that every resource is
    /// re-evaluated when a test moves the clock.
    pub fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        let path = self.path.clone();
        futures::stream::unfold(None::<SystemTime>, move |last| {
            let path = path.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                    if modified.is_some() && modified != last {
                        return Some(((), modified));
                    }
                }
            }
        })
    }
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        let set_at = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .and_then(|elapsed| chrono::TimeDelta::from_std(elapsed).ok())
            .unwrap_or_default();
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| DateTime::parse_from_rfc3339(text.trim()).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc) + set_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_clock_reads_the_file_and_falls_back_to_the_system() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        let clock = FileClock::new(path.clone());
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
        std::fs::write(&path, "2025-04-01T03:00:00Z\n").unwrap();
        let set = DateTime::parse_from_rfc3339("2025-04-01T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let first = clock.now();
        assert!(first >= set && (first - set).num_seconds() < 5, "{first}");
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let later = clock.now();
        assert!(
            (later - set).num_seconds() >= 60 && (later - set).num_seconds() < 65,
            "time runs on from the instant the file was written: {later}"
        );
    }
}
