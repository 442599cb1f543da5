//! Reading records out of rows, for any engine: the columns are the same on SQLite and
//! PostgreSQL (TEXT and 64-bit integers), so one decoder serves both.

use sqlx::Row;
use wxpay_core::v2::sign::SignType as V2SignType;
use wxpay_core::{RefundStatus, TradeState};

use crate::channel::PrepayRoute;

use super::reconcile::RunRecord;
use super::{AuditRow, Order, Refund, StoreError, StoredNotification, User};

/// The columns [`order`] reads.
pub(super) const ORDER_COLUMNS: &str = "out_trade_no, user_id, description, amount_fen, state, channel, appid, prepay_id, \
     h5_url, code_url, prepay_expires_at, transaction_id, paid_at, refunded_fen, last_checked_at, version, created_at, \
     v2_sign_type, attention";
/// The columns [`refund`] reads.
pub(super) const REFUND_COLUMNS: &str =
    "out_refund_no, out_trade_no, amount_fen, status, refund_id, reason, created_at";
/// The columns [`run`] reads.
pub(super) const RUN_COLUMNS: &str =
    "id, bill_date, started_at, finished_at, outcome, detail, bill_rows, matched";
/// The columns [`notification`] reads.
pub(super) const NOTIFICATION_COLUMNS: &str =
    "id, kind, claimed_id, verified_id, verification, processing, out_trade_no, \
     COALESCE(body_len, length(body)) AS body_len";

/// A row of either engine, read by column name: PostgreSQL's through sqlx, SQLite's through
/// rusqlite.
pub(super) trait Columns {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
}

impl Columns for sqlx::postgres::PgRow {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.get(column)?)
    }
}

/// An order from a row selected with [`ORDER_COLUMNS`].
pub(super) fn order(row: &impl Columns) -> Result<Order, StoreError> {
    Ok(Order {
        out_trade_no: row.text("out_trade_no")?,
        user_id: row.text("user_id")?,
        description: row.text("description")?,
        amount_fen: row.int("amount_fen")?,
        state: TradeState::parse(&row.text("state")?),
        channel: row
            .opt_text("channel")?
            .map(|stored| {
                PrepayRoute::from_stored(&stored)
                    .ok_or_else(|| StoreError::Corrupt(format!("orders.channel: {stored:?}")))
            })
            .transpose()?,
        appid: row.opt_text("appid")?,
        prepay_id: row.opt_text("prepay_id")?,
        h5_url: row.opt_text("h5_url")?,
        code_url: row.opt_text("code_url")?,
        prepay_expires_at: row.opt_int("prepay_expires_at")?,
        transaction_id: row.opt_text("transaction_id")?,
        paid_at: row.opt_int("paid_at")?,
        refunded_fen: row.int("refunded_fen")?,
        last_checked_at: row.opt_int("last_checked_at")?,
        version: row.int("version")?,
        created_at: row.int("created_at")?,
        v2_sign_type: row
            .opt_text("v2_sign_type")?
            .as_deref()
            .map(V2SignType::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("orders.v2_sign_type: {e}")))?,
        attention: row.opt_text("attention")?,
    })
}

/// A refund from a row selected with [`REFUND_COLUMNS`].
pub(super) fn refund(row: &impl Columns) -> Result<Refund, StoreError> {
    Ok(Refund {
        out_refund_no: row.text("out_refund_no")?,
        out_trade_no: row.text("out_trade_no")?,
        amount_fen: row.int("amount_fen")?,
        status: RefundStatus::parse(&row.text("status")?),
        refund_id: row.opt_text("refund_id")?,
        reason: row.opt_text("reason")?,
        created_at: row.int("created_at")?,
    })
}

/// A user from a row with `id, appid, openid, unionid`.
pub(super) fn user(row: &impl Columns) -> Result<User, StoreError> {
    Ok(User {
        id: row.text("id")?,
        appid: row.text("appid")?,
        openid: row.text("openid")?,
        unionid: row.opt_text("unionid")?,
    })
}

/// A notification from a row selected with [`NOTIFICATION_COLUMNS`].
pub(super) fn notification(row: &impl Columns) -> Result<StoredNotification, StoreError> {
    Ok(StoredNotification {
        id: row.int("id")?,
        kind: row.text("kind")?,
        claimed_id: row.opt_text("claimed_id")?,
        verified_id: row.opt_text("verified_id")?,
        verification: row.text("verification")?,
        processing: row.text("processing")?,
        out_trade_no: row.opt_text("out_trade_no")?,
        body_len: usize::try_from(row.int("body_len")?).unwrap_or(0),
    })
}

/// An audit row from `from_state, to_state, cause`.
pub(super) fn audit(row: &impl Columns) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        from_state: row.opt_text("from_state")?,
        to_state: row.text("to_state")?,
        cause: row.text("cause")?,
    })
}

/// A reconciliation run from a row selected with [`RUN_COLUMNS`].
pub(super) fn run(row: &impl Columns) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.int("id")?,
        bill_date: row.text("bill_date")?,
        started_at: row.int("started_at")?,
        finished_at: row.int("finished_at")?,
        outcome: row.text("outcome")?,
        detail: row.opt_text("detail")?,
        bill_rows: row.int("bill_rows")?,
        matched: row.int("matched")?,
    })
}
