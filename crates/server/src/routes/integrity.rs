//! Tamper evidence over HTTP: the verifier key, signed checkpoints, and inclusion and
//! consistency proofs of an org's Merkle log. Hashes are standard base64, as in checkpoint notes.

use auditrail_core::merkle::{self, NodeSource, ProofError};
use auditrail_core::{EventId, Kind, KindSet};
use auditrail_store::StoredCheckpoint;
use auditrail_store::proofs::prove;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::listing::ok_json;
use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use crate::auth::{AdminScope, Authorized, LogReader, readable_kinds};
use crate::error::{ApiError, WebexError};
use crate::params::QueryParams;
use auditrail_service::LogSigner;

fn b64(hash: &[u8]) -> String {
    STANDARD.encode(hash)
}

fn signer(state: &AppState) -> Result<&LogSigner, ApiError> {
    state.signer.as_deref().ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "This server has no signing key; checkpoints are not available.")
    })
}

/// A signed checkpoint of the org's log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    tree_size: u64,
    /// Base64 of the tree's RFC 6962 root.
    root_hash: String,
    /// The C2SP signed note: origin, size and root, then the ed25519 signature line.
    note: String,
    #[schema(format = DateTime)]
    created: String,
}

impl From<&StoredCheckpoint> for Checkpoint {
    fn from(c: &StoredCheckpoint) -> Self {
        Self { tree_size: c.tree_size, root_hash: b64(&c.root), note: c.note.clone(), created: c.created.to_string() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VerifierKeys {
    keys: Vec<VerifierKey>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifierKey {
    /// The key's name, also the first part of every checkpoint's origin line.
    name: String,
    /// Always `ed25519`.
    algorithm: &'static str,
    /// In the C2SP signed-note verifier key format.
    verifier_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct Checkpoints {
    /// The origin line of this org's checkpoints; absent on a server without a signing key.
    origin: Option<String>,
    latest: Option<Checkpoint>,
    /// Newest first.
    items: Vec<Checkpoint>,
}

#[derive(Serialize, ToSchema)]
pub struct LatestCheckpoint {
    /// Absent while the log is empty.
    latest: Option<Checkpoint>,
}

/// That an event is in the tree of `treeSize`, per RFC 6962.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    id: String,
    kind: &'static str,
    seq: u64,
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: String,
    root_hash: String,
    /// Base64 hashes, leaf to root.
    proof: Vec<String>,
}

/// That the tree of size `to` extends the tree of size `from`, per RFC 6962.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyProof {
    from: u64,
    to: u64,
    from_root: String,
    to_root: String,
    proof: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionRun {
    legal_hold: bool,
    /// The org's retention, else the server's default; absent: kept forever.
    retention_days: Option<u32>,
    deleted: usize,
    /// Events created before this were deleted; absent when nothing ran.
    #[schema(format = DateTime)]
    cutoff: Option<String>,
    /// The seq of the system record of the run.
    record_seq: Option<u64>,
}

fn kind_names() -> String {
    Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// Unlike a filter, an empty number is not "absent" but an error.
fn size_param(q: &QueryParams, name: &str) -> Result<Option<u64>, ApiError> {
    q.single(name)?
        .map(|raw| {
            raw.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("Invalid parameter '{name}': '{raw}' is not a non-negative integer"))
            })
        })
        .transpose()
}

/// The tree size a proof is about: as given (at most the log's size), else the latest
/// checkpoint's, else the whole log.
async fn tree_size(
    state: &AppState,
    org: &auditrail_core::OrgId,
    given: Option<u64>,
    param: &str,
) -> Result<u64, ApiError> {
    let size = state.store.log_size(org).await?;
    let chosen = match given {
        Some(t) => t,
        None => state.store.checkpoints(org, 1).await?.first().map_or(size, |c| c.tree_size),
    };
    if chosen > size {
        return Err(ApiError::bad_request(format!("Invalid parameter '{param}': the log has {size} entries")));
    }
    Ok(chosen)
}

fn proof_error<E: std::fmt::Display>(e: ProofError<E>) -> ApiError {
    match e {
        ProofError::OutOfRange => ApiError::bad_request("The requested sizes or index are outside the tree."),
        ProofError::Source(e) => ApiError::unavailable(&e.to_string()),
    }
}

/// Public, like any verifier key.
#[utoipa::path(
    get,
    path = "/auditrail/v1/keys",
    tag = "Integrity",
    summary = "The key that signs checkpoints",
    responses(
        (status = 200, description = "The verifier key", body = VerifierKeys),
        (status = 503, description = "This server has no signing key", body = WebexError),
    ),
)]
pub async fn keys(State(state): State<AppState>) -> Result<Response, ApiError> {
    let signer = signer(&state)?;
    ok_json(&VerifierKeys {
        keys: vec![VerifierKey {
            name: signer.key.name().to_owned(),
            algorithm: "ed25519",
            verifier_key: signer.key.verifier_key().to_string(),
        }],
    })
}

/// The latest checkpoint and the history, newest first.
#[utoipa::path(
    get,
    path = "/auditrail/v1/checkpoints",
    tag = "Integrity",
    summary = "List signed checkpoints",
    params(("limit" = Option<u64>, Query, description = "At most this many (1 to 1000, default 100).")),
    responses((status = 200, description = "The checkpoints", body = Checkpoints)),
    security(("bearer" = [])),
)]
pub async fn checkpoints(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<LogReader>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref());
    let limit = size_param(&q, "limit")?.unwrap_or(100).clamp(1, 1000) as u32;
    let items = state.store.checkpoints(&principal.org.id, limit).await?;
    ok_json(&Checkpoints {
        origin: state.signer.as_deref().map(|s| s.origin(&principal.org.id)),
        latest: items.first().map(Checkpoint::from),
        items: items.iter().map(Checkpoint::from).collect(),
    })
}

/// Signs a checkpoint of the org's log now (the latest one when nothing was added since).
#[utoipa::path(
    post,
    path = "/auditrail/v1/checkpoints",
    tag = "Integrity",
    summary = "Sign a checkpoint now",
    responses(
        (status = 200, description = "The latest checkpoint", body = LatestCheckpoint),
        (status = 503, description = "This server has no signing key", body = WebexError),
    ),
    security(("bearer" = [])),
)]
pub async fn checkpoint_now(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<AdminScope>,
) -> Result<Response, ApiError> {
    let signer = signer(&state)?;
    let latest = signer.checkpoint(state.store.as_ref(), &principal.org.id).await?;
    ok_json(&LatestCheckpoint { latest: latest.as_ref().map(Checkpoint::from) })
}

/// The event's leaf and its inclusion proof in the tree of `treeSize` (default: the latest
/// checkpoint, else the whole log).
#[utoipa::path(
    get,
    path = "/auditrail/v1/proofs/inclusion",
    tag = "Integrity",
    summary = "Prove that an event is in the log",
    params(
        ("id" = String, Query, max_length = 1024, description = "The event's id."),
        ("kind" = Option<String>, Query, description = "The event's kind, when the id is used by several kinds."),
        ("treeSize" = Option<u64>, Query, description = "The tree to prove against; default the latest checkpoint's."),
    ),
    responses(
        (status = 200, description = "The proof", body = InclusionProof),
        (status = 404, description = "No event with this id that the token may read", body = WebexError),
    ),
    security(("bearer" = [])),
)]
pub async fn inclusion(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<LogReader>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref());
    let id = EventId::parse(q.required("id")?, "id")?;
    let kind = q
        .optional("kind")?
        .map(|k| {
            Kind::parse(k)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid parameter 'kind': use {}", kind_names())))
        })
        .transpose()?;
    let tree_size = tree_size(&state, &principal.org.id, size_param(&q, "treeSize")?, "treeSize").await?;
    ok_json(&prove_inclusion(&state, &principal, kind, &id, tree_size).await?)
}

/// The inclusion proof of an event the principal may read in the tree of `tree_size`; an event
/// of a kind it may not read is as absent as one that does not exist. Without `kind`, the id is
/// looked up among the readable kinds only (ids may repeat across kinds).
pub(crate) async fn prove_inclusion(
    state: &AppState,
    principal: &auditrail_store::Principal,
    kind: Option<Kind>,
    id: &EventId,
    tree_size: u64,
) -> Result<InclusionProof, ApiError> {
    let org = &principal.org.id;
    let readable = readable_kinds(principal);
    let mut found = None;
    for candidate in kind.map_or_else(|| readable.clone(), |k| vec![k]) {
        if !readable.contains(&candidate) {
            continue;
        }
        if let Some(hit) = state.store.event_seq(org, Some(candidate), id).await? {
            found = Some(hit);
            break;
        }
    }
    let Some((kind, seq)) = found else {
        return Err(ApiError::not_found("No event with this id in this organization's log."));
    };
    if seq > tree_size {
        return Err(ApiError::bad_request(format!(
            "The event is entry {seq} of the log, after the requested tree size {tree_size}."
        )));
    }
    let leaf_index = seq - 1;
    let (proof, leaf, root) = prove(state.store.as_ref(), org, |src| {
        let proof = merkle::inclusion_proof(src, leaf_index, tree_size)?;
        let leaf = src.node(0, leaf_index).map_err(ProofError::Source)?;
        let root = merkle::root(src, tree_size).map_err(ProofError::Source)?;
        Ok::<_, ProofError<_>>((proof, leaf, root))
    })
    .await?
    .map_err(proof_error)?;
    Ok(InclusionProof {
        id: id.as_str().to_owned(),
        kind: kind.as_str(),
        seq,
        leaf_index,
        tree_size,
        leaf_hash: b64(&leaf),
        root_hash: b64(&root),
        proof: proof.iter().map(|h| b64(h)).collect(),
    })
}

/// That the tree of size `to` extends the tree of size `from` (`to` defaults to the latest
/// checkpoint, else the whole log).
#[utoipa::path(
    get,
    path = "/auditrail/v1/proofs/consistency",
    tag = "Integrity",
    summary = "Prove that the log only grew",
    params(
        ("from" = u64, Query, description = "The earlier tree size."),
        ("to" = Option<u64>, Query, description = "The later tree size; default the latest checkpoint's."),
    ),
    responses((status = 200, description = "The proof", body = ConsistencyProof)),
    security(("bearer" = [])),
)]
pub async fn consistency(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<LogReader>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref());
    let from = size_param(&q, "from")?.ok_or_else(|| ApiError::bad_request("Missing required parameter 'from'"))?;
    let org = &principal.org.id;
    let to = tree_size(&state, org, size_param(&q, "to")?, "to").await?;
    if from > to {
        return Err(ApiError::bad_request("Invalid parameter 'from': must not exceed 'to'"));
    }
    let (proof, from_root, to_root) = prove(state.store.as_ref(), org, |src| {
        let proof = merkle::consistency_proof(src, from, to)?;
        let from_root = merkle::root(src, from).map_err(ProofError::Source)?;
        let to_root = merkle::root(src, to).map_err(ProofError::Source)?;
        Ok::<_, ProofError<_>>((proof, from_root, to_root))
    })
    .await?
    .map_err(proof_error)?;
    ok_json(&ConsistencyProof {
        from,
        to,
        from_root: b64(&from_root),
        to_root: b64(&to_root),
        proof: proof.iter().map(|h| b64(h)).collect(),
    })
}

/// The org's log entries in seq order as NDJSON, one `{"event","kind","org","seq"}` document per
/// line: exactly what each Merkle leaf commits to, so `auditrail verify --export` (or any RFC 8785
/// + RFC 6962 implementation) can check a copy offline. A `Link` to the next page is given while
/// more entries follow.
#[utoipa::path(
    get,
    path = "/auditrail/v1/log",
    tag = "Integrity",
    summary = "Export the log for offline verification",
    params(
        ("after" = Option<u64>, Query, description = "Entries after this seq (default 0: from the start)."),
        ("limit" = Option<u64>, Query, description = "At most this many entries (1 to 10000, default 10000)."),
    ),
    responses((status = 200, description = "One line per entry: the entry itself, or only its leaf hash when deleted by \
        retention (`deleted: true`) or of a kind the token may not read (`withheld: true`)",
        content_type = "application/x-ndjson", body = String,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` while more entries follow")))),
    security(("bearer" = [])),
)]
pub async fn log(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<LogReader>,
    headers: HeaderMap,
    meta: RequestMeta,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let q = QueryParams::parse(raw.as_deref());
    let after = size_param(&q, "after")?.unwrap_or(0);
    let limit = size_param(&q, "limit")?.unwrap_or(10_000).clamp(1, 10_000) as u32;
    let org = &principal.org.id;
    let read = state.store.log_entries(org, after, KindSet::all(), limit.saturating_add(1)).await?;
    let entries = read.entries;
    let more = entries.len() > limit as usize;
    let org_json = Value::String(org.to_string()).to_string();
    let page = &entries[..entries.len().min(limit as usize)];
    // Entries deleted by retention within this page's range appear as their leaf hash alone, so
    // an offline verifier can still rebuild the signed roots.
    let upper = match page.last() {
        Some(last) if more => last.seq,
        _ => read.head,
    };
    let deleted: Vec<u64> =
        state.store.deleted_seqs(org).await?.into_iter().filter(|s| *s > after && *s <= upper).collect();
    let wanted: Vec<(u32, u64)> = deleted.iter().map(|s| (0, s - 1)).collect();
    let leaves = state.store.merkle_nodes(org, &wanted).await?;
    let mut stubs = deleted.iter().zip(leaves).peekable();
    // Entries of kinds this token may not read appear as their leaf alone, so the export still
    // verifies against the signed roots without revealing them.
    let readable = readable_kinds(&principal);
    let hidden: Vec<(u32, u64)> = page.iter().filter(|e| !readable.contains(&e.kind)).map(|e| (0, e.seq - 1)).collect();
    let hidden_leaves: std::collections::HashMap<u64, [u8; 32]> =
        hidden.iter().map(|(_, i)| i + 1).zip(state.store.merkle_nodes(org, &hidden).await?).collect();
    let mut body = String::new();
    let mut served = 0usize;
    for e in page {
        while let Some((seq, leaf)) = stubs.next_if(|(seq, _)| **seq < e.seq) {
            body.push_str(&format!("{{\"deleted\":true,\"leaf\":\"{}\",\"seq\":{seq}}}\n", b64(&leaf)));
        }
        if let Some(leaf) = hidden_leaves.get(&e.seq) {
            body.push_str(&format!("{{\"leaf\":\"{}\",\"seq\":{},\"withheld\":true}}\n", b64(leaf), e.seq));
            continue;
        }
        served += 1;
        body.push_str(&format!(
            "{{\"event\":{},\"kind\":\"{}\",\"org\":{org_json},\"seq\":{}}}\n",
            e.body,
            e.kind.as_str(),
            e.seq
        ));
    }
    for (seq, leaf) in stubs {
        body.push_str(&format!("{{\"deleted\":true,\"leaf\":\"{}\",\"seq\":{seq}}}\n", b64(&leaf)));
    }
    let read = Read {
        method: "GET",
        path: "/auditrail/v1/log",
        query: RecordedQuery::from_params(&q, &["after", "limit"]),
        results: served,
    };
    state.record_access(&principal, &meta, read).await;
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"))], body)
            .into_response();
    if more && let Some(last) = entries.get(limit as usize - 1) {
        let base = crate::urls::request_base(state.config.public_url.as_ref(), state.config.trust_proxy, &headers)?;
        let next = crate::urls::with_query(
            &base,
            "/auditrail/v1/log",
            &[("after", last.seq.to_string()), ("limit", limit.to_string())],
        );
        if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// Applies the org's retention now: signs a checkpoint at the cut, deletes what is older than the
/// retention period (unless under legal hold) and records the run in the log.
#[utoipa::path(
    post,
    path = "/auditrail/v1/retention/run",
    tag = "Integrity",
    summary = "Run retention now",
    responses(
        (status = 200, description = "What the run did", body = RetentionRun),
        (status = 503, description = "This server has no signing key", body = WebexError),
    ),
    security(("bearer" = [])),
)]
pub async fn retention_run(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<AdminScope>,
) -> Result<Response, ApiError> {
    let signer = signer(&state)?;
    let policy = state.store.retention_policy(&principal.org.id).await?;
    let run = signer
        .retain(state.store.as_ref(), &principal.org.id, state.config.retention_days, auditrail_core::Timestamp::now())
        .await?;
    ok_json(&RetentionRun {
        legal_hold: policy.legal_hold,
        retention_days: policy.days.or(state.config.retention_days),
        deleted: run.as_ref().map_or(0, |r| r.deleted),
        cutoff: run.as_ref().map(|r| r.cutoff.to_string()),
        record_seq: run.as_ref().map(|r| r.record_seq),
    })
}
