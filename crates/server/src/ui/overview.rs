//! `GET /ui/overview`: one kind over a chosen range: events per day per category (a chart drawn
//! on the server as SVG, with its numbers in a table for screen readers), the most active actors,
//! failed actions, the latest signed checkpoint, and who read the trail lately. Everything comes
//! from the counts kept with the events, so it costs the same at a million events as at ten.

use auditrail_core::query::{Filters, Position};
use auditrail_core::{EventQuery, Kind, Order, TimeRange, Timestamp};
use auditrail_store::{DayCount, Dimension, day_of, day_start};
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::error::PageError;
use super::events::{BROWSABLE, detail_href, kind_label, link};
use super::html;
use super::layout::{self, time};
use super::session::PageRequest;
use super::summary::Summary;
use crate::AppState;
use crate::access_log::{Read, RecordedQuery};
use crate::auth::readable_kinds;

const RANGES: [(&str, &str, i64); 4] =
    [("Last 7 days", "7d", 7), ("Last 30 days", "30d", 30), ("Last 90 days", "90d", 90), ("Last year", "1y", 365)];
/// Categories drawn in their own colour; the rest are summed as "other".
const COLOURS: [&str; 6] = ["#0b5cad", "#c2410c", "#047857", "#a21caf", "#a16207", "#0369a1"];
const OTHER_COLOUR: &str = "#6b7280";
const TOP: u32 = 10;

pub async fn page(
    State(state): State<AppState>,
    PageRequest { viewer, meta, query: q }: PageRequest,
) -> Result<Response, PageError> {
    let readable = readable_kinds(&viewer.principal);
    let kind = match q.optional("kind")? {
        Some(raw) => Kind::parse(raw)
            .filter(|k| BROWSABLE.contains(k) && readable.contains(k))
            .ok_or_else(|| PageError::bad_request("There is no such kind of event, or this token may not read it."))?,
        None => BROWSABLE.into_iter().find(|k| readable.contains(k)).unwrap_or(Kind::Admin),
    };
    let range_choice = q.optional("range")?.unwrap_or("30d");
    let &(_, range_value, days) = RANGES
        .iter()
        .find(|(_, value, _)| *value == range_choice)
        .ok_or_else(|| PageError::bad_request("Choose a range of 7d, 30d, 90d or 1y."))?;
    let now = Timestamp::now();
    let last_day = day_of(now);
    let first_day = last_day - days + 1;
    let range = TimeRange::new(day_start(first_day), now)?;
    let org = &viewer.principal.org.id;
    let store = &state.store;
    let per_day = store.daily_counts(org, kind, Dimension::Category, (first_day, last_day)).await?;
    let failed_per_day = store.daily_counts(org, kind, Dimension::Failed, (first_day, last_day)).await?;
    let top_actors = store.top_values(org, kind, Dimension::Actor, (first_day, last_day), TOP).await?;
    let failed = store.failed_events(org, kind, range, TOP).await?;
    let checkpoint = store.checkpoints(org, 1).await?.into_iter().next();
    let mut actors = Vec::with_capacity(top_actors.len());
    for (actor, count) in top_actors {
        actors.push((display_name(&state, org, kind, range, &actor).await?, actor, count));
    }
    let reads = if readable.contains(&Kind::Access) { recent_reads(&state, org).await? } else { Vec::new() };
    let recorded = RecordedQuery::from_pairs([("kind", kind.as_str()), ("range", range_value)]);
    let shown = failed.len() + actors.len();
    state
        .record_access(
            &viewer.principal,
            &meta,
            Read { method: "GET", path: "/ui/overview", query: recorded, results: shown },
        )
        .await;

    let total: u64 = per_day.iter().map(|c| c.count).sum();
    let failed_total: u64 = failed_per_day.iter().map(|c| c.count).sum();
    let listing = [("kind", kind.as_str().to_owned()), ("range", range_value.to_owned())];
    let events_href = |extra: &[(&str, String)]| link(&listing, extra);
    let body = html! {
        h1 { "Overview" }
        nav.tabs aria-label="Kinds of events" {
            ul {
                @for k in BROWSABLE.iter().filter(|k| readable.contains(k)) {
                    li { a href=(format!("/ui/overview?kind={}&range={range_value}", k.as_str()))
                           aria-current=[(*k == kind).then_some("page")] { (kind_label(*k)) } }
                }
            }
        }
        form.filters method="get" action="/ui/overview" {
            input type="hidden" name="kind" value=(kind.as_str());
            div.field {
                label for="range" { "Time range" }
                select #range name="range" {
                    @for (label, value, _) in RANGES { option value=(value) selected[value == range_value] { (label) } }
                }
            }
            div.actions { button type="submit" { "Show" } }
        }
        section aria-labelledby="per-day" {
            h2 #per-day { (kind_label(kind)) " events per day" }
            p { (total) " events, " (failed_total) " failed actions. " a href=(events_href(&[])) { "See the events" } }
            (chart(&per_day, first_day, last_day))
        }
        div.columns {
            section aria-labelledby="actors" {
                h2 #actors { "Most active actors" }
                @if actors.is_empty() { p { "No actor in this range." } } @else {
                    table.events {
                        thead { tr { th scope="col" { "Actor" } th scope="col" { "Events" } } }
                        tbody {
                            @for (name, actor, count) in &actors {
                                tr {
                                    td { a href=(events_href(&[("actor", actor.clone())])) { (name) } }
                                    td { (count) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="failed" {
                h2 #failed { "Latest failed actions" }
                @if failed.is_empty() { p { "No failed action in this range." } } @else {
                    ul.plain {
                        @for event in &failed {
                            @let value: Value = serde_json::from_str(&event.body).unwrap_or(Value::Null);
                            @let summary = Summary::of(kind, &value);
                            @let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
                            li {
                                (time(event.created)) " "
                                a href=(detail_href(kind, id)) {
                                    @if summary.action.is_empty() { (summary.description) } @else { (summary.action) }
                                }
                                @if !summary.error_code.is_empty() { " " code { (summary.error_code) } }
                                @else if !summary.outcome.is_empty() { " (" (summary.outcome) ")" }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="log" {
            h2 #log { "Signed log" }
            @match &checkpoint {
                Some(c) => p {
                    "The latest signed checkpoint covers the first " (c.tree_size) " entries of this organization's log; signed "
                    (time(c.created)) ". Each event's page checks its own inclusion in it."
                },
                None => p { "No checkpoint has been signed yet." },
            }
        }
        @if readable.contains(&Kind::Access) {
            section aria-labelledby="reads" {
                h2 #reads { "Who read the trail lately" }
                @if reads.is_empty() { p { "Nobody has read it yet." } } @else {
                    table.events {
                        thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Results" } } }
                        tbody {
                            @for (created, summary) in &reads {
                                tr { td { (time(*created)) } td { (summary.actor) } td { (summary.action) " " small { (summary.target) } } td { (summary.outcome) } }
                            }
                        }
                    }
                    p { a href="/ui/events?kind=access" { "The whole access log" } }
                }
            }
        }
    };
    Ok(html(layout::page("Overview", Some(&viewer), body)))
}

/// The name people know an actor by: from their latest event in the range.
async fn display_name(
    state: &AppState,
    org: &auditrail_core::OrgId,
    kind: Kind,
    range: TimeRange,
    actor: &str,
) -> Result<String, PageError> {
    let Ok(value) = auditrail_core::query::filter_value(actor, "actor") else { return Ok(actor.to_owned()) };
    let query = EventQuery {
        kind,
        range,
        filters: Filters { actor_or_email: vec![value], ..Filters::default() },
        order: Order::NewestFirst,
        position: Position::Offset(0),
        snapshot: None,
        limit: 1,
        with_total: false,
    };
    let page = state.store.events(org, &query).await?;
    let name = page
        .items
        .first()
        .and_then(|e| serde_json::from_str::<Value>(&e.body).ok())
        .map(|v| Summary::of(kind, &v).actor)
        .filter(|name| !name.is_empty());
    Ok(name.unwrap_or_else(|| actor.to_owned()))
}

async fn recent_reads(state: &AppState, org: &auditrail_core::OrgId) -> Result<Vec<(Timestamp, Summary)>, PageError> {
    let query = EventQuery {
        kind: Kind::Access,
        range: TimeRange::new(Timestamp::MIN, Timestamp::now())?,
        filters: Filters::default(),
        order: Order::NewestFirst,
        position: Position::Offset(0),
        snapshot: None,
        limit: TOP,
        with_total: false,
    };
    let page = state.store.events(org, &query).await?;
    Ok(page
        .items
        .iter()
        .map(|e| {
            let value: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
            (e.created, Summary::of(Kind::Access, &value))
        })
        .collect())
}

struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    fill: &'static str,
    title: String,
}

/// Stacked bars, one per day, one colour per leading category; the same numbers follow in a
/// table (collapsed) for anyone who cannot see the chart.
fn chart(counts: &[DayCount], first_day: i64, last_day: i64) -> Markup {
    let days = (last_day - first_day + 1).max(1) as usize;
    let mut totals: Vec<(String, u64)> = Vec::new();
    for c in counts {
        match totals.iter_mut().find(|(v, _)| *v == c.value) {
            Some((_, n)) => *n += c.count,
            None => totals.push((c.value.clone(), c.count)),
        }
    }
    totals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let leading: Vec<String> = totals.iter().take(COLOURS.len()).map(|(v, _)| v.clone()).collect();
    let colour_of = |value: &str| leading.iter().position(|l| l == value).map_or(OTHER_COLOUR, |i| COLOURS[i]);
    // Per day, per series (leading categories then "other"), the count.
    let series = leading.len() + 1;
    let mut grid = vec![vec![0u64; series]; days];
    for c in counts {
        let Ok(d) = usize::try_from(c.day - first_day) else { continue };
        if d < days {
            let s = leading.iter().position(|l| *l == c.value).unwrap_or(series - 1);
            grid[d][s] += c.count;
        }
    }
    let peak = grid.iter().map(|d| d.iter().sum::<u64>()).max().unwrap_or(0).max(1);
    let (width, height, left, bottom) = (760.0_f64, 220.0_f64, 44.0_f64, 24.0_f64);
    let plot_h = height - bottom - 8.0;
    let bar_w = (width - left) / days as f64;
    let date = |day: i64| day_start(day).to_string().chars().take(10).collect::<String>();
    let label = |value: &str| if value.is_empty() { "(none)".to_owned() } else { value.to_owned() };
    let mut bars = Vec::new();
    for (d, stack) in grid.iter().enumerate() {
        let mut y = plot_h + 8.0;
        for (s, n) in stack.iter().enumerate().filter(|(_, n)| **n > 0) {
            let height = plot_h * (*n as f64) / (peak as f64);
            y -= height;
            let (name, fill) =
                if s < leading.len() { (label(&leading[s]), COLOURS[s]) } else { ("other".to_owned(), OTHER_COLOUR) };
            bars.push(Bar {
                x: left + d as f64 * bar_w + 0.5,
                y,
                width: (bar_w - 1.0).max(0.5),
                height,
                fill,
                title: format!("{} · {name}: {n}", date(first_day + d as i64)),
            });
        }
    }
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {width} {height}")) role="img" aria-labelledby="chart-title chart-desc"
                xmlns="http://www.w3.org/2000/svg" {
                title #chart-title { "Events per day by category" }
                desc #chart-desc { "From " (date(first_day)) " to " (date(last_day)) "; the busiest day had " (peak) " events." }
                line x1=(left) y1=(plot_h + 8.0) x2=(width) y2=(plot_h + 8.0) stroke="#4b5563" {}
                text x=(left - 6.0) y="14" text-anchor="end" font-size="11" fill="#1b1f24" { (peak) }
                text x=(left - 6.0) y=(plot_h + 8.0) text-anchor="end" font-size="11" fill="#1b1f24" { "0" }
                @for bar in &bars {
                    rect x=(format!("{:.1}", bar.x)) y=(format!("{:.1}", bar.y)) width=(format!("{:.1}", bar.width))
                         height=(format!("{:.1}", bar.height)) fill=(bar.fill) { title { (bar.title) } }
                }
                text x=(left) y=(height - 4.0) font-size="11" fill="#1b1f24" { (date(first_day)) }
                text x=(width) y=(height - 4.0) text-anchor="end" font-size="11" fill="#1b1f24" { (date(last_day)) }
            }
            figcaption {
                ul.legend {
                    @for (value, n) in &totals {
                        li {
                            svg.swatch viewBox="0 0 10 10" width="10" height="10" aria-hidden="true" {
                                rect width="10" height="10" fill=(colour_of(value)) {}
                            }
                            " " (label(value)) ": " (n)
                        }
                    }
                }
            }
        }
        details {
            summary { "The numbers per day" }
            table.events {
                thead { tr { th scope="col" { "Day" } th scope="col" { "Category" } th scope="col" { "Events" } } }
                tbody { @for c in counts { tr { td { (date(c.day)) } td { (label(&c.value)) } td { (c.count) } } } }
            }
        }
    }
}
