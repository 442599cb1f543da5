//! Reading records out of rows, for any engine: the columns are the same on SQLite and
//! PostgreSQL (TEXT and 64-bit integers), so one decoder serves both.

use sqlx::{ColumnIndex, Decode, Row, Type};
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

fn text<R>(row: &R, column: &str) -> Result<String, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(row.try_get(column)?)
}

fn opt_text<R>(row: &R, column: &str) -> Result<Option<String>, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(row.try_get(column)?)
}

fn int<R>(row: &R, column: &str) -> Result<i64, StoreError>
where
    R: Row,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(row.try_get(column)?)
}

fn opt_int<R>(row: &R, column: &str) -> Result<Option<i64>, StoreError>
where
    R: Row,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(row.try_get(column)?)
}

/// An order from a row selected with [`ORDER_COLUMNS`].
pub(super) fn order<R>(row: &R) -> Result<Order, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(Order {
        out_trade_no: text(row, "out_trade_no")?,
        user_id: text(row, "user_id")?,
        description: text(row, "description")?,
        amount_fen: int(row, "amount_fen")?,
        state: TradeState::parse(&text(row, "state")?),
        channel: opt_text(row, "channel")?
            .map(|stored| {
                PrepayRoute::from_stored(&stored)
                    .ok_or_else(|| StoreError::Corrupt(format!("orders.channel: {stored:?}")))
            })
            .transpose()?,
        appid: opt_text(row, "appid")?,
        prepay_id: opt_text(row, "prepay_id")?,
        h5_url: opt_text(row, "h5_url")?,
        code_url: opt_text(row, "code_url")?,
        prepay_expires_at: opt_int(row, "prepay_expires_at")?,
        transaction_id: opt_text(row, "transaction_id")?,
        paid_at: opt_int(row, "paid_at")?,
        refunded_fen: int(row, "refunded_fen")?,
        last_checked_at: opt_int(row, "last_checked_at")?,
        version: int(row, "version")?,
        created_at: int(row, "created_at")?,
        v2_sign_type: opt_text(row, "v2_sign_type")?
            .as_deref()
            .map(V2SignType::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("orders.v2_sign_type: {e}")))?,
        attention: opt_text(row, "attention")?,
    })
}

/// A refund from a row selected with [`REFUND_COLUMNS`].
pub(super) fn refund<R>(row: &R) -> Result<Refund, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(Refund {
        out_refund_no: text(row, "out_refund_no")?,
        out_trade_no: text(row, "out_trade_no")?,
        amount_fen: int(row, "amount_fen")?,
        status: RefundStatus::parse(&text(row, "status")?),
        refund_id: opt_text(row, "refund_id")?,
        reason: opt_text(row, "reason")?,
        created_at: int(row, "created_at")?,
    })
}

/// A user from a row with `id, appid, openid, unionid`.
pub(super) fn user<R>(row: &R) -> Result<User, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(User {
        id: text(row, "id")?,
        appid: text(row, "appid")?,
        openid: text(row, "openid")?,
        unionid: opt_text(row, "unionid")?,
    })
}

/// A notification from a row selected with [`NOTIFICATION_COLUMNS`].
pub(super) fn notification<R>(row: &R) -> Result<StoredNotification, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(StoredNotification {
        id: int(row, "id")?,
        kind: text(row, "kind")?,
        claimed_id: opt_text(row, "claimed_id")?,
        verified_id: opt_text(row, "verified_id")?,
        verification: text(row, "verification")?,
        processing: text(row, "processing")?,
        out_trade_no: opt_text(row, "out_trade_no")?,
        body_len: usize::try_from(int(row, "body_len")?).unwrap_or(0),
    })
}

/// An audit row from `from_state, to_state, cause`.
pub(super) fn audit<R>(row: &R) -> Result<AuditRow, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(AuditRow {
        from_state: opt_text(row, "from_state")?,
        to_state: text(row, "to_state")?,
        cause: text(row, "cause")?,
    })
}

/// A reconciliation run from a row selected with [`RUN_COLUMNS`].
pub(super) fn run<R>(row: &R) -> Result<RunRecord, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    Ok(RunRecord {
        id: int(row, "id")?,
        bill_date: text(row, "bill_date")?,
        started_at: int(row, "started_at")?,
        finished_at: int(row, "finished_at")?,
        outcome: text(row, "outcome")?,
        detail: opt_text(row, "detail")?,
        bill_rows: int(row, "bill_rows")?,
        matched: int(row, "matched")?,
    })
}
