//! Refunds on SQLite: the amount reservation, the idempotency key that makes a repeated
//! request (a double click, a retry after a lost answer) find the refund it already made
//! instead of reserving and refunding the money a second time, and the refund rules that
//! apply what WeChat reports.

use sqlx::{Sqlite, Transaction};

use super::{audit_in, fetch_order, fetch_refund};
use crate::store::rules::{self, Decision};
use crate::store::{
    ApplyOutcome, NewRefund, Refund, RefundCreation, RefundFact, RefundRefusal, StoreError,
};

/// Reserves `refund` inside an open write transaction (under `key` when given): the order
/// must be paid and the amount must fit in what is not yet refunded or on its way.
pub(super) async fn reserve_in(
    tx: &mut Transaction<'static, Sqlite>,
    refund: &NewRefund<'_>,
    key: Option<&str>,
) -> Result<Result<Refund, RefundRefusal>, StoreError> {
    let order = fetch_order(&mut **tx, refund.out_trade_no).await?;
    let order = match rules::refundable_order(order.as_ref()) {
        Ok(order) => order,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let reserved: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE out_trade_no = ? AND status <> 'CLOSED'",
    )
    .bind(refund.out_trade_no)
    .fetch_one(&mut **tx)
    .await?;
    if let Err(refusal) = rules::fits(order, reserved, refund.amount_fen) {
        return Ok(Err(refusal));
    }
    sqlx::query(
        "INSERT INTO refunds (out_refund_no, out_trade_no, amount_fen, status, reason, idempotency_key, \
         request_fingerprint, created_at, updated_at) VALUES (?, ?, ?, 'PROCESSING', ?, ?, ?, ?, ?)",
    )
    .bind(refund.out_refund_no)
    .bind(refund.out_trade_no)
    .bind(refund.amount_fen)
    .bind(refund.reason)
    .bind(key)
    .bind(key.map(|_| rules::fingerprint(refund)))
    .bind(refund.now)
    .bind(refund.now)
    .execute(&mut **tx)
    .await?;
    audit_in(
        tx,
        "refund",
        refund.out_refund_no,
        None,
        "PROCESSING",
        &format!("created_by:{}", refund.actor),
        refund.now,
    )
    .await?;
    Ok(Ok(rules::reserved_refund(refund)))
}

/// [`reserve_in`] under an idempotency key: a key seen before gives back its refund when
/// the request is the same, and a refusal when it is not. The write transaction (`BEGIN
/// IMMEDIATE`) serialises two requests with one key, so the second always sees the first.
pub(super) async fn reserve_once_in(
    tx: &mut Transaction<'static, Sqlite>,
    refund: &NewRefund<'_>,
    key: &str,
) -> Result<Result<RefundCreation, RefundRefusal>, StoreError> {
    let earlier: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT out_refund_no, request_fingerprint FROM refunds WHERE idempotency_key = ?",
    )
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((out_refund_no, asked)) = earlier {
        if let Err(refusal) = rules::replay(asked.as_deref(), refund) {
            return Ok(Err(refusal));
        }
        let stored = fetch_refund(&mut **tx, &out_refund_no)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("refund {out_refund_no} vanished")))?;
        return Ok(Ok(RefundCreation::Replayed(stored)));
    }
    Ok(reserve_in(tx, refund, Some(key))
        .await?
        .map(RefundCreation::Created))
}

/// The refund rules, inside an open write transaction.
pub(super) async fn apply_refund_in(
    tx: &mut Transaction<'static, Sqlite>,
    fact: &RefundFact,
) -> Result<ApplyOutcome, StoreError> {
    let refund = fetch_refund(&mut **tx, &fact.out_refund_no).await?;
    let change = match rules::refund(refund.as_ref(), fact) {
        Decision::Settled(outcome) => return Ok(outcome),
        Decision::Change(change) => change,
    };
    sqlx::query(
        "UPDATE refunds SET status = ?, refund_id = COALESCE(refund_id, ?), version = version + 1, updated_at = ? \
         WHERE out_refund_no = ?",
    )
    .bind(change.to.as_str())
    .bind(&fact.refund_id)
    .bind(fact.at)
    .bind(&fact.out_refund_no)
    .execute(&mut **tx)
    .await?;
    audit_in(
        tx,
        "refund",
        &fact.out_refund_no,
        Some(change.from.as_str()),
        change.to.as_str(),
        &fact.cause,
        fact.at,
    )
    .await?;
    if change.credits_order() {
        let order_state: Option<String> =
            sqlx::query_scalar("SELECT state FROM orders WHERE out_trade_no = ?")
                .bind(&change.out_trade_no)
                .fetch_optional(&mut **tx)
                .await?;
        sqlx::query(
            "UPDATE orders SET refunded_fen = refunded_fen + ?, state = 'REFUND', version = version + 1, updated_at = ? \
             WHERE out_trade_no = ?",
        )
        .bind(change.amount_fen)
        .bind(fact.at)
        .bind(&change.out_trade_no)
        .execute(&mut **tx)
        .await?;
        if rules::refund_moves_order(order_state.as_deref()) {
            audit_in(
                tx,
                "order",
                &change.out_trade_no,
                Some("SUCCESS"),
                "REFUND",
                &fact.cause,
                fact.at,
            )
            .await?;
        }
    }
    Ok(change.outcome())
}
