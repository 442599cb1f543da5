//! API v2 payment operations: unified order and refund over mutual TLS, each followed by the
//! same store transitions the v3 operations use (the store does not know which API version
//! produced a fact).
//!
//! An order prepaid through v2 records that in its [`crate::channel::PrepayRoute`], so a
//! refund goes back through the API the payment used. Queries and
//! closes stay on v3: WeChat answers them for orders of either version.

use std::net::IpAddr;
use std::sync::Arc;

use wxpay_core::v2::models::{OrderRef, UnifiedOrderRequest, UnifiedOrderResponse};
use wxpay_core::v2::paths;
use wxpay_core::v2::refund_models::{
    RefundQueryBy, RefundQueryRequest, RefundQueryResponse, RefundRequest, RefundResponse,
};
use wxpay_core::v3::models::TradeType;
use wxpay_core::{AppId, Description, OpenId, OutRefundNo, RefundStatus};

use crate::error::AppError;
use crate::refund_attempt::RefundAttempt;
use crate::state::SharedState;
use crate::store::{Order, Refund, RefundFact};
use crate::upstream::v2::V2Client;
use crate::upstream::{Idempotency, UpstreamError};
use crate::wire_values::{amount, order_no};

/// The v2 client, or a typed 400 when no API v2 key is configured.
pub fn client(state: &SharedState) -> Result<Arc<V2Client>, AppError> {
    state
        .v2
        .clone()
        .ok_or_else(|| AppError::bad_request("v2_not_configured", "no API v2 key is configured"))
}

/// What the merchant knows about the payer for a unified order.
#[derive(Debug, Clone, Default)]
pub struct Payer<'a> {
    /// openid under the order's appid (JSAPI; optional for NATIVE).
    pub openid: Option<&'a str>,
    /// Client IP (`spbill_create_ip`).
    pub ip: Option<IpAddr>,
    /// `product_id` (NATIVE).
    pub product_id: Option<&'a str>,
}

/// A fresh `nonce_str` for a request.
fn nonce() -> Result<String, AppError> {
    crate::ids::nonce().map_err(|e| AppError::core_value("nonce_str", e))
}

/// The appid a stored v2 order was prepaid with.
fn order_appid(order: &Order) -> Result<AppId, AppError> {
    let appid = order
        .appid
        .as_deref()
        .ok_or_else(|| crate::store::StoreError::Corrupt("a v2 order without its appid".into()))?;
    AppId::new(appid).map_err(|e| AppError::core_value("appid", e))
}

/// A verified answer that is not the documented shape.
fn unusable(err: wxpay_core::v2::models::V2ModelError) -> AppError {
    AppError::from(UpstreamError::DecodeV2(err))
}

/// Calls `/pay/unifiedorder` for `order` (built from the core's model) and returns the
/// verified answer.
pub async fn unified_order(
    state: &SharedState,
    v2: &V2Client,
    order: &Order,
    trade_type: TradeType,
    appid: &str,
    payer: &Payer<'_>,
) -> Result<UnifiedOrderResponse, AppError> {
    let appid = AppId::new(appid).map_err(|e| AppError::core_value("appid", e))?;
    let product_id = (trade_type == TradeType::Native).then(|| {
        payer
            .product_id
            .unwrap_or(order.out_trade_no.as_str())
            .to_owned()
    });
    let scene_info = (trade_type == TradeType::Mweb).then(|| {
        serde_json::json!({ "h5_info": { "type": "Wap", "wap_url": state.public_url, "wap_name": "wxpay-server" } })
            .to_string()
    });
    let request = UnifiedOrderRequest {
        appid: appid.clone(),
        mch_id: v2.mchid().clone(),
        device_info: None,
        nonce_str: nonce()?,
        body: Description::new(order.description.as_str())
            .map_err(|e| AppError::core_value("body", e))?,
        attach: None,
        out_trade_no: order_no(order)?,
        total_fee: amount(order.amount_fen)?,
        spbill_create_ip: payer.ip.unwrap_or(IpAddr::from([127, 0, 0, 1])),
        time_start: None,
        time_expire: None,
        notify_url: state.notify_urls.v2_pay.clone(),
        trade_type,
        product_id,
        openid: payer
            .openid
            .map(OpenId::new)
            .transpose()
            .map_err(|e| AppError::core_value("openid", e))?,
        scene_info,
    };
    let params = request
        .to_params()
        .map_err(|e| AppError::core_value("unified order", e))?;
    // WeChat signs this order's pay notification with the request's sign type and does not
    // name it there, so it is recorded before the request can reach WeChat.
    state
        .store
        .record_v2_sign_type(&order.out_trade_no, v2.sign_type())
        .await?;
    // Same out_trade_no and fields give the same prepay: safe to repeat.
    let answer = v2
        .call(paths::UNIFIED_ORDER, params, Idempotency::Idempotent)
        .await?;
    let answer = UnifiedOrderResponse::from_params(&answer).map_err(unusable)?;
    if answer.appid != appid {
        return Err(UpstreamError::mismatch("appid_mismatch").into());
    }
    Ok(answer)
}

/// Sends the v2 refund request for `refund` (already reserved in the store) to
/// `/secapi/pay/refund` over mutual TLS and says what it came to, with the v3 rules: only a
/// final refusal ([`v2_refund_refusal_is_final`]) is [`RefundAttempt::Refused`];
/// `SYSTEMERROR`, `BIZERR_NEED_RETRY`, an unknown `err_code`, a `return_code` FAIL or a
/// transport failure may still be executed, and the worker retries with the same number.
pub async fn send_refund(
    state: &SharedState,
    order: &Order,
    refund: &Refund,
) -> Result<RefundAttempt, AppError> {
    let v2 = client(state)?;
    let now = state.clock.now();
    if !v2.has_mutual_tls() {
        return Ok(RefundAttempt::NotSent {
            cause: "rejected:no_client_certificate",
            error: AppError::bad_request(
                "v2_refund_unavailable",
                "v2 refunds need the merchant API certificate (merchant.client_cert_pem)",
            ),
        });
    }
    let out_refund_no = OutRefundNo::new(refund.out_refund_no.as_str())
        .map_err(|e| AppError::core_value("out_refund_no", e))?;
    let request = RefundRequest {
        appid: order_appid(order)?,
        mch_id: v2.mchid().clone(),
        nonce_str: nonce()?,
        order: OrderRef::OutTradeNo(order_no(order)?),
        out_refund_no: out_refund_no.clone(),
        total_fee: amount(order.amount_fen)?,
        refund_fee: amount(refund.amount_fen)?,
        refund_desc: refund.reason.clone(),
        refund_account: None,
        notify_url: Some(state.notify_urls.v2_refund.clone()),
    };
    let params = request
        .to_params()
        .map_err(|e| AppError::core_value("refund request", e))?;
    let answer = v2
        .call(paths::REFUND, params, Idempotency::Idempotent)
        .await;
    Ok(match answer {
        Ok(answer) => {
            let answer = RefundResponse::from_params(&answer).map_err(unusable)?;
            if answer.out_refund_no != out_refund_no {
                return Err(UpstreamError::mismatch("out_refund_no_mismatch").into());
            }
            RefundAttempt::Accepted(RefundFact {
                out_refund_no: refund.out_refund_no.clone(),
                status: RefundStatus::Processing,
                refund_id: Some(answer.refund_id.as_str().to_owned()),
                amount_fen: i64::try_from(answer.refund_fee).ok(),
                cause: "refund_api_v2".into(),
                at: now,
            })
        }
        Err(UpstreamError::Business { code, message, .. }) if v2_refund_refusal_is_final(&code) => {
            RefundAttempt::Refused { code, message }
        }
        Err(err) => RefundAttempt::Unknown(err),
    })
}

/// Asks WeChat where refund `out_refund_no` of `order` stands (`/pay/refundquery` by
/// `out_refund_no`; the answer's signature is verified by the v2 client before any field
/// is read) and returns it as a fact, with `cause`. This, not a refund notification's
/// `req_info` (encrypted, but not authenticated), is what a v2 refund notification applies.
pub async fn query_refund(
    state: &SharedState,
    order: &Order,
    out_refund_no: &str,
    cause: &str,
) -> Result<RefundFact, AppError> {
    let v2 = client(state)?;
    let wanted =
        OutRefundNo::new(out_refund_no).map_err(|e| AppError::core_value("out_refund_no", e))?;
    let request = RefundQueryRequest {
        appid: order_appid(order)?,
        mch_id: v2.mchid().clone(),
        nonce_str: nonce()?,
        by: RefundQueryBy::OutRefundNo(wanted.clone()),
    };
    let params = request
        .to_params()
        .map_err(|e| AppError::core_value("refund query", e))?;
    let answer = v2
        .call(paths::REFUND_QUERY, params, Idempotency::Idempotent)
        .await?;
    let answer = RefundQueryResponse::from_params(&answer).map_err(unusable)?;
    if answer.out_trade_no.as_str() != order.out_trade_no {
        return Err(UpstreamError::mismatch("out_trade_no_mismatch").into());
    }
    let item = answer
        .refunds
        .iter()
        .find(|item| item.out_refund_no == wanted)
        .ok_or_else(|| AppError::from(UpstreamError::mismatch("refund_not_in_answer")))?;
    Ok(RefundFact {
        out_refund_no: out_refund_no.to_owned(),
        status: item.refund_status.clone(),
        refund_id: Some(item.refund_id.as_str().to_owned()),
        amount_fen: i64::try_from(item.refund_fee).ok(),
        cause: cause.to_owned(),
        at: state.clock.now(),
    })
}

/// Whether a v2 refund `err_code` (`result_code` FAIL) is final: the refund was refused and
/// will not happen under this out_refund_no, so releasing its amount is safe. WeChat's
/// `/secapi/pay/refund` error table says `SYSTEMERROR` and `BIZERR_NEED_RETRY` must be
/// retried with the same out_refund_no (the first request may still be executed), and
/// `FREQUENCY_LIMITED` / `INVALID_REQ_TOO_MUCH` later; those, and any code not listed here,
/// keep the refund reserved. The `FAIL` pseudo-code (`return_code` FAIL: the request was not
/// processed at all) is kept as well: the worker simply sends it again.
pub fn v2_refund_refusal_is_final(code: &str) -> bool {
    matches!(
        code,
        "NOTENOUGH"
            | "TRADE_OVERDUE"
            | "USER_ACCOUNT_ABNORMAL"
            | "INVALID_TRANSACTIONID"
            | "PARAM_ERROR"
            | "APPID_NOT_EXIST"
            | "MCHID_NOT_EXIST"
            | "ORDERNOTEXIST"
            | "REQUIRE_POST_METHOD"
            | "SIGNERROR"
            | "XML_FORMAT_ERROR"
            | "REFUND_FEE_INVALID"
            | "INVALID_REQUEST"
            | "ERROR"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_v2_refund_refusals_release_the_reserved_amount() {
        for code in ["NOTENOUGH", "ERROR", "ORDERNOTEXIST", "TRADE_OVERDUE"] {
            assert!(v2_refund_refusal_is_final(code), "{code}");
        }
        for code in [
            "SYSTEMERROR",
            "BIZERR_NEED_RETRY",
            "FREQUENCY_LIMITED",
            "INVALID_REQ_TOO_MUCH",
            "FAIL",
            "",
            "SOMETHING_NEW",
        ] {
            assert!(!v2_refund_refusal_is_final(code), "{code}");
        }
    }
}
