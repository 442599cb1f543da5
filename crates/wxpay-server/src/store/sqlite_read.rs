//! The SQLite readers: connections used on the thread that asks.
//!
//! A point read from SQLite's page cache takes a few microseconds (an order by number:
//! 1.7 µs). An async driver hands each statement to its connection's thread and back; when
//! those threads sleep between requests, waking them cost more than the read, on a 2-core VM
//! about 160 µs a read (a v3 notification went from 1 700/s to 2 340/s at c=1 when its one
//! read moved into its write). So a read runs where it is asked, as a short computation
//! does, on a connection lent by this pool. In WAL mode a reader never waits for the writer.
//! A read whose size has no bound (a day's ledger for reconciliation) runs on tokio's
//! blocking threads instead ([`Readers::scan`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use crate::store::StoreError;

/// Prepared statements each reader keeps.
const READER_STATEMENTS: usize = 32;

/// Reader connections to one database file, opened when needed and kept for reuse.
#[derive(Debug)]
pub(in crate::store) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    /// Connections kept idle at most (more are opened when more readers run at once).
    keep: usize,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Readers of the file at `path`; one is opened now, so a bad path fails at start.
    pub(in crate::store) fn open(
        path: PathBuf,
        busy_timeout: Duration,
        keep: usize,
    ) -> Result<Arc<Self>, StoreError> {
        let readers = Self {
            path,
            busy_timeout,
            keep: keep.max(1),
            idle: Mutex::new(Vec::new()),
        };
        let first = readers.connect()?;
        readers.put(first);
        Ok(Arc::new(readers))
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let db = Connection::open(&self.path)?;
        db.busy_timeout(self.busy_timeout)?;
        db.pragma_update(None, "query_only", "ON")?;
        db.set_prepared_statement_cache_capacity(READER_STATEMENTS);
        Ok(db)
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(db) => Ok(db),
            None => self.connect(),
        }
    }

    fn put(&self, db: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.keep {
            idle.push(db);
        }
    }

    /// Runs `read` on a reader, here and now: for reads of a bounded size.
    pub(in crate::store) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = self.take()?;
        let result = read(&db);
        self.put(db);
        result
    }

    /// Runs `read` on a reader on tokio's blocking threads: for reads without a bound.
    pub(in crate::store) async fn scan<T>(
        self: &Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
    {
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || readers.read(read))
            .await
            .map_err(|_| StoreError::ReaderStopped)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_lent_twice_at_once_is_two_connections_and_both_are_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.db");
        Connection::open(&path)
            .and_then(|db| db.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x)"))
            .expect("table");
        let readers = Readers::open(path, Duration::from_secs(1), 2).expect("readers");
        let nested = readers.read(|outer| {
            let inner = readers.read(|inner| Ok(std::ptr::eq(inner, outer)))?;
            let count: i64 = outer.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
            Ok((inner, count))
        });
        assert_eq!(nested.expect("read"), (false, 0));
        assert_eq!(readers.idle.lock().expect("idle").len(), 2);
        // query_only: a reader cannot write, whatever a caller asks of it.
        let write = readers.read(|db| Ok(db.execute("INSERT INTO t (x) VALUES (1)", [])?));
        assert!(matches!(write, Err(StoreError::Sqlite(_))), "{write:?}");
    }
}
