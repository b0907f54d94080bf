//! The idempotency and sequencing rule of ingest, shared by both backends: given a batch, what is
//! already stored under the same ids, and the org's current head, decide per item whether it is a
//! duplicate (and of which seq), a conflict, or new (and which seq it gets). Backends run this
//! while holding their per-org write lock, then write the new rows.

use auditrail_core::NormalizedEvent;

use crate::{IngestError, IngestReceipt, ItemReceipt, StoreError};

/// An already stored event with the same (org, kind, id).
pub(crate) struct Existing {
    pub seq: u64,
    pub created_ms: i64,
    pub content_hash: Vec<u8>,
}

pub(crate) struct Allocation {
    pub receipt: IngestReceipt,
    /// (index into the batch, assigned seq) of each event to insert, in seq order.
    pub new: Vec<(usize, u64)>,
    pub head: u64,
}

pub(crate) fn allocate(
    events: &[NormalizedEvent],
    repeats: &[Option<usize>],
    head: u64,
    mut existing: impl FnMut(&NormalizedEvent) -> Result<Option<Existing>, StoreError>,
) -> Result<Allocation, IngestError> {
    let mut head = head;
    let mut items: Vec<ItemReceipt> = Vec::with_capacity(events.len());
    let mut new = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        if let Some(first) = repeats.get(index).copied().flatten() {
            let seq = items.get(first).map_or(0, |r| r.seq);
            items.push(ItemReceipt { id: event.id.clone(), seq, duplicate: true });
            continue;
        }
        if event.id_given
            && let Some(stored) = existing(event)?
        {
            let same_created = !event.created_given || stored.created_ms == event.created.millis();
            if stored.content_hash.as_slice() != event.content_hash.as_slice() || !same_created {
                return Err(IngestError::Conflict { index, id: event.id.clone() });
            }
            items.push(ItemReceipt { id: event.id.clone(), seq: stored.seq, duplicate: true });
            continue;
        }
        head += 1;
        new.push((index, head));
        items.push(ItemReceipt { id: event.id.clone(), seq: head, duplicate: false });
    }
    let accepted = new.len();
    let duplicates = items.len() - accepted;
    Ok(Allocation { receipt: IngestReceipt { accepted, duplicates, items }, new, head })
}
