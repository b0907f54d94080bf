//! The bulk export of an auditrail server (`GET /auditrail/v1/export`): a whole range of one
//! kind as one streamed NDJSON response, read as it arrives. Other Webex-compatible servers do
//! not have it: then the caller pages with [`Walker`](crate::pages::Walker) instead. A search
//! (`q`) has no such fallback, as no listing searches: it needs an auditrail server whose export
//! says it applied every filter sent (`Auditrail-Filters`), since an older one ignores what it
//! does not know and would answer with every event.

use anyhow::{Context, bail};
use auditrail_core::Kind;
use serde_json::value::RawValue;

use crate::api::Api;
use crate::pages::Query;

/// The header in which the export names the filters it applies.
const APPLIED_FILTERS: &str = "auditrail-filters";

/// An export response being received.
pub struct ExportStream {
    response: reqwest::Response,
    /// Received bytes after the last complete line (see [`ExportStream::next_events`]).
    pending: Vec<u8>,
}

/// `query` as one streamed response, or `None` when it has a filter only the listings take
/// (categories, resource, type, service type, roles, a numeric range, several actors) or the
/// server has no export endpoint. A search (`query.text`) is always the stream, with all its
/// filters, or an error.
pub async fn open_export(api: &Api, query: &Query) -> anyhow::Result<Option<ExportStream>> {
    if query.text.is_some() {
        return open_search(api, query).await.map(Some);
    }
    let listing_only = query.range.is_some()
        || !query.categories.is_empty()
        || query.resource.is_some()
        || query.event_type.is_some()
        || query.service_type.is_some()
        || !query.roles.is_empty()
        || query.actors.len() > 1;
    if listing_only {
        return Ok(None);
    }
    let mut url = api.url("/auditrail/v1/export");
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("kind", query.kind.as_str());
        if let Some(from) = query.from {
            pairs.append_pair("from", &from.to_string());
        }
        pairs.append_pair("to", &query.to.to_string());
        if let Some(actor) = query.actors.first() {
            pairs.append_pair("actorId", actor);
        }
    }
    Ok(api.get_stream(url).await?.map(|response| ExportStream { response, pending: Vec::new() }))
}

/// A search: the export with `q` and every other filter of the query, named as the listings name
/// them (a Connect actor is an id or an e-mail, as in the Connect export). `--service-type` is not
/// sent: it is a condition of the compliance listing, not a filter (calling is its only value).
async fn open_search(api: &Api, query: &Query) -> anyhow::Result<ExportStream> {
    if query.range.is_some() {
        bail!("--q cannot be combined with --range: the search takes --from and --to");
    }
    let mut url = api.url("/auditrail/v1/export");
    let mut sent: Vec<&str> = Vec::new();
    {
        let mut pairs = url.query_pairs_mut();
        let mut add = |name: &'static str, value: &str| {
            pairs.append_pair(name, value);
            if !sent.contains(&name) {
                sent.push(name);
            }
        };
        add("kind", query.kind.as_str());
        if let Some(from) = query.from {
            add("from", &from.to_string());
        }
        add("to", &query.to.to_string());
        for actor in &query.actors {
            add(if query.kind == Kind::Connect { "actorIds" } else { "actorId" }, actor);
        }
        for category in &query.categories {
            add("eventCategories", category);
        }
        if let Some(resource) = &query.resource {
            add("resource", resource);
        }
        if let Some(event_type) = &query.event_type {
            add("type", event_type);
        }
        for role in &query.roles {
            add("adminRoles", role);
        }
        if let Some(text) = &query.text {
            add("q", text);
        }
    }
    let Some(response) = api.get_stream(url).await? else {
        bail!("the server has no search: --q needs an auditrail server (GET /auditrail/v1/export)");
    };
    let applied = response.headers().get(APPLIED_FILTERS).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let applied: Vec<&str> = applied.split(',').map(str::trim).collect();
    let ignored: Vec<&str> =
        sent.into_iter().filter(|name| !matches!(*name, "kind" | "from" | "to") && !applied.contains(name)).collect();
    if !ignored.is_empty() {
        bail!(
            "the server does not apply {} to its export (an older auditrail?): nothing is listed",
            ignored.join(", ")
        );
    }
    Ok(ExportStream { response, pending: Vec::new() })
}

impl ExportStream {
    /// The next piece of the body as it arrives (it may end inside a line), `None` at its end.
    /// An error when the connection broke off: the server ends a failed export that way, so what
    /// came before is not the whole export.
    pub async fn chunk(&mut self) -> anyhow::Result<Option<bytes::Bytes>> {
        Ok(self.response.chunk().await?)
    }

    /// The complete lines received next, each an event, as they arrive; `None` once the export
    /// has ended. A body ending inside a line is an error, like one broken off.
    pub async fn next_events(&mut self) -> anyhow::Result<Option<Vec<Box<RawValue>>>> {
        loop {
            if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
                let lines: Vec<u8> = self.pending.drain(..=end).collect();
                return lines
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|line| serde_json::from_slice(line).context("the server sent an event that is not JSON"))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map(Some);
            }
            let chunk = self.chunk().await.context("the export stream broke off before its end")?;
            match chunk {
                Some(chunk) => self.pending.extend_from_slice(&chunk),
                None if self.pending.is_empty() => return Ok(None),
                None => bail!("the export stream ended in the middle of an event"),
            }
        }
    }
}
