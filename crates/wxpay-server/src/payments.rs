//! Payment operations shared by the API and the reconciliation worker: prepay, query,
//! close, refund and refund query against API v3, each followed by the store transition.
//!
//! Endpoints and field names follow the protocol reference A.9 (直连商户).

use std::net::IpAddr;

use wxpay_core::v3::models::{
    error_code, CloseRequest, H5PrepayResponse, NativePrepayResponse, PrepayIdResponse, PrepayKind,
    PrepayRequest, Refund as RefundAnswer, RefundNotificationPayload, RefundReason, RefundRequest,
    Transaction,
};
use wxpay_core::v3::paths::Endpoint;
use wxpay_core::{AppId, Description, OpenId, OutRefundNo, OutTradeNo, TradeState};

use crate::error::AppError;
use crate::refund_attempt::RefundAttempt;
use crate::state::SharedState;
use crate::store::{ApplyOutcome, Order, PaymentFact, Prepaid, Refund, RefundFact};
use crate::upstream::UpstreamError;
use crate::wire_values::{amount, order_no};

/// The fact a transaction states about its order.
pub fn transaction_fact(transaction: &Transaction, cause: &str, at: i64) -> PaymentFact {
    PaymentFact {
        out_trade_no: transaction.out_trade_no.as_str().to_owned(),
        state: transaction.trade_state.clone(),
        transaction_id: transaction
            .transaction_id
            .as_ref()
            .map(|t| t.as_str().to_owned()),
        amount_fen: transaction.total().and_then(|t| i64::try_from(t).ok()),
        appid: Some(transaction.appid.as_str().to_owned()),
        cause: cause.to_owned(),
        at,
    }
}

/// The fact a refund answer states.
fn refund_fact(answer: &RefundAnswer, cause: &str, at: i64) -> RefundFact {
    RefundFact {
        out_refund_no: answer.out_refund_no.as_str().to_owned(),
        status: answer.status.clone(),
        refund_id: Some(answer.refund_id.as_str().to_owned()),
        amount_fen: i64::try_from(answer.amount.refund).ok(),
        cause: cause.to_owned(),
        at,
    }
}

/// The fact a refund notification states.
pub fn refund_notification_fact(
    payload: &RefundNotificationPayload,
    cause: &str,
    at: i64,
) -> RefundFact {
    RefundFact {
        out_refund_no: payload.out_refund_no.as_str().to_owned(),
        status: payload.refund_status.clone(),
        refund_id: Some(payload.refund_id.as_str().to_owned()),
        amount_fen: i64::try_from(payload.amount.refund).ok(),
        cause: cause.to_owned(),
        at,
    }
}

/// Why a transaction WeChat reported may not be applied at all, or `None`. One rule for
/// both ways a payment is learnt, the notification and the query, checked before anything
/// is credited: our merchant; one of our apps; CNY; and, for a paid state, an amount. What
/// depends on the order as stored (its amount, and the appid it was prepaid with) the
/// store's rules check under the write lock ([`transaction_fact`] carries both).
pub fn transaction_refusal(state: &SharedState, transaction: &Transaction) -> Option<&'static str> {
    refusal(transaction, state.v3.mchid().as_str(), |appid| {
        state.apps.contains(appid)
    })
}

/// [`transaction_refusal`] over plain values.
fn refusal(
    transaction: &Transaction,
    our_mchid: &str,
    is_our_app: impl Fn(&str) -> bool,
) -> Option<&'static str> {
    if transaction.mchid.as_str() != our_mchid {
        return Some("mchid_mismatch");
    }
    if !is_our_app(transaction.appid.as_str()) {
        return Some("appid_mismatch");
    }
    let currency = transaction
        .amount
        .as_ref()
        .and_then(|a| a.currency.as_deref());
    if currency.is_some_and(|c| c != "CNY") {
        return Some("currency_mismatch");
    }
    if transaction.total().is_none() && transaction.trade_state.is_paid() {
        return Some("amount_missing");
    }
    None
}

/// Calls prepay of `kind` for `order`, with the request built from the core's model.
pub async fn prepay(
    state: &SharedState,
    order: &Order,
    kind: PrepayKind,
    appid: &str,
    openid: Option<&str>,
    payer_ip: Option<IpAddr>,
) -> Result<Prepaid, AppError> {
    let mut request = PrepayRequest::new(
        AppId::new(appid).map_err(|e| AppError::core_value("appid", e))?,
        state.v3.mchid().clone(),
        Description::new(order.description.as_str())
            .map_err(|e| AppError::core_value("description", e))?,
        order_no(order)?,
        state.notify_urls.v3_pay.clone(),
        amount(order.amount_fen)?,
    );
    if let (PrepayKind::Jsapi, Some(openid)) = (kind, openid) {
        request =
            request.with_payer(OpenId::new(openid).map_err(|e| AppError::core_value("openid", e))?);
    }
    if kind == PrepayKind::H5 {
        let ip = payer_ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        request = request.with_h5_scene(ip, "Wap");
    }
    request
        .validate_for(kind)
        .map_err(|e| AppError::core_value("prepay request", e))?;
    // Same out_trade_no and parameters give the same prepay: safe to repeat.
    let endpoint = Endpoint::Prepay(kind);
    Ok(match kind {
        PrepayKind::Jsapi | PrepayKind::App => {
            let answer: PrepayIdResponse = state.v3.post(&endpoint, &request).await?;
            Prepaid {
                prepay_id: Some(answer.prepay_id.as_str().to_owned()),
                ..Prepaid::default()
            }
        }
        PrepayKind::H5 => {
            let answer: H5PrepayResponse = state.v3.post(&endpoint, &request).await?;
            Prepaid {
                h5_url: Some(answer.h5_url),
                ..Prepaid::default()
            }
        }
        PrepayKind::Native => {
            let answer: NativePrepayResponse = state.v3.post(&endpoint, &request).await?;
            Prepaid {
                code_url: Some(answer.code_url),
                ..Prepaid::default()
            }
        }
    })
}

/// Queries the order at WeChat and applies the answer, after the same checks as a
/// notification ([`transaction_refusal`]; a refused answer changes nothing and is an
/// error). `ORDER_NOT_EXIST` (never prepaid) changes nothing. Always records the check time.
pub async fn query_and_apply(
    state: &SharedState,
    out_trade_no: &str,
    cause: &str,
) -> Result<ApplyOutcome, AppError> {
    let endpoint = Endpoint::QueryByOutTradeNo {
        out_trade_no: OutTradeNo::new(out_trade_no)
            .map_err(|e| AppError::core_value("out_trade_no", e))?,
        mchid: state.v3.mchid().clone(),
    };
    let now = state.clock.now();
    let answer: Result<Transaction, UpstreamError> = state.v3.get(&endpoint).await;
    let outcome = match answer {
        Ok(transaction) => {
            if transaction.out_trade_no.as_str() != out_trade_no {
                return Err(AppError::unusable_answer("out_trade_no_mismatch"));
            }
            if let Some(reason) = transaction_refusal(state, &transaction) {
                state.store.mark_checked(out_trade_no, now).await?;
                tracing::warn!(order = %out_trade_no, reason, "query answer refused; nothing applied");
                return Err(AppError::unusable_answer(reason));
            }
            let stored = state.store.order(out_trade_no).await?;
            let pending = stored.as_ref().is_some_and(|o| o.state.is_pending());
            apply_queried(state, &transaction_fact(&transaction, cause, now), pending).await?
        }
        Err(UpstreamError::Business { code, .. }) if order_unknown_at_wechat(&code) => {
            ApplyOutcome::Unchanged
        }
        Err(err) => {
            state.store.mark_checked(out_trade_no, now).await?;
            return Err(err.into());
        }
    };
    state.store.mark_checked(out_trade_no, now).await?;
    Ok(outcome)
}

/// Whether a (signed) query answer says WeChat holds no such order: `ORDER_NOT_EXIST` in the
/// current docs, `ORDERNOTEXIST` on older v3 pages (A.12); both are accepted.
pub fn order_unknown_at_wechat(code: &str) -> bool {
    code == error_code::ORDER_NOT_EXIST || code == error_code::ORDERNOTEXIST
}

/// `orders.attention` of an order a query proved paid and then refunded at WeChat while
/// this server still held it unpaid: refunded outside this server (the merchant portal,
/// another system), so the refunded amount is not known here.
pub const REFUNDED_OUTSIDE_SERVER: &str = "refunded_outside_server";

/// `orders.attention` of an unpaid order for which WeChat answers a state this version
/// does not know.
pub const UNKNOWN_TRADE_STATE: &str = "unknown_trade_state";

/// Applies a queried fact. For an order the store still holds unpaid, a REFUND cannot be
/// applied as a transition, but it proves the order was paid and then refunded: both are
/// recorded and the order is flagged for the merchant, instead of the answer being refused
/// (and queried again) on every worker pass. A state this version does not know is flagged
/// too, and otherwise refused as before.
async fn apply_queried(
    state: &SharedState,
    fact: &PaymentFact,
    pending: bool,
) -> Result<ApplyOutcome, AppError> {
    if pending && fact.state == TradeState::Refund {
        let outcome = state
            .store
            .apply_paid_then_refunded(fact, REFUNDED_OUTSIDE_SERVER)
            .await?;
        if matches!(outcome, ApplyOutcome::Applied { .. }) {
            tracing::warn!(
                order = %fact.out_trade_no,
                attention = REFUNDED_OUTSIDE_SERVER,
                "WeChat reports an order held unpaid here as paid and refunded; recorded and flagged"
            );
        }
        return Ok(outcome);
    }
    if pending && matches!(fact.state, TradeState::Unknown(_)) {
        state
            .store
            .flag_order(&fact.out_trade_no, UNKNOWN_TRADE_STATE)
            .await?;
        tracing::warn!(
            order = %fact.out_trade_no,
            state = %fact.state,
            attention = UNKNOWN_TRADE_STATE,
            "WeChat reports a trade state this version does not know; flagged"
        );
    }
    Ok(state.store.apply_payment(fact).await?)
}

/// Closes an unpaid order: at WeChat first, then locally. WeChat is asked even when no
/// prepay is recorded here, because one may be on its way (a pay request waiting for
/// WeChat's answer): closing only locally would let that prepay be paid for an order the
/// store calls closed. `ORDER_NOT_EXIST` means nothing is at WeChat yet; a prepay that gets
/// there later finds the order closed here and is closed at WeChat by the pay request
/// ([`prepay_superseded`]). A close WeChat answers 202 (`USERPAYING`: the payer is entering
/// the password) closes nothing: the order is queried to learn where it stands and the
/// caller gets a 409 `order_paying`.
pub async fn close(
    state: &SharedState,
    order: &Order,
    cause: &str,
) -> Result<ApplyOutcome, AppError> {
    let endpoint = Endpoint::Close {
        out_trade_no: order_no(order)?,
    };
    let body = CloseRequest {
        mchid: state.v3.mchid().clone(),
    };
    match state.v3.send(&endpoint, Some(&body)).await {
        Ok(raw) if raw.status == 202 => {
            query_and_apply(state, &order.out_trade_no, cause).await?;
            return Err(AppError::conflict(
                "order_paying",
                "the payer is completing the payment; the order was not closed, query it again",
            ));
        }
        Ok(_) => {}
        Err(UpstreamError::Business { code, .. })
            if code == "ORDERPAID" || code == "ORDER_PAID" =>
        {
            // Paid meanwhile: learn it instead of closing.
            return query_and_apply(state, &order.out_trade_no, cause).await;
        }
        Err(UpstreamError::Business { code, .. })
            if code == "ORDER_CLOSED"
                || code == "ORDERCLOSED"
                || order_unknown_at_wechat(&code) => {}
        Err(err) => return Err(err.into()),
    }
    let fact = PaymentFact {
        out_trade_no: order.out_trade_no.clone(),
        state: TradeState::Closed,
        transaction_id: None,
        amount_fen: None,
        appid: None,
        cause: cause.to_owned(),
        at: state.clock.now(),
    };
    Ok(state.store.apply_payment(&fact).await?)
}

/// The answer to a pay request whose prepay could not be saved because the order stopped
/// being payable while WeChat was asked ([`crate::store::Store::save_prepay`] returned
/// `false`): no parameters are handed out. When the order was closed meanwhile, the prepay
/// just made is closed at WeChat too, so nobody can pay it.
pub async fn prepay_superseded(state: &SharedState, out_trade_no: &str) -> AppError {
    let order = match state.store.order(out_trade_no).await {
        Ok(Some(order)) => order,
        Ok(None) => return AppError::NotFound("order"),
        Err(err) => return err.into(),
    };
    if order.state.is_paid() {
        return AppError::conflict("order_paid", "the order is already paid");
    }
    let closed = match order_no(&order) {
        Ok(out_trade_no) => {
            let body = CloseRequest {
                mchid: state.v3.mchid().clone(),
            };
            state
                .v3
                .send(&Endpoint::Close { out_trade_no }, Some(&body))
                .await
                .map(drop)
        }
        Err(err) => return err,
    };
    if let Err(err) = closed {
        // The order is closed here either way; a payment WeChat still takes is recorded
        // and flagged when it is notified or queried.
        tracing::warn!(order = %out_trade_no, error = %crate::error::error_chain(&err), "could not close a superseded prepay at WeChat");
    }
    AppError::conflict(
        "order_closed",
        format!(
            "the order was {} while its payment was being prepared",
            order.state
        ),
    )
}

/// Sends the v3 refund request for `refund` (already reserved in the store) and says what
/// it came to; [`crate::refund::submit`] records it. Only a final refusal
/// ([`v3_refund_refusal_is_final`]) is [`RefundAttempt::Refused`]: 5xx, timeouts,
/// `SYSTEM_ERROR` and codes this version does not know may still be executed by WeChat.
pub async fn send_refund(
    state: &SharedState,
    order: &Order,
    refund: &Refund,
) -> Result<RefundAttempt, AppError> {
    let mut request = RefundRequest::by_out_trade_no(
        order_no(order)?,
        OutRefundNo::new(refund.out_refund_no.as_str())
            .map_err(|e| AppError::core_value("out_refund_no", e))?,
        amount(refund.amount_fen)?,
        amount(order.amount_fen)?,
    )
    .with_notify_url(state.notify_urls.v3_refund.clone());
    if let Some(reason) = &refund.reason {
        request = request.with_reason(
            RefundReason::new(reason.as_str()).map_err(|e| AppError::core_value("reason", e))?,
        );
    }
    let now = state.clock.now();
    let answer: Result<RefundAnswer, UpstreamError> =
        state.v3.post(&Endpoint::Refund, &request).await;
    Ok(match answer {
        Ok(answer) => RefundAttempt::Accepted(refund_fact(&answer, "refund_api", now)),
        Err(UpstreamError::Business { code, message, .. }) if v3_refund_refusal_is_final(&code) => {
            RefundAttempt::Refused { code, message }
        }
        Err(UpstreamError::UnsignedError {
            status,
            code,
            message,
        }) => RefundAttempt::RefusedUnsigned {
            status,
            code,
            message,
        },
        Err(err) => RefundAttempt::Unknown(err),
    })
}

/// Whether a v3 refund refusal is final: WeChat did not accept the refund and never will
/// under this number, so closing it locally cannot hand money back twice. The list is
/// closed on purpose (A.12 says the code sets are open): `SYSTEM_ERROR`, the rate limits
/// and any unknown code leave the refund reserved, because WeChat may still execute it.
pub fn v3_refund_refusal_is_final(code: &str) -> bool {
    matches!(
        code,
        "PARAM_ERROR"
            | "INVALID_REQUEST"
            | "NOT_ENOUGH"
            | "USER_ACCOUNT_ABNORMAL"
            | "MCH_NOT_EXISTS"
            | "RESOURCE_NOT_EXISTS"
            | "NO_AUTH"
            | "SIGN_ERROR"
            | "RULE_LIMIT"
            | "RULELIMIT"
    )
}

/// Queries a refund at WeChat and applies the answer. Always records the check time.
pub async fn query_refund_and_apply(
    state: &SharedState,
    out_refund_no: &str,
    cause: &str,
) -> Result<ApplyOutcome, AppError> {
    let endpoint = Endpoint::RefundQuery {
        out_refund_no: OutRefundNo::new(out_refund_no)
            .map_err(|e| AppError::core_value("out_refund_no", e))?,
    };
    let now = state.clock.now();
    let answer: Result<RefundAnswer, UpstreamError> = state.v3.get(&endpoint).await;
    state.store.mark_refund_checked(out_refund_no, now).await?;
    Ok(state
        .store
        .apply_refund(&refund_fact(&answer?, cause, now))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn transaction(state: &str, amount: serde_json::Value) -> Transaction {
        let mut t = json!({
            "appid": "wxd678efh567hg6787", "mchid": "1900000001", "out_trade_no": "WX20260101000001",
            "transaction_id": "4200002345202501018123456789", "trade_state": state,
        });
        if !amount.is_null() {
            t["amount"] = amount;
        }
        serde_json::from_value(t).expect("transaction")
    }

    fn refused(t: &Transaction) -> Option<&'static str> {
        refusal(t, "1900000001", |a| {
            a == "wxd678efh567hg6787" || a == "wxd678efh567hg6788"
        })
    }

    #[test]
    fn a_transaction_is_refused_unless_it_is_ours_in_cny_with_an_amount() {
        let cny = json!({ "total": 100, "currency": "CNY" });
        assert_eq!(refused(&transaction("SUCCESS", cny.clone())), None);
        assert_eq!(
            refused(&transaction("SUCCESS", json!({ "total": 100 }))),
            None
        );
        assert_eq!(
            refused(&transaction("SUCCESS", serde_json::Value::Null)),
            Some("amount_missing")
        );
        assert_eq!(
            refused(&transaction("REFUND", serde_json::Value::Null)),
            Some("amount_missing")
        );
        assert_eq!(
            refused(&transaction("NOTPAY", serde_json::Value::Null)),
            None,
            "nothing to credit, nothing to compare"
        );
        assert_eq!(
            refused(&transaction(
                "SUCCESS",
                json!({ "total": 100, "currency": "USD" })
            )),
            Some("currency_mismatch")
        );
        let mut foreign = transaction("SUCCESS", cny);
        foreign.appid = AppId::new("wxd678efh567hg6789").unwrap();
        assert_eq!(refused(&foreign), Some("appid_mismatch"));
        foreign.mchid = wxpay_core::MchId::new("1900009999").unwrap();
        assert_eq!(refused(&foreign), Some("mchid_mismatch"));
    }

    #[test]
    fn both_spellings_of_order_not_found_are_accepted() {
        assert!(order_unknown_at_wechat("ORDER_NOT_EXIST"));
        assert!(order_unknown_at_wechat("ORDERNOTEXIST"));
        // A refund's "not found" says nothing about the order.
        assert!(!order_unknown_at_wechat("RESOURCE_NOT_EXISTS"));
        assert!(!order_unknown_at_wechat("ORDER_CLOSED"));
    }

    #[test]
    fn only_final_v3_refund_refusals_release_the_reserved_amount() {
        for code in [
            "NOT_ENOUGH",
            "PARAM_ERROR",
            "RESOURCE_NOT_EXISTS",
            "INVALID_REQUEST",
        ] {
            assert!(v3_refund_refusal_is_final(code), "{code}");
        }
        for code in [
            "SYSTEM_ERROR",
            "SYSTEMERROR",
            "FREQUENCY_LIMITED",
            "RATELIMIT_EXCEEDED",
            "",
            "SOMETHING_NEW",
        ] {
            assert!(!v3_refund_refusal_is_final(code), "{code}");
        }
    }
}
