//! Writes event views as the JSON objects the server returns, straight into the response
//! buffer. Field order, omitted fields and escaping are those of the `AuditEventDto` and
//! `LoginEventDto` serializers (compact `serde_json` output); the tests check the bytes
//! against a `serde` rendering.

use chrono_tz::Tz;

use super::dates::push_api_date;
use super::events::{AuditPage, AuditView, Context, Ip, LoginPage, LoginView, Origin};
use super::guid::EMPTY_GUID;
use super::json::{JsonStr, push_escaped_contents, push_int, push_uint};
use super::texts::Segment;

/// What every event of a page shares: the portal base URL (escaped) and time zone.
#[derive(Debug)]
pub(crate) struct EventWriter {
    /// `http://host:port`, escaped for a JSON string.
    base: JsonStr,
    tz: Tz,
}

impl EventWriter {
    /// A writer for a portal at `base_url` rendering dates in `tz`.
    pub fn new(base_url: &str, tz: Tz) -> Self {
        Self {
            base: JsonStr::new(base_url),
            tz,
        }
    }

    /// `,"page":"<base><path>"`, with `path` writing the (escaped) path of the portal page.
    fn page(&self, out: &mut Vec<u8>, path: impl FnOnce(&mut Vec<u8>)) {
        out.extend_from_slice(b",\"page\":\"");
        self.base.push_contents(out);
        path(out);
        out.push(b'"');
    }

    /// `{"id":N,"date":"..."`: the start of every event object.
    fn head(&self, out: &mut Vec<u8>, id: i64, ts: i64, micros: u32) {
        out.extend_from_slice(b"{\"id\":");
        push_int(out, id);
        out.extend_from_slice(b",\"date\":\"");
        push_api_date(out, ts, micros, self.tz);
        out.push(b'"');
    }

    /// Writes an audit event object.
    pub fn audit(&self, out: &mut Vec<u8>, event: &AuditView<'_>) {
        self.head(out, event.id, event.ts, event.micros);
        out.extend_from_slice(b",\"user\":\"");
        event.user.name.push_contents(out);
        out.extend_from_slice(b"\",\"userId\":\"");
        event.user.id.push_contents(out);
        out.extend_from_slice(b"\",\"action\":\"");
        for segment in &event.action.template.segments {
            match segment {
                Segment::Literal(text) => text.push_contents(out),
                Segment::Slot(slot) => event.action.values.get(*slot).push_contents(out),
            }
        }
        out.extend_from_slice(b"\",\"actionId\":");
        push_int(out, event.spec.id.into());
        origin(out, &event.origin);
        if let Some(page) = event.page {
            self.page(out, |out| audit_path(out, page));
        }
        out.extend_from_slice(b",\"actionType\":");
        push_int(out, event.spec.action_type.into());
        out.extend_from_slice(b",\"product\":");
        push_int(out, event.spec.product.into());
        out.extend_from_slice(b",\"location\":");
        push_int(out, event.spec.location.into());
        if let Some(target) = event.target {
            out.extend_from_slice(b",\"target\":[");
            for (i, part) in target.split(',').enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                push_escaped_contents(out, part);
                out.push(b'"');
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"entries\":[");
        for (i, &entry) in event.spec.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_int(out, entry.into());
        }
        out.push(b']');
        match event.context {
            None => {}
            Some(Context::Room(title)) => {
                out.extend_from_slice(b",\"context\":\"Rooms: ");
                title.push_contents(out);
                out.push(b'"');
            }
            Some(Context::Fixed(text)) => {
                out.extend_from_slice(b",\"context\":\"");
                push_escaped_contents(out, text);
                out.push(b'"');
            }
        }
        out.push(b'}');
    }

    /// Writes a login event object.
    pub fn login(&self, out: &mut Vec<u8>, event: &LoginView<'_>) {
        self.head(out, event.id, event.ts, 0);
        match event.user {
            Some(user) => {
                out.extend_from_slice(b",\"user\":\"");
                user.name.push_contents(out);
                out.extend_from_slice(b"\",\"userId\":\"");
                user.id.push_contents(out);
            }
            None => {
                out.extend_from_slice(b",\"userId\":\"");
                out.extend_from_slice(EMPTY_GUID.as_bytes());
            }
        }
        out.extend_from_slice(b"\",\"login\":\"");
        event.login.push_contents(out);
        out.extend_from_slice(b"\",\"action\":\"");
        event.action.push_contents(out);
        out.extend_from_slice(b"\",\"actionId\":");
        push_int(out, event.action_id.into());
        origin(out, &event.origin);
        let path: &[u8] = match event.page {
            LoginPage::Authentication => b"/api/2.0/authentication",
            LoginPage::Login => b"/login",
        };
        self.page(out, |out| out.extend_from_slice(path));
        out.push(b'}');
    }
}

/// The path of an audit event's page.
fn audit_path(out: &mut Vec<u8>, page: AuditPage) {
    match page {
        AuditPage::DocEditor(file) => {
            out.extend_from_slice(b"/doceditor?fileid=");
            push_int(out, file);
        }
        AuditPage::RoomFilter(room) => {
            out.extend_from_slice(b"/rooms/shared/");
            push_int(out, room);
            out.extend_from_slice(b"/filter?folder=");
            push_int(out, room);
        }
        AuditPage::Trash => out.extend_from_slice(b"/rooms/trash"),
        AuditPage::People => out.extend_from_slice(b"/accounts/people/filter"),
        AuditPage::AccessPortal => {
            out.extend_from_slice(b"/portal-settings/security/access-portal");
        }
    }
}

/// `,"ip":"...",["country":"...","city":"...",]"browser":"...","platform":"..."`.
fn origin(out: &mut Vec<u8>, origin: &Origin<'_>) {
    out.extend_from_slice(b",\"ip\":\"");
    match origin.ip {
        Ip::Fixed(ip) => ip.push_contents(out),
        Ip::Drawn { net, host } => {
            net.push_contents(out);
            out.push(b'.');
            push_uint(out, host.into());
        }
    }
    out.push(b'"');
    if let Some(place) = origin.geo {
        out.extend_from_slice(b",\"country\":\"");
        place.country.push_contents(out);
        out.extend_from_slice(b"\",\"city\":\"");
        place.city.push_contents(out);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"browser\":\"");
    origin.client.browser.push_contents(out);
    out.extend_from_slice(b"\",\"platform\":\"");
    origin.client.platform.push_contents(out);
    out.push(b'"');
}
