//! Writing events and their Merkle nodes: one transaction per batch, under the org's row lock.

use std::collections::HashMap;

use auditrail_core::merkle::Hash;
use auditrail_core::{Kind, NormalizedEvent, OrgId};
use deadpool_postgres::{Object, Transaction};

use crate::allocate::{Existing, allocate};
use crate::merkle_log::{self, Frontier};
use crate::{IngestError, IngestReceipt, StoreError};

use super::{PostgresStore, partitions, query};

pub(super) async fn ingest(
    store: &PostgresStore,
    org: &OrgId,
    kind: Kind,
    events: Vec<NormalizedEvent>,
    repeats: Vec<Option<usize>>,
) -> Result<IngestReceipt, IngestError> {
    let org_ref = store.org_ref(org).await?;
    partitions::ensure_for(store, &events).await?;
    let mut client = store.write_client().await?;
    let tx = client.transaction().await?;
    // The per-org write lock, held until commit: see the module docs.
    let head: i64 = tx.query_one("SELECT head_seq FROM orgs WHERE org_ref = $1 FOR UPDATE", &[&org_ref]).await?.get(0);
    let given: Vec<&str> = events.iter().filter(|e| e.id_given).map(|e| e.id.as_str()).collect();
    let mut stored: HashMap<String, Existing> = HashMap::new();
    if !given.is_empty() {
        let rows = tx
            .query(
                "SELECT id, seq, created, content_hash FROM event_keys WHERE org_ref = $1 AND kind = $2 AND id = ANY($3)",
                &[&org_ref, &kind.code(), &given],
            )
            .await?;
        for r in rows {
            let seq: i64 = r.get(1);
            stored.insert(r.get(0), Existing { seq: seq as u64, created_ms: r.get(2), content_hash: r.get(3) });
        }
    }
    let allocation = allocate(&events, &repeats, head as u64, |e| Ok(stored.remove(e.id.as_str())))?;
    if !allocation.new.is_empty() {
        insert_new(&tx, org_ref, kind, &events, &allocation.new).await?;
        super::overview::count_in(&tx, org_ref, kind, &events, &allocation.new).await?;
        let wanted = Frontier::wanted(head as u64);
        let hashes = query::nodes(&tx, org_ref, &wanted).await?;
        let mut frontier = Frontier::new(&wanted, hashes);
        let nodes = merkle_log::extend(&mut frontier, org, kind, &events, &allocation.new)?;
        insert_nodes(&tx, org_ref, nodes).await?;
        tx.execute("UPDATE orgs SET head_seq = $2 WHERE org_ref = $1", &[&org_ref, &(allocation.head as i64)]).await?;
        // Delivered by PostgreSQL at commit (and only if it commits) to every replica listening:
        // their feed readers and sinks wake as this replica's do.
        tx.execute("SELECT pg_notify($1, $2)", &[&super::COMMIT_CHANNEL, &super::commit_payload(org, allocation.head)])
            .await?;
    }
    tx.commit().await?;
    Ok(allocation.receipt)
}

/// Writes the new rows of a batch with one array-bound statement per table.
async fn insert_new(
    tx: &Transaction<'_>,
    org_ref: i64,
    kind: Kind,
    events: &[NormalizedEvent],
    new: &[(usize, u64)],
) -> Result<(), StoreError> {
    let n = new.len();
    let mut seqs = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(n);
    let mut actors = Vec::with_capacity(n);
    let mut emails = Vec::with_capacity(n);
    let mut categories = Vec::with_capacity(n);
    let mut types: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut bodies = Vec::with_capacity(n);
    let mut searches = Vec::with_capacity(n);
    let (mut role_names, mut role_created, mut role_seqs) = (Vec::new(), Vec::new(), Vec::new());
    let mut admin_categories: Vec<&str> = Vec::new();
    for &(index, seq) in new {
        let e = &events[index];
        seqs.push(seq as i64);
        created.push(e.created.millis());
        ids.push(e.id.as_str());
        hashes.push(e.content_hash.as_slice());
        actors.push(e.actor_id.as_deref());
        emails.push(e.actor_email.as_deref());
        categories.push(e.category.as_deref());
        types.push(e.event_type.map(|t| t.as_str()));
        bodies.push(e.body.as_str());
        searches.push(e.search.as_str());
        for role in &e.roles {
            role_names.push(role.as_str());
            role_created.push(e.created.millis());
            role_seqs.push(seq as i64);
        }
        if kind == Kind::Admin
            && let Some(c) = e.category.as_deref()
        {
            admin_categories.push(c);
        }
    }
    tx.execute(
        "INSERT INTO event_keys (org_ref, seq, kind, id, created, content_hash) \
         SELECT $1, s, $2, i, c, h FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::bytea[]) AS u(s, i, c, h)",
        &[&org_ref, &kind.code(), &seqs, &ids, &created, &hashes],
    )
    .await?;
    let insert_events = format!(
        "INSERT INTO events (org_ref, kind, created, seq, id, actor_id, actor_email, category, event_type, body, \
         search) SELECT $1, $2, c, s, i, a, m, g, t, b, {} FROM unnest($3::bigint[], $4::bigint[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) AS u(c, s, i, a, m, g, t, b, x)",
        super::search::tsvector_of("x")
    );
    tx.execute(
        &insert_events,
        &[&org_ref, &kind.code(), &created, &seqs, &ids, &actors, &emails, &categories, &types, &bodies, &searches],
    )
    .await?;
    if !role_names.is_empty() {
        tx.execute(
            "INSERT INTO event_roles (org_ref, kind, role, created, seq) \
             SELECT $1, $2, r, c, s FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS u(r, c, s) \
             ON CONFLICT DO NOTHING",
            &[&org_ref, &kind.code(), &role_names, &role_created, &role_seqs],
        )
        .await?;
    }
    if !admin_categories.is_empty() {
        admin_categories.sort_unstable();
        admin_categories.dedup();
        tx.execute(
            "INSERT INTO admin_categories (org_ref, category) SELECT $1, c FROM unnest($2::text[]) AS u(c) \
             ON CONFLICT DO NOTHING",
            &[&org_ref, &admin_categories],
        )
        .await?;
    }
    Ok(())
}

/// Stores Merkle nodes `(level, index, hash)` of an org with one `unnest` insert.
async fn insert_nodes(tx: &Transaction<'_>, org_ref: i64, nodes: Vec<(u32, u64, Hash)>) -> Result<(), StoreError> {
    let mut levels = Vec::with_capacity(nodes.len());
    let mut idxs = Vec::with_capacity(nodes.len());
    let mut hashes = Vec::with_capacity(nodes.len());
    for (level, idx, hash) in nodes {
        levels.push(i64::from(level));
        idxs.push(idx as i64);
        hashes.push(hash.to_vec());
    }
    tx.execute(
        "INSERT INTO merkle_nodes (org_ref, level, idx, hash) \
         SELECT $1, l, i, h FROM unnest($2::bigint[], $3::bigint[], $4::bytea[]) AS u(l, i, h)",
        &[&org_ref, &levels, &idxs, &hashes],
    )
    .await?;
    Ok(())
}

const TREE_LOCK_KEY: i64 = 0x6175_6469_7474_7265; // "audittre"

/// Databases created before the Merkle log existed (schema migration 2) hold events without
/// leaves: build each such org's tree from its stored events, once, under a lock so replicas
/// starting together do it once. Every later ingest extends the tree in its own transaction.
pub(super) async fn build_missing_merkle_logs(client: &mut Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&TREE_LOCK_KEY]).await?;
    let orgs = tx
        .query(
            "SELECT o.org_ref, o.org_id, o.head_seq FROM orgs AS o \
             WHERE o.head_seq > (SELECT count(*) FROM merkle_nodes AS n WHERE n.org_ref = o.org_ref AND n.level = 0)",
            &[],
        )
        .await?;
    for row in orgs {
        let (org_ref, org_id, head): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
        let org = crate::rows::stored_org_id(&org_id)?;
        tracing::info!(org = %org, events = head, "building the Merkle log of events stored before it existed");
        tx.execute("DELETE FROM merkle_nodes WHERE org_ref = $1", &[&org_ref]).await?;
        let events =
            tx.query("SELECT seq, kind, body FROM events WHERE org_ref = $1 ORDER BY seq", &[&org_ref]).await?;
        let rows = events.iter().map(|e| Ok::<_, StoreError>((e.get(0), e.get(1), e.get(2))));
        insert_nodes(&tx, org_ref, merkle_log::rebuild(&org, rows)?).await?;
    }
    tx.commit().await?;
    Ok(())
}

const EMAIL_LOCK_KEY: i64 = 0x6175_6469_656d_6169; // "audiemai"

/// Admin and security events stored before their `data.actorEmail` was lifted into the e-mail
/// column get it now, once (a marker in `meta`, under a lock so replicas starting together do it
/// once), with the rule ingest applies (`auditrail_core::event::is_indexable_email`), in SQL.
pub(super) async fn lift_missing_emails(client: &mut Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EMAIL_LOCK_KEY]).await?;
    let done: bool = tx.query_one("SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'emails_lifted')", &[]).await?.get(0);
    if done {
        return Ok(());
    }
    tx.execute(
        "UPDATE events SET actor_email = body::jsonb #>> '{data,actorEmail}' \
         WHERE kind = ANY($1) AND actor_email IS NULL \
         AND octet_length(body::jsonb #>> '{data,actorEmail}') BETWEEN 1 AND 1024 \
         AND (body::jsonb #>> '{data,actorEmail}') !~ '[[:cntrl:]]'",
        &[&vec![Kind::Admin.code(), Kind::Security.code()]],
    )
    .await?;
    tx.execute("INSERT INTO meta (key, value) VALUES ('emails_lifted', '\\x01'::bytea)", &[]).await?;
    tx.commit().await?;
    Ok(())
}
