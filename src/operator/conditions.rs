//! The conditions a report shows, as a pure function of what the operator sees now: the spec's
//! validity, `suspend`, the allow-list, the Secrets, the last run's outcome, a run in flight and
//! a pending retry. Every reconcile recomputes them, so they always describe the current spec
//! and the world, not the last run alone.
//!
//! The types follow the kstatus convention: `Ready` is always present; `Reconciling` (a run in
//! flight or a retry pending) and `Stalled` (nothing happens until a user changes something)
//! are present only while true.

use chrono::{DateTime, SubsecRound, Utc};

use crate::spec::{Condition, ConditionStatus};

/// Condition type: the last run succeeded and nothing blocks the next one.
pub const READY: &str = "Ready";
/// Condition type: a run is in flight, or a failed run will be retried.
pub const RECONCILING: &str = "Reconciling";
/// Condition type: the report cannot progress until a user changes its spec, its Secrets or
/// the operator's allow-list.
pub const STALLED: &str = "Stalled";
/// Condition type: the API key expires soon (or has expired); present only while true.
pub const KEY_EXPIRING: &str = "KeyExpiring";

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Why `Ready` has its status (also the reason of `Stalled` and of run failures).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ReadyReason {
            $($(#[$doc])* $name,)*
        }

        impl ReadyReason {
            /// The CamelCase reason written to the condition.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            /// The reason named `text`, if it is one.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $(stringify!($name) => Some(Self::$name),)*
                    _ => None,
                }
            }
        }
    };
}

reasons! {
    /// The last run succeeded.
    Succeeded,
    /// The report has not run yet and waits for its first scheduled instant.
    Scheduled,
    /// `spec.suspend` is true.
    Suspended,
    /// The spec cannot be run as written.
    InvalidSpec,
    /// `spec.portal.url` is not among the operator's allowed portals.
    PortalNotAllowed,
    /// A Secret the report names does not exist (or is not visible to the operator).
    SecretNotFound,
    /// A Secret exists but lacks the named key, or the key is empty.
    SecretKeyMissing,
    /// The API server refused to give the operator a Secret.
    SecretUnreadable,
    /// The signing or privacy key in a Secret is not usable.
    KeyUnusable,
    /// The portal rejected the API key (401).
    Unauthorized,
    /// The API key lacks a permission the run needs (403).
    Forbidden,
    /// The portal's plan does not allow the audit trail, or its payment lapsed (402).
    PaymentRequired,
    /// The portal does not know a resource the run needs (404), e.g. the folder.
    NotFound,
    /// The portal kept answering 429.
    RateLimited,
    /// The portal could not be reached or answered 5xx.
    PortalUnreachable,
    /// The portal answered something the client cannot use.
    PortalError,
    /// The portal redirected; the client does not follow (fix `spec.portal.url`).
    PortalRedirected,
    /// Rendering the report failed.
    RenderFailed,
    /// Fetching and rendering took longer than the run's time limit.
    DeadlineExceeded,
    /// Uploading the report failed.
    UploadFailed,
}

impl ReadyReason {
    /// The reason of a failed run, from the run's own reason text; unknown texts are
    /// `PortalError`, the most general failure.
    pub fn of_failure(text: &str) -> Self {
        Self::parse(text).unwrap_or(Self::PortalError)
    }

    /// Whether a report with this outcome cannot progress until a user changes something
    /// (the spec, a Secret, the API key's rights, the portal's plan or the allow-list).
    pub fn stalls(self) -> bool {
        matches!(
            self,
            Self::InvalidSpec
                | Self::PortalNotAllowed
                | Self::SecretNotFound
                | Self::SecretKeyMissing
                | Self::SecretUnreadable
                | Self::KeyUnusable
                | Self::Unauthorized
                | Self::Forbidden
                | Self::PaymentRequired
                | Self::PortalRedirected
        )
    }
}

/// Something that stops the report before any run: found by looking, not by running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// `InvalidSpec`, `PortalNotAllowed` or `SecretNotFound`.
    pub reason: ReadyReason,
    /// What is wrong and what to change.
    pub message: String,
}

/// How the last run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    /// `Succeeded` or why it failed.
    pub reason: ReadyReason,
    /// Its summary or its error.
    pub message: String,
}

/// A failed run that will be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingRetry {
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt starts.
    pub at: DateTime<Utc>,
}

/// What the operator sees of one report right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// The generation the conditions describe.
    pub generation: Option<i64>,
    /// What stops every run until a user changes something, if anything.
    pub blocked: Option<Blocked>,
    /// `spec.suspend`.
    pub suspended: bool,
    /// The scheduled instant of the run in flight.
    pub running: Option<DateTime<Utc>>,
    /// The last run's outcome; `None` before the first run.
    pub last_run: Option<LastRun>,
    /// A pending retry of a failed run.
    pub retry: Option<PendingRetry>,
    /// The next scheduled instant.
    pub next_run: Option<DateTime<Utc>>,
    /// A due run waits until this instant for late audit writes (`spec.settleSeconds`).
    pub settling_until: Option<DateTime<Utc>>,
    /// When the API key expires, as the portal said on the last run.
    pub key_expires_at: Option<DateTime<Utc>>,
}

/// Why `Reconciling` is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcilingReason {
    /// A run is in flight.
    Running,
    /// A run failed and will be tried again.
    RetryScheduled,
    /// A run is due and waits for late audit writes of its period (`spec.settleSeconds`).
    Settling,
}

impl ReconcilingReason {
    /// The CamelCase reason written to the condition.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::RetryScheduled => "RetryScheduled",
            Self::Settling => "Settling",
        }
    }
}

/// A condition before its transition time is known.
struct Desired {
    type_: &'static str,
    status: ConditionStatus,
    reason: &'static str,
    message: String,
}

fn ready_condition(observation: &Observation) -> Desired {
    let (status, reason, message) = if let Some(blocked) = &observation.blocked {
        (
            ConditionStatus::False,
            blocked.reason,
            blocked.message.clone(),
        )
    } else if observation.suspended {
        (
            ConditionStatus::False,
            ReadyReason::Suspended,
            "runs are suspended (spec.suspend)".to_owned(),
        )
    } else {
        match &observation.last_run {
            Some(last) if last.reason == ReadyReason::Succeeded => {
                (ConditionStatus::True, last.reason, last.message.clone())
            }
            Some(last) => (ConditionStatus::False, last.reason, last.message.clone()),
            None => (
                ConditionStatus::False,
                ReadyReason::Scheduled,
                match observation.next_run {
                    Some(next) => format!("waiting for the first run at {}", next.to_rfc3339()),
                    None => "the schedule has no future instant".to_owned(),
                },
            ),
        }
    };
    Desired {
        type_: READY,
        status,
        reason: reason.as_str(),
        message,
    }
}

/// `Stalled` while a user must change something: a blocker, or (with no run in flight) a
/// last run that failed for a reason retrying alone cannot fix.
fn stalled_condition(observation: &Observation) -> Option<Desired> {
    if let Some(blocked) = &observation.blocked {
        return Some(Desired {
            type_: STALLED,
            status: ConditionStatus::True,
            reason: blocked.reason.as_str(),
            message: blocked.message.clone(),
        });
    }
    if observation.suspended || observation.running.is_some() {
        return None;
    }
    let last = observation.last_run.as_ref()?;
    last.reason.stalls().then(|| Desired {
        type_: STALLED,
        status: ConditionStatus::True,
        reason: last.reason.as_str(),
        message: format!(
            "{}; fix it and the report runs again at once (until then it is retried with backoff)",
            last.message
        ),
    })
}

/// `Reconciling` while a run is in flight, or while a failure that retrying can fix waits for
/// its retry.
fn reconciling_condition(observation: &Observation) -> Option<Desired> {
    if observation.blocked.is_some() || observation.suspended {
        return None;
    }
    if let Some(scheduled) = observation.running {
        return Some(Desired {
            type_: RECONCILING,
            status: ConditionStatus::True,
            reason: ReconcilingReason::Running.as_str(),
            message: format!("running the report scheduled at {}", scheduled.to_rfc3339()),
        });
    }
    if let Some(until) = observation.settling_until {
        return Some(Desired {
            type_: RECONCILING,
            status: ConditionStatus::True,
            reason: ReconcilingReason::Settling.as_str(),
            message: format!(
                "a run is due; waiting until {} for late audit writes (spec.settleSeconds)",
                until.to_rfc3339()
            ),
        });
    }
    let retry = observation.retry?;
    let last = observation.last_run.as_ref()?;
    (!last.reason.stalls() && last.reason != ReadyReason::Succeeded).then(|| Desired {
        type_: RECONCILING,
        status: ConditionStatus::True,
        reason: ReconcilingReason::RetryScheduled.as_str(),
        message: format!(
            "attempt {} failed ({}); retrying at {}",
            retry.attempts,
            last.reason.as_str(),
            retry.at.to_rfc3339()
        ),
    })
}

/// `KeyExpiring` from [`KEY_EXPIRY_WARNING`](crate::cycle::KEY_EXPIRY_WARNING) before the key's
/// expiry on.
fn key_expiring_condition(observation: &Observation, now: DateTime<Utc>) -> Option<Desired> {
    let expires = observation.key_expires_at?;
    let message = crate::cycle::key_expiry_warning(Some(expires), now)?;
    Some(Desired {
        type_: KEY_EXPIRING,
        status: ConditionStatus::True,
        reason: if expires <= now {
            "KeyExpired"
        } else {
            "KeyExpiresSoon"
        },
        message,
    })
}

/// When `KeyExpiring` changes next on its own (the warning starts, or the key expires), so
/// that the report is looked at again then rather than at its next run, which may be a month
/// away.
pub fn next_key_change(
    key_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let expires = key_expires_at?;
    let warning = expires - crate::cycle::KEY_EXPIRY_WARNING;
    [warning, expires].into_iter().find(|at| *at > now)
}

/// The conditions `observation` calls for. A condition keeps its `lastTransitionTime` from
/// `previous` while its status stays the same; otherwise it moves to `now`.
pub fn desired_conditions(
    observation: &Observation,
    previous: &[Condition],
    now: DateTime<Utc>,
) -> Vec<Condition> {
    [
        Some(ready_condition(observation)),
        reconciling_condition(observation),
        stalled_condition(observation),
        key_expiring_condition(observation, now),
    ]
    .into_iter()
    .flatten()
    .map(|desired| {
        let last_transition_time = previous
            .iter()
            .find(|c| c.type_ == desired.type_ && c.status == desired.status)
            .map_or_else(|| now.trunc_subsecs(0), |c| c.last_transition_time);
        Condition {
            type_: desired.type_.to_owned(),
            status: desired.status,
            reason: desired.reason.to_owned(),
            message: desired.message,
            last_transition_time,
            observed_generation: observation.generation,
        }
    })
    .collect()
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn summary(conditions: &[Condition]) -> Vec<(String, ConditionStatus, String)> {
        conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status, c.reason.clone()))
            .collect()
    }

    fn row(
        type_: &str,
        status: ConditionStatus,
        reason: &str,
    ) -> (String, ConditionStatus, String) {
        (type_.to_owned(), status, reason.to_owned())
    }

    fn succeeded() -> Option<LastRun> {
        Some(LastRun {
            reason: ReadyReason::Succeeded,
            message: "42 events".to_owned(),
        })
    }

    fn failed(reason: ReadyReason) -> Option<LastRun> {
        Some(LastRun {
            reason,
            message: "it failed".to_owned(),
        })
    }

    const NOW: &str = "2025-04-01T03:00:00Z";
    use ConditionStatus::{False, True};

    #[test]
    fn a_new_report_waits_for_its_first_run() {
        let observation = Observation {
            generation: Some(1),
            next_run: Some(at("2025-05-01T03:00:00Z")),
            ..Observation::default()
        };
        let conditions = desired_conditions(&observation, &[], at(NOW));
        assert_eq!(summary(&conditions), [row(READY, False, "Scheduled")]);
        assert!(conditions[0].message.contains("2025-05-01T03:00:00+00:00"));
        assert_eq!(conditions[0].observed_generation, Some(1));
    }

    #[test]
    fn blockers_stall_whatever_the_last_run_was() {
        for reason in [
            ReadyReason::InvalidSpec,
            ReadyReason::PortalNotAllowed,
            ReadyReason::SecretNotFound,
        ] {
            let observation = Observation {
                blocked: Some(Blocked {
                    reason,
                    message: "fix me".to_owned(),
                }),
                last_run: succeeded(),
                suspended: true,
                ..Observation::default()
            };
            let conditions = desired_conditions(&observation, &[], at(NOW));
            assert_eq!(
                summary(&conditions),
                [
                    row(READY, False, reason.as_str()),
                    row(STALLED, True, reason.as_str())
                ]
            );
            assert!(conditions.iter().all(|c| c.message == "fix me"));
        }
    }

    #[test]
    fn suspension_shows_until_lifted_then_the_last_outcome_returns() {
        let mut observation = Observation {
            suspended: true,
            last_run: succeeded(),
            ..Observation::default()
        };
        let suspended = desired_conditions(&observation, &[], at(NOW));
        assert_eq!(summary(&suspended), [row(READY, False, "Suspended")]);
        observation.suspended = false;
        let later = at("2025-04-02T00:00:00Z");
        let resumed = desired_conditions(&observation, &suspended, later);
        assert_eq!(summary(&resumed), [row(READY, True, "Succeeded")]);
        assert_eq!(resumed[0].last_transition_time, later);
        assert_eq!(resumed[0].message, "42 events");
    }

    #[test]
    fn a_run_in_flight_is_reconciling_and_keeps_ready() {
        let observation = Observation {
            running: Some(at(NOW)),
            last_run: failed(ReadyReason::Unauthorized),
            ..Observation::default()
        };
        let conditions = desired_conditions(&observation, &[], at(NOW));
        assert_eq!(
            summary(&conditions),
            [
                row(READY, False, "Unauthorized"),
                row(RECONCILING, True, "Running")
            ]
        );
    }

    #[test]
    fn a_rejected_key_stalls_and_a_server_error_retries() {
        let retry = Some(PendingRetry {
            attempts: 2,
            at: at("2025-04-01T03:00:20Z"),
        });
        let rejected = Observation {
            last_run: failed(ReadyReason::Unauthorized),
            retry,
            ..Observation::default()
        };
        assert_eq!(
            summary(&desired_conditions(&rejected, &[], at(NOW))),
            [
                row(READY, False, "Unauthorized"),
                row(STALLED, True, "Unauthorized")
            ]
        );
        let flaky = Observation {
            last_run: failed(ReadyReason::PortalUnreachable),
            retry,
            ..Observation::default()
        };
        let conditions = desired_conditions(&flaky, &[], at(NOW));
        assert_eq!(
            summary(&conditions),
            [
                row(READY, False, "PortalUnreachable"),
                row(RECONCILING, True, "RetryScheduled")
            ]
        );
        assert!(conditions[1].message.contains("attempt 2"));
        assert!(conditions[1].message.contains("2025-04-01T03:00:20+00:00"));
    }

    #[test]
    fn transition_time_moves_only_when_the_status_changes() {
        let t0 = at("2025-01-01T00:00:00.5Z");
        let first = Observation {
            last_run: failed(ReadyReason::PortalUnreachable),
            ..Observation::default()
        };
        let c0 = desired_conditions(&first, &[], t0);
        assert_eq!(c0[0].last_transition_time, at("2025-01-01T00:00:00Z"));
        let second = Observation {
            generation: Some(2),
            last_run: failed(ReadyReason::Unauthorized),
            ..Observation::default()
        };
        let c1 = desired_conditions(&second, &c0, at("2025-01-02T00:00:00Z"));
        assert_eq!(c1[0].reason, "Unauthorized");
        assert_eq!(c1[0].last_transition_time, at("2025-01-01T00:00:00Z"));
        assert_eq!(c1[0].observed_generation, Some(2));
        let third = Observation {
            last_run: succeeded(),
            ..Observation::default()
        };
        let c2 = desired_conditions(&third, &c1, at("2025-01-03T00:00:00Z"));
        assert_eq!(c2[0].last_transition_time, at("2025-01-03T00:00:00Z"));
        assert_eq!(c2.len(), 1, "Stalled is gone once the run succeeded");
    }

    #[test]
    fn a_key_close_to_expiry_is_flagged() {
        let observation = |days: i64| Observation {
            last_run: succeeded(),
            key_expires_at: Some(at(NOW) + chrono::TimeDelta::days(days)),
            ..Observation::default()
        };
        assert_eq!(
            summary(&desired_conditions(&observation(30), &[], at(NOW))),
            [row(READY, True, "Succeeded")]
        );
        let soon = desired_conditions(&observation(5), &[], at(NOW));
        assert_eq!(soon[1].type_, KEY_EXPIRING);
        assert_eq!(
            (soon[1].status, soon[1].reason.as_str()),
            (True, "KeyExpiresSoon")
        );
        assert!(soon[1].message.contains("5 days"), "{}", soon[1].message);
        let gone = desired_conditions(&observation(-1), &[], at(NOW));
        assert_eq!(gone[1].reason, "KeyExpired");
    }

    #[test]
    fn the_key_warning_wakes_the_report_when_it_starts_and_when_the_key_expires() {
        let now = at(NOW);
        let expires = now + chrono::TimeDelta::days(30);
        assert_eq!(
            next_key_change(Some(expires), now),
            Some(now + chrono::TimeDelta::days(16))
        );
        let inside = now + chrono::TimeDelta::days(20);
        assert_eq!(next_key_change(Some(expires), inside), Some(expires));
        assert_eq!(next_key_change(Some(expires), expires), None);
        assert_eq!(next_key_change(None, now), None);
    }

    #[test]
    fn reasons_round_trip_and_unknown_failures_are_portal_errors() {
        for reason in [
            ReadyReason::Succeeded,
            ReadyReason::SecretKeyMissing,
            ReadyReason::UploadFailed,
        ] {
            assert_eq!(ReadyReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(
            ReadyReason::of_failure("Gremlins"),
            ReadyReason::PortalError
        );
        assert!(ReadyReason::Forbidden.stalls() && !ReadyReason::RateLimited.stalls());
    }
}
