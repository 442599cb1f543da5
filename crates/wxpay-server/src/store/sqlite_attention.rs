//! Orders that need a person, on SQLite: the list of flagged orders and clearing a flag
//! (when a flag is raised is decided by [`rules::paid_after`](super::super::rules::paid_after)).

use rusqlite::{params, Connection};

use super::{audit_in, order_in};
use crate::store::rows::{self, ORDER_COLUMNS};
use crate::store::rules;
use crate::store::{Order, StoreError};

/// Flagged orders, oldest first.
pub(super) fn list(db: &Connection, limit: i64) -> Result<Vec<Order>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE attention IS NOT NULL ORDER BY created_at LIMIT ?"
    );
    let mut statement = db.prepare_cached(&sql)?;
    let mut found = statement.query([limit])?;
    let mut flagged = Vec::new();
    while let Some(row) = found.next()? {
        flagged.push(rows::order(row)?);
    }
    Ok(flagged)
}

/// Clears the flag of `out_trade_no` and audits who did it and why.
pub(super) fn resolve_in(
    db: &Connection,
    out_trade_no: &str,
    note: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(order) = order_in(db, out_trade_no)? else {
        return Ok(false);
    };
    let Some(flag) = order.attention else {
        return Ok(false);
    };
    db.prepare_cached(
        "UPDATE orders SET attention = NULL, version = version + 1, updated_at = ? WHERE out_trade_no = ?",
    )?
    .execute(params![now, out_trade_no])?;
    let state = order.state.as_str();
    let cause = rules::resolution_cause(&flag, actor, note);
    audit_in(db, "order", out_trade_no, Some(state), state, &cause, now)?;
    Ok(true)
}
