//! Walking the three read APIs page by page, the way each one pages:
//! - admin audit (`GET /v1/adminAudit/events`): windows of at most 365 days (the API refuses more
//!   than a year per request), each followed through its `Link: rel="next"` URLs;
//! - compliance (`GET /v1/events`): one window, followed through `Link`;
//! - Connect (`POST …/audit-logs/export`): `range:"custom"` windows of at most 365 days, each paged
//!   by `offset` until `totalRecords` is reached (or a given numeric `range`, paged the same way).
//!
//! A `Link` is followed only within the origin the token was given for: the next-page URL comes
//! from the server, and following it elsewhere would hand the token to whoever that host is.
//!
//! Items stay raw JSON text ([`RawValue`]) from the response to the output, so `export` writes
//! each event exactly as the server sent it and memory holds one page at a time.

use std::borrow::Cow;

use anyhow::{Context, bail};
use auditrail_core::{Kind, Timestamp};
use reqwest::Url;
use reqwest::header::LINK;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::api::{Api, Retry, printable};

/// One day in milliseconds, the unit of default ranges.
pub const DAY_MS: i64 = 86_400_000;
/// The longest window one request may cover (admin audit allows 366 days; we stay a day short).
const WINDOW_MS: i64 = 365 * DAY_MS;

/// What to read. Filters not meaningful for `kind` are `None`/empty (the caller checks).
#[derive(Debug, Clone)]
pub struct Query {
    /// Which API: admin or security audit, compliance events, Connect audit logs, access log.
    pub kind: Kind,
    /// The org's id, for admin audit (`orgId` is required there).
    pub org: Option<String>,
    /// The oldest `created` to read; required by every API but compliance's.
    pub from: Option<Timestamp>,
    /// The newest `created` to read.
    pub to: Timestamp,
    /// Admin/compliance: at most one (`actorId`); Connect: any number (`actorIds`).
    pub actors: Vec<String>,
    /// `eventCategories` (admin, security and Connect).
    pub categories: Vec<String>,
    /// Compliance `resource`.
    pub resource: Option<String>,
    /// Compliance `type`.
    pub event_type: Option<String>,
    /// Compliance `serviceType`.
    pub service_type: Option<String>,
    /// Connect `adminRoles`.
    pub roles: Vec<String>,
    /// Connect numeric range instead of custom windows.
    pub range: Option<String>,
    /// Free-text search (`q`): only an auditrail server's export applies it, never a listing
    /// (see [`crate::open_export`]).
    pub text: Option<String>,
    /// Items per page asked of the API; `None` for its default.
    pub max: Option<u32>,
}

/// One page of raw items.
pub struct Page {
    /// The items as the server sent them, in its order (oldest first).
    pub items: Vec<Box<RawValue>>,
    /// The window this page belongs to.
    pub window: Window,
    /// True when no further page of this window follows.
    pub window_done: bool,
    /// Connect: `totalRecords` of the window.
    pub total: Option<u64>,
}

/// An inclusive window of `created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `None`: from the API's own beginning (compliance, a Connect numeric range).
    pub from: Option<Timestamp>,
    /// The window's newest `created`.
    pub to: Timestamp,
}

enum Next {
    Start,
    Url(Url),
    Offset(u64),
}

/// Reads a [`Query`] page by page, window by window (see the module's documentation).
pub struct Walker<'a> {
    /// Borrowed, unless [`Walker::with_url`] had to trust one more origin.
    api: Cow<'a, Api>,
    query: Query,
    url: Url,
    windows: Vec<Window>,
    current: usize,
    next: Next,
}

/// `[from, to]` cut into consecutive inclusive windows of at most [`WINDOW_MS`].
fn windows(from: Timestamp, to: Timestamp) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = from;
    loop {
        let end = start.saturating_add_millis(WINDOW_MS - 1).min(to);
        out.push(Window { from: Some(start), to: end });
        if end >= to {
            return out;
        }
        start = end.saturating_add_millis(1);
    }
}

#[derive(Deserialize)]
struct Items {
    items: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectPage {
    code: Option<Value>,
    description: Option<String>,
    total_records: Option<u64>,
    #[serde(default)]
    audit_logs: Vec<Box<RawValue>>,
}

impl<'a> Walker<'a> {
    /// A walk over `query` on `api`; an error when the query lacks what its API requires (a start
    /// time for admin and security audit, a start time or range for Connect).
    pub fn new(api: &'a Api, query: Query) -> anyhow::Result<Self> {
        if query.text.is_some() {
            bail!("a search (--q) is read through the export (GET /auditrail/v1/export), not the listings");
        }
        let (path, windows) = match query.kind {
            Kind::Admin => {
                let Some(from) = query.from else { bail!("admin audit events need a start time (--from)") };
                ("/v1/adminAudit/events", windows(from, query.to))
            }
            Kind::Security => {
                let Some(from) = query.from else { bail!("security audit events need a start time (--from)") };
                ("/v1/admin/securityAudit/events", windows(from, query.to))
            }
            Kind::Compliance => ("/v1/events", vec![Window { from: query.from, to: query.to }]),
            Kind::Access => ("/auditrail/v1/access", vec![Window { from: query.from, to: query.to }]),
            Kind::System => bail!("system records are read through the log (GET /auditrail/v1/log)"),
            Kind::Connect => {
                let path = "/connectapi/v1/auditManager/audit-logs/export";
                match (&query.range, query.from) {
                    (Some(_), _) => (path, vec![Window { from: None, to: query.to }]),
                    (None, Some(from)) => (path, windows(from, query.to)),
                    (None, None) => bail!("Connect audit logs need --from or --range"),
                }
            }
        };
        let url = api.url(path);
        Ok(Walker { api: Cow::Borrowed(api), query, url, windows, current: 0, next: Next::Start })
    }

    /// Connect reads go to a URL of their own when the source serves them elsewhere. The caller
    /// passes a URL the user configured (`--connect-source`), so its origin gets the token too.
    pub(crate) fn with_url(mut self, url: Url) -> Self {
        if !self.api.trusts(&url) {
            self.api = Cow::Owned(self.api.as_ref().clone().trusting(&url));
        }
        self.url = url;
        self
    }

    /// The next page, or `None` when every window is done. Pages may be empty.
    pub async fn next_page(&mut self) -> anyhow::Result<Option<Page>> {
        let Some(&window) = self.windows.get(self.current) else { return Ok(None) };
        let page = match self.query.kind {
            Kind::Admin | Kind::Compliance | Kind::Security | Kind::Access | Kind::System => {
                self.linked_page(window).await?
            }
            Kind::Connect => self.connect_page(window).await?,
        };
        if page.window_done {
            self.current += 1;
            self.next = Next::Start;
        }
        Ok(Some(page))
    }

    async fn linked_page(&mut self, window: Window) -> anyhow::Result<Page> {
        let url = match &self.next {
            Next::Url(url) => url.clone(),
            _ => self.first_url(window),
        };
        let reply = self.api.get(url.clone()).await?;
        let body: Items = serde_json::from_slice(&reply.body)
            .with_context(|| format!("unexpected answer from {url}: not a {{\"items\": [...]}} page"))?;
        let next = next_link(&reply.headers, &url);
        if let Some(next) = &next {
            self.api.check_origin(next, "the next-page Link of the answer")?;
        }
        // wxc_sdk stops on an empty page too: a server that keeps linking past the end must not
        // make us loop forever.
        let done = next.is_none() || body.items.is_empty();
        self.next = next.map_or(Next::Start, Next::Url);
        Ok(Page { items: body.items, window, window_done: done, total: None })
    }

    fn first_url(&self, window: Window) -> Url {
        let q = &self.query;
        let mut url = self.url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            if matches!(q.kind, Kind::Admin | Kind::Security) {
                pairs.append_pair("orgId", q.org.as_deref().unwrap_or(""));
            }
            if let Some(resource) = &q.resource {
                pairs.append_pair("resource", resource);
            }
            if let Some(t) = &q.event_type {
                pairs.append_pair("type", t);
            }
            if let Some(actor) = q.actors.first() {
                pairs.append_pair("actorId", actor);
            }
            // Security audit names its window differently; the rest say from/to.
            let (from_name, to_name) = if q.kind == Kind::Security { ("startTime", "endTime") } else { ("from", "to") };
            if let Some(from) = window.from {
                pairs.append_pair(from_name, &from.to_string());
            }
            pairs.append_pair(to_name, &window.to.to_string());
            if let Some(s) = &q.service_type {
                pairs.append_pair("serviceType", s);
            }
            if !q.categories.is_empty() {
                pairs.append_pair("eventCategories", &q.categories.join(","));
            }
            if let Some(max) = q.max {
                pairs.append_pair("max", &max.to_string());
            }
        }
        url
    }

    async fn connect_page(&mut self, window: Window) -> anyhow::Result<Page> {
        let offset = match self.next {
            Next::Offset(o) => o,
            _ => 0,
        };
        let q = &self.query;
        let mut body = json!({
            "offset": offset,
            "max": q.max.unwrap_or(2000),
            "eventCategories": q.categories.join(","),
            "actorIds": q.actors.join(","),
            "adminRoles": q.roles.join(","),
        });
        if let Value::Object(map) = &mut body {
            match (&q.range, window.from) {
                (Some(range), _) => {
                    map.insert("range".into(), Value::String(range.clone()));
                }
                (None, from) => {
                    map.insert("range".into(), Value::String("custom".into()));
                    let from = from.map(|f| f.to_string()).unwrap_or_default();
                    map.insert("from".into(), Value::String(from));
                    map.insert("to".into(), Value::String(window.to.to_string()));
                }
            }
        }
        let reply =
            self.api.post(self.url.clone(), "application/json", body.to_string().into_bytes(), Retry::Always).await?;
        let page: ConnectPage = serde_json::from_slice(&reply.body)
            .with_context(|| format!("unexpected answer from {}: not an audit-log export page", self.url))?;
        let code_ok = match &page.code {
            None => true,
            Some(Value::String(c)) => c == "0",
            Some(Value::Number(n)) => n.as_u64() == Some(0),
            Some(_) => false,
        };
        if !code_ok {
            bail!(
                "the audit-log export answered code {}: {}",
                page.code.as_ref().map(Value::to_string).unwrap_or_default(),
                printable(&page.description.unwrap_or_default())
            );
        }
        let next_offset = offset + page.audit_logs.len() as u64;
        let done = page.audit_logs.is_empty() || page.total_records.is_none_or(|t| next_offset >= t);
        self.next = Next::Offset(next_offset);
        Ok(Page { items: page.audit_logs, window, window_done: done, total: page.total_records })
    }
}

/// The `rel="next"` URL of a `Link` header (several links may share one header or come in
/// several), resolved against the request URL in case a server sends a relative one.
fn next_link(headers: &reqwest::header::HeaderMap, base: &Url) -> Option<Url> {
    for value in headers.get_all(LINK) {
        let Ok(text) = value.to_str() else { continue };
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else { break };
            let target = &rest[open + 1..open + close];
            let after = &rest[open + close + 1..];
            let params_end = after.find('<').unwrap_or(after.len());
            let params = &after[..params_end];
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                p.strip_prefix("rel=").is_some_and(|v| v.trim_matches('"').split_whitespace().any(|r| r == "next"))
            });
            if is_next {
                return base.join(target).ok();
            }
            rest = after;
        }
    }
    None
}

/// The item's `created`, if it has one we can read.
pub(crate) fn created_of(raw: &RawValue) -> Option<Timestamp> {
    #[derive(Deserialize)]
    struct Created<'a> {
        #[serde(borrow)]
        created: Option<std::borrow::Cow<'a, str>>,
    }
    let c: Created<'_> = serde_json::from_str(raw.get()).ok()?;
    Timestamp::parse(c.created.as_deref()?, "created").ok()
}

/// The item's `id`, if it has a string one.
pub fn id_of(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        id: Option<Value>,
    }
    match serde_json::from_str::<Id>(raw).ok()?.id? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// JSON text without insignificant whitespace (so a pretty-printed item fits on one NDJSON
/// line); everything else, key order and escapes included, is kept byte for byte.
pub fn compact(raw: &str) -> std::borrow::Cow<'_, str> {
    // The common case is JSON that is compact already (every auditrail server sends it so):
    // find out fast, jumping over strings with a vectorised search, and borrow it unchanged.
    let bytes = raw.as_bytes();
    let mut i = 0;
    let mut needs = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                        Some(j) if bytes[i + j] == b'\\' => i += j + 2,
                        Some(j) => {
                            i += j + 1;
                            break;
                        }
                        None => {
                            i = bytes.len();
                            break;
                        }
                    }
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                needs = true;
                break;
            }
            _ => i += 1,
        }
    }
    if !needs {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn windows_cover_the_range_without_overlap() {
        let from = Timestamp::parse("2022-01-01T00:00:00Z", "t").unwrap();
        let to = Timestamp::parse("2024-06-01T00:00:00Z", "t").unwrap();
        let w = windows(from, to);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].from, Some(from));
        assert_eq!(w[2].to, to);
        for pair in w.windows(2) {
            assert_eq!(pair[0].to.millis() + 1, pair[1].from.unwrap().millis());
            assert_eq!(pair[0].to.millis() - pair[0].from.unwrap().millis(), WINDOW_MS - 1);
        }
        assert_eq!(windows(to, to), vec![Window { from: Some(to), to }]);
    }

    #[test]
    fn next_links() {
        let base = Url::parse("http://h/v1/events?max=2").unwrap();
        let mut h = HeaderMap::new();
        assert!(next_link(&h, &base).is_none());
        h.insert(LINK, HeaderValue::from_static("<http://h/v1/events?cursor=a%2Bb&max=2>; rel=\"next\""));
        assert_eq!(next_link(&h, &base).unwrap().as_str(), "http://h/v1/events?cursor=a%2Bb&max=2");
        h.insert(LINK, HeaderValue::from_static("<http://h/first>; rel=\"first\", </v1/events?o=2>; rel=next"));
        assert_eq!(next_link(&h, &base).unwrap().as_str(), "http://h/v1/events?o=2");
        h.insert(LINK, HeaderValue::from_static("<http://h/prev>; rel=\"prev\""));
        assert!(next_link(&h, &base).is_none());
    }

    #[test]
    fn compact_keeps_strings_verbatim() {
        assert_eq!(compact(r#"{"a":"x y","b":[1,2]}"#), r#"{"a":"x y","b":[1,2]}"#);
        assert!(matches!(compact(r#"{"a":1}"#), std::borrow::Cow::Borrowed(_)));
        assert_eq!(compact("{\n  \"a\": \"x \\\" y\",\n  \"b\": [ 1, 2 ]\n}"), r#"{"a":"x \" y","b":[1,2]}"#);
        assert_eq!(compact(r#"{"a\\": " q "}"#), r#"{"a\\":" q "}"#);
    }

    #[test]
    fn created_and_id() {
        let raw = RawValue::from_string(r#"{"id":"e1","created":"2024-01-01T00:00:00.5+01:00"}"#.into()).unwrap();
        assert_eq!(created_of(&raw).unwrap().to_string(), "2023-12-31T23:00:00.500Z");
        assert_eq!(id_of(raw.get()).as_deref(), Some("e1"));
        assert_eq!(id_of(r#"{"id":5}"#), None);
        assert_eq!(id_of("not json"), None);
    }
}
