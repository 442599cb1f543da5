//! What the server follows up on: when WeChat was last asked about a refund (the status
//! endpoint asks again only once that is stale).
//!
//! Kept apart from the ledger's operations ([`Store`](super::Store) has it as a supertrait,
//! so `dyn Store` offers both); the SQLite implementation lives here too.

use async_trait::async_trait;

use super::{SqliteStore, StoreError};

/// Follow-up operations of the API and the reconciliation worker.
#[async_trait]
pub trait FollowUp: Send + Sync {
    /// When WeChat was last asked about the refund (Unix seconds), if ever.
    async fn refund_checked_at(&self, out_refund_no: &str) -> Result<Option<i64>, StoreError>;
    /// Notes that WeChat was just asked about the refund.
    async fn mark_refund_checked(&self, out_refund_no: &str, now: i64) -> Result<(), StoreError>;
}

#[async_trait]
impl FollowUp for SqliteStore {
    async fn refund_checked_at(&self, out_refund_no: &str) -> Result<Option<i64>, StoreError> {
        let checked: Option<Option<i64>> =
            sqlx::query_scalar("SELECT last_checked_at FROM refunds WHERE out_refund_no = ?")
                .bind(out_refund_no)
                .fetch_optional(&self.pool)
                .await?;
        Ok(checked.flatten())
    }

    async fn mark_refund_checked(&self, out_refund_no: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE refunds SET last_checked_at = ? WHERE out_refund_no = ?")
            .bind(now)
            .bind(out_refund_no)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
