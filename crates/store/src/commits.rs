//! Commit notifications: after every commit of an org's events the store raises that org's
//! `watch` with the new head, and one signal shared by all orgs, so consumers (the feed's long
//! polls, sinks, the checkpointer) wake when there is something to read instead of polling.
//!
//! A notification only says "read again": consumers always read the store for what is there, so
//! a notification raised twice, late or for a commit they already read costs one empty read and
//! nothing else. What is in the store is the truth; the watch is a hint.

use std::collections::HashMap;
use std::sync::Mutex;

use auditrail_core::OrgId;
use tokio::sync::watch;

const PRUNE_AT: usize = 1024;

pub struct Commits {
    orgs: Mutex<HashMap<OrgId, watch::Sender<u64>>>,
    /// Counts commits of any org (wrapping): what a consumer of every org waits on.
    any: watch::Sender<u64>,
}

impl Default for Commits {
    fn default() -> Self {
        Self { orgs: Mutex::new(HashMap::new()), any: watch::Sender::new(0) }
    }
}

impl Commits {
    /// The org's watch; its value is the highest head this process has heard of (0 before any).
    pub fn subscribe(&self, org: &OrgId) -> watch::Receiver<u64> {
        match self.orgs.lock() {
            Ok(mut orgs) => {
                // Orgs nobody watches any more are forgotten now and then, so the map holds only
                // what is being consumed.
                if orgs.len() >= PRUNE_AT && !orgs.contains_key(org) {
                    orgs.retain(|_, sender| sender.receiver_count() > 0);
                }
                orgs.entry(org.clone()).or_insert_with(|| watch::Sender::new(0)).subscribe()
            }
            // A poisoned map still gives a receiver; it just is never raised, and its consumer
            // falls back to its periodic re-read.
            Err(_) => watch::Sender::new(0).subscribe(),
        }
    }

    /// Raised after any org's commit.
    pub fn any(&self) -> watch::Receiver<u64> {
        self.any.subscribe()
    }

    /// After a commit that made `head` the org's head (here or, on PostgreSQL, on another replica).
    pub fn raise(&self, org: &OrgId, head: u64) {
        if let Ok(orgs) = self.orgs.lock()
            && let Some(sender) = orgs.get(org)
        {
            sender.send_if_modified(|known| {
                let newer = head > *known;
                if newer {
                    *known = head;
                }
                newer
            });
        }
        self.any.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes every consumer: after notifications may have been missed (a lost connection to the
    /// database that carries them), everyone re-reads.
    pub fn raise_all(&self) {
        if let Ok(orgs) = self.orgs.lock() {
            for sender in orgs.values() {
                sender.send_modify(|_| {});
            }
        }
        self.any.send_modify(|n| *n = n.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn a_commit_wakes_its_orgs_watchers_and_the_any_signal_but_not_other_orgs() {
        let commits = Commits::default();
        let mut a = commits.subscribe(&org(1));
        let b = commits.subscribe(&org(2));
        let mut any = commits.any();
        commits.raise(&org(1), 5);
        assert!(a.has_changed().unwrap());
        assert_eq!(*a.borrow_and_update(), 5);
        assert!(!b.has_changed().unwrap());
        assert!(any.has_changed().unwrap());
        any.borrow_and_update();
        // An older head (a late notification) changes nothing for the org.
        commits.raise(&org(1), 3);
        assert!(!a.has_changed().unwrap());
        commits.raise_all();
        assert!(a.has_changed().unwrap() && b.has_changed().unwrap() && any.has_changed().unwrap());
    }

    #[test]
    fn unwatched_orgs_are_forgotten() {
        let commits = Commits::default();
        let kept = commits.subscribe(&org(0));
        for n in 1..=PRUNE_AT as u128 {
            drop(commits.subscribe(&org(n)));
        }
        assert!(commits.orgs.lock().unwrap().len() < PRUNE_AT);
        assert!(commits.orgs.lock().unwrap().contains_key(&org(0)));
        drop(kept);
    }
}
