//! Orgs, tokens and the principals they authenticate. Always on the primary, so a revocation is
//! effective at once; last-use times are written in batches off the request path (see
//! [`crate::TouchBuffer`]).

use auditrail_core::token::{TokenHash, TokenSecret};
use auditrail_core::{OrgId, Timestamp};

use crate::rows::{TokenRow, parse_org_row};
use crate::{NewToken, Org, Principal, StoreError, TokenInfo};

use super::PostgresStore;

const TOKEN_SELECT: &str = "SELECT t.token_id, o.org_id, t.scopes, t.name, t.email, t.created, t.last_used, \
     t.expires, t.revoked, o.name, o.created, t.hash FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref";

fn token_row(r: &tokio_postgres::Row) -> TokenRow {
    TokenRow {
        token_id: r.get(0),
        org_id: r.get(1),
        scopes: r.get(2),
        name: r.get(3),
        email: r.get(4),
        created: r.get(5),
        last_used: r.get(6),
        expires: r.get(7),
        revoked: r.get(8),
        org_name: r.get(9),
        org_created: r.get(10),
        hash: r.get(11),
    }
}

pub(super) async fn create_org(store: &PostgresStore, id: &OrgId, name: &str) -> Result<Org, StoreError> {
    let org = Org { id: id.clone(), name: name.to_owned(), created: Timestamp::now() };
    let client = store.write_client().await?;
    let inserted = client
        .execute(
            "INSERT INTO orgs (org_id, name, created) VALUES ($1, $2, $3) ON CONFLICT (org_id) DO NOTHING",
            &[&org.id.to_string(), &org.name, &org.created.millis()],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::OrgExists(org.id));
    }
    Ok(org)
}

pub(super) async fn org(store: &PostgresStore, id: &OrgId) -> Result<Option<Org>, StoreError> {
    let client = store.write_client().await?;
    let row = client.query_opt("SELECT org_id, name, created FROM orgs WHERE org_id = $1", &[&id.to_string()]).await?;
    row.map(|r| parse_org_row(r.get(0), r.get(1), r.get(2))).transpose()
}

pub(super) async fn orgs(store: &PostgresStore) -> Result<Vec<Org>, StoreError> {
    let client = store.write_client().await?;
    let rows = client.query("SELECT org_id, name, created FROM orgs ORDER BY org_ref", &[]).await?;
    rows.iter().map(|r| parse_org_row(r.get(0), r.get(1), r.get(2))).collect()
}

pub(super) async fn create_token(
    store: &PostgresStore,
    org: &OrgId,
    token: NewToken,
) -> Result<(TokenInfo, TokenSecret), StoreError> {
    let org_ref = store.org_ref(org).await?;
    let (info, secret) = crate::new_token(org, token);
    let scopes: Vec<&str> = info.scopes.iter().map(|s| s.as_str()).collect();
    let client = store.write_client().await?;
    client
        .execute(
            "INSERT INTO tokens (token_id, org_ref, hash, scopes, name, email, created, expires) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &info.token_id,
                &org_ref,
                &secret.hash().0.as_slice(),
                &scopes.join(" "),
                &info.name,
                &info.email,
                &info.created.millis(),
                &info.expires.map(|e| e.millis()),
            ],
        )
        .await?;
    Ok((info, secret))
}

pub(super) async fn tokens(store: &PostgresStore, org: &OrgId) -> Result<Vec<TokenInfo>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.write_client().await?;
    let rows = client
        .query(&format!("{TOKEN_SELECT} WHERE t.org_ref = $1 ORDER BY t.created, t.token_id"), &[&org_ref])
        .await?;
    rows.iter().map(|r| token_row(r).into_principal().map(|p| p.token)).collect()
}

pub(super) async fn revoke_token(store: &PostgresStore, token_id: &str) -> Result<OrgId, StoreError> {
    let client = store.write_client().await?;
    let row = client
        .query_opt(
            "UPDATE tokens AS t SET revoked = COALESCE(t.revoked, $2) FROM orgs AS o \
             WHERE t.token_id = $1 AND o.org_ref = t.org_ref RETURNING o.org_id",
            &[&token_id, &Timestamp::now().millis()],
        )
        .await?;
    let org: String = row.map(|r| r.get(0)).ok_or_else(|| StoreError::NoSuchToken(token_id.to_owned()))?;
    crate::rows::stored_org_id(&org)
}

pub(super) async fn authenticate(
    store: &PostgresStore,
    presented: &TokenHash,
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    let client = store.write_client().await?;
    let stmt = client.prepare_cached(&format!("{TOKEN_SELECT} WHERE t.hash = $1")).await?;
    let Some(row) = client.query_opt(&stmt, &[&presented.0.as_slice()]).await? else { return Ok(None) };
    let principal = crate::authenticated(token_row(&row), presented, now)?;
    if let Some(principal) = &principal {
        record_use(store, &principal.token.token_id, now);
    }
    Ok(principal)
}

fn record_use(store: &PostgresStore, token_id: &str, at: Timestamp) {
    let Some(batch) = store.touched.record(token_id, at) else { return };
    let pool = store.writes.clone();
    // Best effort and off the request path: last-used times may lag by a few seconds.
    tokio::spawn(async move {
        let Ok(client) = pool.get().await else { return };
        for (token_id, at) in batch {
            let _ = client
                .execute(
                    "UPDATE tokens SET last_used = GREATEST(COALESCE(last_used, 0), $2) WHERE token_id = $1",
                    &[&token_id, &at],
                )
                .await;
        }
    });
}
