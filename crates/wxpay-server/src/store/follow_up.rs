//! What the server follows up on: when WeChat was last asked about a refund (the status
//! endpoint asks again only once that is stale), and orders that need the merchant's
//! attention (`orders.attention`: a short reason code, NULL when nothing is wrong).
//!
//! Kept apart from the ledger's operations ([`Store`](super::Store) has it as a supertrait,
//! so `dyn Store` offers both); the SQLite implementation lives here too.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::paid_then_refunded;
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
        let checked: Option<Option<i64>> = self.readers.read(|db| {
            Ok(db
                .prepare_cached("SELECT last_checked_at FROM refunds WHERE out_refund_no = ?")?
                .query_row([out_refund_no], |row| row.get(0))
                .optional()?)
        })?;
        Ok(checked.flatten())
    }

    async fn mark_refund_checked(&self, out_refund_no: &str, now: i64) -> Result<(), StoreError> {
        let out_refund_no = out_refund_no.to_owned();
        self.writer
            .write(move |db| {
                db.prepare_cached(
                    "UPDATE refunds SET last_checked_at = ? WHERE out_refund_no = ?",
                )?
                .execute(params![now, out_refund_no])?;
                Ok(())
            })
            .await
    }

    async fn order_attention(&self, out_trade_no: &str) -> Result<Option<String>, StoreError> {
        let attention: Option<Option<String>> = self.readers.read(|db| {
            Ok(db
                .prepare_cached("SELECT attention FROM orders WHERE out_trade_no = ?")?
                .query_row([out_trade_no], |row| row.get(0))
                .optional()?)
        })?;
        Ok(attention.flatten())
    }

    async fn flag_order(&self, out_trade_no: &str, reason: &str) -> Result<(), StoreError> {
        let (out_trade_no, reason) = (out_trade_no.to_owned(), reason.to_owned());
        self.writer
            .write(move |db| flag_in(db, &out_trade_no, &reason))
            .await
    }

    async fn apply_paid_then_refunded(
        &self,
        fact: &PaymentFact,
        reason: &str,
    ) -> Result<ApplyOutcome, StoreError> {
        let (fact, reason) = (fact.clone(), reason.to_owned());
        self.writer
            .write(move |db| {
                // Its own savepoint: when nothing new is recorded, the payment step's write
                // is undone while the answer stands.
                db.execute_batch("SAVEPOINT paid_then_refunded")?;
                let kept = paid_then_refunded_in(db, &fact, &reason);
                let end = match &kept {
                    Ok((_, true)) => "RELEASE paid_then_refunded",
                    _ => "ROLLBACK TO paid_then_refunded; RELEASE paid_then_refunded",
                };
                db.execute_batch(end)?;
                kept.map(|(outcome, _)| outcome)
            })
            .await
    }
}

/// The steps of [`paid_then_refunded`] inside a write: the outcome, and whether to keep it.
fn paid_then_refunded_in(
    db: &rusqlite::Connection,
    fact: &PaymentFact,
    reason: &str,
) -> Result<(ApplyOutcome, bool), StoreError> {
    let first = apply_payment_in(db, &paid_then_refunded::paid(fact))?;
    if paid_then_refunded::refused(&first) {
        return Ok((first, false));
    }
    let second = apply_payment_in(db, &paid_then_refunded::refunded(fact))?;
    match paid_then_refunded::settle(first, second) {
        Ok(outcome) => {
            flag_in(db, &fact.out_trade_no, reason)?;
            Ok((outcome, true))
        }
        Err(outcome) => Ok((outcome, false)),
    }
}

fn flag_in(db: &rusqlite::Connection, out_trade_no: &str, reason: &str) -> Result<(), StoreError> {
    db.prepare_cached("UPDATE orders SET attention = ? WHERE out_trade_no = ?")?
        .execute(params![reason, out_trade_no])?;
    Ok(())
}
