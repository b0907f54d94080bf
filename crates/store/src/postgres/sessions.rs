//! Web viewer sessions, on the primary (a session just created must be found by the next
//! request, whichever replica answers it).

use auditrail_core::Timestamp;
use auditrail_core::session::{Session, SessionHash};
use auditrail_core::token::TokenHash;

use crate::StoreError;
use crate::rows::{stored_32_bytes, stored_time};

use super::PostgresStore;

pub(super) async fn create_session(
    store: &PostgresStore,
    id: &SessionHash,
    session: &Session,
) -> Result<(), StoreError> {
    let client = store.write_client().await?;
    client.execute("DELETE FROM ui_sessions WHERE expires <= $1", &[&session.created.millis()]).await?;
    client
        .execute(
            "INSERT INTO ui_sessions (session_hash, token_hash, csrf, created, expires) VALUES ($1, $2, $3, $4, $5)",
            &[&&id.0[..], &&session.token.0[..], &session.csrf, &session.created.millis(), &session.expires.millis()],
        )
        .await?;
    Ok(())
}

pub(super) async fn session(
    store: &PostgresStore,
    id: &SessionHash,
    now: Timestamp,
) -> Result<Option<Session>, StoreError> {
    let client = store.write_client().await?;
    let row = client
        .query_opt(
            "SELECT token_hash, csrf, created, expires FROM ui_sessions WHERE session_hash = $1 AND expires > $2",
            &[&&id.0[..], &now.millis()],
        )
        .await?;
    row.map(|r| {
        Ok(Session {
            token: TokenHash(stored_32_bytes(r.get(0), "a session's token digest")?),
            csrf: r.get(1),
            created: stored_time(r.get(2))?,
            expires: stored_time(r.get(3))?,
        })
    })
    .transpose()
}

pub(super) async fn end_session(store: &PostgresStore, id: &SessionHash) -> Result<(), StoreError> {
    let client = store.write_client().await?;
    client.execute("DELETE FROM ui_sessions WHERE session_hash = $1", &[&&id.0[..]]).await?;
    Ok(())
}
