//! Orders that need a person, on SQLite.
//!
//! WeChat can prove a payment (a verified notification or query) for an order this server
//! already closed: a close that never reached WeChat, or one that lost a race with the
//! payer. Refusing that fact would leave the customer charged and the order CLOSED until
//! WeChat gave up notifying. Instead the money is recorded as received (the order moves
//! to SUCCESS, so it can be refunded) and the order is flagged for the merchant to refund
//! or fulfil; the flag is listed by the admin API until someone resolves it.

use sqlx::{Sqlite, SqlitePool, Transaction};
use wxpay_core::TradeState;

use super::{audit_in, fetch_order, order_from_row, ORDER_COLUMNS};
use crate::store::{Order, PaymentFact, StoreError};

/// The flag a change from `from` to `to` raises: `paid_after_<state>` when WeChat reports
/// a payment for an order that ended unpaid here (closed, revoked, failed), else `None`.
pub(super) fn paid_after(from: &TradeState, to: &TradeState) -> Option<String> {
    let ended_unpaid = matches!(
        from,
        TradeState::Closed | TradeState::Revoked | TradeState::PayError
    );
    (ended_unpaid && *to == TradeState::Success)
        .then(|| format!("paid_after_{}", from.as_str().to_ascii_lowercase()))
}

/// The audit cause of applying `fact`: its own, plus the flag it raised (logged at WARN,
/// since a person has to act on it).
pub(super) fn cause(fact: &PaymentFact, attention: &Option<String>) -> String {
    match attention {
        Some(flag) => {
            tracing::warn!(
                order = %fact.out_trade_no,
                flag = %flag,
                cause = %fact.cause,
                "payment received for an order closed here: recorded as paid and flagged for the merchant to refund or fulfil"
            );
            format!("{}:{flag}", fact.cause)
        }
        None => fact.cause.clone(),
    }
}

/// Flagged orders, oldest first.
pub(super) async fn list(pool: &SqlitePool, limit: i64) -> Result<Vec<Order>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE attention IS NOT NULL ORDER BY created_at LIMIT ?"
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
    rows.iter().map(order_from_row).collect()
}

/// Clears the flag of `out_trade_no` and audits who did it and why.
pub(super) async fn resolve_in(
    tx: &mut Transaction<'static, Sqlite>,
    out_trade_no: &str,
    note: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(order) = fetch_order(&mut **tx, out_trade_no).await? else {
        return Ok(false);
    };
    let Some(flag) = order.attention else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE orders SET attention = NULL, version = version + 1, updated_at = ? WHERE out_trade_no = ?",
    )
    .bind(now)
    .bind(out_trade_no)
    .execute(&mut **tx)
    .await?;
    let state = order.state.as_str();
    let cause = format!("resolved:{flag} by {actor}: {note}");
    audit_in(tx, "order", out_trade_no, Some(state), state, &cause, now).await?;
    Ok(true)
}
