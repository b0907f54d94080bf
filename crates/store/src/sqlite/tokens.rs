//! Orgs, tokens and the principals they authenticate. Written on a connection of their own, outside
//! the ingest path; last-use times go through the writer in batches (see [`crate::TouchBuffer`]).

use std::collections::HashMap;

use auditrail_core::token::{TokenHash, TokenSecret};
use auditrail_core::{OrgId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::{TokenRow, parse_org_row};
use crate::{NewToken, Org, Principal, StoreError, TokenInfo};

use super::SqliteStore;
use super::writer::WriteOp;

const TOKEN_COLUMNS: &str = "t.token_id, o.org_id, t.scopes, t.name, t.email, t.created, t.last_used, t.expires, t.revoked, o.name, o.created, t.hash";

fn read_token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        token_id: r.get(0)?,
        org_id: r.get(1)?,
        scopes: r.get(2)?,
        name: r.get(3)?,
        email: r.get(4)?,
        created: r.get(5)?,
        last_used: r.get(6)?,
        expires: r.get(7)?,
        revoked: r.get(8)?,
        org_name: r.get(9)?,
        org_created: r.get(10)?,
        hash: r.get(11)?,
    })
}

pub(super) async fn create_org(store: &SqliteStore, id: &OrgId, name: &str) -> Result<Org, StoreError> {
    let org = Org { id: id.clone(), name: name.to_owned(), created: Timestamp::now() };
    let row = org.clone();
    store
        .write(move |tx| {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO orgs (org_id, name, created) VALUES (?1, ?2, ?3)",
                params![row.id.to_string(), row.name, row.created.millis()],
            )?;
            if inserted == 0 {
                return Err(StoreError::OrgExists(row.id));
            }
            Ok(())
        })
        .await?;
    Ok(org)
}

pub(super) async fn org(store: &SqliteStore, id: &OrgId) -> Result<Option<Org>, StoreError> {
    let key = id.to_string();
    let row: Option<(String, String, i64)> = store
        .read(move |c| {
            let row = c
                .query_row("SELECT org_id, name, created FROM orgs WHERE org_id = ?1", [key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            Ok(row)
        })
        .await?;
    row.map(|(id, name, created)| parse_org_row(id, name, created)).transpose()
}

pub(super) async fn orgs(store: &SqliteStore) -> Result<Vec<Org>, StoreError> {
    let rows: Vec<(String, String, i64)> = store
        .read(|c| {
            let mut stmt = c.prepare("SELECT org_id, name, created FROM orgs ORDER BY org_ref")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await?;
    rows.into_iter().map(|(id, name, created)| parse_org_row(id, name, created)).collect()
}

pub(super) async fn create_token(
    store: &SqliteStore,
    org: &OrgId,
    token: NewToken,
) -> Result<(TokenInfo, TokenSecret), StoreError> {
    let org_ref = store.org_ref(org).await?;
    let (info, secret) = crate::new_token(org, token);
    let row = info.clone();
    let hash = secret.hash();
    store
        .write(move |tx| {
            let scopes: Vec<&str> = row.scopes.iter().map(|s| s.as_str()).collect();
            tx.execute(
                "INSERT INTO tokens (token_id, org_ref, hash, scopes, name, email, created, expires) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    row.token_id,
                    org_ref,
                    hash.0.as_slice(),
                    scopes.join(" "),
                    row.name,
                    row.email,
                    row.created.millis(),
                    row.expires.map(|e| e.millis())
                ],
            )?;
            Ok(())
        })
        .await?;
    Ok((info, secret))
}

pub(super) async fn tokens(store: &SqliteStore, org: &OrgId) -> Result<Vec<TokenInfo>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let rows: Vec<TokenRow> = store
        .read(move |c| {
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref \
                 WHERE t.org_ref = ?1 ORDER BY t.created, t.token_id"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map([org_ref], read_token_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await?;
    rows.into_iter().map(|r| r.into_principal().map(|p| p.token)).collect()
}

pub(super) async fn revoke_token(store: &SqliteStore, token_id: &str) -> Result<OrgId, StoreError> {
    let token_id = token_id.to_owned();
    let org: String = store
        .write(move |tx| {
            let org: Option<String> = tx
                .query_row(
                    "SELECT o.org_id FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref WHERE t.token_id = ?1",
                    [&token_id],
                    |r| r.get(0),
                )
                .optional()?;
            let org = org.ok_or_else(|| StoreError::NoSuchToken(token_id.clone()))?;
            tx.execute(
                "UPDATE tokens SET revoked = COALESCE(revoked, ?2) WHERE token_id = ?1",
                params![token_id, Timestamp::now().millis()],
            )?;
            Ok(org)
        })
        .await?;
    crate::rows::stored_org_id(&org)
}

pub(super) async fn authenticate(
    store: &SqliteStore,
    presented: &TokenHash,
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    let hash = presented.0;
    let row: Option<TokenRow> = store
        .read(move |c| {
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref WHERE t.hash = ?1"
            );
            Ok(c.prepare_cached(&sql)?.query_row([hash.as_slice()], read_token_row).optional()?)
        })
        .await?;
    let Some(row) = row else { return Ok(None) };
    let principal = crate::authenticated(row, presented, now)?;
    if let Some(principal) = &principal
        && let Some(batch) = store.touched.record(&principal.token.token_id, now)
    {
        // Best effort: under a full write queue, last-used times may lag; ingest never waits for them.
        let _ = store.writer.try_send(WriteOp::TouchTokens(batch));
    }
    Ok(principal)
}

/// Records a batch of last-use times; run by the writer in the group it commits next.
pub(super) fn touch_tokens(conn: &Connection, touched: &HashMap<String, i64>) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("UPDATE tokens SET last_used = MAX(COALESCE(last_used, 0), ?2) WHERE token_id = ?1")?;
    for (token_id, at) in touched {
        stmt.execute(params![token_id, at])?;
    }
    Ok(())
}
