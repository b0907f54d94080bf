//! `GET /ui/proof/{kind}/{id}`: what the detail page's script needs to check, in the browser, that
//! an event is in the signed log: the inclusion proof against the latest signed checkpoint, the
//! checkpoint's signed note and the verifier key. The script trusts none of the hashes sent: it
//! recomputes the leaf from the event it shows, the root from the proof, and checks the note's
//! Ed25519 signature with the key.

use auditrail_core::{EventId, Kind};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::session::Viewer;
use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use crate::error::ApiError;
use crate::routes::integrity::{Checkpoint, InclusionProof, prove_inclusion};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ViewerProof {
    /// The org id the leaf commits to.
    org: String,
    inclusion: InclusionProof,
    checkpoint: Checkpoint,
    verifier_key: String,
}

fn refused(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "message": message.into() }))).into_response()
}

pub async fn inclusion(
    State(state): State<AppState>,
    viewer: Result<Viewer, Response>,
    meta: RequestMeta,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let Ok(viewer) = viewer else { return refused(StatusCode::UNAUTHORIZED, "Your session has ended; sign in again.") };
    match prove(&state, &viewer, &kind, &id).await {
        Ok(proof) => {
            let query = RecordedQuery::from_pairs([("kind", kind.as_str()), ("id", id.as_str())]);
            let read = Read { method: "GET", path: "/ui/proof", query, results: 1 };
            state.record_access(&viewer.principal, &meta, read).await;
            Json(proof).into_response()
        }
        Err(e) => refused(e.status, e.message),
    }
}

async fn prove(state: &AppState, viewer: &Viewer, kind: &str, id: &str) -> Result<ViewerProof, ApiError> {
    let kind = Kind::parse(kind).ok_or_else(|| ApiError::not_found("No such kind of event."))?;
    let id = EventId::parse(id, "id")?;
    let signer = state.signer.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "This server has no signing key: there are no signed checkpoints.",
        )
    })?;
    let org = &viewer.principal.org.id;
    // Whether the event exists (and may be read) is answered first, whatever the checkpoints.
    let readable = crate::auth::readable_kinds(&viewer.principal).contains(&kind);
    if !readable || state.store.event_seq(org, Some(kind), &id).await?.is_none() {
        return Err(ApiError::not_found("No event with this id in this organization's log."));
    }
    let latest = state.store.checkpoints(org, 1).await?.into_iter().next();
    let Some(latest) = latest else {
        return Err(ApiError::new(StatusCode::CONFLICT, "No checkpoint of this log has been signed yet."));
    };
    let inclusion = match prove_inclusion(state, &viewer.principal, Some(kind), &id, latest.tree_size).await {
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "This event is newer than the latest signed checkpoint; it is covered by the next one (reload in a few seconds).",
            ));
        }
        other => other?,
    };
    Ok(ViewerProof {
        org: org.to_string(),
        inclusion,
        checkpoint: Checkpoint::from(&latest),
        verifier_key: signer.key.verifier_key().to_string(),
    })
}
