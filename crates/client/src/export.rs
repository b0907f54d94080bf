//! The bulk export of an auditrail server (`GET /auditrail/v1/export`): a whole range of one
//! kind as one streamed NDJSON response, read as it arrives. Other Webex-compatible servers do
//! not have it, and it takes fewer filters than the listings: then the caller pages with
//! [`Walker`](crate::pages::Walker) instead.

use crate::api::Api;
use crate::pages::Query;

/// An export response being received.
pub struct ExportStream {
    response: reqwest::Response,
}

/// `query` as one streamed response, or `None` when it has a filter only the listings take
/// (categories, resource, type, service type, roles, a numeric range, several actors) or the
/// server has no export endpoint.
pub async fn open_export(api: &Api, query: &Query) -> anyhow::Result<Option<ExportStream>> {
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
    Ok(api.get_stream(url).await?.map(|response| ExportStream { response }))
}

impl ExportStream {
    /// The next piece of the body as it arrives (it may end inside a line), `None` at its end.
    /// An error when the connection broke off: the server ends a failed export that way, so what
    /// came before is not the whole export.
    pub async fn chunk(&mut self) -> anyhow::Result<Option<bytes::Bytes>> {
        Ok(self.response.chunk().await?)
    }
}
