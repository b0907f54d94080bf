//! `auditrail verify`: recompute what the log commits to and check it against what was signed.
//!
//! Against the store: every org's events are read in seq order, each leaf is recomputed from the
//! stored event (RFC 8785 of {event, kind, org, seq}), compared with the stored leaf, and the
//! recomputed tree's root at every signed checkpoint is compared with the checkpoint's root,
//! whose signature is checked with the verifier key. A missing seq (deletion), an extra one
//! (insertion), an edited or swapped event, or a rewritten tree all fail, naming the first bad
//! seq and event id. Offline (`--export`): the same recomputation over an exported log file,
//! checked against one signed checkpoint and a public key; nothing else is needed.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use auditrail_core::checkpoint::{SigningKey, VerifierKey, verify_checkpoint};
use auditrail_core::event::{log_entry, stored_leaf};
use auditrail_core::merkle::{self, Hash, MemoryTree};
use auditrail_core::numbers::exact_numbers;
use auditrail_core::{Kind, KindSet, OrgId};
use auditrail_service::RetentionRecord;
use auditrail_store::Store;
use serde_json::Value;

use super::open_store;
use crate::cli::VerifyArgs;
use crate::signing::KEY_FILE;

const PAGE: u32 = 10_000;

pub async fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    if let Some(export) = &args.export {
        let key = verifier(args.key.as_deref(), None)?;
        let checkpoint = args.checkpoint.as_deref().ok_or_else(|| anyhow!("--export needs --checkpoint"))?;
        return verify_export(export, checkpoint, &key);
    }
    let key = verifier(args.key.as_deref(), Some(&args.store.data))?;
    let store = open_store(&args.store).await?;
    let orgs = match &args.org {
        Some(raw) => vec![OrgId::parse(raw, "--org")?],
        None => store.orgs().await?.into_iter().map(|o| o.id).collect(),
    };
    let mut failures = 0;
    for org in orgs {
        match verify_org(store.as_ref(), &org, &key).await {
            Ok(report) => eprintln!("ok  {org}: {report}"),
            Err(e) => {
                failures += 1;
                eprintln!("BAD {org}: {e:#}");
            }
        }
    }
    if failures > 0 {
        bail!("{failures} organization(s) failed verification");
    }
    Ok(())
}

/// The verifier key from `--key` (verifier key text, a file with one, or a signing key file), or
/// from the data directory's signing key.
fn verifier(raw: Option<&str>, data: Option<&Path>) -> anyhow::Result<VerifierKey> {
    let text = match (raw, data) {
        (Some(raw), _) if Path::new(raw).is_file() => {
            std::fs::read_to_string(raw).with_context(|| format!("cannot read {raw}"))?
        }
        (Some(raw), _) => raw.to_owned(),
        (None, Some(data)) => {
            let path = data.join(KEY_FILE);
            std::fs::read_to_string(&path)
                .with_context(|| format!("no --key given and cannot read {}", path.display()))?
        }
        (None, None) => bail!("a verifier key is required (--key)"),
    };
    let text = text.trim();
    if text.starts_with("PRIVATE+KEY+") {
        let key = SigningKey::parse_private(text).map_err(|e| anyhow!("not a signing key: {e}"))?;
        return Ok(key.verifier_key());
    }
    VerifierKey::parse(text).map_err(|e| anyhow!("not a verifier key (name+id+key): {e}"))
}

/// Pushes the stored leaves of seqs from the tree's size + 1 up to `to` (exclusive) into `tree`,
/// provided retention deleted them; any other absent seq is a deletion nobody accounted for.
async fn fill_deleted(
    store: &dyn Store,
    org: &OrgId,
    tree: &mut MemoryTree,
    deleted: &BTreeSet<u64>,
    to: u64,
    next: Option<(u64, &str)>,
) -> anyhow::Result<()> {
    let from = tree.size() + 1;
    if from >= to {
        return Ok(());
    }
    if let Some(missing) = (from..to).find(|s| !deleted.contains(s)) {
        return Err(match next {
            Some((seq, id)) => {
                anyhow!("seq {missing} is missing (deleted?); the next stored event is seq {seq} (id {id})")
            }
            None => anyhow!("seq {missing} is missing (deleted?)"),
        });
    }
    let wanted: Vec<(u32, u64)> = (from..to).map(|s| (0u32, s - 1)).collect();
    for leaf in store.merkle_nodes(org, &wanted).await? {
        tree.push(leaf);
    }
    Ok(())
}

/// Deleted entries are accepted only when the latest retention record commits to exactly them
/// and each lies inside that run's cut, which was signed before the record was written.
fn check_deletions(deleted: &[u64], record: Option<&(u64, RetentionRecord)>) -> anyhow::Result<()> {
    if deleted.is_empty() {
        return Ok(());
    }
    let Some((seq, r)) = record else {
        bail!("{} events were deleted but no retention record accounts for them", deleted.len());
    };
    if !r.accounts_for(deleted) {
        bail!(
            "the events missing from the log are not the ones the latest retention record (seq {seq}) commits to \
             (deleted outside retention?)"
        );
    }
    let cut = r.checkpoint_size;
    if cut >= *seq {
        bail!("the retention record at seq {seq} claims a cut ({cut}) at or after itself");
    }
    if let Some(outside) = deleted.iter().find(|d| **d > cut) {
        bail!("seq {outside} is deleted but lies beyond the retention run's cut (seq {cut})");
    }
    Ok(())
}

async fn verify_org(store: &dyn Store, org: &OrgId, key: &VerifierKey) -> anyhow::Result<String> {
    let size = store.log_size(org).await?;
    let deleted: BTreeSet<u64> = store.deleted_seqs(org).await?.into_iter().collect();
    let mut record: Option<(u64, RetentionRecord)> = None;
    let mut tree = MemoryTree::new();
    let mut after = 0u64;
    loop {
        let entries = store.log_entries(org, after, KindSet::all(), PAGE).await?.entries;
        let Some(last) = entries.last() else { break };
        let last_seq = last.seq;
        // One read for the page's stored leaves; only if some is unreadable, entry by entry, so
        // the report names the exact seq.
        let in_log: Vec<(u32, u64)> = entries.iter().filter(|e| e.seq <= size).map(|e| (0, e.seq - 1)).collect();
        let page_leaves: Option<HashMap<u64, Hash>> = store
            .merkle_nodes(org, &in_log)
            .await
            .ok()
            .map(|leaves| in_log.iter().map(|&(_, i)| i + 1).zip(leaves).collect());
        for entry in &entries {
            fill_deleted(
                store,
                org,
                &mut tree,
                &deleted,
                entry.seq.min(size + 1),
                Some((entry.seq, entry.id.as_str())),
            )
            .await?;
            if entry.seq > size {
                bail!("seq {} (id {}) is beyond the log's size {size} (inserted?)", entry.seq, entry.id);
            }
            if entry.seq != tree.size() + 1 {
                bail!("seq {} (id {}) is out of order", entry.seq, entry.id);
            }
            // Ingest accepts only numbers a double holds exactly, so digits that the leaf's double
            // would not tell apart (9007199254740993 for …992) can only be an edit.
            if let Err((field, reason)) = exact_numbers(&entry.body) {
                bail!("seq {} (id {}): {field}: {reason} (edited?)", entry.seq, entry.id);
            }
            let leaf = stored_leaf(org, entry.kind, entry.seq, &entry.body)
                .with_context(|| format!("seq {} (id {}) is not valid JSON", entry.seq, entry.id))?;
            let stored = match page_leaves.as_ref().and_then(|leaves| leaves.get(&entry.seq)) {
                Some(leaf) => *leaf,
                None => store
                    .merkle_nodes(org, &[(0, entry.seq - 1)])
                    .await
                    .ok()
                    .and_then(|l| l.first().copied())
                    .ok_or_else(|| anyhow!("seq {} (id {}): the log's leaf cannot be read", entry.seq, entry.id))?,
            };
            if stored != leaf {
                bail!(
                    "seq {} (id {}): the event does not match its leaf in the log (edited or moved?)",
                    entry.seq,
                    entry.id
                );
            }
            if entry.kind == Kind::System
                && let Ok(event) = serde_json::from_str::<Value>(&entry.body)
                && let Some(r) = RetentionRecord::of(entry.kind, &event)
            {
                record = Some((entry.seq, r));
            }
            tree.push(leaf);
        }
        after = last_seq;
    }
    fill_deleted(store, org, &mut tree, &deleted, size + 1, None).await?;
    check_deletions(&deleted.iter().copied().collect::<Vec<_>>(), record.as_ref())?;
    let checkpoints = store.checkpoints(org, u32::MAX).await?;
    for c in checkpoints.iter().rev() {
        let parsed = verify_checkpoint(&c.note, key).map_err(|e| {
            anyhow!("the checkpoint of size {} is not validly signed by {}: {e}", c.tree_size, key.name())
        })?;
        if parsed.size != c.tree_size || parsed.root != c.root || !parsed.origin.ends_with(&format!("/{org}")) {
            bail!("the checkpoint of size {} does not match its signed note", c.tree_size);
        }
        let root =
            tree.root_at(parsed.size).map_err(|e| anyhow!("checkpoint of size {} beyond the log: {e}", parsed.size))?;
        if root != parsed.root {
            bail!(
                "the events up to seq {} do not hash to the signed root of that checkpoint (rewritten log?)",
                parsed.size
            );
        }
    }
    let retained =
        if deleted.is_empty() { String::new() } else { format!(" ({} deleted by retention)", deleted.len()) };
    Ok(format!("{size} entries{retained}, {} signed checkpoint(s) verified", checkpoints.len()))
}

/// Offline: an exported log (NDJSON of {event, kind, org, seq} from seq 1) against one signed
/// checkpoint.
fn verify_export(export: &Path, checkpoint: &Path, key: &VerifierKey) -> anyhow::Result<()> {
    let note = std::fs::read_to_string(checkpoint).with_context(|| format!("cannot read {}", checkpoint.display()))?;
    let signed = verify_checkpoint(&note, key).map_err(|e| anyhow!("the checkpoint is not validly signed: {e}"))?;
    let file = std::fs::File::open(export).with_context(|| format!("cannot read {}", export.display()))?;
    let mut tree = MemoryTree::new();
    let mut org: Option<OrgId> = None;
    let mut deleted: Vec<u64> = Vec::new();
    let mut withheld = 0u64;
    let mut record: Option<(u64, RetentionRecord)> = None;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Value = serde_json::from_str(&line).with_context(|| format!("line {} is not JSON", n + 1))?;
        if let Err((field, reason)) = exact_numbers(&line) {
            bail!("line {}: {field}: {reason} (edited?)", n + 1);
        }
        let seq = entry["seq"].as_u64().ok_or_else(|| anyhow!("line {}: no seq", n + 1))?;
        let id = entry["event"]["id"].as_str().unwrap_or("?").to_owned();
        if seq != tree.size() + 1 {
            bail!("seq {} is missing (deleted?); line {} has seq {seq} (id {id})", tree.size() + 1, n + 1);
        }
        let deleted_stub = entry["deleted"].as_bool() == Some(true);
        if deleted_stub || entry["withheld"].as_bool() == Some(true) {
            // Only its leaf is here: deleted by retention (the latest retention record must
            // account for it), or of a kind the exporting token may not read. The signed root
            // vouches for the leaf either way.
            let leaf = entry["leaf"]
                .as_str()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| anyhow!("seq {seq}: an entry without its event needs its 32-byte leaf hash"))?;
            tree.push(leaf);
            if deleted_stub {
                deleted.push(seq);
            } else {
                withheld += 1;
            }
            continue;
        }
        let this_org = OrgId::parse(entry["org"].as_str().unwrap_or_default(), "org")?;
        if org.get_or_insert_with(|| this_org.clone()) != &this_org {
            bail!("seq {seq} (id {id}) belongs to another organization");
        }
        let kind = Kind::parse(entry["kind"].as_str().unwrap_or_default())
            .ok_or_else(|| anyhow!("seq {seq} (id {id}): unknown kind"))?;
        let event = serde_json_canonicalizer::to_vec(&entry["event"])?;
        if let Some(r) = RetentionRecord::of(kind, &entry["event"]) {
            record = Some((seq, r));
        }
        tree.push(merkle::leaf_hash(&log_entry(&this_org, kind, seq, &event)));
    }
    check_deletions(&deleted, record.as_ref())?;
    if let Some(org) = &org
        && !signed.origin.ends_with(&format!("/{org}"))
    {
        bail!("the checkpoint's origin {} is not this export's organization", signed.origin);
    }
    if tree.size() < signed.size {
        bail!(
            "seq {} is missing (deleted?): the checkpoint covers {} entries, the export has {}",
            tree.size() + 1,
            signed.size,
            tree.size()
        );
    }
    let root = tree.root_at(signed.size).map_err(|e| anyhow!("{e}"))?;
    if root != signed.root {
        // Find the first entry whose inclusion in the signed tree fails: that is where it differs.
        bail!(
            "the export's first {} entries do not hash to the signed root (edited, reordered or inserted entries)",
            signed.size
        );
    }
    let size = signed.size;
    let withheld = if withheld > 0 {
        format!(" ({withheld} withheld: not readable with the exporting token)")
    } else {
        String::new()
    };
    if tree.size() > size {
        // What was checked holds, but a signature covers only its own size: entries after it
        // could have been appended by anyone.
        bail!(
            "entries 1..{size} verified against the signed checkpoint of size {size}{withheld}; the {} entries after it \
             (seq {}..{}) are NOT covered by its signature: verify them against a newer checkpoint",
            tree.size() - size,
            size + 1,
            tree.size()
        );
    }
    eprintln!("ok: entries 1..{size} verified against the signed checkpoint of size {size}{withheld}");
    Ok(())
}
