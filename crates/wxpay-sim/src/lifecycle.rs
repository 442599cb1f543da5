//! Order and refund lifecycle shared by API v3, API v2, the cashier pages and the control API.
//!
//! Transitions are checked with the core's state machines (`TradeState::can_transition_to`),
//! and every change that WeChat would notify about enqueues the notification here, so no
//! caller can forget it. The simulator's records become the core's wire types here
//! ([`transaction`], [`refund_answer`], [`refund_notification`]), for queries and
//! notifications alike.

use serde_json::Value;
use wxpay_core::v3::models::{
    Refund as RefundAnswer, RefundAmount, RefundNotificationAmount, RefundNotificationPayload,
    Transaction, TransactionAmount, TransactionPayer,
};
use wxpay_core::v3::notification::EventType;
use wxpay_core::values::{format_beijing_rfc3339, ValueError};
use wxpay_core::{
    AppId, IdError, MchId, OpenId, OutRefundNo, OutTradeNo, RefundId, RefundStatus, TradeState,
    TransactionId,
};

use crate::notify;
use crate::sim::{lock, now_unix, random_digits, Sim};
use crate::state::{order_key, ApiVersion, Order, Refund, World};
use crate::v3::pay::H5_TTL;

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

/// Why a lifecycle action was refused (control API and cashier pages report it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// No such order.
    #[error("order not found")]
    OrderNotFound,
    /// No such refund.
    #[error("refund not found")]
    RefundNotFound,
    /// The order or refund is not in a state that allows the action.
    #[error("not allowed in state {0}")]
    WrongState(String),
    /// More than one merchant has this out_trade_no; pass mchid.
    #[error("out_trade_no is ambiguous; pass mchid")]
    Ambiguous,
}

/// Default `trade_state_desc` for a state.
pub fn state_desc(state: &TradeState) -> &'static str {
    match state {
        TradeState::NotPay => "订单未支付",
        TradeState::UserPaying => "用户支付中",
        TradeState::Success => "支付成功",
        TradeState::Closed => "订单已关闭",
        TradeState::Revoked => "已撤销",
        TradeState::PayError => "支付失败，请重新下单支付",
        TradeState::Refund => "转入退款",
        TradeState::Unknown(_) => "未知状态",
    }
}

/// Closes an unpaid order whose `time_expire` has passed (WeChat does this on its own).
pub fn apply_expiry(order: &mut Order, now: i64) {
    if order.trade_state.is_pending() && now >= order.time_expire {
        order.trade_state = TradeState::Closed;
        order.trade_state_desc = state_desc(&TradeState::Closed).into();
    }
}

/// Finds an order key by out_trade_no (and mchid when given).
pub fn find_order(
    world: &World,
    mchid: Option<&str>,
    out_trade_no: &str,
) -> Result<String, LifecycleError> {
    if let Some(m) = mchid {
        let key = order_key(m, out_trade_no);
        return if world.orders.contains_key(&key) {
            Ok(key)
        } else {
            Err(LifecycleError::OrderNotFound)
        };
    }
    let mut keys = world
        .orders
        .iter()
        .filter(|(_, o)| o.out_trade_no == out_trade_no)
        .map(|(k, _)| k.clone());
    match (keys.next(), keys.next()) {
        (Some(k), None) => Ok(k),
        (Some(_), Some(_)) => Err(LifecycleError::Ambiguous),
        (None, _) => Err(LifecycleError::OrderNotFound),
    }
}

/// A new `transaction_id` (28 digits, like `4200000985202103044063346981`).
pub fn new_transaction_id(now: i64) -> String {
    format!(
        "4200{}{}{}",
        random_digits(6),
        wxpay_core::v2::time::format_v2_time(now)
            .unwrap_or_default()
            .get(..8)
            .unwrap_or("20250101"),
        random_digits(10)
    )
}

/// A new `refund_id` (29 digits).
pub fn new_refund_id() -> String {
    format!("50{}", random_digits(27))
}

/// The payer pays: NOTPAY/USERPAYING → SUCCESS, then TRANSACTION.SUCCESS (or the v2 pay
/// notification) is queued.
pub fn pay(sim: &Sim, key: &str, openid: Option<&str>) -> Result<Order, LifecycleError> {
    let order = change_order(sim, key, |order, now| {
        if !order.trade_state.is_pending()
            || !order.trade_state.can_transition_to(&TradeState::Success)
        {
            return Err(LifecycleError::WrongState(
                order.trade_state.as_str().into(),
            ));
        }
        order.trade_state = TradeState::Success;
        order.trade_state_desc = state_desc(&TradeState::Success).into();
        order.transaction_id = Some(new_transaction_id(now));
        order.success_time = Some(now);
        if order.payer_openid.is_none() {
            order.payer_openid = Some(
                openid
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("oSim{}", random_digits(24))),
            );
        }
        Ok(())
    })?;
    match order.api {
        ApiVersion::V3 => match transaction(&order) {
            Ok(payload) => notify::enqueue_v3(
                sim,
                &order.mchid,
                &order.notify_url,
                &EventType::TransactionSuccess,
                &payload,
                &order.out_trade_no,
                None,
            ),
            Err(e) => tracing::error!(error = %e, "could not build TRANSACTION.SUCCESS"),
        },
        ApiVersion::V2 => crate::v2::notify_pay(sim, &order),
    }
    sim.persist();
    Ok(order)
}

/// Moves an unpaid order to another non-success state (USERPAYING, PAYERROR, CLOSED).
pub fn set_unpaid_state(sim: &Sim, key: &str, next: TradeState) -> Result<Order, LifecycleError> {
    let order = change_order(sim, key, |order, _| {
        let allowed = order.trade_state.is_pending()
            && order.trade_state != next
            && order.trade_state.can_transition_to(&next);
        if !allowed {
            return Err(LifecycleError::WrongState(
                order.trade_state.as_str().into(),
            ));
        }
        order.trade_state_desc = state_desc(&next).into();
        order.trade_state = next;
        Ok(())
    })?;
    sim.persist();
    Ok(order)
}

/// Applies `change` to the order under the world lock, after closing it if its
/// `time_expire` has passed, and returns the order as changed. The caller persists.
fn change_order(
    sim: &Sim,
    key: &str,
    change: impl FnOnce(&mut Order, i64) -> Result<(), LifecycleError>,
) -> Result<Order, LifecycleError> {
    let now = now_unix();
    let mut world = lock(&sim.world);
    let order = world
        .orders
        .get_mut(key)
        .ok_or(LifecycleError::OrderNotFound)?;
    apply_expiry(order, now);
    change(order, now)?;
    Ok(order.clone())
}

/// The payer backs out on the cashier or in the client: WeChat leaves the order NOTPAY
/// (USERPAYING falls back to NOTPAY; anything else cannot be cancelled by the payer).
pub fn payer_cancels(sim: &Sim, key: &str) -> Result<Order, LifecycleError> {
    let order = change_order(sim, key, |order, _| match order.trade_state {
        TradeState::UserPaying => {
            order.trade_state = TradeState::NotPay;
            order.trade_state_desc = state_desc(&TradeState::NotPay).into();
            Ok(())
        }
        TradeState::NotPay => Ok(()),
        ref other => Err(LifecycleError::WrongState(other.as_str().into())),
    })?;
    sim.persist();
    Ok(order)
}

/// Ages an H5 order's `h5_url` past its five minutes while the order stays open: the
/// cashier then refuses the link, and calling prepay again with the same parameters issues
/// a fresh one (WeChat's behaviour; the 5-minute life is not time-scaled, see the README).
pub fn expire_h5_link(sim: &Sim, key: &str) -> Result<Order, LifecycleError> {
    let order = change_order(sim, key, |order, now| {
        if order.h5_issued_at.is_none() {
            return Err(LifecycleError::WrongState(format!(
                "{} (no h5_url)",
                order.trade_type
            )));
        }
        order.h5_issued_at = Some(now - H5_TTL - 1);
        Ok(())
    })?;
    sim.persist();
    Ok(order)
}

/// Makes an unpaid order expire now: its `time_expire` moves to the past and it closes.
pub fn expire(sim: &Sim, key: &str) -> Result<Order, LifecycleError> {
    let now = now_unix();
    let order = {
        let mut world = lock(&sim.world);
        let order = world
            .orders
            .get_mut(key)
            .ok_or(LifecycleError::OrderNotFound)?;
        if !order.trade_state.is_pending() {
            return Err(LifecycleError::WrongState(
                order.trade_state.as_str().into(),
            ));
        }
        order.time_expire = now - 1;
        order.prepay_expires_at = now - 1;
        order.h5_issued_at = order.h5_issued_at.map(|_| now - H5_TTL - 1);
        apply_expiry(order, now);
        order.clone()
    };
    sim.persist();
    Ok(order)
}

/// Why a refund request was refused (each API maps these onto its own error codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRefusal {
    /// The order does not exist or was never paid.
    OrderNotFound,
    /// The same out_refund_no was used with different parameters.
    Mismatch,
    /// `total` differs from the order's total.
    TotalMismatch,
    /// More than what is left to refund.
    Exceeds,
    /// The merchant's refundable balance is short.
    NotEnough,
    /// 50 refunds per order.
    TooMany,
}

/// What a refund request asks for, from API v3 or v2 (each reads its request with the
/// core's model first).
#[derive(Debug, Clone)]
pub struct NewRefund {
    /// Merchant.
    pub mchid: String,
    /// By merchant order number…
    pub out_trade_no: Option<String>,
    /// …or by WeChat order number.
    pub transaction_id: Option<String>,
    /// Merchant refund number.
    pub out_refund_no: String,
    /// Refund amount (fen).
    pub refund: u64,
    /// Order total as the merchant states it (fen).
    pub total: u64,
    /// Reason.
    pub reason: Option<String>,
    /// Notification URL.
    pub notify_url: Option<String>,
    /// Funds account.
    pub funds_account: Option<String>,
    /// v2 or v3.
    pub api: ApiVersion,
}

/// Creates a PROCESSING refund, or returns the existing one for a retried out_refund_no
/// (`Ok((refund, false))`). Holds the world lock for the whole check-and-insert.
pub fn create_refund(sim: &Sim, req: NewRefund) -> Result<(Refund, bool), RefundRefusal> {
    let now = now_unix();
    let mut world = lock(&sim.world);
    let order_k = match (&req.out_trade_no, &req.transaction_id) {
        (Some(otn), _) => order_key(&req.mchid, otn),
        (None, Some(tid)) => world
            .order_by_transaction(&req.mchid, tid)
            .map(|o| order_key(&o.mchid, &o.out_trade_no))
            .ok_or(RefundRefusal::OrderNotFound)?,
        (None, None) => return Err(RefundRefusal::OrderNotFound),
    };
    let order = world
        .orders
        .get(&order_k)
        .cloned()
        .ok_or(RefundRefusal::OrderNotFound)?;
    if let Some(tid) = &req.transaction_id {
        if order.transaction_id.as_deref() != Some(tid.as_str()) {
            return Err(RefundRefusal::OrderNotFound);
        }
    }
    if !order.trade_state.is_paid() {
        return Err(RefundRefusal::OrderNotFound);
    }
    let refund_key = order_key(&req.mchid, &req.out_refund_no);
    if let Some(existing) = world.refunds.get(&refund_key) {
        if existing.out_trade_no != order.out_trade_no
            || existing.refund != req.refund
            || existing.total != req.total
        {
            return Err(RefundRefusal::Mismatch);
        }
        return Ok((existing.clone(), false));
    }
    if req.total != order.total {
        return Err(RefundRefusal::TotalMismatch);
    }
    if req.refund > order.total.saturating_sub(order.refunded) {
        return Err(RefundRefusal::Exceeds);
    }
    let count = world
        .refunds
        .values()
        .filter(|r| r.mchid == req.mchid && r.out_trade_no == order.out_trade_no)
        .count();
    if count >= 50 {
        return Err(RefundRefusal::TooMany);
    }
    let balance = world.balances.get(&req.mchid).copied().unwrap_or(0);
    if req.refund > balance {
        return Err(RefundRefusal::NotEnough);
    }
    world
        .balances
        .insert(req.mchid.clone(), balance - req.refund);
    if let Some(o) = world.orders.get_mut(&order_k) {
        o.refunded += req.refund;
        o.trade_state = TradeState::Refund;
        o.trade_state_desc = state_desc(&TradeState::Refund).into();
    }
    let refund = Refund {
        mchid: req.mchid.clone(),
        refund_id: new_refund_id(),
        out_refund_no: req.out_refund_no.clone(),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone().unwrap_or_default(),
        refund: req.refund,
        total: req.total,
        currency: order.currency.clone(),
        status: RefundStatus::Processing,
        reason: req.reason,
        notify_url: req.notify_url,
        funds_account: req.funds_account,
        created_at: now,
        success_time: None,
        fingerprint: Value::Null,
        api: req.api,
    };
    world.refunds.insert(refund_key, refund.clone());
    drop(world);
    sim.persist();
    Ok((refund, true))
}

/// A refund reaches a final state (SUCCESS / CLOSED / ABNORMAL) and its notification is queued.
pub fn finish_refund(
    sim: &Sim,
    key: &str,
    outcome: RefundStatus,
) -> Result<Refund, LifecycleError> {
    let now = now_unix();
    let refund = {
        let mut world = lock(&sim.world);
        let refund = world
            .refunds
            .get(key)
            .cloned()
            .ok_or(LifecycleError::RefundNotFound)?;
        if refund.status == outcome || !refund.status.can_transition_to(&outcome) {
            return Err(LifecycleError::WrongState(refund.status.as_str().into()));
        }
        if outcome == RefundStatus::Closed {
            // The money goes back: the order can be refunded again and the balance recovers.
            if let Some(order) = world
                .orders
                .get_mut(&order_key(&refund.mchid, &refund.out_trade_no))
            {
                order.refunded = order.refunded.saturating_sub(refund.refund);
            }
            *world.balances.entry(refund.mchid.clone()).or_default() += refund.refund;
        }
        let refund = world
            .refunds
            .get_mut(key)
            .ok_or(LifecycleError::RefundNotFound)?;
        refund.status = outcome.clone();
        if outcome == RefundStatus::Success {
            refund.success_time = Some(now);
        }
        refund.clone()
    };
    let event = match outcome {
        RefundStatus::Success => EventType::RefundSuccess,
        RefundStatus::Closed => EventType::RefundClosed,
        _ => EventType::RefundAbnormal,
    };
    match (refund.api, &refund.notify_url) {
        (ApiVersion::V3, Some(url)) => match refund_notification(&refund) {
            Ok(payload) => notify::enqueue_v3(
                sim,
                &refund.mchid,
                url,
                &event,
                &payload,
                &refund.out_trade_no,
                Some(&refund.out_refund_no),
            ),
            Err(e) => tracing::error!(error = %e, "could not build the refund notification"),
        },
        (ApiVersion::V2, Some(_)) => crate::v2::notify_refund(sim, &refund),
        _ => {}
    }
    sim.persist();
    Ok(refund)
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
