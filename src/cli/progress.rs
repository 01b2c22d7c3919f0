//! A progress indicator on stderr for long fetches, shown only when stderr is a terminal.

use std::io::IsTerminal;

use docspace_compliance_operator::cycle::{NoProgress, Progress};
use docspace_compliance_operator::docspace::Source;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::Duration;

/// A spinner with live counts.
struct Spinner(ProgressBar);

impl Progress for Spinner {
    fn fetched(&self, source: Source, events: u64, requests: u64) {
        self.0.set_message(format!(
            "{}: {events} events, {requests} requests",
            source.as_str()
        ));
        self.0.tick();
    }

    fn throttled(&self, wait: Duration) {
        let message = if wait.is_zero() {
            "the portal is rate-limiting (HTTP 429): sending fewer requests at once".to_owned()
        } else {
            format!(
                "the portal is rate-limiting (HTTP 429): waiting {:.1} s",
                wait.as_secs_f64()
            )
        };
        self.0.set_message(message);
        self.0.tick();
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// A spinner on a terminal, nothing otherwise.
pub fn for_stderr() -> Arc<dyn Progress> {
    if !std::io::stderr().is_terminal() {
        return Arc::new(NoProgress);
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} fetching {msg} ({elapsed})") {
        bar.set_style(style);
    }
    Arc::new(Spinner(bar))
}
