//! `GET /ui/export?format=csv|ndjson&…`: every event of the listing's current filter, streamed as
//! the API's export streams (constant memory, the read recorded when it ends). NDJSON carries the
//! stored events as served; CSV the columns of the results table plus the id, each cell quoted and
//! any that a spreadsheet would run as a formula defused.

use auditrail_core::{Order, Position};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::PageError;
use super::events::parse_listing;
use super::session::PageRequest;
use super::summary::Summary;
use crate::AppState;
use crate::access_log::RecordedQuery;
use crate::auth::readable_kinds;
use crate::routes::export::{FIRST_PAGE, ReadAudit, stream_events};

const CSV_HEADER: &str = "created,id,actor,actorEmail,action,description,category,target,outcome,sourceIp\r\n";

pub async fn export(
    State(state): State<AppState>,
    PageRequest { viewer, meta, query: q }: PageRequest,
) -> Result<Response, PageError> {
    let csv = match q.optional("format")?.unwrap_or("csv") {
        "csv" => true,
        "ndjson" => false,
        other => {
            return Err(PageError::bad_request(format!(
                "'{}' is not an export format: use csv or ndjson.",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    let org = viewer.principal.org.id.clone();
    let readable = readable_kinds(&viewer.principal);
    let listing = parse_listing(&q, &readable, &state.cursor_key, &org)?;
    let kind = listing.kind;
    // A file reads oldest first, like every export of the trail.
    let mut query = listing.query(FIRST_PAGE);
    query.order = Order::OldestFirst;
    query.position = Position::Offset(0);
    query.snapshot = Some(state.store.log_size(&org).await?);
    let mut recorded_pairs: Vec<(&str, &str)> = listing.form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    recorded_pairs.push(("format", if csv { "csv" } else { "ndjson" }));
    let audit = ReadAudit {
        principal: viewer.principal,
        meta,
        path: "/ui/export",
        query: RecordedQuery::from_pairs(recorded_pairs),
    };
    let head = if csv { CSV_HEADER } else { "" };
    let body = stream_events(state, audit, query, head, move |out, event| {
        if !csv {
            out.push_str(&event.body);
            out.push('\n');
            return;
        }
        let value: Value = serde_json::from_str(&event.body).unwrap_or(Value::Null);
        let s = Summary::of(kind, &value);
        let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
        let cells = [
            event.created.to_string().as_str(),
            id,
            &s.actor,
            &s.actor_email,
            &s.action,
            &s.description,
            &s.category,
            &s.target,
            &s.outcome,
            &s.source_ip,
        ]
        .map(csv_cell);
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    })
    .await?;
    let (content_type, extension) =
        if csv { ("text/csv; charset=utf-8", "csv") } else { ("application/x-ndjson", "ndjson") };
    let filename = format!("attachment; filename=\"auditrail-{}.{extension}\"", kind.as_str());
    let disposition = HeaderValue::from_str(&filename).unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type)), (header::CONTENT_DISPOSITION, disposition)],
        body,
    )
        .into_response())
}

/// One CSV cell (RFC 4180): always quoted, quotes doubled. A value a spreadsheet would evaluate
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a leading apostrophe, so audit
/// content can never run as a formula on the reader's machine.
fn csv_cell(value: &str) -> String {
    let defused =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\", twice"), "\"say \"\"hi\"\", twice\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1+2"), "\"'-1+2\"");
        assert_eq!(csv_cell("a\nb"), "\"a\nb\"");
    }
}
