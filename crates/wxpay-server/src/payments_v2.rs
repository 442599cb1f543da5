//! API v2 payment operations: unified order and refund over mutual TLS, each followed by the
//! same store transitions the v3 operations use (the store does not know which API version
//! produced a fact).
//!
//! An order prepaid through v2 carries its channel with the [`V2_CHANNEL_SUFFIX`] in the
//! store (`jsapi.v2`), so a refund goes back through the API the payment used. Queries and
//! closes stay on v3: WeChat answers them for orders of either version.

use std::sync::Arc;

use wxpay_core::v2::xml;
use wxpay_core::{AppId, RefundStatus};

use crate::error::AppError;
use crate::payments::{refund_left_processing, refund_refused, stored_refund};
use crate::state::SharedState;
use crate::store::{Order, Refund, RefundFact};
use crate::upstream::v2::{Fields, V2Client, REFUND_PATH, UNIFIEDORDER_PATH};
use crate::upstream::{Idempotency, UpstreamError};

/// Suffix marking a channel prepaid through API v2 in the store.
pub const V2_CHANNEL_SUFFIX: &str = ".v2";

/// Whether a stored channel was prepaid through API v2.
pub fn is_v2_channel(channel: Option<&str>) -> bool {
    channel.is_some_and(|c| c.ends_with(V2_CHANNEL_SUFFIX))
}

/// The v2 client, or a typed 400 when no API v2 key is configured.
pub fn client(state: &SharedState) -> Result<Arc<V2Client>, AppError> {
    state
        .v2
        .clone()
        .ok_or_else(|| AppError::bad_request("v2_not_configured", "no API v2 key is configured"))
}

/// A v2 `trade_type` and what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeType {
    /// JSAPI and mini-program (`openid` required).
    Jsapi,
    /// Native QR (`product_id` required).
    Native,
    /// APP.
    App,
    /// H5 (`scene_info` required).
    Mweb,
}

impl TradeType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jsapi => "JSAPI",
            Self::Native => "NATIVE",
            Self::App => "APP",
            Self::Mweb => "MWEB",
        }
    }
}

/// What the merchant knows about the payer for a unified order.
#[derive(Debug, Clone, Default)]
pub struct Payer<'a> {
    /// openid under the order's appid (JSAPI; optional for NATIVE).
    pub openid: Option<&'a str>,
    /// Client IP (`spbill_create_ip`).
    pub ip: Option<&'a str>,
    /// `product_id` (NATIVE).
    pub product_id: Option<&'a str>,
}

/// Calls `/pay/unifiedorder` for `order` and returns the verified answer.
pub async fn unified_order(
    state: &SharedState,
    v2: &V2Client,
    order: &Order,
    trade_type: TradeType,
    appid: &str,
    payer: &Payer<'_>,
) -> Result<Fields, AppError> {
    let appid = AppId::new(appid).map_err(|e| AppError::core_value("appid", e))?;
    let mut f = Fields::new();
    f.insert("body".into(), order.description.clone());
    f.insert("out_trade_no".into(), order.out_trade_no.clone());
    f.insert("total_fee".into(), order.amount_fen.to_string());
    f.insert("fee_type".into(), "CNY".into());
    f.insert(
        "spbill_create_ip".into(),
        payer.ip.unwrap_or("127.0.0.1").to_owned(),
    );
    f.insert(
        "notify_url".into(),
        format!("{}/notify/v2/pay", state.public_url),
    );
    f.insert("trade_type".into(), trade_type.as_str().to_owned());
    if let Some(openid) = payer.openid {
        f.insert("openid".into(), openid.to_owned());
    }
    if trade_type == TradeType::Native {
        let product = payer.product_id.unwrap_or(order.out_trade_no.as_str());
        f.insert("product_id".into(), product.to_owned());
    }
    if trade_type == TradeType::Mweb {
        f.insert(
            "scene_info".into(),
            serde_json::json!({ "h5_info": { "type": "Wap", "wap_url": state.public_url, "wap_name": "wxpay-server" } })
                .to_string(),
        );
    }
    // WeChat signs this order's pay notification with the request's sign type and does not
    // name it there, so it is recorded before the request can reach WeChat.
    state
        .store
        .record_v2_sign_type(&order.out_trade_no, v2.sign_type())
        .await?;
    // Same out_trade_no and fields give the same prepay: safe to repeat.
    let answer = v2
        .call(UNIFIEDORDER_PATH, &appid, f, Idempotency::Idempotent)
        .await?;
    if answer.get("appid").map(String::as_str) != Some(appid.as_str()) {
        return Err(UpstreamError::mismatch("appid_mismatch").into());
    }
    Ok(answer)
}

/// The v2 spelling of a refund status, mapped onto the store's.
pub fn refund_status(v2: &str) -> RefundStatus {
    match v2 {
        "SUCCESS" => RefundStatus::Success,
        "REFUNDCLOSE" => RefundStatus::Closed,
        "CHANGE" => RefundStatus::Abnormal,
        "PROCESSING" => RefundStatus::Processing,
        other => RefundStatus::parse(other),
    }
}

/// Sends `refund` (already reserved in the store) to `/secapi/pay/refund` over mutual TLS
/// and applies the answer, with the same rules as the v3 refund: only a final refusal
/// ([`v2_refund_refusal_is_final`]) closes the local refund; `SYSTEMERROR`,
/// `BIZERR_NEED_RETRY`, an unknown `err_code`, a `return_code` FAIL or a transport failure
/// leave it PROCESSING and reserved for the worker, which retries with the same number.
pub async fn submit_refund(
    state: &SharedState,
    order: &Order,
    refund: &Refund,
) -> Result<Refund, AppError> {
    let v2 = client(state)?;
    let now = crate::clock::now();
    if !v2.has_mutual_tls() {
        // Never sent: release the reserved amount instead of leaving it PROCESSING.
        let fact = RefundFact {
            out_refund_no: refund.out_refund_no.clone(),
            status: RefundStatus::Closed,
            refund_id: None,
            amount_fen: None,
            cause: "rejected:no_client_certificate".into(),
            at: now,
        };
        state.store.apply_refund(&fact).await?;
        return Err(AppError::bad_request(
            "v2_refund_unavailable",
            "v2 refunds need the merchant API certificate (merchant.client_cert_pem)",
        ));
    }
    let appid = order
        .appid
        .clone()
        .ok_or_else(|| crate::store::StoreError::Corrupt("a v2 order without its appid".into()))?;
    let appid = AppId::new(appid).map_err(|e| AppError::core_value("appid", e))?;
    let mut f = Fields::new();
    f.insert("out_trade_no".into(), order.out_trade_no.clone());
    f.insert("out_refund_no".into(), refund.out_refund_no.clone());
    f.insert("total_fee".into(), order.amount_fen.to_string());
    f.insert("refund_fee".into(), refund.amount_fen.to_string());
    f.insert(
        "notify_url".into(),
        format!("{}/notify/v2/refund", state.public_url),
    );
    if let Some(reason) = &refund.reason {
        f.insert("refund_desc".into(), reason.clone());
    }
    match v2
        .call(REFUND_PATH, &appid, f, Idempotency::Idempotent)
        .await
    {
        Ok(answer) => {
            let reported = answer.get("refund_fee").and_then(|v| v.parse::<i64>().ok());
            if answer.get("out_refund_no") != Some(&refund.out_refund_no) {
                return Err(UpstreamError::mismatch("out_refund_no_mismatch").into());
            }
            let fact = RefundFact {
                out_refund_no: refund.out_refund_no.clone(),
                status: RefundStatus::Processing,
                refund_id: answer.get("refund_id").cloned(),
                amount_fen: reported,
                cause: "refund_api_v2".into(),
                at: now,
            };
            state.store.apply_refund(&fact).await?;
        }
        Err(UpstreamError::Business { code, message, .. }) if v2_refund_refusal_is_final(&code) => {
            return refund_refused(state, &refund.out_refund_no, code, message, now).await;
        }
        Err(err) => return refund_left_processing(state, refund, &err).await,
    }
    stored_refund(state, &refund.out_refund_no).await
}

/// The refund-query path (protocol E.3).
pub const REFUNDQUERY_PATH: &str = "/pay/refundquery";

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
    let appid = order
        .appid
        .clone()
        .ok_or_else(|| crate::store::StoreError::Corrupt("a v2 order without its appid".into()))?;
    let appid = AppId::new(appid).map_err(|e| AppError::core_value("appid", e))?;
    let mut f = Fields::new();
    f.insert("out_refund_no".into(), out_refund_no.to_owned());
    let answer = v2
        .call(REFUNDQUERY_PATH, &appid, f, Idempotency::Idempotent)
        .await?;
    if answer.get("out_trade_no") != Some(&order.out_trade_no) {
        return Err(UpstreamError::mismatch("out_trade_no_mismatch").into());
    }
    let count = answer
        .get("refund_count")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let index = (0..count.min(50))
        .find(|i| {
            answer
                .get(&format!("out_refund_no_{i}"))
                .map(String::as_str)
                == Some(out_refund_no)
        })
        .ok_or_else(|| AppError::from(UpstreamError::mismatch("refund_not_in_answer")))?;
    let field = |name: &str| answer.get(&format!("{name}_{index}")).cloned();
    let status = field("refund_status")
        .ok_or_else(|| AppError::from(UpstreamError::mismatch("refund_status_missing")))?;
    Ok(RefundFact {
        out_refund_no: out_refund_no.to_owned(),
        status: refund_status(&status),
        refund_id: field("refund_id").filter(|id| !id.is_empty()),
        amount_fen: field("refund_fee").and_then(|v| v.parse::<i64>().ok()),
        cause: cause.to_owned(),
        at: crate::clock::now(),
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

/// Serialises v2 fields, for replies built by the server (mode-one callback).
pub fn to_xml(fields: &Fields) -> String {
    xml::to_xml(fields.iter()).unwrap_or_else(|_| "<xml></xml>".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_refund_statuses_map_onto_the_store_states() {
        assert_eq!(refund_status("SUCCESS"), RefundStatus::Success);
        assert_eq!(refund_status("REFUNDCLOSE"), RefundStatus::Closed);
        assert_eq!(refund_status("CHANGE"), RefundStatus::Abnormal);
        assert_eq!(refund_status("PROCESSING"), RefundStatus::Processing);
        assert!(is_v2_channel(Some("jsapi.v2")));
        assert!(!is_v2_channel(Some("jsapi")));
        assert!(!is_v2_channel(None));
    }

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
