//! `GET /ui/events`: one kind's events in a time range chosen by preset or by hand, filtered, newest
//! first, 50 a page. Both "next" and "previous" go by keyset: a signed cursor naming the page's
//! last (or first) event and the snapshot the walk began at, so events ingested meanwhile never
//! shift it and a page deep into the trail costs what the first costs. "Previous" reads the
//! events just after the page's first one oldest first and shows them reversed.

use auditrail_core::cursor::{Cursor, Endpoint, query_digest};
use auditrail_core::query::{Category, EventType, Filters, Position, Resource, filter_value};
use auditrail_core::{EventQuery, Kind, Order, SearchText, TimeRange, Timestamp};
use auditrail_store::{Dimension, SEARCH_COUNT_BOUND, day_of, day_start};
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::error::PageError;
use super::html;
use super::layout::{self, time};
use super::session::PageRequest;
use super::summary::Summary;
use crate::AppState;
use crate::access_log::{Read, RecordedQuery};
use crate::auth::readable_kinds;
use crate::params::QueryParams;

const PAGE: u32 = 50;
/// The kinds offered, in the order of the tabs.
pub(super) const BROWSABLE: [Kind; 5] = [Kind::Admin, Kind::Compliance, Kind::Connect, Kind::Security, Kind::Access];
/// The filter parameters, as recorded in the access log and bound into cursors.
const FILTERS: [&str; 9] = ["kind", "range", "from", "to", "category", "resource", "type", "actor", "q"];

/// The time range presets: label, parameter value, length.
const RANGES: [(&str, &str, Option<i64>); 6] = [
    ("Last 24 hours", "24h", Some(86_400_000)),
    ("Last 7 days", "7d", Some(7 * 86_400_000)),
    ("Last 30 days", "30d", Some(30 * 86_400_000)),
    ("Last 90 days", "90d", Some(90 * 86_400_000)),
    ("Last year", "1y", Some(365 * 86_400_000)),
    ("All time", "all", None),
];
const DEFAULT_RANGE: &str = "30d";

pub fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Admin => "Admin",
        Kind::Compliance => "Compliance",
        Kind::Connect => "Connect",
        Kind::Security => "Security",
        Kind::Access => "Access log",
        Kind::System => "System",
    }
}

/// The listing a request asks for, parsed.
pub(super) struct Listing {
    pub kind: Kind,
    range_choice: String,
    range: TimeRange,
    filters: Filters,
    /// The raw filter values, to fill the form in again and build links.
    pub form: Vec<(&'static str, String)>,
    page: u64,
    position: Position,
    /// Reading backwards (a "previous" link): oldest first from the cursor, shown reversed.
    backwards: bool,
    snapshot: Option<u64>,
}

pub(super) fn parse_listing(
    q: &QueryParams,
    readable: &[Kind],
    key: &auditrail_core::CursorKey,
    org: &auditrail_core::OrgId,
) -> Result<Listing, PageError> {
    let kind = match q.optional("kind")? {
        Some(raw) => Kind::parse(raw)
            .filter(|k| BROWSABLE.contains(k))
            .ok_or_else(|| PageError::bad_request(format!("There is no kind of event called '{}'.", short(raw))))?,
        None => BROWSABLE.into_iter().find(|k| readable.contains(k)).unwrap_or(Kind::Admin),
    };
    if !readable.contains(&kind) {
        return Err(PageError::new(
            axum::http::StatusCode::FORBIDDEN,
            format!("This token may not read {} events.", kind_label(kind).to_lowercase()),
        ));
    }
    let mut form: Vec<(&'static str, String)> = vec![("kind", kind.as_str().to_owned())];
    let range_choice = q.optional("range")?.unwrap_or(DEFAULT_RANGE).to_owned();
    let now = Timestamp::now();
    let range = if range_choice == "custom" {
        let from = q.optional("from")?.map(|raw| local_time(raw, "from")).transpose()?.unwrap_or(Timestamp::MIN);
        let to = q.optional("to")?.map(|raw| local_time(raw, "to")).transpose()?.unwrap_or(now);
        for name in ["from", "to"] {
            if let Some(v) = q.optional(name)? {
                form.push((if name == "from" { "from" } else { "to" }, v.to_owned()));
            }
        }
        TimeRange::new(from, to)?
    } else {
        let (_, _, span) = RANGES
            .iter()
            .find(|(_, value, _)| *value == range_choice)
            .ok_or_else(|| PageError::bad_request(format!("'{}' is not a time range preset.", short(&range_choice))))?;
        let from = span.map_or(Timestamp::MIN, |ms| now.saturating_add_millis(-ms));
        TimeRange::new(from, now)?
    };
    form.push(("range", range_choice.clone()));
    let mut filters = Filters::default();
    if let Some(raw) = q.optional("category")? {
        filters.categories = vec![Category::exact(raw.trim(), "category")?];
        form.push(("category", raw.to_owned()));
    }
    if kind == Kind::Compliance {
        if let Some(raw) = q.optional("resource")? {
            filters.resource = Some(Resource::parse(raw, "resource")?);
            form.push(("resource", raw.to_owned()));
        }
        if let Some(raw) = q.optional("type")? {
            filters.event_type = Some(EventType::parse(raw, "type")?);
            form.push(("type", raw.to_owned()));
        }
    }
    if let Some(raw) = q.optional("q")? {
        filters.text = Some(SearchText::parse(raw, "q")?);
        form.push(("q", raw.to_owned()));
    }
    if let Some(raw) = q.optional("actor")? {
        filters.actor_or_email = vec![filter_value(raw.trim(), "actor")?];
        form.push(("actor", raw.to_owned()));
    }
    let page = match q.optional("page")? {
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| PageError::bad_request("Invalid parameter 'page': a page number from 1"))?,
        None => 1,
    };
    let digest = query_digest(Endpoint::Viewer, org, &normalised(&form));
    let cursor = |name: &str| -> Result<Option<Cursor>, PageError> {
        Ok(q.optional(name)?.map(|raw| Cursor::decode(raw, key, digest, name)).transpose()?)
    };
    let (after, before) = (cursor("after")?, cursor("before")?);
    let (position, backwards, snapshot) = match (after, before) {
        (Some(_), Some(_)) => return Err(PageError::bad_request("Give 'after' or 'before', not both.")),
        (Some(c), None) | (None, Some(c)) => {
            (Position::After { created: c.last_created, seq: c.last_seq }, before.is_some(), Some(c.snapshot))
        }
        (None, None) => (Position::Offset(0), false, None),
    };
    Ok(Listing { kind, range_choice, range, filters, form, page, position, backwards, snapshot })
}

impl Listing {
    pub(super) fn query(&self, limit: u32) -> EventQuery {
        EventQuery {
            kind: self.kind,
            range: self.range,
            filters: self.filters.clone(),
            order: if self.backwards { Order::OldestFirst } else { Order::NewestFirst },
            position: self.position,
            snapshot: self.snapshot,
            limit,
            with_total: self.counted_by_day().is_none(),
        }
    }

    /// The category the daily counts answer this listing's total for (`Some("")`: every event),
    /// when they do: no filter, or one category (a compliance resource) alone.
    fn counted_by_day(&self) -> Option<&str> {
        let f = &self.filters;
        let only_category = f.text.is_none()
            && f.actor_ids.is_empty()
            && f.actor_or_email.is_empty()
            && f.event_type.is_none()
            && f.roles.is_empty()
            && f.categories.len() + usize::from(f.resource.is_some()) <= 1;
        if !only_category {
            return None;
        }
        Some(f.resource.map(|r| r.as_str()).or(f.categories.first().map(|c| c.as_str())).unwrap_or(""))
    }

    /// The total, from the daily counts for the whole days of the range and from the events of
    /// its partial first and last days; `None` when the daily counts cannot answer it.
    async fn total_by_day(
        &self,
        state: &AppState,
        org: &auditrail_core::OrgId,
        snapshot: u64,
    ) -> Result<Option<u64>, PageError> {
        let Some(category) = self.counted_by_day() else { return Ok(None) };
        let (from, to) = (self.range.from(), self.range.to());
        let after_to = to.saturating_add_millis(1);
        let first_full = if day_start(day_of(from)) == from { day_of(from) } else { day_of(from) + 1 };
        let last_full = day_of(after_to) - 1;
        let count = |range: TimeRange| {
            let mut query = self.query(1);
            query.range = range;
            query.position = Position::Offset(0);
            query.snapshot = Some(snapshot);
            query.with_total = true;
            async move { Ok::<_, PageError>(state.store.events(org, &query).await?.total.unwrap_or(0)) }
        };
        if first_full > last_full {
            return Ok(Some(count(self.range).await?));
        }
        let mut total: u64 = state
            .store
            .daily_counts(org, self.kind, Dimension::Category, (first_full, last_full))
            .await?
            .iter()
            .filter(|c| category.is_empty() || c.value == category)
            .map(|c| c.count)
            .sum();
        if from < day_start(first_full) {
            total += count(TimeRange::new(from, day_start(first_full).saturating_add_millis(-1))?).await?;
        }
        if day_start(last_full + 1) <= to {
            total += count(TimeRange::new(day_start(last_full + 1), to)?).await?;
        }
        Ok(Some(total))
    }

    /// The export of this listing's filter.
    fn export_href(&self, format: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.form {
            query.append_pair(k, v);
        }
        query.append_pair("format", format);
        format!("/ui/export?{}", query.finish())
    }
}

/// A `datetime-local` value (`2026-01-31T13:45`, taken as UTC) or a full RFC 3339 timestamp.
fn local_time(raw: &str, param: &str) -> Result<Timestamp, PageError> {
    let raw = raw.trim();
    let full = match raw.len() {
        16 => format!("{raw}:00Z"),
        19 => format!("{raw}Z"),
        _ => raw.to_owned(),
    };
    Ok(Timestamp::parse(&full, param)?)
}

fn short(raw: &str) -> String {
    raw.chars().take(64).collect()
}

fn normalised(form: &[(&str, String)]) -> String {
    form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

/// `/ui/events` with these parameters, in order.
pub(super) fn link(form: &[(&str, String)], extra: &[(&str, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form.iter().chain(extra) {
        query.append_pair(k, v);
    }
    format!("/ui/events?{}", query.finish())
}

/// `GET /ui/events`.
pub async fn list(
    State(state): State<AppState>,
    PageRequest { viewer, meta, query: q }: PageRequest,
) -> Result<Response, PageError> {
    let org = &viewer.principal.org.id;
    let readable = readable_kinds(&viewer.principal);
    let listing = parse_listing(&q, &readable, &state.cursor_key, org)?;
    let mut page = if listing.filters.text.is_some() {
        // A search's page and its (bounded) count each visit the matches their own way: asked
        // for at once, the page waits for the slower of the two instead of their sum.
        let mut query = listing.query(PAGE);
        query.with_total = false;
        let mut counting = listing.query(1);
        counting.position = Position::Offset(0);
        let (page, count) = tokio::join!(state.store.events(org, &query), state.store.events(org, &counting));
        let mut page = page?;
        page.total = count?.total;
        page
    } else {
        state.store.events(org, &listing.query(PAGE)).await?
    };
    if let Some(total) = listing.total_by_day(&state, org, page.snapshot).await? {
        page.total = Some(total);
    }
    // Reading backwards, `has_more` says whether there are newer pages still; what follows this
    // page (the one the reader came from) always exists.
    let (has_newer, has_older) = if listing.backwards {
        page.items.reverse();
        (page.has_more, true)
    } else {
        (listing.page > 1, page.has_more)
    };
    // Reading the access log is not itself recorded: each look would add to what is looked at.
    if listing.kind != Kind::Access {
        let recorded = RecordedQuery::from_params(&q, &FILTERS);
        let read = Read { method: "GET", path: "/ui/events", query: recorded, results: page.items.len() };
        state.record_access(&viewer.principal, &meta, read).await;
    }
    let digest = query_digest(Endpoint::Viewer, org, &normalised(&listing.form));
    let cursor_at = |item: &auditrail_store::StoredEvent| {
        Cursor::new(item.created, item.seq, page.snapshot, digest).encode(&state.cursor_key)
    };
    let next = has_older
        .then(|| page.items.last())
        .flatten()
        .map(|last| link(&listing.form, &[("after", cursor_at(last)), ("page", (listing.page + 1).to_string())]));
    let previous = has_newer.then(|| page.items.first()).flatten().map(|first| {
        link(
            &listing.form,
            &[("before", cursor_at(first)), ("page", (listing.page.saturating_sub(1)).max(1).to_string())],
        )
    });
    let rows: Vec<(Summary, String, Timestamp)> = page
        .items
        .iter()
        .map(|item| {
            let event: Value = serde_json::from_str(&item.body).unwrap_or(Value::Null);
            let id = event.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            (Summary::of(listing.kind, &event), id, item.created)
        })
        .collect();
    let first_shown = (listing.page - 1) * u64::from(PAGE) + 1;
    let body = html! {
        h1 { (kind_label(listing.kind)) " events" }
        (kind_tabs(listing.kind, &readable))
        (filter_form(&listing))
        @if rows.is_empty() {
            p.notice role="status" { "No events match these filters in this time range." }
        } @else {
            p.count role="status" {
                "Showing " (first_shown) "–" (first_shown + rows.len() as u64 - 1)
                @if let Some(total) = page.total {
                    @if listing.filters.text.is_some() && total > SEARCH_COUNT_BOUND {
                        " of more than " (SEARCH_COUNT_BOUND)
                    } @else { " of " (total) }
                }
                " events, newest first."
            }
            (results_table(listing.kind, &rows))
            p.exports {
                "Export everything this filter matches: "
                a href=(listing.export_href("csv")) download { "CSV" }
                " · "
                a href=(listing.export_href("ndjson")) download { "NDJSON" }
            }
        }
        nav.pager aria-label="Pages" {
            @if let Some(href) = &previous { a rel="prev" href=(href) { "← Previous" } }
            @if let Some(href) = &next { a rel="next" href=(href) { "Next →" } }
        }
    };
    Ok(html(layout::page(&format!("{} events", kind_label(listing.kind)), Some(&viewer), body)))
}

fn kind_tabs(current: Kind, readable: &[Kind]) -> Markup {
    html! {
        nav.tabs aria-label="Kinds of events" {
            ul {
                @for kind in BROWSABLE.iter().filter(|k| readable.contains(k)) {
                    li {
                        a href=(format!("/ui/events?kind={}", kind.as_str()))
                          aria-current=[(*kind == current).then_some("page")] { (kind_label(*kind)) }
                    }
                }
            }
        }
    }
}

fn value_of<'a>(listing: &'a Listing, name: &str) -> &'a str {
    listing.form.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v.as_str())
}

fn filter_form(listing: &Listing) -> Markup {
    let kind = listing.kind;
    html! {
        form.filters method="get" action="/ui/events" role="search" aria-label="Filter events" {
            input type="hidden" name="kind" value=(kind.as_str());
            div.field {
                label for="q" { "Search" }
                input #q type="search" name="q" value=(value_of(listing, "q")) maxlength="200"
                    placeholder="words in actions, names, e-mails…";
            }
            div.field {
                label for="range" { "Time range" }
                select #range name="range" {
                    @for (label, value, _) in RANGES {
                        option value=(value) selected[listing.range_choice == value] { (label) }
                    }
                    option value="custom" selected[listing.range_choice == "custom"] { "Custom (below)" }
                }
            }
            div.field {
                label for="from" { "From (UTC)" }
                input #from type="datetime-local" name="from" value=(value_of(listing, "from"));
            }
            div.field {
                label for="to" { "To (UTC)" }
                input #to type="datetime-local" name="to" value=(value_of(listing, "to"));
            }
            @if kind == Kind::Compliance {
                (choice(listing, "resource", "Resource", Resource::ALL.iter().map(|r| r.as_str())))
                (choice(listing, "type", "Type", EventType::ALL.iter().map(|t| t.as_str())))
            } @else {
                div.field {
                    label for="category" { "Category" }
                    input #category type="text" name="category" value=(value_of(listing, "category"))
                        list=[(kind == Kind::Admin).then_some("categories")];
                    @if kind == Kind::Admin {
                        datalist #categories { @for c in Category::BUILT_IN { option value=(c) {} } }
                    }
                }
            }
            div.field {
                label for="actor" { "Actor (id or e-mail)" }
                input #actor type="text" name="actor" value=(value_of(listing, "actor"));
            }
            div.actions {
                button type="submit" { "Apply" }
                a href=(format!("/ui/events?kind={}", kind.as_str())) { "Clear" }
            }
        }
    }
}

/// A select of one filter's values, "Any" first, the listing's value selected.
fn choice<'a>(listing: &Listing, name: &str, label: &str, values: impl Iterator<Item = &'a str>) -> Markup {
    let current = value_of(listing, name);
    html! {
        div.field {
            label for=(name) { (label) }
            select id=(name) name=(name) {
                option value="" { "Any" }
                @for value in values { option value=(value) selected[current == value] { (value) } }
            }
        }
    }
}

fn results_table(kind: Kind, rows: &[(Summary, String, Timestamp)]) -> Markup {
    let outcome_header = if kind == Kind::Access { "Result" } else { "Outcome" };
    html! {
        table.events {
            caption.visually-hidden { (kind_label(kind)) " events" }
            thead {
                tr {
                    th scope="col" { "When" }
                    th scope="col" { "Actor" }
                    th scope="col" { "Action" }
                    th scope="col" { "Category" }
                    th scope="col" { "Target" }
                    th scope="col" { (outcome_header) }
                }
            }
            tbody {
                @for (summary, id, created) in rows {
                    tr {
                        td { (time(*created)) }
                        td {
                            (summary.actor)
                            @if !summary.actor_email.is_empty() && summary.actor_email != summary.actor {
                                br; small { (summary.actor_email) }
                            }
                        }
                        td {
                            a href=(detail_href(kind, id)) {
                                @if summary.action.is_empty() { (fallback_action(summary, id)) } @else { (summary.action) }
                            }
                        }
                        td { (summary.category) }
                        td { (summary.target) }
                        td { (summary.outcome) }
                    }
                }
            }
        }
    }
}

fn fallback_action(summary: &Summary, id: &str) -> String {
    if summary.description.is_empty() { format!("Event {id}") } else { summary.description.clone() }
}

/// The detail page of an event: the id is one path segment, percent-encoded.
pub fn detail_href(kind: Kind, id: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/ui/events/{}/{}", kind.as_str(), encoded.replace('+', "%20"))
}
