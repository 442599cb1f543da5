//! The PostgreSQL store's [`Housekeeping`] and [`FollowUp`] (their SQLite twins live in
//! `housekeeping.rs` and `follow_up.rs`).

use async_trait::async_trait;

use super::{apply_payment_in, PgStore};
use crate::store::paid_then_refunded;
use crate::store::{ApplyOutcome, FollowUp, Housekeeping, PaymentFact, StoreError};

#[async_trait]
impl Housekeeping for PgStore {
    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn purge_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }

    async fn purge_notifications(&self, before: i64) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM notifications WHERE received_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}

#[async_trait]
impl FollowUp for PgStore {
    async fn refund_checked_at(&self, out_refund_no: &str) -> Result<Option<i64>, StoreError> {
        let checked: Option<Option<i64>> =
            sqlx::query_scalar("SELECT last_checked_at FROM refunds WHERE out_refund_no = $1")
                .bind(out_refund_no)
                .fetch_optional(&self.pool)
                .await?;
        Ok(checked.flatten())
    }

    async fn mark_refund_checked(&self, out_refund_no: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE refunds SET last_checked_at = $1 WHERE out_refund_no = $2")
            .bind(now)
            .bind(out_refund_no)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn order_attention(&self, out_trade_no: &str) -> Result<Option<String>, StoreError> {
        let attention: Option<Option<String>> =
            sqlx::query_scalar("SELECT attention FROM orders WHERE out_trade_no = $1")
                .bind(out_trade_no)
                .fetch_optional(&self.pool)
                .await?;
        Ok(attention.flatten())
    }

    async fn flag_order(&self, out_trade_no: &str, reason: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET attention = $1 WHERE out_trade_no = $2")
            .bind(reason)
            .bind(out_trade_no)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn apply_paid_then_refunded(
        &self,
        fact: &PaymentFact,
        reason: &str,
    ) -> Result<ApplyOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let first = apply_payment_in(&mut tx, &paid_then_refunded::paid(fact)).await?;
        if paid_then_refunded::refused(&first) {
            return Ok(first);
        }
        let second = apply_payment_in(&mut tx, &paid_then_refunded::refunded(fact)).await?;
        match paid_then_refunded::settle(first, second) {
            Ok(outcome) => {
                sqlx::query("UPDATE orders SET attention = $1 WHERE out_trade_no = $2")
                    .bind(reason)
                    .bind(&fact.out_trade_no)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(outcome)
            }
            // Dropped uncommitted: rolled back.
            Err(outcome) => Ok(outcome),
        }
    }
}
