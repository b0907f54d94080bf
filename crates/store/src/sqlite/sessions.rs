//! Web viewer sessions: written on sign-in and sign-out only, on their own connection.

use auditrail_core::Timestamp;
use auditrail_core::session::{Session, SessionHash};
use auditrail_core::token::TokenHash;
use rusqlite::{OptionalExtension, params};

use crate::StoreError;
use crate::rows::{stored_32_bytes, stored_time};

use super::SqliteStore;

pub(super) async fn create_session(store: &SqliteStore, id: &SessionHash, session: &Session) -> Result<(), StoreError> {
    let (id, session) = (*id, session.clone());
    store
        .write(move |tx| {
            tx.execute("DELETE FROM ui_sessions WHERE expires <= ?1", [session.created.millis()])?;
            tx.execute(
                "INSERT INTO ui_sessions (session_hash, token_hash, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&id.0[..], &session.token.0[..], session.csrf, session.created.millis(), session.expires.millis()],
            )?;
            Ok(())
        })
        .await
}

pub(super) async fn session(
    store: &SqliteStore,
    id: &SessionHash,
    now: Timestamp,
) -> Result<Option<Session>, StoreError> {
    let id = *id;
    let row = store
        .read(move |c| {
            Ok(c.prepare_cached(
                "SELECT token_hash, csrf, created, expires FROM ui_sessions WHERE session_hash = ?1 AND expires > ?2",
            )?
            .query_row(params![&id.0[..], now.millis()], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
            })
            .optional()?)
        })
        .await?;
    row.map(|(token, csrf, created, expires)| {
        Ok(Session {
            token: TokenHash(stored_32_bytes(token, "a session's token digest")?),
            csrf,
            created: stored_time(created)?,
            expires: stored_time(expires)?,
        })
    })
    .transpose()
}

pub(super) async fn end_session(store: &SqliteStore, id: &SessionHash) -> Result<(), StoreError> {
    let id = *id;
    store
        .write(move |tx| {
            tx.execute("DELETE FROM ui_sessions WHERE session_hash = ?1", [&id.0[..]])?;
            Ok(())
        })
        .await
}
