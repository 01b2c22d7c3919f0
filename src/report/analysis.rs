//! What the analysis sections need, gathered while events stream past. Memory grows with the
//! number of users, IPs, targets and hours, never with the number of events: lists of notable
//! events keep only the latest [`AnalysisOptions::list_limit`] and count the rest.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use chrono::{DateTime, Datelike, DurationRound, NaiveTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

use super::view::EventView;
use crate::docspace::{Event, Source};
use crate::spec::{BusinessHours, Weekday};

/// Working hours in a time zone.
#[derive(Debug, Clone)]
pub struct BusinessWindow {
    days: [bool; 7],
    start: NaiveTime,
    end: Option<NaiveTime>,
    time_zone: Tz,
    label: String,
}

/// Why working hours cannot be used; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BusinessHoursError {
    /// The field, e.g. `spec.report.businessHours.start`.
    pub field: &'static str,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl BusinessWindow {
    /// From the spec; `time_zone` applies unless the spec names its own.
    pub fn new(spec: &BusinessHours, time_zone: Tz) -> Result<Self, BusinessHoursError> {
        let problem = |field: &'static str, message: String| BusinessHoursError { field, message };
        let tz = match &spec.time_zone {
            Some(name) => name.parse().map_err(|_| {
                problem(
                    "spec.report.businessHours.timeZone",
                    format!("unknown time zone {name:?}; use an IANA name such as Europe/Berlin"),
                )
            })?,
            None => time_zone,
        };
        if spec.days.is_empty() {
            return Err(problem(
                "spec.report.businessHours.days",
                "list at least one working day, e.g. [Mon, Tue, Wed, Thu, Fri]".to_owned(),
            ));
        }
        let mut days = [false; 7];
        for day in &spec.days {
            let index = match day {
                Weekday::Mon => 0,
                Weekday::Tue => 1,
                Weekday::Wed => 2,
                Weekday::Thu => 3,
                Weekday::Fri => 4,
                Weekday::Sat => 5,
                Weekday::Sun => 6,
            };
            days[index] = true;
        }
        let parse = |field: &'static str, t: &str| {
            NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| problem(field, format!("{t:?} is not a time; use HH:MM, e.g. 08:00")))
        };
        let start = parse("spec.report.businessHours.start", &spec.start)?;
        let end = match spec.end.as_str() {
            "24:00" => None,
            end => Some(parse("spec.report.businessHours.end", end)?),
        };
        if end.is_some_and(|end| end <= start) {
            return Err(problem(
                "spec.report.businessHours.end",
                format!(
                    "{} is not after start {}; working hours end on the day they start (24:00 at the latest)",
                    spec.end, spec.start
                ),
            ));
        }
        let names: Vec<String> = spec.days.iter().map(|d| format!("{d:?}")).collect();
        Ok(Self {
            days,
            start,
            end,
            time_zone: tz,
            label: format!("{} {}-{} ({tz})", names.join(","), spec.start, spec.end),
        })
    }

    /// Whether `instant` falls in working hours.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        let local = instant.with_timezone(&self.time_zone);
        let day = local.weekday().num_days_from_monday() as usize;
        let time = local.time();
        self.days[day] && time >= self.start && self.end.is_none_or(|end| time < end)
    }

    /// E.g. `Mon,Tue,Wed,Thu,Fri 08:00-18:00 (Europe/Berlin)`.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// Settings of the analysis.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    /// The report's time zone (days and hours of day).
    pub time_zone: Tz,
    /// Working hours.
    pub business_hours: BusinessWindow,
    /// Downloads by one user in one clock hour above this are a mass download.
    pub mass_download_per_hour: u32,
    /// Notable events listed per section; the rest are counted.
    pub list_limit: usize,
}

/// One event as listed in a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    /// When.
    pub date: DateTime<Utc>,
    /// Source and id, for ordering and lookup in the appendix.
    pub key: (Source, i64),
    /// Who.
    pub user: String,
    /// MessageAction name.
    pub action: String,
    /// Targets, comma-separated.
    pub target: String,
    /// Context.
    pub context: String,
    /// Client IP (after privacy).
    pub ip: String,
    /// The server's description (after privacy).
    pub detail: String,
}

impl Ord for Noted {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.date, self.key.0 as u8, self.key.1).cmp(&(other.date, other.key.0 as u8, other.key.1))
    }
}

impl PartialOrd for Noted {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The latest `limit` events of a kind, and how many there were in all.
///
/// Events mostly arrive newest first, so once the list is full an older event is dismissed
/// after one comparison, without building its entry.
#[derive(Debug, Clone, Default)]
pub struct NotedList {
    heap: BinaryHeap<Reverse<Noted>>,
    /// Events of this kind in the report.
    pub total: u64,
}

impl NotedList {
    fn offer(&mut self, event: &Event, limit: usize, build: impl FnOnce() -> Noted) {
        self.total += 1;
        if self.heap.len() < limit {
            self.heap.push(Reverse(build()));
            return;
        }
        let key = (event.date, event.source as u8, event.id);
        let newer = self
            .heap
            .peek()
            .is_some_and(|Reverse(oldest)| key > (oldest.date, oldest.key.0 as u8, oldest.key.1));
        if newer {
            self.heap.pop();
            self.heap.push(Reverse(build()));
        }
    }

    /// The kept events, oldest first.
    pub fn sorted(&self) -> Vec<Noted> {
        let mut items: Vec<Noted> = self.heap.iter().map(|Reverse(n)| n.clone()).collect();
        items.sort();
        items
    }
}

/// Everything the analysis sections show.
#[derive(Debug, Clone)]
pub struct Analysis {
    options: AnalysisOptions,
    /// Events by category id.
    pub by_category: BTreeMap<&'static str, u64>,
    /// Events by location name.
    pub by_location: BTreeMap<String, u64>,
    /// Events by local hour of day.
    pub by_hour: [u64; 24],
    /// Events by target.
    pub by_target: HashMap<String, u64>,
    /// Failed sign-ins by (user, IP).
    pub failed_logins: HashMap<(String, String), u64>,
    /// Brute-force blocks (LoginFailBruteForce).
    pub brute_force: u64,
    /// IP-restriction blocks (LoginFailIpSecurity).
    pub ip_security: u64,
    /// Successful sign-ins.
    pub logins: u64,
    /// Countries users signed in from before the period (login history lookback).
    baseline_countries: HashSet<(String, String)>,
    /// First sign-in per (user id, country) in the period, with the user's label.
    period_countries: HashMap<(String, String), (DateTime<Utc>, String)>,
    /// Security settings, administrators, keys, portal lifecycle.
    pub privileged: NotedList,
    /// Users and groups.
    pub identity: NotedList,
    /// Access changes and external links.
    pub permissions: NotedList,
    /// New external and invitation links.
    pub new_external_links: u64,
    /// Downloads by user.
    pub downloads_by_user: HashMap<String, u64>,
    /// Downloads by (user, hour start).
    downloads_by_hour: HashMap<(String, DateTime<Utc>), u64>,
    /// Deletions.
    pub deletions: NotedList,
    /// Deletions by user.
    pub deletions_by_user: HashMap<String, u64>,
    /// Events outside business hours.
    pub after_hours: NotedList,
    /// After-hours events by user.
    pub after_hours_by_user: HashMap<String, u64>,
}

fn noted(event: &Event, view: &EventView<'_>) -> Noted {
    Noted {
        date: event.date,
        key: (event.source, event.id),
        user: view.user_label().to_owned(),
        action: view.action_name.to_string(),
        target: view.targets.join(", "),
        context: view.context.unwrap_or_default().to_owned(),
        ip: view.ip.unwrap_or_default().to_owned(),
        detail: view.description.unwrap_or_default().to_owned(),
    }
}

fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, key: K) {
    *map.entry(key).or_default() += 1;
}

/// Counts `key` without allocating when it is already there.
fn bump_str(map: &mut HashMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

impl Analysis {
    /// An empty analysis.
    pub fn new(options: AnalysisOptions) -> Self {
        Self {
            options,
            by_category: BTreeMap::new(),
            by_location: BTreeMap::new(),
            by_hour: [0; 24],
            by_target: HashMap::new(),
            failed_logins: HashMap::new(),
            brute_force: 0,
            ip_security: 0,
            logins: 0,
            baseline_countries: HashSet::new(),
            period_countries: HashMap::new(),
            privileged: NotedList::default(),
            identity: NotedList::default(),
            permissions: NotedList::default(),
            new_external_links: 0,
            downloads_by_user: HashMap::new(),
            downloads_by_hour: HashMap::new(),
            deletions: NotedList::default(),
            deletions_by_user: HashMap::new(),
            after_hours: NotedList::default(),
            after_hours_by_user: HashMap::new(),
        }
    }

    /// The settings.
    pub fn options(&self) -> &AnalysisOptions {
        &self.options
    }

    /// A sign-in before the period (login-history lookback): only its country is remembered.
    pub fn baseline(&mut self, event: &Event) {
        if event.action_id < 2000
            && let (Some(user), Some(country)) = (
                event.user_id.as_ref().or(event.user.as_ref()),
                &event.country,
            )
        {
            self.baseline_countries
                .insert((user.clone(), country.clone()));
        }
    }

    /// Counts one reported event.
    pub fn record(&mut self, event: &Event, view: &EventView<'_>) {
        let limit = self.options.list_limit;
        *self.by_category.entry(view.category).or_default() += 1;
        if let Some(location) = view.location {
            *self.by_location.entry(location.to_owned()).or_default() += 1;
        }
        let local = event.date.with_timezone(&self.options.time_zone);
        self.by_hour[local.hour() as usize] += 1;
        for target in view.targets {
            bump_str(&mut self.by_target, target);
        }
        let user = view.user_label();
        // Sections read which categories they analyse from the mapping (its `section`); only
        // sign-ins tell failures from successes by category.
        match (view.section, view.category) {
            ("authentication", "authentication-failure") => {
                bump(
                    &mut self.failed_logins,
                    (user.to_owned(), view.ip.unwrap_or("-").to_owned()),
                );
                match view.action_name.as_ref() {
                    "LoginFailBruteForce" => self.brute_force += 1,
                    "LoginFailIpSecurity" => self.ip_security += 1,
                    _ => {}
                }
            }
            ("authentication", "authentication-success") => {
                self.logins += 1;
                if let (Some(id), Some(country)) = (
                    event.user_id.as_ref().or(event.user.as_ref()),
                    &event.country,
                ) {
                    self.period_countries
                        .entry((id.clone(), country.clone()))
                        .and_modify(|(d, _)| *d = (*d).min(event.date))
                        .or_insert_with(|| (event.date, user.to_owned()));
                }
            }
            ("privileged", _) => self.privileged.offer(event, limit, || noted(event, view)),
            ("identity", _) => self.identity.offer(event, limit, || noted(event, view)),
            ("permissions", _) => {
                if view.action_name.ends_with("ExternalLinkCreated")
                    || view.action_name == "RoomInvitationLinkCreated"
                {
                    self.new_external_links += 1;
                }
                self.permissions.offer(event, limit, || noted(event, view));
            }
            ("downloads", _) => {
                bump_str(&mut self.downloads_by_user, user);
                let hour = event
                    .date
                    .duration_trunc(TimeDelta::hours(1))
                    .unwrap_or(event.date);
                bump(&mut self.downloads_by_hour, (user.to_owned(), hour));
            }
            ("deletions", _) => {
                bump_str(&mut self.deletions_by_user, user);
                self.deletions.offer(event, limit, || noted(event, view));
            }
            _ => {}
        }
        if event.source == Source::Audit && !self.options.business_hours.contains(event.date) {
            bump_str(&mut self.after_hours_by_user, user);
            self.after_hours.offer(event, limit, || noted(event, view));
        }
    }

    /// Sign-ins from a country the user had not signed in from in the lookback, first time
    /// first: (user, country, when).
    pub fn new_countries(&self) -> Vec<(String, String, DateTime<Utc>)> {
        let mut rows: Vec<(String, String, DateTime<Utc>)> = self
            .period_countries
            .iter()
            .filter(|(pair, _)| !self.baseline_countries.contains(*pair))
            .map(|((_, country), (when, label))| (label.clone(), country.clone(), *when))
            .collect();
        rows.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(&b.0)));
        rows
    }

    /// Whether the lookback saw any sign-in at all (so "new" means something).
    pub fn has_baseline(&self) -> bool {
        !self.baseline_countries.is_empty()
    }

    /// Hours in which one user downloaded more than the threshold: (user, hour, downloads).
    pub fn mass_downloads(&self) -> Vec<(String, DateTime<Utc>, u64)> {
        let threshold = u64::from(self.options.mass_download_per_hour);
        let mut rows: Vec<(String, DateTime<Utc>, u64)> = self
            .downloads_by_hour
            .iter()
            .filter(|(_, n)| **n > threshold)
            .map(|((user, hour), n)| (user.clone(), *hour, *n))
            .collect();
        rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        rows
    }
}

/// A map's entries by descending count, then key; at most `limit`.
pub fn top<K: Clone + Ord>(map: &HashMap<K, u64>, limit: usize) -> Vec<(K, u64)> {
    let mut rows: Vec<(K, u64)> = map.iter().map(|(k, n)| (k.clone(), *n)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.truncate(limit);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::event;

    fn options() -> AnalysisOptions {
        AnalysisOptions {
            time_zone: chrono_tz::Europe::Berlin,
            business_hours: BusinessWindow::new(
                &BusinessHours::default(),
                chrono_tz::Europe::Berlin,
            )
            .unwrap(),
            mass_download_per_hour: 2,
            list_limit: 2,
        }
    }

    fn at(id: i64, action: i32, date: &str) -> Event {
        let mut e = event(id, action);
        e.date = DateTime::parse_from_rfc3339(date).unwrap().to_utc();
        e
    }

    fn record(analysis: &mut Analysis, e: &Event) {
        let view = EventView::new(e, chrono_tz::Europe::Berlin);
        analysis.record(e, &view);
    }

    #[test]
    fn business_hours_in_their_zone() {
        let window =
            BusinessWindow::new(&BusinessHours::default(), chrono_tz::Europe::Berlin).unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert!(
            window.contains(t("2025-03-14T07:00:00Z")),
            "08:00 Friday in Berlin"
        );
        assert!(!window.contains(t("2025-03-14T06:59:59Z")));
        assert!(
            !window.contains(t("2025-03-14T17:00:00Z")),
            "18:00 is outside"
        );
        assert!(!window.contains(t("2025-03-15T10:00:00Z")), "Saturday");
    }

    #[test]
    fn mass_downloads_lists_and_counts() {
        let mut a = Analysis::new(options());
        for (i, minute) in [5, 10, 20].iter().enumerate() {
            record(
                &mut a,
                &at(i as i64, 5009, &format!("2025-03-14T10:{minute:02}:00Z")),
            );
        }
        record(&mut a, &at(9, 5009, "2025-03-14T11:05:00Z"));
        let bursts = a.mass_downloads();
        assert_eq!(bursts.len(), 1);
        assert_eq!(bursts[0].2, 3);
        for (i, day) in [10, 11, 12].iter().enumerate() {
            record(
                &mut a,
                &at(100 + i as i64, 5018, &format!("2025-03-{day}T10:00:00Z")),
            );
        }
        assert_eq!(a.deletions.total, 3);
        let kept: Vec<i64> = a.deletions.sorted().iter().map(|n| n.key.1).collect();
        assert_eq!(
            kept,
            vec![101, 102],
            "the latest two are kept, oldest first"
        );
        assert_eq!(a.by_category["download-export"], 4);
    }

    #[test]
    fn new_countries_against_the_lookback() {
        let mut a = Analysis::new(options());
        let mut before = at(1, 1000, "2025-02-20T10:00:00Z");
        before.country = Some("Germany".into());
        a.baseline(&before);
        let mut same = at(2, 1000, "2025-03-02T10:00:00Z");
        same.country = Some("Germany".into());
        same.action_type = None;
        let mut new = at(3, 1000, "2025-03-03T10:00:00Z");
        new.country = Some("Brazil".into());
        record(&mut a, &same);
        record(&mut a, &new);
        let rows = a.new_countries();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1, "Brazil");
        assert!(a.has_baseline());
    }
}
