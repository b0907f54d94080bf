//! A small pool of read-only connections. Opening a SQLite connection costs a file open and a
//! schema parse, so idle connections are kept; the pool never holds more than it has handed out
//! at its peak, which the blocking thread pool bounds.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::StoreError;

const MAX_IDLE: usize = 16;

pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

pub(crate) struct PooledConnection {
    conn: Option<Connection>,
    pool: Arc<ReadPool>,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, idle: Mutex::new(Vec::new()) }
    }

    pub(crate) fn get(self: &Arc<Self>) -> Result<PooledConnection, StoreError> {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match reused {
            Some(conn) => conn,
            None => super::connect(&self.path, true)?,
        };
        Ok(PooledConnection { conn: Some(conn), pool: self.clone() })
    }
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `Drop` takes the connection out.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a pooled connection is present until dropped"),
        }
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() {
            return; // a transaction was left open: do not hand this connection out again
        }
        if let Ok(mut idle) = self.pool.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }
}
