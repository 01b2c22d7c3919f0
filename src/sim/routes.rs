//! Handlers of the security/audit and portal endpoints.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono_tz::Tz;
use serde::Serialize;

use super::catalog::{AUDIT_ACTIONS, LOGIN_ACTIONS};
use super::dto::{audit_event, audit_target, login_event, login_user_id};
use super::envelope::{self, RequestUrl, ValidationErrors};
use super::query::{AuditFilter, EventFilter, Params, parse_audit, parse_login};
use super::seed::{AuditRec, LoginRec};
use super::state::{SimState, date_range};
use super::world::World;

/// How many events the "last events" endpoints and the no-audit fallback return.
const LAST_EVENTS: usize = 20;

/// What both filter endpoints do: model binding (and its validation) happens before the
/// action runs, then the plan check: a plan without audit answers with `newest` whatever the
/// parameters. Only then does `action` run with the bound filter.
fn filtered<F>(
    state: &SimState,
    url: &RequestUrl,
    bound: Result<F, ValidationErrors>,
    newest: fn(&SimState, &RequestUrl) -> Response,
    action: impl FnOnce(F) -> Response,
) -> Response {
    match bound {
        Err(errors) => envelope::validation(url, &errors),
        Ok(_) if !state.config.plan_has_audit => newest(state, url),
        Ok(filter) => action(filter),
    }
}

/// `GET /api/2.0/security/audit/events/filter`.
pub(crate) async fn events_filter(
    State(state): State<Arc<SimState>>,
    url: RequestUrl,
    params: Params,
) -> Response {
    let bound = parse_audit(&params);
    filtered(&state, &url, bound, last_audit_events, |filter| {
        if filter.common.action.is_none() && filter.module_type.is_some() {
            // ≥ v3.5 dereferences a missing mapper for every non-None location.
            return envelope::null_reference();
        }
        let page = {
            let store = state.audit();
            select_audit(&state.world, &store.recs, &filter)
        };
        event_page(&state, &url, &page, audit_event)
    })
}

/// `GET /api/2.0/security/audit/events/last`.
pub(crate) async fn events_last(State(state): State<Arc<SimState>>, url: RequestUrl) -> Response {
    last_audit_events(&state, &url)
}

fn last_audit_events(state: &SimState, url: &RequestUrl) -> Response {
    let page = newest(&state.audit().recs);
    event_page(state, url, &page, audit_event)
}

/// The [`LAST_EVENTS`] newest records of a table sorted by date, newest first.
fn newest<R: Copy>(recs: &[R]) -> Vec<R> {
    recs.iter().rev().take(LAST_EVENTS).copied().collect()
}

/// The success envelope around the JSON objects `dto` builds for the records of `page`.
fn event_page<R, D: Serialize>(
    state: &SimState,
    url: &RequestUrl,
    page: &[R],
    dto: impl Fn(&World, &R, Tz, &str) -> D,
) -> Response {
    let tz = state.config.portal_time_zone;
    let dtos: Vec<D> = page
        .iter()
        .map(|rec| dto(&state.world, rec, tz, &url.base))
        .collect();
    envelope::success_list(url, &dtos)
}

/// The page of audit events selected by `filter`, newest first (§1.1).
pub(crate) fn select_audit(
    world: &World,
    recs: &[AuditRec],
    filter: &AuditFilter,
) -> Vec<AuditRec> {
    let common = &filter.common;
    let window = &recs[date_range(recs, common.from, common.to)];
    let target_filter = match (common.action, filter.entry_type) {
        (Some(_), _) => filter.target.as_deref().map(|t| (t, true)),
        (None, Some(_)) => filter.target.as_deref().map(|t| (t, false)),
        (None, None) => None,
    };
    let action_type = filter.action_type.filter(|_| common.action.is_none());
    if common.user_id.is_none()
        && common.action.is_none()
        && action_type.is_none()
        && target_filter.is_none()
    {
        // Only the date window: page by index arithmetic.
        let end = window.len() - common.start_index.min(window.len());
        let start = end.saturating_sub(common.count);
        return window[start..end].iter().rev().copied().collect();
    }
    let user = match common.user_id.as_deref() {
        Some(id) => match world.users.iter().position(|u| u.id == id) {
            Some(index) => Some(u8::try_from(index).unwrap_or(u8::MAX)),
            None => return Vec::new(),
        },
        None => None,
    };
    let matches = |rec: &&AuditRec| {
        if user.is_some_and(|u| rec.user != u) {
            return false;
        }
        let spec = &AUDIT_ACTIONS[usize::from(rec.action) % AUDIT_ACTIONS.len()];
        if common.action.is_some_and(|a| spec.id != a) {
            return false;
        }
        if action_type.is_some_and(|t| spec.action_type != t) {
            return false;
        }
        match target_filter {
            None => true,
            Some((wanted, exact)) => match audit_target(world, rec) {
                Some(target) if exact => target == wanted,
                Some(target) => target.contains(wanted),
                None => false,
            },
        }
    };
    window
        .iter()
        .rev()
        .filter(matches)
        .skip(common.start_index)
        .take(common.count)
        .copied()
        .collect()
}

/// `GET /api/2.0/security/audit/login/filter`.
pub(crate) async fn login_filter(
    State(state): State<Arc<SimState>>,
    url: RequestUrl,
    params: Params,
) -> Response {
    let bound = parse_login(&params);
    filtered(&state, &url, bound, last_login_events, |filter| {
        let page = select_login(&state.world, &state.login, &filter);
        event_page(&state, &url, &page, login_event)
    })
}

/// `GET /api/2.0/security/audit/login/last`.
pub(crate) async fn login_last(State(state): State<Arc<SimState>>, url: RequestUrl) -> Response {
    last_login_events(&state, &url)
}

fn last_login_events(state: &SimState, url: &RequestUrl) -> Response {
    event_page(state, url, &newest(&state.login), login_event)
}

/// The login page as the real repository computes it (§3.1): `Skip`/`Take` over the whole
/// newest-first table first, then the filters within that page.
pub(crate) fn select_login(
    world: &World,
    recs: &[LoginRec],
    filter: &EventFilter,
) -> Vec<LoginRec> {
    recs.iter()
        .rev()
        .skip(filter.start_index)
        .take(filter.count)
        .filter(|rec| {
            filter
                .user_id
                .as_deref()
                .is_none_or(|id| login_user_id(world, rec) == id)
                && filter.action.is_none_or(|a| {
                    LOGIN_ACTIONS
                        .get(usize::from(rec.action))
                        .is_some_and(|spec| spec.id == a)
                })
                && filter.from.is_none_or(|f| rec.ts >= f)
                && filter.to.is_none_or(|t| rec.ts <= t)
        })
        .copied()
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QuotaDto {
    tenant_id: i32,
    name: &'static str,
    price: f64,
    price_currency_symbol: &'static str,
    #[serde(rename = "priceISOCurrencySymbol")]
    price_iso_currency_symbol: &'static str,
    product_id: &'static str,
    visible: bool,
    max_file_size: u64,
    max_total_size: u64,
    count_user: u32,
    count_room_admin: u32,
    count_room: u32,
    users_in_room: u32,
    non_profit: bool,
    trial: bool,
    free: bool,
    update: bool,
    audit: bool,
    docs_edition: bool,
    ldap: bool,
    sso: bool,
    statistic: bool,
    branding: bool,
    customization: bool,
    lifetime: bool,
    custom: bool,
    restore: bool,
    oauth: bool,
    content_search: bool,
    third_party: bool,
    year: bool,
    count_free_backup: u32,
}

/// `GET /api/2.0/portal/quota`.
pub(crate) async fn quota(State(state): State<Arc<SimState>>, url: RequestUrl) -> Response {
    let business = state.config.plan_has_audit;
    let quota = QuotaDto {
        tenant_id: if business { -3 } else { -1 },
        name: if business { "admin" } else { "startup" },
        price: if business { 15.0 } else { 0.0 },
        price_currency_symbol: "$",
        price_iso_currency_symbol: "USD",
        product_id: if business { "1002" } else { "" },
        visible: true,
        max_file_size: if business { 1 << 30 } else { 100 << 20 },
        max_total_size: if business { 250 << 30 } else { 2 << 30 },
        count_user: if business { 10_000 } else { 3 },
        count_room_admin: if business { 50 } else { 3 },
        count_room: if business { 10_000 } else { 12 },
        users_in_room: if business { 10_000 } else { 3 },
        non_profit: false,
        trial: false,
        free: !business,
        update: false,
        audit: business,
        docs_edition: true,
        ldap: business,
        sso: business,
        statistic: true,
        branding: business,
        customization: business,
        lifetime: false,
        custom: business,
        restore: business,
        oauth: business,
        content_search: business,
        third_party: true,
        year: false,
        count_free_backup: if business { 0 } else { 2 },
    };
    envelope::success_object(&url, &quota)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LifetimeDto {
    login_history_life_time: u32,
    audit_trail_life_time: u32,
}

/// `GET /api/2.0/security/audit/settings/lifetime`.
pub(crate) async fn lifetime(url: RequestUrl) -> Response {
    envelope::success_object(
        &url,
        &LifetimeDto {
            login_history_life_time: 180,
            audit_trail_life_time: 180,
        },
    )
}

/// Any other path: 404 with an empty body.
pub(crate) async fn not_found() -> Response {
    envelope::empty(StatusCode::NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::seed::seed_login;
    use crate::sim::test_support::{MARCH_FROM as FROM, MARCH_TO as TO, march_audit};

    #[test]
    fn fast_path_equals_scan_path() {
        let (world, recs) = march_audit(2, 5000);
        let f = AuditFilter {
            common: EventFilter {
                from: Some(recs[1000].ts),
                to: Some(recs[4000].ts),
                start_index: 250,
                count: 37,
                ..EventFilter::default()
            },
            ..AuditFilter::default()
        };
        let fast = select_audit(&world, &recs, &f);
        let window: Vec<_> = recs
            .iter()
            .rev()
            .filter(|r| r.ts >= recs[1000].ts && r.ts <= recs[4000].ts)
            .collect();
        let expected: Vec<AuditRec> = window.iter().skip(250).take(37).map(|r| **r).collect();
        assert_eq!(fast, expected);
    }

    #[test]
    fn login_filters_apply_after_paging() {
        let world = World::generate(2, 2025, FROM);
        let recs = seed_login(&world, 2, FROM, TO, 500);
        let user = &world.users[recs[recs.len() - 1].user as usize % world.users.len()];
        let f = EventFilter {
            user_id: Some(user.id.clone()),
            count: 10,
            ..EventFilter::default()
        };
        let page = select_login(&world, &recs, &f);
        // Only matches among the 10 newest events overall, never older ones.
        let newest10: Vec<_> = recs.iter().rev().take(10).map(|r| r.id).collect();
        assert!(page.iter().all(|r| newest10.contains(&r.id)));
        let total = recs
            .iter()
            .filter(|r| login_user_id(&world, r) == user.id)
            .count();
        assert!(total > page.len());
    }
}
