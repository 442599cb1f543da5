//! Housekeeping of the store: ending sessions (logout) and purging expired ones, and
//! keeping the notification log for its retention period.
//!
//! Kept apart from the ledger's operations ([`Store`](super::Store) has it as a supertrait,
//! so `dyn Store` offers both); the SQLite implementation lives here too.

use async_trait::async_trait;

use super::{SqliteStore, StoreError};

/// Upkeep operations run by the API (logout) and the reconciliation worker.
#[async_trait]
pub trait Housekeeping: Send + Sync {
    /// Ends the session stored under `token_hash`; whether there was one.
    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError>;
    /// Deletes the sessions that expired at or before `now`; how many.
    async fn purge_expired_sessions(&self, now: i64) -> Result<u64, StoreError>;
    /// Deletes the notifications received before `before`; how many.
    async fn purge_notifications(&self, before: i64) -> Result<u64, StoreError>;
}

#[async_trait]
impl Housekeeping for SqliteStore {
    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let token_hash = token_hash.to_owned();
        self.writer
            .write(move |db| {
                let deleted = db
                    .prepare_cached("DELETE FROM sessions WHERE token_hash = ?")?
                    .execute([token_hash])?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn purge_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        self.writer
            .write(move |db| {
                let deleted = db
                    .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?")?
                    .execute([now])?;
                Ok(deleted as u64)
            })
            .await
    }

    async fn purge_notifications(&self, before: i64) -> Result<u64, StoreError> {
        self.writer
            .write(move |db| {
                let deleted = db
                    .prepare_cached("DELETE FROM notifications WHERE received_at < ?")?
                    .execute([before])?;
                Ok(deleted as u64)
            })
            .await
    }
}
