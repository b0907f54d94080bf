//! Bearer-token authentication and scope checks.
//!
//! A token is looked up by its SHA-256 on every request (no cache), so a revocation made by the CLI
//! in another process takes effect on the next request. The org a request may act for is the
//! token's org and nothing else.

use std::marker::PhantomData;

use auditrail_core::ids::webex_id;
use auditrail_core::token::TokenSecret;
use auditrail_core::{Kind, Scope, Timestamp};
use auditrail_store::Principal;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// Which headers may carry the token: Webex Connect also accepts `ci-token` and `accesstoken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHeaders {
    Webex,
    Connect,
}

fn presented_token(headers: &HeaderMap, accepted: TokenHeaders) -> Option<&str> {
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    if bearer.is_some() || accepted == TokenHeaders::Webex {
        return bearer;
    }
    ["ci-token", "accesstoken"].iter().find_map(|name| {
        let raw = headers.get(*name)?.to_str().ok()?.trim();
        Some(raw.strip_prefix("Bearer ").unwrap_or(raw).trim())
    })
}

pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    accepted: TokenHeaders,
) -> Result<Principal, ApiError> {
    let secret = presented_token(headers, accepted).and_then(TokenSecret::parse).ok_or_else(ApiError::unauthorized)?;
    let principal =
        state.store.authenticate(&secret.hash(), Timestamp::now()).await?.ok_or_else(ApiError::unauthorized)?;
    if let Some(limiter) = &state.limiter
        && let Err(seconds) = limiter.check(&principal.token.token_id)
    {
        return Err(ApiError::too_many_requests(seconds));
    }
    Ok(principal)
}

/// A stable person id for a token holder, derived from the public token id.
pub fn person_id(principal: &Principal) -> String {
    let hash = Sha256::digest(principal.token.token_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    webex_id("PEOPLE", uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// The kinds a token may read: its read scopes' kinds, and the server's own system records
/// (retention runs) for any reader of the log, since verifying a copy needs them.
pub fn readable_kinds(principal: &Principal) -> Vec<Kind> {
    let mut kinds = vec![Kind::System];
    if principal.has(Scope::AuditEventsRead) {
        kinds.extend([Kind::Admin, Kind::Connect, Kind::Security, Kind::Access]);
    }
    if principal.has(Scope::ComplianceEventsRead) {
        kinds.push(Kind::Compliance);
    }
    kinds
}

pub fn require(principal: &Principal, scope: Scope) -> Result<(), ApiError> {
    if principal.has(scope) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("This token lacks the '{scope}' scope required for this request.")))
    }
}

/// What an endpoint asks of the token that calls it: where the token may be sent and what it must
/// be allowed.
pub trait Requirement {
    const HEADERS: TokenHeaders;
    fn permits(principal: &Principal) -> Result<(), ApiError>;
}

macro_rules! requirement {
    ($(#[$doc:meta])* $name:ident, $headers:expr, $scope:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl Requirement for $name {
            const HEADERS: TokenHeaders = $headers;
            fn permits(principal: &Principal) -> Result<(), ApiError> {
                match $scope {
                    Some(scope) => require(principal, scope),
                    None => Ok(()),
                }
            }
        }
    };
}

requirement!(
    /// Any valid token: identity, the log, exports (which check kinds themselves).
    AnyToken, TokenHeaders::Webex, None
);
requirement!(
    /// `audit:events_read`: admin and security audit events, the access log.
    AuditRead, TokenHeaders::Webex, Some(Scope::AuditEventsRead)
);
requirement!(
    /// `audit:events_read` with Webex Connect's token headers.
    ConnectAuditRead, TokenHeaders::Connect, Some(Scope::AuditEventsRead)
);
requirement!(
    /// `spark-compliance:events_read`: compliance events.
    ComplianceRead, TokenHeaders::Webex, Some(Scope::ComplianceEventsRead)
);
requirement!(
    /// `auditrail:ingest`.
    IngestScope, TokenHeaders::Webex, Some(Scope::Ingest)
);
requirement!(
    /// `auditrail:admin`: checkpoints on demand, retention runs, metrics.
    AdminScope, TokenHeaders::Webex, Some(Scope::Admin)
);

/// Reading the log of one's own org: any read scope will do; what it shows depends on the scopes.
pub struct LogReader;

impl Requirement for LogReader {
    const HEADERS: TokenHeaders = TokenHeaders::Webex;
    fn permits(principal: &Principal) -> Result<(), ApiError> {
        if [Scope::AuditEventsRead, Scope::ComplianceEventsRead, Scope::Admin].iter().any(|s| principal.has(*s)) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "Reading the log needs audit:events_read, spark-compliance:events_read or auditrail:admin.",
            ))
        }
    }
}

/// The caller's principal once its token is valid and holds `R`'s scope. As the first extractor
/// of a handler it answers 401/403 before any parameter is looked at.
pub struct Authorized<R>(pub Principal, pub PhantomData<R>);

impl<R: Requirement> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = authenticate(state, &parts.headers, R::HEADERS).await?;
        R::permits(&principal)?;
        Ok(Self(principal, PhantomData))
    }
}
