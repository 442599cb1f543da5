//! What the server follows up on: when WeChat was last asked about a refund (the status
//! endpoint asks again only once that is stale), and orders that need the merchant's
//! attention (`orders.attention`: a short reason code, NULL when nothing is wrong).
//!
//! Kept apart from the ledger's operations ([`Store`](super::Store) has it as a supertrait,
//! so `dyn Store` offers both); the SQLite implementation lives here too.

use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};

use super::paid_then_refunded::{self, LedgerTx};
use super::sqlite::apply_payment_in;
use super::{ApplyOutcome, PaymentFact, SqliteStore, StoreError};

/// Follow-up operations of the API and the reconciliation worker.
#[async_trait]
pub trait FollowUp: Send + Sync {
    /// When WeChat was last asked about the refund (Unix seconds), if ever.
    async fn refund_checked_at(&self, out_refund_no: &str) -> Result<Option<i64>, StoreError>;
    /// Notes that WeChat was just asked about the refund.
    async fn mark_refund_checked(&self, out_refund_no: &str, now: i64) -> Result<(), StoreError>;
    /// Why the order needs the merchant's attention, if it does.
    async fn order_attention(&self, out_trade_no: &str) -> Result<Option<String>, StoreError>;
    /// Flags the order for the merchant's attention with a short reason code.
    async fn flag_order(&self, out_trade_no: &str, reason: &str) -> Result<(), StoreError>;
    /// Applies a REFUND that WeChat reports for an order the store still holds unpaid: it
    /// proves the order was paid (SUCCESS, with the fact's amount and transaction checked as
    /// any payment's) and then refunded. Both transitions, their audit rows and the `reason`
    /// flag are one transaction; a refused payment changes nothing.
    async fn apply_paid_then_refunded(
        &self,
        fact: &PaymentFact,
        reason: &str,
    ) -> Result<ApplyOutcome, StoreError>;
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
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn order_attention(&self, out_trade_no: &str) -> Result<Option<String>, StoreError> {
        let attention: Option<Option<String>> =
            sqlx::query_scalar("SELECT attention FROM orders WHERE out_trade_no = ?")
                .bind(out_trade_no)
                .fetch_optional(&self.pool)
                .await?;
        Ok(attention.flatten())
    }

    async fn flag_order(&self, out_trade_no: &str, reason: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET attention = ? WHERE out_trade_no = ?")
            .bind(reason)
            .bind(out_trade_no)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn apply_paid_then_refunded(
        &self,
        fact: &PaymentFact,
        reason: &str,
    ) -> Result<ApplyOutcome, StoreError> {
        let mut tx = super::sqlite::begin_write(&self.writer).await?;
        let (outcome, commit) = paid_then_refunded::apply(&mut tx, fact, reason).await?;
        if commit {
            tx.commit().await?;
        }
        Ok(outcome)
    }
}

#[async_trait]
impl LedgerTx for Transaction<'static, Sqlite> {
    async fn apply_payment(&mut self, fact: &PaymentFact) -> Result<ApplyOutcome, StoreError> {
        apply_payment_in(self, fact).await
    }

    async fn flag(&mut self, out_trade_no: &str, reason: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET attention = ? WHERE out_trade_no = ?")
            .bind(reason)
            .bind(out_trade_no)
            .execute(&mut **self)
            .await?;
        Ok(())
    }
}
