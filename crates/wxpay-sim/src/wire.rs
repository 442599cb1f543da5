//! The simulator's records as the core's wire types: the v3 transaction, refund answer
//! and refund notification, and the v2 order. Queries, answers and notifications are all
//! built from these, so an order reads the same wherever it is reported.

use wxpay_core::v2::models::V2Order;
use wxpay_core::v2::time::{format_v2_datetime, format_v2_time};
use wxpay_core::v3::models::{
    Refund as RefundAnswer, RefundAmount, RefundNotificationAmount, RefundNotificationPayload,
    Transaction, TransactionAmount, TransactionPayer, CNY,
};
use wxpay_core::values::{format_beijing_rfc3339, ValueError};
use wxpay_core::{AppId, IdError, MchId, OpenId, OutRefundNo, OutTradeNo, RefundId, TransactionId};

use crate::state::{Order, Refund};

/// Why a record of the simulator could not become a wire message: it holds a value the
/// core's types refuse. Never expected, as every value came in through those types.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// An id.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A v3 time.
    #[error(transparent)]
    Time(#[from] ValueError),
    /// A v2 time.
    #[error(transparent)]
    V2Time(#[from] wxpay_core::v2::time::V2TimeError),
}

/// Unix seconds as v3 prints times.
fn v3_time(unix: i64) -> Result<String, WireError> {
    Ok(format_beijing_rfc3339(unix)?)
}

/// The order as v3 reports it: the query answer and the TRANSACTION.SUCCESS payload. An
/// unpaid order has no `transaction_id`, `bank_type`, `success_time` or `payer_total`.
pub fn transaction(order: &Order) -> Result<Transaction, WireError> {
    let paid = order.success_time.is_some();
    let currency = Some(order.currency.clone());
    Ok(Transaction {
        appid: AppId::new(order.appid.clone())?,
        mchid: MchId::new(order.mchid.clone())?,
        out_trade_no: OutTradeNo::new(order.out_trade_no.clone())?,
        transaction_id: match &order.transaction_id {
            Some(id) if paid => Some(TransactionId::new(id.clone())?),
            _ => None,
        },
        trade_type: Some(order.trade_type.clone()),
        trade_state: order.trade_state.clone(),
        trade_state_desc: Some(order.trade_state_desc.clone()),
        bank_type: paid.then(|| "OTHERS".to_owned()),
        attach: paid.then(|| order.attach.clone().unwrap_or_default()),
        success_time: order.success_time.map(v3_time).transpose()?,
        payer: Some(TransactionPayer {
            openid: order.payer_openid.clone().map(OpenId::new).transpose()?,
        }),
        amount: Some(TransactionAmount {
            total: Some(order.total),
            payer_total: paid.then_some(order.total),
            currency: currency.clone(),
            payer_currency: currency,
        }),
        scene_info: None,
        promotion_detail: Vec::new(),
    })
}

/// The refund as the v3 refund and refund-query answers report it (`status`).
pub fn refund_answer(refund: &Refund) -> Result<RefundAnswer, WireError> {
    Ok(RefundAnswer {
        refund_id: RefundId::new(refund.refund_id.clone())?,
        out_refund_no: OutRefundNo::new(refund.out_refund_no.clone())?,
        transaction_id: TransactionId::new(refund.transaction_id.clone())?,
        out_trade_no: OutTradeNo::new(refund.out_trade_no.clone())?,
        channel: Some("ORIGINAL".into()),
        user_received_account: Some("支付用户零钱".into()),
        success_time: refund.success_time.map(v3_time).transpose()?,
        create_time: Some(v3_time(refund.created_at)?),
        status: refund.status.clone(),
        funds_account: Some(
            refund
                .funds_account
                .clone()
                .unwrap_or_else(|| "UNSETTLED".into()),
        ),
        amount: RefundAmount {
            total: refund.total,
            refund: refund.refund,
            from: Vec::new(),
            payer_total: Some(refund.total),
            payer_refund: Some(refund.refund),
            settlement_refund: Some(refund.refund),
            settlement_total: Some(refund.total),
            discount_refund: Some(0),
            currency: Some(refund.currency.clone()),
        },
        promotion_detail: Vec::new(),
    })
}

/// The decrypted REFUND.* notification payload (`refund_status`, not `status`).
pub fn refund_notification(refund: &Refund) -> Result<RefundNotificationPayload, WireError> {
    Ok(RefundNotificationPayload {
        mchid: MchId::new(refund.mchid.clone())?,
        out_trade_no: OutTradeNo::new(refund.out_trade_no.clone())?,
        transaction_id: TransactionId::new(refund.transaction_id.clone())?,
        out_refund_no: OutRefundNo::new(refund.out_refund_no.clone())?,
        refund_id: RefundId::new(refund.refund_id.clone())?,
        refund_status: refund.status.clone(),
        success_time: refund.success_time.map(v3_time).transpose()?,
        user_received_account: Some("支付用户零钱".into()),
        amount: RefundNotificationAmount {
            total: refund.total,
            refund: refund.refund,
            payer_total: Some(refund.total),
            payer_refund: Some(refund.refund),
        },
    })
}

/// The order as v2 reports it (orderquery and the pay notification): the payment fields
/// only once paid.
pub fn v2_order(order: &Order) -> Result<V2Order, WireError> {
    let paid = order.success_time.is_some();
    let paid_text = |value: &str| paid.then(|| value.to_owned());
    Ok(V2Order {
        appid: AppId::new(order.appid.clone())?,
        mch_id: MchId::new(order.mchid.clone())?,
        out_trade_no: OutTradeNo::new(order.out_trade_no.clone())?,
        transaction_id: match &order.transaction_id {
            Some(id) if paid => Some(TransactionId::new(id.clone())?),
            _ => None,
        },
        openid: match &order.payer_openid {
            Some(openid) if paid => Some(OpenId::new(openid.clone())?),
            _ => None,
        },
        trade_type: Some(order.trade_type.clone()),
        bank_type: paid_text("OTHERS"),
        total_fee: Some(order.total),
        cash_fee: paid.then_some(order.total),
        fee_type: Some(CNY.into()),
        time_end: order.success_time.map(format_v2_time).transpose()?,
        attach: order.attach.clone().filter(|_| paid),
    })
}

/// A refund time as the v2 refund messages print it (`yyyy-MM-dd HH:mm:ss`).
pub fn v2_refund_time(unix: i64) -> Result<String, WireError> {
    Ok(format_v2_datetime(unix)?)
}
