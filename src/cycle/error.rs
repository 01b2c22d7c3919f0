//! Why a run failed, naming the step.

use std::fmt;

use crate::docspace::DocSpaceError;
use crate::schedule::ScheduleError;

/// The step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Building the client.
    Connect,
    /// Reading events.
    Fetch,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Fetch => "fetch",
        })
    }
}

/// A failed run. Nothing was left uploaded unless [`CycleError::Upload`] says a rollback failed.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// The period could not be computed.
    #[error("plan failed: {0}")]
    Plan(#[source] ScheduleError),
    /// DocSpace failed while connecting or fetching; nothing was uploaded.
    #[error("{0} failed, nothing was uploaded: {1}")]
    Fetch(Step, #[source] DocSpaceError),
    /// Rendering failed; nothing was uploaded.
    #[error("render failed at {0}, nothing was uploaded: {1}")]
    Render(String, #[source] std::io::Error),
    /// The period has not ended yet: a report of it would be incomplete.
    #[error(
        "the period has not ended yet (it ends at {ends_at}); a report of it now would miss what \
         happens until then: run it after that, or choose an earlier --at"
    )]
    PeriodNotOver {
        /// The period's end.
        ends_at: String,
    },
    /// The run took longer than it may (`spec.activeDeadlineSeconds`); it keeps nothing.
    #[error(
        "the run exceeded its time limit of {seconds} s while {stage}{rollback}; the portal is slow \
         or the period very busy: raise spec.activeDeadlineSeconds (report --timeout on the command \
         line) or shorten the period"
    )]
    DeadlineExceeded {
        /// The limit in seconds.
        seconds: u64,
        /// What the run was doing: `fetching and rendering` or `uploading`.
        stage: &'static str,
        /// What happened to the files uploaded before the limit.
        rollback: String,
    },
    /// An upload failed.
    #[error("upload of {file_name} failed: {source}{rollback}")]
    Upload {
        /// The file that failed.
        file_name: String,
        /// Why.
        source: DocSpaceError,
        /// What happened to the files uploaded before it.
        rollback: String,
    },
}

impl CycleError {
    /// A CamelCase reason for a status condition.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Plan(_) => "InvalidSpec",
            Self::Fetch(_, e) => e.reason(),
            Self::Render(..) => "RenderFailed",
            Self::DeadlineExceeded { .. } => "DeadlineExceeded",
            Self::PeriodNotOver { .. } => "InvalidSpec",
            Self::Upload { source, .. } => match source.reason() {
                r @ ("Unauthorized" | "Forbidden" | "PaymentRequired") => r,
                _ => "UploadFailed",
            },
        }
    }
}
