//! The store's plain values as the core's typed ones, for a request to WeChat: a stored value
//! the core's rules refuse becomes an [`AppError`] naming the field, never a request.

use wxpay_core::{Amount, OutTradeNo};

use crate::error::AppError;
use crate::store::Order;

/// The order's `out_trade_no`.
pub(crate) fn order_no(order: &Order) -> Result<OutTradeNo, AppError> {
    OutTradeNo::new(order.out_trade_no.as_str())
        .map_err(|e| AppError::core_value("out_trade_no", e))
}

/// An amount in fen.
pub(crate) fn amount(fen: i64) -> Result<Amount, AppError> {
    Amount::from_fen(fen).map_err(|e| AppError::core_value("amount", e))
}
