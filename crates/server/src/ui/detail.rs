//! `GET /ui/events/{kind}/{id}`: one event. The fields people need first, then every stored field
//! as pretty JSON, then the integrity panel the script fills in: the inclusion proof checked in
//! the browser against the latest signed checkpoint.

use auditrail_core::{EventId, Kind};
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::error::PageError;
use super::events::kind_label;
use super::html;
use super::layout::{self, time};
use super::session::Viewer;
use super::summary::Summary;
use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use crate::auth::readable_kinds;

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    meta: RequestMeta,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = Kind::parse(&kind).ok_or_else(|| PageError::not_found("There is no such kind of event."))?;
    let event_id = EventId::parse(&id, "id")?;
    let org = &viewer.principal.org.id;
    // An event of a kind this token may not read is as absent as one that does not exist.
    let stored = if readable_kinds(&viewer.principal).contains(&kind) {
        state.store.event_by_id(org, kind, &event_id).await?
    } else {
        None
    };
    let Some(stored) = stored else {
        return Err(PageError::not_found("There is no such event in this organization's trail."));
    };
    if kind != Kind::Access {
        let query = RecordedQuery::from_pairs([("kind", kind.as_str()), ("id", id.as_str())]);
        let read = Read { method: "GET", path: "/ui/events", query, results: 1 };
        state.record_access(&viewer.principal, &meta, read).await;
    }
    let event: Value = serde_json::from_str(&stored.body).unwrap_or(Value::Null);
    let pretty = serde_json::to_string_pretty(&event).unwrap_or_else(|_| stored.body.clone());
    let summary = Summary::of(kind, &event);
    let title = if summary.action.is_empty() { format!("{} event", kind_label(kind)) } else { summary.action.clone() };
    let body = html! {
        p.crumbs { a href=(format!("/ui/events?kind={}", kind.as_str())) { "← " (kind_label(kind)) " events" } }
        h1 { (title) }
        (facts(kind, &summary, &event, stored.created, stored.seq))
        section aria-labelledby="integrity-title" {
            h2 #integrity-title { "Integrity" }
            div #integrity.integrity
                data-proof=(format!("/ui/proof/{}/{}", kind.as_str(), form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()))
                data-kind=(kind.as_str()) data-seq=(stored.seq) {
                p #integrity-status role="status" {
                    "Checking that this event is in the signed log needs JavaScript. It is entry "
                    (stored.seq) " of the organization's log."
                }
            }
        }
        section aria-labelledby="json-title" {
            h2 #json-title { "Stored event" }
            pre #event-json tabindex="0" { (pretty) }
        }
    };
    Ok(html(layout::page(&title, Some(&viewer), body)))
}

fn facts(kind: Kind, summary: &Summary, event: &Value, created: auditrail_core::Timestamp, seq: u64) -> Markup {
    let row = |label: &str, value: &str| {
        html! { @if !value.is_empty() { dt { (label) } dd { (value) } } }
    };
    html! {
        dl.facts {
            dt { "When" } dd { (time(created)) }
            (row("Who", &summary.actor))
            (row("E-mail", &summary.actor_email))
            (row("What", &summary.action))
            (row("Description", &summary.description))
            (row("Category", &summary.category))
            (row("Target", &summary.target))
            (row(if kind == Kind::Access { "Result" } else { "Outcome" }, &summary.outcome))
            (row("From address", &summary.source_ip))
            (row("Client", &summary.user_agent))
            (row("Roles", &summary.roles.join(", ")))
            @if !summary.error_code.is_empty() {
                dt { "Error code" }
                dd.error-code {
                    code { (summary.error_code) }
                    @if let Ok(meaning) = auditrail_core::wxc::explain(&summary.error_code) {
                        @for line in meaning.lines() { span.explained { (line) } }
                    }
                }
            }
            @for (label, value) in own_fields(kind, event) { (row(label, &value)) }
            dt { "Kind" } dd { (kind_label(kind)) }
            dt { "Log entry" } dd { (seq) }
        }
    }
}

/// Fields only one kind has, worth seeing before the JSON.
fn own_fields(kind: Kind, event: &Value) -> Vec<(&'static str, String)> {
    let get = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    match kind {
        Kind::Connect => vec![
            ("Transaction", get(event, "transid")),
            ("Service", get(event, "serviceId")),
            ("Group", get(event, "groupId")),
        ],
        Kind::Security => {
            let data = event.get("data").unwrap_or(&Value::Null);
            vec![("Tracking id", get(data, "trackingId")), ("Organization", get(data, "actorOrgName"))]
        }
        Kind::Compliance => vec![("Resource", get(event, "resource")), ("Type", get(event, "type"))],
        Kind::Access => vec![("Token", get(event, "tokenId")), ("Tracking id", get(event, "trackingId"))],
        Kind::Admin | Kind::System => Vec::new(),
    }
}
