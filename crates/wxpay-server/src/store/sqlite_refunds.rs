//! Refunds on SQLite: the amount reservation, the idempotency key that makes a repeated
//! request (a double click, a retry after a lost answer) find the refund it already made
//! instead of reserving and refunding the money a second time, and the refund rules that
//! apply what WeChat reports.

use rusqlite::{params, Connection, OptionalExtension};

use super::{audit_in, order_in, refund_in};
use crate::store::rules::{self, Decision};
use crate::store::{
    ApplyOutcome, NewRefund, Refund, RefundCreation, RefundFact, RefundRefusal, StoreError,
};

/// Reserves `refund` inside a write (under `key` when given): the order must be paid and
/// the amount must fit in what is not yet refunded or on its way.
pub(super) fn reserve_in(
    db: &Connection,
    refund: &NewRefund<'_>,
    key: Option<&str>,
) -> Result<Result<Refund, RefundRefusal>, StoreError> {
    let order = order_in(db, refund.out_trade_no)?;
    let order = match rules::refundable_order(order.as_ref()) {
        Ok(order) => order,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let reserved: i64 = db
        .prepare_cached(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE out_trade_no = ? AND status <> 'CLOSED'",
        )?
        .query_row([refund.out_trade_no], |row| row.get(0))?;
    if let Err(refusal) = rules::fits(order, reserved, refund.amount_fen) {
        return Ok(Err(refusal));
    }
    db.prepare_cached(
        "INSERT INTO refunds (out_refund_no, out_trade_no, amount_fen, status, reason, idempotency_key, \
         request_fingerprint, created_at, updated_at) VALUES (?, ?, ?, 'PROCESSING', ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        refund.out_refund_no,
        refund.out_trade_no,
        refund.amount_fen,
        refund.reason,
        key,
        key.map(|_| rules::fingerprint(refund)),
        refund.now,
        refund.now,
    ])?;
    audit_in(
        db,
        "refund",
        refund.out_refund_no,
        None,
        "PROCESSING",
        &format!("created_by:{}", refund.actor),
        refund.now,
    )?;
    Ok(Ok(rules::reserved_refund(refund)))
}

/// [`reserve_in`] under an idempotency key: a key seen before gives back its refund when
/// the request is the same, and a refusal when it is not. The write transaction (`BEGIN
/// IMMEDIATE`) serialises two requests with one key, so the second always sees the first.
pub(super) fn reserve_once_in(
    db: &Connection,
    refund: &NewRefund<'_>,
    key: &str,
) -> Result<Result<RefundCreation, RefundRefusal>, StoreError> {
    let earlier: Option<(String, Option<String>)> = db
        .prepare_cached(
            "SELECT out_refund_no, request_fingerprint FROM refunds WHERE idempotency_key = ?",
        )?
        .query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    if let Some((out_refund_no, asked)) = earlier {
        if let Err(refusal) = rules::replay(asked.as_deref(), refund) {
            return Ok(Err(refusal));
        }
        let stored = refund_in(db, &out_refund_no)?
            .ok_or_else(|| StoreError::Corrupt(format!("refund {out_refund_no} vanished")))?;
        return Ok(Ok(RefundCreation::Replayed(stored)));
    }
    Ok(reserve_in(db, refund, Some(key))?.map(RefundCreation::Created))
}

/// The refund rules, inside a write.
pub(super) fn apply_refund_in(
    db: &Connection,
    fact: &RefundFact,
) -> Result<ApplyOutcome, StoreError> {
    let refund = refund_in(db, &fact.out_refund_no)?;
    let change = match rules::refund(refund.as_ref(), fact) {
        Decision::Settled(outcome) => return Ok(outcome),
        Decision::Change(change) => change,
    };
    db.prepare_cached(
        "UPDATE refunds SET status = ?, refund_id = COALESCE(refund_id, ?), version = version + 1, updated_at = ? \
         WHERE out_refund_no = ?",
    )?
    .execute(params![change.to.as_str(), fact.refund_id, fact.at, fact.out_refund_no])?;
    audit_in(
        db,
        "refund",
        &fact.out_refund_no,
        Some(change.from.as_str()),
        change.to.as_str(),
        &fact.cause,
        fact.at,
    )?;
    if change.credits_order() {
        let order_state: Option<String> = db
            .prepare_cached("SELECT state FROM orders WHERE out_trade_no = ?")?
            .query_row([&change.out_trade_no], |row| row.get(0))
            .optional()?;
        db.prepare_cached(
            "UPDATE orders SET refunded_fen = refunded_fen + ?, state = 'REFUND', version = version + 1, updated_at = ? \
             WHERE out_trade_no = ?",
        )?
        .execute(params![change.amount_fen, fact.at, change.out_trade_no])?;
        if rules::refund_moves_order(order_state.as_deref()) {
            audit_in(
                db,
                "order",
                &change.out_trade_no,
                Some("SUCCESS"),
                "REFUND",
                &fact.cause,
                fact.at,
            )?;
        }
    }
    Ok(change.outcome())
}
