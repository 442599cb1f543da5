//! Order and refund lifecycle shared by API v3, API v2, the cashier pages and the control API.
//!
//! Transitions are checked with the core's state machines (`TradeState::can_transition_to`),
//! and every change that WeChat would notify about enqueues the notification here, so no
//! caller can forget it; a refund's own completion is scheduled here too
//! ([`schedule_auto_success`]). The payloads come from [`crate::wire`] and go out through
//! [`crate::notify`], both below this module.

use serde_json::Value;
use wxpay_core::v3::notification::EventType;
use wxpay_core::{RefundStatus, TradeState};

use crate::ids::{new_refund_id, new_transaction_id, random_digits, H5_TTL};
use crate::notify;
use crate::sim::{lock, now_unix, Sim};
use crate::state::{order_key, ApiVersion, Order, Refund, World};
use crate::wire::{refund_notification, transaction};

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
        ApiVersion::V2 => notify::enqueue_v2_pay(sim, &order),
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

/// When configured, a PROCESSING refund succeeds on its own after a (scaled) delay.
pub fn schedule_auto_success(sim: &Sim, key: String) {
    let Some(secs) = sim.config.refund_auto_success_seconds else {
        return;
    };
    let delay = sim.config.scaled(secs as f64);
    let sim = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let still_processing = lock(&sim.world)
            .refunds
            .get(&key)
            .map(|r| r.status == RefundStatus::Processing)
            .unwrap_or(false);
        if still_processing {
            let _ = finish_refund(&sim, &key, RefundStatus::Success);
        }
    });
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
        (ApiVersion::V2, Some(_)) => notify::enqueue_v2_refund(sim, &refund),
        _ => {}
    }
    sim.persist();
    Ok(refund)
}
