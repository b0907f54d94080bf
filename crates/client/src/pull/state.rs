//! The memory of `auditrail pull`: per (org, kind, destination) the high-water mark, the newest
//! `created` up to which everything read from the source has been acknowledged by the
//! destination, and the locks that make running it from cron safe.
//!
//! - The mark only moves after the destination acknowledged a batch (acknowledged = durable),
//!   and never backwards, so a crash or kill at any point loses nothing: the next run
//!   starts a little before the mark and the destination drops what it already has by id.
//! - The file is replaced atomically (write a temporary file, fsync, rename), so a kill mid-write
//!   leaves the old state, never a torn one. Several pulls (other orgs or kinds) may share one
//!   state file; each update re-reads the file under a short exclusive lock and changes only its
//!   own entry.
//! - A second lock per org and kind is held for a whole run: a cron job that fires while the
//!   previous run is still going skips that kind instead of pulling the same events twice.
//!   Both are OS file locks (`flock`), released by the kernel if the process dies.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use auditrail_core::{Kind, OrgId, Timestamp};
use serde::{Deserialize, Serialize};

const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    #[serde(default)]
    marks: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    org: String,
    kind: String,
    destination: String,
    source: String,
    mark: String,
    updated: String,
}

/// Which mark: one per org, kind and destination server.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub org: OrgId,
    pub kind: Kind,
    pub destination: String,
    pub source: String,
}

impl Key {
    fn matches(&self, e: &Entry) -> bool {
        e.org == self.org.to_string() && e.kind == self.kind.as_str() && e.destination == self.destination
    }
}

/// `$XDG_STATE_HOME/auditrail/pull-state.json`, else `~/.local/state/auditrail/pull-state.json`.
pub fn default_path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local").join("state"),
            None => bail!("cannot place the pull state: set XDG_STATE_HOME or HOME, or pass --state FILE"),
        },
    };
    Ok(base.join("auditrail").join("pull-state.json"))
}

/// The state file of pull: marks and locks (see the module's documentation).
pub struct State {
    path: PathBuf,
}

/// Held for a whole run of one org and kind; dropping it releases the lock.
pub(crate) struct RunLock {
    _file: File,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_owned()).unwrap_or_else(|| "pull-state.json".into());
    name.push(suffix);
    path.with_file_name(name)
}

fn open_lock(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}

impl State {
    /// The state at `path`; creates its directory.
    pub fn open(path: PathBuf) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(State { path })
    }

    /// Where the state file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run lock of an org and kind, or `None` when another pull holds it.
    pub(crate) fn try_lock_run(&self, org: &OrgId, kind: Kind) -> anyhow::Result<Option<RunLock>> {
        let path = sibling(&self.path, &format!(".{}-{kind}.lock", org.uuid()));
        let file = open_lock(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }

    fn read(&self) -> anyhow::Result<StateFile> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let state: StateFile = serde_json::from_slice(&bytes).with_context(|| {
                    format!("the pull state {} is not valid; fix or remove it", self.path.display())
                })?;
                if state.version != VERSION {
                    bail!(
                        "the pull state {} has version {}; this auditrail reads {VERSION}",
                        self.path.display(),
                        state.version
                    );
                }
                Ok(state)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile { version: VERSION, marks: Vec::new() }),
            Err(e) => Err(e).with_context(|| format!("cannot read the pull state {}", self.path.display())),
        }
    }

    /// The mark of `key`, if a run has recorded one.
    pub(crate) fn mark(&self, key: &Key) -> anyhow::Result<Option<Timestamp>> {
        let state = self.read()?;
        let Some(entry) = state.marks.iter().find(|e| key.matches(e)) else { return Ok(None) };
        Ok(Some(Timestamp::parse(&entry.mark, "mark").with_context(|| format!("bad mark in {}", self.path.display()))?))
    }

    /// Records `mark` for `key` unless the stored one is newer; atomic and durable.
    pub(crate) fn advance(&self, key: &Key, mark: Timestamp) -> anyhow::Result<()> {
        let lock = open_lock(&sibling(&self.path, ".lock"))?;
        lock.lock().context("cannot lock the pull state")?;
        let mut state = self.read()?;
        let now = Timestamp::now().to_string();
        match state.marks.iter_mut().find(|e| key.matches(e)) {
            Some(entry) => {
                let stored = Timestamp::parse(&entry.mark, "mark").ok();
                if stored.is_some_and(|s| s >= mark) {
                    return Ok(());
                }
                entry.mark = mark.to_string();
                entry.source = key.source.clone();
                entry.updated = now;
            }
            None => state.marks.push(Entry {
                org: key.org.to_string(),
                kind: key.kind.as_str().to_owned(),
                destination: key.destination.clone(),
                source: key.source.clone(),
                mark: mark.to_string(),
                updated: now,
            }),
        }
        let mut bytes = serde_json::to_vec_pretty(&state).context("cannot encode the pull state")?;
        bytes.push(b'\n');
        write_atomically(&self.path, &bytes)
        // `lock` is released when dropped.
    }
}

/// Write a temporary file beside `path`, sync it, rename it over `path`, sync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = sibling(path, &format!(".tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; not supported everywhere, so best effort.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write the pull state {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: Kind) -> Key {
        Key {
            org: OrgId::from_uuid(uuid::Uuid::from_u128(7)),
            kind,
            destination: "http://dest/".into(),
            source: "http://src/".into(),
        }
    }

    #[test]
    fn marks_only_move_forward_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("auditrail-state-{}", uuid::Uuid::new_v4()));
        let path = dir.join("nested").join("state.json");
        let state = State::open(path.clone()).unwrap();
        let t1 = Timestamp::parse("2024-01-01T00:00:00Z", "t").unwrap();
        let t2 = Timestamp::parse("2024-02-01T00:00:00Z", "t").unwrap();
        assert_eq!(state.mark(&key(Kind::Admin)).unwrap(), None);
        state.advance(&key(Kind::Admin), t2).unwrap();
        state.advance(&key(Kind::Admin), t1).unwrap();
        state.advance(&key(Kind::Connect), t1).unwrap();
        let reopened = State::open(path.clone()).unwrap();
        assert_eq!(reopened.mark(&key(Kind::Admin)).unwrap(), Some(t2));
        assert_eq!(reopened.mark(&key(Kind::Connect)).unwrap(), Some(t1));
        assert_eq!(reopened.mark(&key(Kind::Compliance)).unwrap(), None);
        let mut other = key(Kind::Admin);
        other.destination = "http://elsewhere/".into();
        assert_eq!(reopened.mark(&other).unwrap(), None);
        // The run lock excludes a second holder until released.
        let lock = state.try_lock_run(&key(Kind::Admin).org, Kind::Admin).unwrap();
        assert!(lock.is_some());
        assert!(reopened.try_lock_run(&key(Kind::Admin).org, Kind::Admin).unwrap().is_none());
        assert!(reopened.try_lock_run(&key(Kind::Admin).org, Kind::Connect).unwrap().is_some());
        drop(lock);
        assert!(reopened.try_lock_run(&key(Kind::Admin).org, Kind::Admin).unwrap().is_some());
        std::fs::write(&path, b"{oops").unwrap();
        assert!(reopened.mark(&key(Kind::Admin)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
