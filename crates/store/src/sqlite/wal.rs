//! WAL checkpoints off the writer's path.
//!
//! SQLite's default checkpoints the WAL inside whichever commit pushes it past 1000 pages, so every
//! few commits an ingest would also copy megabytes into the database file and fsync it before it
//! could be acknowledged. Instead every connection has `wal_autocheckpoint = 0` and this thread,
//! on its own connection, runs a PASSIVE checkpoint (it never blocks the writer or readers)
//! whenever the writer reports a commit and the WAL holds more than [`WAL_PAGES`] pages. The
//! writer keeps appending to the WAL meanwhile. Under a sustained load a passive checkpoint never
//! quite catches up, and SQLite only rewinds the WAL once one has, so when the WAL passes
//! [`WAL_LIMIT_PAGES`] this thread asks the writer to run a TRUNCATE checkpoint between two
//! commits (only the writer can find a moment with no write in progress): it copies the remainder
//! and empties the file, so disk use stays bounded whatever the load.

use std::path::PathBuf;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Checkpoint once the WAL holds this many pages (8 KiB each: 32 MiB).
const WAL_PAGES: u64 = 4096;
/// Empty the WAL (blocking the writer briefly) once it holds this many frames (512 MiB).
const WAL_LIMIT_PAGES: i64 = 65_536;

pub(super) struct Checkpointer {
    pub(super) path: PathBuf,
    /// Upgradable while the store lives.
    pub(super) alive: Weak<()>,
    pub(super) nudged: std::sync::mpsc::Receiver<()>,
    /// Set for the writer when the WAL should be emptied.
    pub(super) truncate: std::sync::Arc<AtomicBool>,
}

/// Called by the writer between commits: empties the WAL when the checkpoint thread asked for it.
pub(super) fn truncate_if_asked(conn: &rusqlite::Connection, asked: &AtomicBool) {
    if asked.swap(false, Ordering::AcqRel)
        && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
    {
        tracing::warn!(error = %e, "emptying the WAL failed; will retry");
    }
}

impl Checkpointer {
    pub(super) fn run(self) {
        let mut conn = None;
        loop {
            // Wake on a commit, or now and then to notice the store is gone.
            let _ = self.nudged.recv_timeout(Duration::from_secs(1));
            if self.alive.upgrade().is_none() {
                return;
            }
            if wal_pages(&self.path) < WAL_PAGES {
                continue;
            }
            if conn.is_none() {
                conn = super::connect(&self.path, false)
                    .map_err(|e| tracing::warn!(error = %e, "checkpoint connection failed"))
                    .ok();
            }
            let Some(c) = &conn else { continue };
            let result = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
            if let Ok(frames) = result
                && frames > WAL_LIMIT_PAGES
            {
                self.truncate.store(true, Ordering::Release);
            }
            if let Err(e) = result {
                // Disk full or I/O trouble: the WAL keeps the data; try again later.
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                conn = None;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

fn wal_pages(db: &std::path::Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len() / 8192)
}
