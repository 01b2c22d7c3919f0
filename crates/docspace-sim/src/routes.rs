//! Handlers of the security/audit and portal endpoints.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::catalog::{AUDIT_ACTIONS, LOGIN_ACTIONS};
use super::envelope::{self, RequestUrl, ValidationErrors};
use super::events::{audit_target, audit_view, login_user_id, login_view};
use super::query::{AuditFilter, EventFilter, Params, parse_audit, parse_login};
use super::render::EventWriter;
use super::seed::{AuditRec, LoginRec};
use super::state::{SimState, date_range};
use super::texts::Texts;
use super::world::World;

/// Room reserved per audit event in the response buffer (a typical one takes 400-500 bytes).
const AUDIT_EVENT_BYTES: usize = 560;
/// Room reserved per login event in the response buffer.
const LOGIN_EVENT_BYTES: usize = 480;

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
            let micros = state.config.date_precision == super::DatePrecision::Micros;
            select_audit(&state.world, &state.texts, &store.recs, &filter, micros)
        };
        audit_page(&state, &url, &page)
    })
}

/// `GET /api/2.0/security/audit/events/last`.
pub(crate) async fn events_last(State(state): State<Arc<SimState>>, url: RequestUrl) -> Response {
    last_audit_events(&state, &url)
}

/// Days the portal keeps audit events for the plan fallback and `settings/lifetime`.
const AUDIT_LIFETIME_DAYS: i64 = 180;

/// The newest audit events within the audit lifetime (`[now − lifetime, now]`), as the
/// server's `GetLastAuditEventsAsync` selects them: older ones are never shown.
fn last_audit_events(state: &SimState, url: &RequestUrl) -> Response {
    let horizon = chrono::Utc::now().timestamp() - AUDIT_LIFETIME_DAYS * 86_400;
    let store = state.audit();
    let recent = &store.recs[store.recs.partition_point(|r| r.ts < horizon)..];
    let page = newest(recent);
    drop(store);
    audit_page(state, url, &page)
}

/// The [`LAST_EVENTS`] newest records of a table sorted by date, newest first.
fn newest<R: Copy>(recs: &[R]) -> Vec<R> {
    recs.iter().rev().take(LAST_EVENTS).copied().collect()
}

/// The success envelope around the events of `page`, each written by `write` (given the
/// writer for the request's base URL and the portal time zone).
fn event_page<R>(
    state: &SimState,
    url: &RequestUrl,
    page: &[R],
    bytes_per_event: usize,
    write: impl Fn(&EventWriter, &mut Vec<u8>, &R),
) -> Response {
    let writer = EventWriter::new(&url.base, state.config.portal_time_zone);
    let capacity = page.len() * (bytes_per_event + url.base.len());
    envelope::success_list_written(url, page.len(), capacity, |out| {
        for (i, rec) in page.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(&writer, out, rec);
        }
    })
}

/// The success envelope around the audit events of `page` (dates at the stored precision).
fn audit_page(state: &SimState, url: &RequestUrl, page: &[AuditRec]) -> Response {
    let micros: Vec<u32> = if state.config.date_precision == super::DatePrecision::Micros {
        let store = state.audit();
        page.iter().map(|rec| store.micros_of(rec)).collect()
    } else {
        vec![0; page.len()]
    };
    let indexed: Vec<(AuditRec, u32)> = page.iter().copied().zip(micros).collect();
    event_page(
        state,
        url,
        &indexed,
        AUDIT_EVENT_BYTES,
        |writer, out, (rec, micros)| {
            let mut view = audit_view(&state.world, &state.texts, rec);
            view.micros = *micros;
            writer.audit(out, &view);
        },
    )
}

/// The success envelope around the login events of `page`.
fn login_page(state: &SimState, url: &RequestUrl, page: &[LoginRec]) -> Response {
    event_page(state, url, page, LOGIN_EVENT_BYTES, |writer, out, rec| {
        writer.login(out, &login_view(&state.world, &state.texts, rec));
    })
}

/// The page of audit events selected by `filter`, newest first (§1.1).
pub(crate) fn select_audit(
    world: &World,
    texts: &Texts,
    recs: &[AuditRec],
    filter: &AuditFilter,
    micros: bool,
) -> Vec<AuditRec> {
    let common = &filter.common;
    let range = if micros {
        super::state::exact_range(recs, common.from_us, common.to_us)
    } else {
        date_range(recs, common.from, common.to)
    };
    let window = &recs[range];
    let target_filter = match (common.action, filter.entry_type) {
        (Some(_), _) => filter.target.as_deref().map(|t| (t, true)),
        (None, Some(_)) => filter.target.as_deref().map(|t| (t, false)),
        (None, None) => None,
    };
    let action_type = filter.action_type.filter(|_| common.action.is_none());
    // `entryType` restricts the actions to those about that kind of entry (the server maps it
    // to the actions whose mappers name it).
    let entry_type = filter.entry_type.filter(|_| common.action.is_none());
    if common.user_id.is_none()
        && common.action.is_none()
        && action_type.is_none()
        && entry_type.is_none()
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
        if entry_type.is_some_and(|t| !spec.entries.contains(&t)) {
            return false;
        }
        match target_filter {
            None => true,
            Some((wanted, exact)) => match audit_target(world, texts, rec) {
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
        login_page(&state, &url, &page)
    })
}

/// `GET /api/2.0/security/audit/login/last`.
pub(crate) async fn login_last(State(state): State<Arc<SimState>>, url: RequestUrl) -> Response {
    last_login_events(&state, &url)
}

fn last_login_events(state: &SimState, url: &RequestUrl) -> Response {
    login_page(state, url, &newest(&state.login))
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
            audit_trail_life_time: u32::try_from(AUDIT_LIFETIME_DAYS).unwrap_or(180),
        },
    )
}

/// Any other path: 404 with an empty body.
pub(crate) async fn not_found() -> Response {
    envelope::empty(StatusCode::NOT_FOUND)
}

/// `GET /api/2.0/keys/@self`: the calling key's permissions and expiry (`ApiKeyResponseDto`).
pub(crate) async fn key_self(State(state): State<Arc<SimState>>, url: RequestUrl) -> Response {
    let config = &state.config;
    let key = serde_json::json!({
        "id": "8f2c6c3e-2b7d-4f7a-9d3e-3b1f2d0c9a11",
        "name": "compliance reports",
        "keyPostfix": config.api_key.chars().rev().take(4).collect::<String>(),
        "permissions": config.key_permissions,
        "createOn": super::dates::format_api_date(config.events_from.timestamp(), config.portal_time_zone),
        "expiresAt": config
            .key_expires_at
            .map(|at| super::dates::format_api_date(at.timestamp(), config.portal_time_zone)),
        "isActive": true
    });
    envelope::success_object(&url, &key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::seed_login;
    use crate::test_support::{MARCH_FROM as FROM, MARCH_TO as TO, march_audit};

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
        let fast = select_audit(&world, &Texts::new(&world), &recs, &f, false);
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
