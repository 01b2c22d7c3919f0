//! The analysis sections of a report as format-neutral blocks (paragraphs, tables, bullet
//! lists), so that `md`, `txt` and `xlsx` show the same content.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;

use super::LOGIN_LOOKBACK_DAYS;
use super::analysis::{Analysis, NotedList, top};
use super::categories::CategoryMap;
use super::context::ReportContext;
use super::summary::{PreviousTotals, Summary};
use crate::docspace::Source;
use crate::spec::SectionName;

/// A piece of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph.
    Paragraph(String),
    /// A table with a header row.
    Table {
        /// Column names.
        columns: Vec<String>,
        /// Rows of cells.
        rows: Vec<Vec<String>>,
    },
    /// A bullet list.
    Bullets(Vec<String>),
}

/// One section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionDoc {
    /// Which section.
    pub name: SectionName,
    /// Its title.
    pub title: String,
    /// Its content.
    pub blocks: Vec<Block>,
}

fn table(columns: &[&str], rows: Vec<Vec<String>>) -> Block {
    Block::Table {
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows,
    }
}

fn local(instant: DateTime<Utc>, tz: Tz) -> String {
    instant
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn counted<K: ToString>(rows: impl IntoIterator<Item = (K, u64)>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|(k, n)| vec![k.to_string(), n.to_string()])
        .collect()
}

/// The title of a section.
pub fn title(name: SectionName) -> &'static str {
    match name {
        SectionName::Cover => "Report",
        SectionName::Coverage => "Coverage and completeness",
        SectionName::Summary => "Executive summary",
        SectionName::Activity => "Activity overview",
        SectionName::Authentication => "Authentication",
        SectionName::Privileged => "Privileged and security-setting changes",
        SectionName::Identity => "Identity lifecycle",
        SectionName::Permissions => "Permission and sharing changes",
        SectionName::Downloads => "Downloads and exports",
        SectionName::Deletions => "Deletions",
        SectionName::AfterHours => "After-hours activity",
        SectionName::Appendix => "Event appendix",
        SectionName::Review => "Review and attestation",
    }
}

/// The analysis sections the context selects, in order (not the appendix and review, which
/// the renderers place themselves).
pub fn sections(ctx: &ReportContext, summary: &Summary) -> Vec<SectionDoc> {
    ctx.sections
        .iter()
        .filter(|s| !matches!(s, SectionName::Appendix | SectionName::Review))
        .map(|&name| SectionDoc {
            name,
            title: title(name).to_owned(),
            blocks: match name {
                SectionName::Cover => cover(ctx),
                SectionName::Coverage => coverage(ctx, summary),
                SectionName::Summary => executive(summary),
                SectionName::Activity => activity(summary),
                SectionName::Authentication => authentication(ctx, summary),
                SectionName::Privileged => {
                    listed(ctx, &summary.analysis.privileged, &covered_by("privileged"))
                }
                SectionName::Identity => {
                    listed(ctx, &summary.analysis.identity, &covered_by("identity"))
                }
                SectionName::Permissions => permissions(ctx, summary),
                SectionName::Downloads => downloads(ctx, summary),
                SectionName::Deletions => deletions(ctx, summary),
                SectionName::AfterHours => after_hours(ctx, summary),
                SectionName::Appendix | SectionName::Review => Vec::new(),
            },
        })
        .collect()
}

/// The review block, for a person to fill in.
pub fn review() -> SectionDoc {
    SectionDoc {
        name: SectionName::Review,
        title: title(SectionName::Review).to_owned(),
        blocks: vec![
            Block::Paragraph(
                "To be completed by the reviewer. Record exceptions and follow-up tickets below."
                    .to_owned(),
            ),
            table(
                &["Item", "Entry"],
                vec![
                    vec!["Reviewed by".to_owned(), String::new()],
                    vec!["Review date".to_owned(), String::new()],
                    vec!["Exceptions and notes".to_owned(), String::new()],
                    vec!["Follow-up tickets".to_owned(), String::new()],
                    vec![
                        "Attestation".to_owned(),
                        "[ ] I reviewed this report and the exceptions above.".to_owned(),
                    ],
                    vec!["Signature".to_owned(), String::new()],
                ],
            ),
        ],
    }
}

fn cover(ctx: &ReportContext) -> Vec<Block> {
    let row = |k: &str, v: String| vec![k.to_owned(), v];
    vec![table(
        &["Item", "Value"],
        vec![
            row("Report", ctx.resource.clone()),
            row("Portal", ctx.portal.clone()),
            row("Period", ctx.period_local()),
            row("Period (UTC)", ctx.period_utc()),
            row("Generated at", ctx.generated()),
            row(
                "Generated by",
                concat!("docspace-compliance-operator ", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
            row(
                "Category mapping",
                format!("version {}", CategoryMap::get().version),
            ),
            row("Filter", ctx.filter.clone()),
            row("Privacy", ctx.privacy.clone()),
            row(
                "Business hours",
                ctx.analysis.business_hours.label().to_owned(),
            ),
            row(
                "Supports",
                "SOC 2 CC6/CC7, ISO/IEC 27001 A.8.15, HIPAA 164.312(b), GDPR Art. 30/32".to_owned(),
            ),
            row(
                "Purpose",
                "Periodic review of sign-ins, access and changes in the DocSpace portal".to_owned(),
            ),
        ],
    )]
}

fn coverage(ctx: &ReportContext, summary: &Summary) -> Vec<Block> {
    // What makes the report incomplete, if anything.
    let mut problems = Vec::new();
    let mut blocks = vec![paging_table(summary), plan_check(summary)];
    blocks.extend(retention(ctx, summary, &mut problems));
    blocks.push(late_writes(ctx));
    blocks.push(Block::Paragraph(ctx.chain.clone()));
    let quiet = quiet_days(ctx, summary);
    if !quiet.is_empty() {
        blocks.push(Block::Paragraph(format!(
            "Days without any reported event: {}.",
            quiet.join(", ")
        )));
    }
    blocks.push(completeness(summary, problems));
    blocks
}

/// How each source was read: pages, events, duplicates, time windows.
fn paging_table(summary: &Summary) -> Block {
    let rows: Vec<Vec<String>> = summary
        .paging
        .iter()
        .map(|(source, p)| {
            vec![
                source.as_str().to_owned(),
                p.pages.to_string(),
                summary
                    .fetched
                    .get(source)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                summary
                    .reported
                    .get(source)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                p.duplicates.to_string(),
                p.windows.to_string(),
                p.rereads.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "Source",
            "Pages read",
            "Events in period",
            "Events reported",
            "Duplicates dropped",
            "Time windows",
            "Windows re-read",
        ],
        rows,
    )
}

/// Whether the portal's plan includes the audit trail.
fn plan_check(summary: &Summary) -> Block {
    Block::Paragraph(match summary.audit_plan {
        Some(true) => "The portal's plan includes the audit trail (portal quota).".to_owned(),
        Some(false) => "The portal's plan does not include the audit trail.".to_owned(),
        None => "The plan could not be checked through the portal quota; every page was checked for the plan fallback (events outside the period, or 20 events whatever the page size) and none was seen.".to_owned(),
    })
}

/// The portal's retention and whether the period lies within it; a period older than the
/// login history's retention adds to `problems`.
fn retention(ctx: &ReportContext, summary: &Summary, problems: &mut Vec<String>) -> Vec<Block> {
    let mut blocks = Vec::new();
    let tz = ctx.period.time_zone;
    match (summary.retention, summary.generated_at) {
        (Some(retention), Some(now)) => {
            let login_horizon = now - TimeDelta::days(i64::from(retention.login_history_life_time));
            let audit_horizon = now - TimeDelta::days(i64::from(retention.audit_trail_life_time));
            blocks.push(Block::Paragraph(format!(
                "Retention: login history {} days (kept from {}), audit trail {} days (shown from {}).",
                retention.login_history_life_time,
                local(login_horizon, tz),
                retention.audit_trail_life_time,
                local(audit_horizon, tz)
            )));
            if summary.paging.contains_key(&Source::Login) && ctx.period.from < login_horizon {
                problems.push(format!(
                    "the period starts before the login-history retention horizon ({}), so older sign-ins were already deleted",
                    local(login_horizon, tz)
                ));
            }
            if ctx.period.from < audit_horizon {
                blocks.push(Block::Paragraph(
                    "The period starts before the audit-trail lifetime; DocSpace 2.6 and later keep older audit rows, earlier versions may not.".to_owned(),
                ));
            }
        }
        _ => blocks.push(Block::Paragraph(
            "The portal's retention settings could not be read.".to_owned(),
        )),
    }
    blocks
}

/// Whether late writes were waited for (`settleSeconds`).
fn late_writes(ctx: &ReportContext) -> Block {
    Block::Paragraph(if ctx.settle_seconds == 0 {
        "Late writes were not waited for (settleSeconds: 0): DocSpace stores audit events asynchronously, so events of the period's last moments stored after it was read may be missing.".to_owned()
    } else {
        format!(
            "Late writes: DocSpace stores audit events asynchronously; the period was read no earlier than {} s after its end (settleSeconds), so events stored within that time are included.",
            ctx.settle_seconds
        )
    })
}

/// Whether the report is complete, or the `problems` (and conflicting events) that make it
/// incomplete.
fn completeness(summary: &Summary, mut problems: Vec<String>) -> Block {
    let conflicts: u64 = summary.paging.values().map(|p| p.conflicts).sum();
    if conflicts > 0 {
        problems.push(format!(
            "the portal returned {conflicts} event(s) under an id it had already returned but with different content; the first version of each is reported and the operator's log names the ids"
        ));
    }
    let duplicates: u64 = summary.paging.values().map(|p| p.duplicates).sum();
    Block::Paragraph(if problems.is_empty() {
        format!(
            "This report is complete: every source was read to its last page, {duplicates} repeated events were dropped by id, and the period lies within the portal's retention."
        )
    } else {
        format!("This report is incomplete because {}.", problems.join("; "))
    })
}

fn quiet_days(ctx: &ReportContext, summary: &Summary) -> Vec<String> {
    let tz = ctx.period.time_zone;
    let first = ctx.period.from.with_timezone(&tz).date_naive();
    let last = ctx.period.to_inclusive().with_timezone(&tz).date_naive();
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| !summary.by_day.contains_key(d))
        .map(|d| d.to_string())
        .collect()
}

fn category_title(id: &str) -> String {
    CategoryMap::get()
        .by_id(id)
        .map_or_else(|| id.to_owned(), |c| c.title.to_owned())
}

fn executive(summary: &Summary) -> Vec<Block> {
    let mut blocks = match &summary.previous {
        Some(previous) => vec![compared_totals(summary, previous)],
        None => vec![
            totals(summary),
            Block::Paragraph("No previous report to compare with.".to_owned()),
        ],
    };
    blocks.push(Block::Bullets(findings(&summary.analysis)));
    blocks
}

/// The events by category, beside the previous period's and the change.
fn compared_totals(summary: &Summary, previous: &PreviousTotals) -> Block {
    let a = &summary.analysis;
    let total = summary.total_reported();
    let mut ids: BTreeSet<String> = a.by_category.keys().map(|k| (*k).to_owned()).collect();
    ids.extend(previous.by_category.keys().cloned());
    let change = |now: u64, before: u64| {
        let diff = now as i64 - before as i64;
        if before == 0 {
            format!("{diff:+}")
        } else {
            format!("{diff:+} ({:+.0}%)", diff as f64 * 100.0 / before as f64)
        }
    };
    let mut rows = vec![vec![
        "All events".to_owned(),
        total.to_string(),
        previous.events.to_string(),
        change(total, previous.events),
    ]];
    for id in &ids {
        let now = a.by_category.get(id.as_str()).copied().unwrap_or(0);
        let before = previous.by_category.get(id).copied().unwrap_or(0);
        rows.push(vec![
            category_title(id),
            now.to_string(),
            before.to_string(),
            change(now, before),
        ]);
    }
    table(
        &["Measure", "This period", "Previous period", "Change"],
        rows,
    )
}

/// The events by category, with nothing to compare with.
fn totals(summary: &Summary) -> Block {
    let a = &summary.analysis;
    let mut rows = vec![vec![
        "All events".to_owned(),
        summary.total_reported().to_string(),
    ]];
    rows.extend(
        a.by_category
            .iter()
            .map(|(id, n)| vec![category_title(id), n.to_string()]),
    );
    table(&["Measure", "This period"], rows)
}

/// What a reviewer should look at first, one line each ("No findings." when nothing stands
/// out).
fn findings(a: &Analysis) -> Vec<String> {
    let mut findings = Vec::new();
    let failed: u64 = a.failed_logins.values().sum();
    if failed > 0 {
        let ips: BTreeSet<&str> = a.failed_logins.keys().map(|(_, ip)| ip.as_str()).collect();
        findings.push(format!("{failed} failed sign-ins from {} IP addresses ({} brute-force blocks, {} IP-restriction blocks)", ips.len(), a.brute_force, a.ip_security));
    }
    let new_countries = a.new_countries().len();
    if new_countries > 0 && a.has_baseline() {
        findings.push(format!("{new_countries} sign-ins from a country the user had not signed in from in the {LOGIN_LOOKBACK_DAYS} days before"));
    }
    if a.new_external_links > 0 {
        findings.push(format!(
            "{} new external or invitation links",
            a.new_external_links
        ));
    }
    let bursts = a.mass_downloads();
    if !bursts.is_empty() {
        findings.push(format!(
            "{} hours with more than {} downloads by one user",
            bursts.len(),
            a.options().mass_download_per_hour
        ));
    }
    if a.deletions.total > 0 {
        findings.push(format!(
            "{} deletions by {} users",
            a.deletions.total,
            a.deletions_by_user.len()
        ));
    }
    if a.privileged.total > 0 {
        findings.push(format!(
            "{} security-setting, administrator or portal changes",
            a.privileged.total
        ));
    }
    if a.after_hours.total > 0 {
        findings.push(format!(
            "{} events outside business hours",
            a.after_hours.total
        ));
    }
    if findings.is_empty() {
        findings.push("No findings.".to_owned());
    }
    findings
}

fn activity(summary: &Summary) -> Vec<Block> {
    let a = &summary.analysis;
    let mut by_category: Vec<(String, u64)> = a
        .by_category
        .iter()
        .map(|(k, n)| (category_title(k), *n))
        .collect();
    by_category.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let users: Vec<(String, u64)> = summary
        .users_by_count()
        .into_iter()
        .take(10)
        .map(|(u, n)| (u.to_owned(), n))
        .collect();
    let hours: Vec<(String, u64)> = a
        .by_hour
        .iter()
        .enumerate()
        .map(|(h, n)| (format!("{h:02}:00"), *n))
        .collect();
    vec![
        table(&["Category", "Events"], counted(by_category)),
        table(
            &["Action type", "Events"],
            counted(Summary::by_count(&summary.by_action_type)),
        ),
        table(
            &["Location", "Events"],
            counted(a.by_location.iter().map(|(k, n)| (k.clone(), *n))),
        ),
        table(
            &["Day", "Events"],
            counted(summary.by_day.iter().map(|(d, n)| (d.to_string(), *n))),
        ),
        table(&["Hour of day", "Events"], counted(hours)),
        table(&["Top users", "Events"], counted(users)),
        table(&["Top targets", "Events"], counted(top(&a.by_target, 10))),
    ]
}

fn authentication(ctx: &ReportContext, summary: &Summary) -> Vec<Block> {
    let a = &summary.analysis;
    if !summary.paging.contains_key(&Source::Login) {
        return vec![Block::Paragraph(
            "Login history is not among the sources (spec.sources.loginHistory), so sign-ins are not analysed.".to_owned(),
        )];
    }
    let failed: Vec<Vec<String>> = top(&a.failed_logins, 50)
        .into_iter()
        .map(|((user, ip), n)| vec![user, ip, n.to_string()])
        .collect();
    let tz = ctx.period.time_zone;
    let countries: Vec<Vec<String>> = a
        .new_countries()
        .into_iter()
        .map(|(user, country, when)| vec![user, country, local(when, tz)])
        .collect();
    let mut blocks = vec![
        Block::Paragraph(format!(
            "{} successful and {} failed sign-ins; {} brute-force blocks and {} IP-restriction blocks.",
            a.logins,
            a.failed_logins.values().sum::<u64>(),
            a.brute_force,
            a.ip_security
        )),
        table(&["User", "IP", "Failed sign-ins"], failed),
    ];
    blocks.push(Block::Paragraph(if a.has_baseline() {
        format!("Sign-ins from a country the user had not signed in from in the {LOGIN_LOOKBACK_DAYS} days before the period:")
    } else {
        format!("Sign-ins from countries first seen in this period (the {LOGIN_LOOKBACK_DAYS} days before held no sign-ins to compare with):")
    }));
    blocks.push(table(&["User", "Country", "First sign-in"], countries));
    blocks
}

fn noted_table(ctx: &ReportContext, list: &NotedList) -> Block {
    let tz = ctx.period.time_zone;
    table(
        &[
            "Time", "User", "Action", "Target", "Context", "IP", "Detail",
        ],
        list.sorted()
            .into_iter()
            .map(|n| {
                vec![
                    local(n.date, tz),
                    n.user,
                    n.action,
                    n.target,
                    n.context,
                    n.ip,
                    n.detail,
                ]
            })
            .collect(),
    )
}

/// The categories a section covers, as the categories mapping says (its `section`).
fn covered_by(section: &str) -> String {
    CategoryMap::get().ids_in_section(section)
}

/// A list of notable events of `categories`.
fn listed(ctx: &ReportContext, list: &NotedList, categories: &str) -> Vec<Block> {
    let shown = list.sorted().len() as u64;
    let mut blocks = vec![Block::Paragraph(format!(
        "{} events (categories: {categories}).",
        list.total
    ))];
    if list.total > 0 {
        blocks.push(noted_table(ctx, list));
    }
    if list.total > shown {
        blocks.push(Block::Paragraph(format!(
            "The latest {shown} are shown; all {} are in the appendix and in the csv/ndjson files (column category).",
            list.total
        )));
    }
    blocks
}

fn permissions(ctx: &ReportContext, summary: &Summary) -> Vec<Block> {
    let mut blocks = vec![Block::Paragraph(format!(
        "{} new external or invitation links.",
        summary.analysis.new_external_links
    ))];
    blocks.extend(listed(
        ctx,
        &summary.analysis.permissions,
        &covered_by("permissions"),
    ));
    blocks
}

fn downloads(ctx: &ReportContext, summary: &Summary) -> Vec<Block> {
    let a = &summary.analysis;
    let tz = ctx.period.time_zone;
    let total: u64 = a.downloads_by_user.values().sum();
    let bursts: Vec<Vec<String>> = a
        .mass_downloads()
        .into_iter()
        .map(|(user, hour, n)| vec![user, local(hour, tz), n.to_string()])
        .collect();
    vec![
        Block::Paragraph(format!("{total} downloads and exports.")),
        table(
            &["User", "Downloads"],
            counted(top(&a.downloads_by_user, 20)),
        ),
        Block::Paragraph(format!(
            "Mass downloads: hours in which one user downloaded more than {} items.",
            a.options().mass_download_per_hour
        )),
        table(&["User", "Hour starting", "Downloads"], bursts),
    ]
}

fn deletions(ctx: &ReportContext, summary: &Summary) -> Vec<Block> {
    let mut blocks = vec![table(
        &["User", "Deletions"],
        counted(top(&summary.analysis.deletions_by_user, 20)),
    )];
    blocks.extend(listed(
        ctx,
        &summary.analysis.deletions,
        &covered_by("deletions"),
    ));
    blocks
}

fn after_hours(ctx: &ReportContext, summary: &Summary) -> Vec<Block> {
    let a = &summary.analysis;
    let mut blocks = vec![
        Block::Paragraph(format!(
            "Business hours: {}.",
            a.options().business_hours.label()
        )),
        table(
            &["User", "Events after hours"],
            counted(top(&a.after_hours_by_user, 20)),
        ),
    ];
    blocks.extend(listed(ctx, &a.after_hours, "any audit event"));
    blocks
}
