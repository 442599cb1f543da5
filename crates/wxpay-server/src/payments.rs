//! Payment operations shared by the API and the reconciliation worker: prepay, query,
//! close, refund and refund query against API v3, each followed by the store transition.
//!
//! Endpoints and field names follow the protocol reference A.9 (直连商户).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use wxpay_core::v3::models::error_code;
use wxpay_core::{RefundStatus, TradeState};

use crate::error::AppError;
use crate::state::SharedState;
use crate::store::{ApplyOutcome, Order, PaymentFact, Refund, RefundFact};
use crate::upstream::{Idempotency, UpstreamError};

/// A v3 prepay kind (the path segment under `/v3/pay/transactions/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepayKind {
    /// JSAPI and mini-program.
    Jsapi,
    /// APP.
    App,
    /// H5 (mobile browser).
    H5,
    /// Native (QR code).
    Native,
}

impl PrepayKind {
    fn path(self) -> &'static str {
        match self {
            Self::Jsapi => "/v3/pay/transactions/jsapi",
            Self::App => "/v3/pay/transactions/app",
            Self::H5 => "/v3/pay/transactions/h5",
            Self::Native => "/v3/pay/transactions/native",
        }
    }
}

/// What a prepay returned.
#[derive(Debug, Clone, Deserialize)]
pub struct PrepayAnswer {
    /// JSAPI / APP.
    pub prepay_id: Option<String>,
    /// H5.
    pub h5_url: Option<String>,
    /// Native.
    pub code_url: Option<String>,
}

/// The parts of a v3 `Transaction` the server acts on.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionView {
    /// appid of the order.
    #[serde(default)]
    pub appid: String,
    /// mchid of the order.
    #[serde(default)]
    pub mchid: String,
    /// Merchant order number.
    pub out_trade_no: String,
    /// WeChat order number.
    pub transaction_id: Option<String>,
    /// Trade state.
    pub trade_state: String,
    /// Amounts.
    pub amount: Option<TransactionAmountView>,
}

/// `amount` of a transaction.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionAmountView {
    /// Order total (fen).
    pub total: i64,
    /// Currency of `total` (`CNY`, the only one this server sells in).
    #[serde(default)]
    pub currency: Option<String>,
}

/// The parts of a v3 `Refund` the server acts on.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundAnswer {
    /// WeChat refund id.
    pub refund_id: Option<String>,
    /// Merchant refund number.
    pub out_refund_no: String,
    /// `status` in API answers.
    pub status: Option<String>,
    /// `refund_status` in notifications.
    pub refund_status: Option<String>,
    /// Amounts.
    pub amount: Option<RefundAmountView>,
}

/// `amount` of a refund.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundAmountView {
    /// Refunded (fen).
    pub refund: i64,
}

impl TransactionView {
    /// The fact this transaction states about its order.
    pub fn fact(&self, cause: &str, at: i64) -> PaymentFact {
        PaymentFact {
            out_trade_no: self.out_trade_no.clone(),
            state: TradeState::parse(&self.trade_state),
            transaction_id: self.transaction_id.clone().filter(|t| !t.is_empty()),
            amount_fen: self.amount.as_ref().map(|a| a.total),
            cause: cause.to_owned(),
            at,
        }
    }
}

impl RefundAnswer {
    /// The fact this refund states.
    pub fn fact(&self, cause: &str, at: i64) -> RefundFact {
        let status = self
            .status
            .as_deref()
            .or(self.refund_status.as_deref())
            .unwrap_or("PROCESSING");
        RefundFact {
            out_refund_no: self.out_refund_no.clone(),
            status: RefundStatus::parse(status),
            refund_id: self.refund_id.clone(),
            amount_fen: self.amount.as_ref().map(|a| a.refund),
            cause: cause.to_owned(),
            at,
        }
    }
}

/// Why a transaction WeChat reported may not be applied to the order as stored, or `None`.
/// One rule for both ways a payment is learnt, the notification and the query, checked
/// before anything is credited: our merchant; one of our apps, and the one the order was
/// prepaid with (a payment under another of our apps is not this order's payment); CNY;
/// and, for a paid state, an amount (which the store then compares with the order's).
pub fn transaction_refusal(
    state: &SharedState,
    transaction: &TransactionView,
    stored: Option<&Order>,
) -> Option<&'static str> {
    refusal(
        transaction,
        state.v3.mchid().as_str(),
        |appid| crate::notify::our_appid(state, appid),
        stored.and_then(|order| order.appid.as_deref()),
    )
}

/// [`transaction_refusal`] over plain values.
fn refusal(
    transaction: &TransactionView,
    our_mchid: &str,
    is_our_app: impl Fn(&str) -> bool,
    prepaid_under: Option<&str>,
) -> Option<&'static str> {
    if transaction.mchid != our_mchid {
        return Some("mchid_mismatch");
    }
    if !is_our_app(&transaction.appid)
        || prepaid_under.is_some_and(|appid| appid != transaction.appid)
    {
        return Some("appid_mismatch");
    }
    match &transaction.amount {
        None if TradeState::parse(&transaction.trade_state).is_paid() => Some("amount_missing"),
        Some(amount) if amount.currency.as_deref().is_some_and(|c| c != "CNY") => {
            Some("currency_mismatch")
        }
        _ => None,
    }
}

/// Calls prepay for `order`.
#[allow(clippy::too_many_arguments)]
pub async fn prepay(
    state: &SharedState,
    order: &Order,
    kind: PrepayKind,
    appid: &str,
    openid: Option<&str>,
    payer_ip: Option<&str>,
) -> Result<PrepayAnswer, UpstreamError> {
    let mut body = json!({
        "appid": appid,
        "mchid": state.v3.mchid().as_str(),
        "description": order.description,
        "out_trade_no": order.out_trade_no,
        "notify_url": format!("{}/notify/v3/pay", state.public_url),
        "amount": { "total": order.amount_fen, "currency": "CNY" },
    });
    if let (PrepayKind::Jsapi, Some(openid)) = (kind, openid) {
        body["payer"] = json!({ "openid": openid });
    }
    if kind == PrepayKind::H5 {
        body["scene_info"] = json!({
            "payer_client_ip": payer_ip.unwrap_or("127.0.0.1"),
            "h5_info": { "type": "Wap" },
        });
    }
    // Same out_trade_no and parameters give the same prepay: safe to repeat.
    state
        .v3
        .call_json(
            Method::POST,
            kind.path(),
            Some(&body),
            Idempotency::Idempotent,
        )
        .await
}

/// Queries the order at WeChat and applies the answer, after the same checks as a
/// notification ([`transaction_refusal`]; a refused answer changes nothing and is an
/// error). `ORDER_NOT_EXIST` (never prepaid) changes nothing. Always records the check time.
pub async fn query_and_apply(
    state: &SharedState,
    out_trade_no: &str,
    cause: &str,
) -> Result<ApplyOutcome, AppError> {
    let path = format!(
        "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
        state.v3.mchid().as_str()
    );
    let now = crate::clock::now();
    let answer: Result<TransactionView, UpstreamError> = state
        .v3
        .call_json(Method::GET, &path, None, Idempotency::Idempotent)
        .await;
    let outcome = match answer {
        Ok(transaction) => {
            if transaction.out_trade_no != out_trade_no {
                return Err(AppError::unusable_answer("out_trade_no_mismatch"));
            }
            let stored = state.store.order(out_trade_no).await?;
            if let Some(reason) = transaction_refusal(state, &transaction, stored.as_ref()) {
                state.store.mark_checked(out_trade_no, now).await?;
                tracing::warn!(order = %out_trade_no, reason, "query answer refused; nothing applied");
                return Err(AppError::unusable_answer(reason));
            }
            let pending = stored.as_ref().is_some_and(|o| o.state.is_pending());
            apply_queried(state, &transaction.fact(cause, now), pending).await?
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
    let path = format!(
        "/v3/pay/transactions/out-trade-no/{}/close",
        order.out_trade_no
    );
    let body = json!({ "mchid": state.v3.mchid().as_str() });
    match state
        .v3
        .call(Method::POST, &path, Some(&body), Idempotency::Idempotent)
        .await
    {
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
        cause: cause.to_owned(),
        at: crate::clock::now(),
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
    let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
    let body = json!({ "mchid": state.v3.mchid().as_str() });
    if let Err(err) = state
        .v3
        .call(Method::POST, &path, Some(&body), Idempotency::Idempotent)
        .await
    {
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

/// Asks WeChat to refund `refund` (already reserved in the store) and applies the answer.
/// Only a final refusal ([`v3_refund_refusal_is_final`]) closes the local refund and
/// releases the reserved amount. Anything else (5xx, timeout, `SYSTEM_ERROR`, a code this
/// version does not know) may still be executed by WeChat, so the refund stays PROCESSING,
/// reserved, and is answered as stored: the worker queries it and resubmits it under the
/// same out_refund_no (A.9: "always retry with the same out_refund_no").
pub async fn submit_refund(
    state: &SharedState,
    order: &Order,
    refund: &Refund,
) -> Result<Refund, AppError> {
    if crate::payments_v2::is_v2_channel(order.channel.as_deref()) {
        return crate::payments_v2::submit_refund(state, order, refund).await;
    }
    let mut body = json!({
        "out_trade_no": order.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "notify_url": format!("{}/notify/v3/refund", state.public_url),
        "amount": { "refund": refund.amount_fen, "total": order.amount_fen, "currency": "CNY" },
    });
    if let Some(reason) = &refund.reason {
        body["reason"] = Value::String(reason.clone());
    }
    let now = crate::clock::now();
    let answer: Result<RefundAnswer, UpstreamError> = state
        .v3
        .call_json(
            Method::POST,
            "/v3/refund/domestic/refunds",
            Some(&body),
            Idempotency::Idempotent,
        )
        .await;
    // Crash-recovery tests stop the process here: WeChat has the refund, the store does not
    // know its answer yet.
    fail::fail_point!("refund::after_submit");
    match answer {
        Ok(answer) => {
            state
                .store
                .apply_refund(&answer.fact("refund_api", now))
                .await?;
        }
        Err(UpstreamError::Business { code, message, .. }) if v3_refund_refusal_is_final(&code) => {
            return refund_refused(state, &refund.out_refund_no, code, message, now).await;
        }
        Err(UpstreamError::UnsignedError {
            status,
            code,
            message,
        }) => return refund_refused_unsigned(state, refund, status, code, message).await,
        Err(err) => return refund_left_processing(state, refund, &err).await,
    }
    stored_refund(state, &refund.out_refund_no).await
}

/// The refund request was refused with an answer WeChat did not sign (A.3: a 401
/// `SIGN_ERROR` is how WeChat answers a request whose signature it could not verify, and it
/// then did nothing). Nobody authenticated that answer, so it changes nothing by itself:
/// WeChat is asked about the refund with an ordinary signed query, and only a signed answer
/// decides.
/// - `RESOURCE_NOT_EXISTS`, signed: WeChat provably holds no refund under this number, so
///   the refusal stands. The refund is closed and its amount released, and the caller gets
///   the refusal's code. Otherwise every worker pass would find nothing at WeChat and send
///   the same refused request again, for ever.
/// - the refund, signed: WeChat executed it after all (the refusal was not WeChat's); its
///   state is applied.
/// - nothing verifiable (the query is refused unsigned too, as with a wrong merchant key):
///   its fate is unknown, so it stays PROCESSING and reserved like any other unknown
///   outcome, and the worker settles it once WeChat answers with a signature again.
async fn refund_refused_unsigned(
    state: &SharedState,
    refund: &Refund,
    status: u16,
    code: String,
    message: String,
) -> Result<Refund, AppError> {
    match query_refund_and_apply(state, &refund.out_refund_no, "refund_api_check").await {
        Ok(_) => stored_refund(state, &refund.out_refund_no).await,
        Err(AppError::Upstream { code: absent, .. })
            if absent == error_code::RESOURCE_NOT_EXISTS =>
        {
            let fact = RefundFact {
                out_refund_no: refund.out_refund_no.clone(),
                status: RefundStatus::Closed,
                refund_id: None,
                amount_fen: None,
                cause: format!("rejected_unsigned:{code}"),
                at: crate::clock::now(),
            };
            state.store.apply_refund(&fact).await?;
            Err(AppError::UpstreamUnsigned { code, message })
        }
        Err(_) => {
            let refusal = UpstreamError::UnsignedError {
                status,
                code,
                message,
            };
            refund_left_processing(state, refund, &refusal).await
        }
    }
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

/// A refund attempt whose fate is unknown (WeChat may have executed it): it stays PROCESSING
/// with its amount reserved, and the caller gets it as stored so it can follow this refund
/// rather than create another. The reconciliation worker queries it and resubmits it under
/// the same out_refund_no.
pub(crate) async fn refund_left_processing(
    state: &SharedState,
    refund: &Refund,
    err: &UpstreamError,
) -> Result<Refund, AppError> {
    tracing::warn!(
        refund = %refund.out_refund_no,
        error = %crate::error::error_chain(err),
        "refund outcome unknown; left PROCESSING for the worker"
    );
    stored_refund(state, &refund.out_refund_no).await
}

/// WeChat refused a refund: it will never happen, so it is closed (freeing its amount for
/// another attempt) and the refusal goes back to the caller.
pub(crate) async fn refund_refused(
    state: &SharedState,
    out_refund_no: &str,
    code: String,
    message: String,
    now: i64,
) -> Result<Refund, AppError> {
    let fact = RefundFact {
        out_refund_no: out_refund_no.to_owned(),
        status: RefundStatus::Closed,
        refund_id: None,
        amount_fen: None,
        cause: format!("rejected:{code}"),
        at: now,
    };
    state.store.apply_refund(&fact).await?;
    Err(AppError::Upstream { code, message })
}

/// The refund as stored now.
pub(crate) async fn stored_refund(
    state: &SharedState,
    out_refund_no: &str,
) -> Result<Refund, AppError> {
    state
        .store
        .refund(out_refund_no)
        .await?
        .ok_or(AppError::NotFound("refund"))
}

/// Queries a refund at WeChat and applies the answer. Always records the check time.
pub async fn query_refund_and_apply(
    state: &SharedState,
    out_refund_no: &str,
    cause: &str,
) -> Result<ApplyOutcome, AppError> {
    let path = format!("/v3/refund/domestic/refunds/{out_refund_no}");
    let now = crate::clock::now();
    let answer: Result<RefundAnswer, UpstreamError> = state
        .v3
        .call_json(Method::GET, &path, None, Idempotency::Idempotent)
        .await;
    state.store.mark_refund_checked(out_refund_no, now).await?;
    Ok(state.store.apply_refund(&answer?.fact(cause, now)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transaction(state: &str, amount: serde_json::Value) -> TransactionView {
        let mut t = json!({
            "appid": "wxapp", "mchid": "1900000001", "out_trade_no": "WX1",
            "transaction_id": "4200000001", "trade_state": state,
        });
        if !amount.is_null() {
            t["amount"] = amount;
        }
        serde_json::from_value(t).expect("transaction")
    }

    fn refused(t: &TransactionView, prepaid_under: Option<&str>) -> Option<&'static str> {
        refusal(
            t,
            "1900000001",
            |a| a == "wxapp" || a == "wxother",
            prepaid_under,
        )
    }

    #[test]
    fn a_transaction_is_refused_unless_it_is_this_orders_payment_in_cny_with_an_amount() {
        let cny = json!({ "total": 100, "currency": "CNY" });
        assert_eq!(
            refused(&transaction("SUCCESS", cny.clone()), Some("wxapp")),
            None
        );
        assert_eq!(
            refused(&transaction("SUCCESS", json!({ "total": 100 })), None),
            None
        );
        assert_eq!(
            refused(
                &transaction("SUCCESS", serde_json::Value::Null),
                Some("wxapp")
            ),
            Some("amount_missing")
        );
        assert_eq!(
            refused(
                &transaction("REFUND", serde_json::Value::Null),
                Some("wxapp")
            ),
            Some("amount_missing")
        );
        assert_eq!(
            refused(
                &transaction("NOTPAY", serde_json::Value::Null),
                Some("wxapp")
            ),
            None,
            "nothing to credit, nothing to compare"
        );
        assert_eq!(
            refused(
                &transaction("SUCCESS", json!({ "total": 100, "currency": "USD" })),
                Some("wxapp")
            ),
            Some("currency_mismatch")
        );
        assert_eq!(
            refused(&transaction("SUCCESS", cny.clone()), Some("wxother")),
            Some("appid_mismatch"),
            "ours, but not the app this order was prepaid under"
        );
        let mut foreign = transaction("SUCCESS", cny);
        foreign.appid = "wxstranger".into();
        assert_eq!(refused(&foreign, None), Some("appid_mismatch"));
        foreign.mchid = "1900009999".into();
        assert_eq!(refused(&foreign, None), Some("mchid_mismatch"));
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
