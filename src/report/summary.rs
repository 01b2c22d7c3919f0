//! Totals gathered while events stream past: bounded by the number of distinct users, days and
//! actions, never by the number of events.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::analysis::{Analysis, AnalysisOptions};
use super::view::EventView;
use crate::docspace::{AuditLifetime, Event, PagingStats, Source};

/// Totals of a previous report, for the change against the previous period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousTotals {
    /// Events reported.
    pub events: u64,
    /// Events by category id.
    pub by_category: BTreeMap<String, u64>,
}

/// What the cycle learnt while reading, for the report to state: how each source was read,
/// the portal's retention and plan, the previous report's totals, and when this one is made.
#[derive(Debug, Clone)]
pub struct FetchFacts {
    /// Paging counters of each source read.
    pub paging: Vec<(Source, PagingStats)>,
    /// The portal's retention, if it could be read.
    pub retention: Option<AuditLifetime>,
    /// Whether the plan includes the audit trail (`None`: could not be checked).
    pub audit_plan: Option<bool>,
    /// The previous report's totals.
    pub previous: Option<PreviousTotals>,
    /// When the report is generated, for the retention check.
    pub generated_at: DateTime<Utc>,
}

/// Counts for the summary sections of a report; only the report module reads it.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    /// Events fetched per source, before filtering.
    pub fetched: BTreeMap<Source, u64>,
    /// Paging counters per source.
    pub paging: BTreeMap<Source, PagingStats>,
    /// Events in the report per source.
    pub reported: BTreeMap<Source, u64>,
    /// Events in the report by action type name.
    pub by_action_type: BTreeMap<String, u64>,
    /// Events in the report by action name.
    pub by_action: BTreeMap<String, u64>,
    /// Events in the report by user label.
    pub by_user: HashMap<String, u64>,
    /// Events in the report by local calendar day.
    pub by_day: BTreeMap<NaiveDate, u64>,
    /// Earliest event in the report.
    pub first: Option<DateTime<Utc>>,
    /// Latest event in the report.
    pub last: Option<DateTime<Utc>>,
    /// The analysis sections' data.
    pub analysis: Analysis,
    /// The portal's retention, if it could be read.
    pub retention: Option<AuditLifetime>,
    /// Whether the plan includes the audit trail (`None`: could not be checked).
    pub audit_plan: Option<bool>,
    /// The previous report's totals.
    pub previous: Option<PreviousTotals>,
    /// When the report was generated, for the retention check.
    pub generated_at: Option<DateTime<Utc>>,
}

impl Summary {
    /// An empty summary.
    pub fn new(options: AnalysisOptions) -> Self {
        Self {
            fetched: BTreeMap::new(),
            paging: BTreeMap::new(),
            reported: BTreeMap::new(),
            by_action_type: BTreeMap::new(),
            by_action: BTreeMap::new(),
            by_user: HashMap::new(),
            by_day: BTreeMap::new(),
            first: None,
            last: None,
            analysis: Analysis::new(options),
            retention: None,
            audit_plan: None,
            previous: None,
            generated_at: None,
        }
    }

    /// Takes in what the cycle learnt while reading.
    pub fn learn(&mut self, facts: FetchFacts) {
        self.paging = facts.paging.into_iter().collect();
        self.retention = facts.retention;
        self.audit_plan = facts.audit_plan;
        self.previous = facts.previous;
        self.generated_at = Some(facts.generated_at);
    }

    /// Events in the report, all sources.
    pub fn total_reported(&self) -> u64 {
        self.reported.values().sum()
    }

    /// Events fetched, all sources.
    pub fn total_fetched(&self) -> u64 {
        self.fetched.values().sum()
    }

    /// Counts one fetched event (before filtering).
    pub fn count_fetched(&mut self, source: Source, n: u64) {
        *self.fetched.entry(source).or_default() += n;
    }

    /// Counts one event that made it into the report.
    pub fn count_reported(&mut self, event: &Event, view: &EventView<'_>, time_zone: Tz) {
        *self.reported.entry(event.source).or_default() += 1;
        let action_type = match (event.source, view.action_type) {
            (_, Some(name)) => name,
            (Source::Login, None) => "Login",
            (Source::Audit, None) => "None",
        };
        bump(&mut self.by_action_type, action_type);
        bump(&mut self.by_action, &view.action_name);
        match self.by_user.get_mut(view.user_label()) {
            Some(n) => *n += 1,
            None => {
                self.by_user.insert(view.user_label().to_owned(), 1);
            }
        }
        *self
            .by_day
            .entry(event.date.with_timezone(&time_zone).date_naive())
            .or_default() += 1;
        self.analysis.record(event, view);
        self.first = Some(self.first.map_or(event.date, |f| f.min(event.date)));
        self.last = Some(self.last.map_or(event.date, |l| l.max(event.date)));
    }

    /// Users by descending count, then name.
    pub fn users_by_count(&self) -> Vec<(&str, u64)> {
        let mut users: Vec<(&str, u64)> =
            self.by_user.iter().map(|(u, n)| (u.as_str(), *n)).collect();
        users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        users
    }

    /// A map's entries by descending count, then key.
    pub fn by_count(map: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
        let mut rows: Vec<(&str, u64)> = map.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        rows
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}
