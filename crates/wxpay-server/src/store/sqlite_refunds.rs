//! Refunds on SQLite: the amount reservation, the idempotency key that makes a repeated
//! request (a double click, a retry after a lost answer) find the refund it already made
//! instead of reserving and refunding the money a second time, and the refund rules that
//! apply what WeChat reports.

use sqlx::{Sqlite, Transaction};
use wxpay_core::RefundStatus;

use super::{audit_in, fetch_order, fetch_refund};
use crate::store::{
    ApplyOutcome, NewRefund, Refund, RefundCreation, RefundFact, RefundRefusal, Rejection,
    StoreError,
};

/// What a keyed request asked for, compared when its key comes again: the order, the
/// amount and the reason, as canonical JSON.
fn fingerprint(refund: &NewRefund<'_>) -> String {
    serde_json::json!([refund.out_trade_no, refund.amount_fen, refund.reason]).to_string()
}

/// Reserves `refund` inside an open write transaction (under `key` when given): the order
/// must be paid and the amount must fit in what is not yet refunded or on its way.
pub(super) async fn reserve_in(
    tx: &mut Transaction<'static, Sqlite>,
    refund: &NewRefund<'_>,
    key: Option<&str>,
) -> Result<Result<Refund, RefundRefusal>, StoreError> {
    let Some(order) = fetch_order(&mut **tx, refund.out_trade_no).await? else {
        return Ok(Err(RefundRefusal::UnknownOrder));
    };
    if !order.state.is_paid() {
        return Ok(Err(RefundRefusal::NotPaid));
    }
    // Money already refunded or still on its way (anything not CLOSED) is spoken for.
    let reserved: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE out_trade_no = ? AND status <> 'CLOSED'",
    )
    .bind(refund.out_trade_no)
    .fetch_one(&mut **tx)
    .await?;
    let remaining = order.amount_fen - reserved;
    if refund.amount_fen > remaining {
        return Ok(Err(RefundRefusal::ExceedsRefundable { remaining }));
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
    .bind(key.map(|_| fingerprint(refund)))
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
    Ok(Ok(Refund {
        out_refund_no: refund.out_refund_no.to_owned(),
        out_trade_no: refund.out_trade_no.to_owned(),
        amount_fen: refund.amount_fen,
        status: RefundStatus::Processing,
        refund_id: None,
        reason: refund.reason.map(str::to_owned),
        created_at: refund.now,
    }))
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
        if asked.as_deref() != Some(fingerprint(refund).as_str()) {
            return Ok(Err(RefundRefusal::IdempotencyKeyReused));
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
    let Some(refund) = fetch_refund(&mut **tx, &fact.out_refund_no).await? else {
        return Ok(ApplyOutcome::Rejected(Rejection::UnknownRecord));
    };
    if let Some(reported) = fact.amount_fen {
        if reported != refund.amount_fen {
            return Ok(ApplyOutcome::Rejected(Rejection::AmountMismatch {
                expected: refund.amount_fen,
                reported,
            }));
        }
    }
    if refund.status == fact.status {
        return Ok(ApplyOutcome::Unchanged);
    }
    if !refund.status.can_transition_to(&fact.status) {
        return Ok(ApplyOutcome::Rejected(Rejection::IllegalTransition {
            from: refund.status.to_string(),
            to: fact.status.to_string(),
        }));
    }
    sqlx::query(
        "UPDATE refunds SET status = ?, refund_id = COALESCE(refund_id, ?), version = version + 1, updated_at = ? \
         WHERE out_refund_no = ?",
    )
    .bind(fact.status.as_str())
    .bind(&fact.refund_id)
    .bind(fact.at)
    .bind(&fact.out_refund_no)
    .execute(&mut **tx)
    .await?;
    audit_in(
        tx,
        "refund",
        &fact.out_refund_no,
        Some(refund.status.as_str()),
        fact.status.as_str(),
        &fact.cause,
        fact.at,
    )
    .await?;
    if fact.status == RefundStatus::Success {
        let order_state: Option<String> =
            sqlx::query_scalar("SELECT state FROM orders WHERE out_trade_no = ?")
                .bind(&refund.out_trade_no)
                .fetch_optional(&mut **tx)
                .await?;
        sqlx::query(
            "UPDATE orders SET refunded_fen = refunded_fen + ?, state = 'REFUND', version = version + 1, updated_at = ? \
             WHERE out_trade_no = ?",
        )
        .bind(refund.amount_fen)
        .bind(fact.at)
        .bind(&refund.out_trade_no)
        .execute(&mut **tx)
        .await?;
        if order_state.as_deref() == Some("SUCCESS") {
            audit_in(
                tx,
                "order",
                &refund.out_trade_no,
                Some("SUCCESS"),
                "REFUND",
                &fact.cause,
                fact.at,
            )
            .await?;
        }
    }
    Ok(ApplyOutcome::Applied {
        from: refund.status.to_string(),
        to: fact.status.to_string(),
    })
}
