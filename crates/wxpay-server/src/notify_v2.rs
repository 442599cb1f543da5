//! API v2 callbacks from WeChat: the pay notification, the refund notification and the
//! scan-pay mode-one product callback.
//!
//! The pay notification is signed with the API v2 key (MD5 or HMAC-SHA256 as the unified
//! order was); the refund notification is not signed but carries `req_info` encrypted with
//! a key derived from the API v2 key, so only a holder of the key can produce it. After
//! verification, v2 facts go through the same [`crate::notify::finish`] as v3 ones: one
//! store transaction records the notification under its unique id and applies the change,
//! and WeChat is told `SUCCESS` only after that commits.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use wxpay_core::v2::sign::{sign_into, verify};
use wxpay_core::v2::{refund_crypto, xml};
use wxpay_core::TradeState;

use crate::clock;
use crate::notify::{
    fail_as, finish, headers_json, our_appid, record_failure, Decision, Protocol, Received,
};
use crate::payments_v2::{self, Payer, TradeType, V2_CHANNEL_SUFFIX};
use crate::state::SharedState;
use crate::store::{NewOrder, NotifiedChange, PaymentFact, RefundFact};
use crate::upstream::v2::Fields;

/// How long a v2 prepay id stays usable.
const PREPAY_TTL_SECS: i64 = 2 * 3600;

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn fail(status: StatusCode, message: &str) -> Response {
    fail_as(Protocol::V2, status, message)
}

/// Parses the body and builds the receipt record; a body that is not v2 XML is recorded
/// and refused.
async fn receive(
    state: &SharedState,
    kind: &'static str,
    headers: &HeaderMap,
    body: Bytes,
    id_field: &str,
) -> Result<(Received, Fields), Response> {
    let parsed = xml::parse(&body, xml::DEFAULT_MAX_LEN);
    let claimed_id = parsed
        .as_ref()
        .ok()
        .and_then(|f| field(f, id_field))
        .map(|s| s.chars().take(64).collect());
    let received = Received {
        kind,
        headers_json: headers_json(headers),
        body,
        claimed_id,
        now: clock::now(),
    };
    match parsed {
        Ok(fields) => Ok((received, fields)),
        Err(err) => {
            record_failure(state, &received, err.reason_code(), "rejected", None).await;
            Err(fail(StatusCode::BAD_REQUEST, "malformed XML"))
        }
    }
}

/// `POST /notify/v2/pay`
pub async fn v2_pay(State(state): State<SharedState>, headers: HeaderMap, body: Bytes) -> Response {
    let (received, fields) = match receive(&state, "v2_pay", &headers, body, "transaction_id").await
    {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(v2) = state.v2.clone() else {
        record_failure(&state, &received, "v2_not_configured", "rejected", None).await;
        return fail(StatusCode::NOT_FOUND, "API v2 is not configured");
    };
    if let Err(err) = verify(&fields, v2.key()) {
        tracing::warn!(
            reason = err.reason_code(),
            "v2 notification signature rejected"
        );
        record_failure(&state, &received, err.reason_code(), "rejected", None).await;
        return fail(StatusCode::UNAUTHORIZED, "signature verification failed");
    }
    let mut decision = decide_pay(&state, &fields, received.now, v2.mchid().as_str());
    if let Decision::Apply { out_trade_no, .. } = &decision {
        // The appid must be the one the order was prepaid with, not just any of ours.
        match state.store.order(out_trade_no).await {
            Ok(Some(order))
                if order
                    .appid
                    .as_deref()
                    .is_some_and(|a| Some(a) != field(&fields, "appid")) =>
            {
                decision = Decision::Reject {
                    out_trade_no: Some(out_trade_no.clone()),
                    reason: "appid_mismatch",
                };
            }
            Ok(_) => {}
            Err(err) => {
                tracing::error!(error = %crate::error::error_chain(&err), "order lookup failed");
                return fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "temporarily unable to process",
                );
            }
        }
    }
    finish(&state, &received, decision, Protocol::V2).await
}

fn decide_pay(state: &SharedState, fields: &Fields, now: i64, mchid: &str) -> Decision {
    let order = field(fields, "out_trade_no").map(str::to_owned);
    let reject = |reason| Decision::Reject {
        out_trade_no: order.clone(),
        reason,
    };
    if field(fields, "return_code") != Some("SUCCESS") {
        return reject("return_fail");
    }
    if field(fields, "mch_id") != Some(mchid) {
        return reject("mchid_mismatch");
    }
    if !field(fields, "appid").is_some_and(|a| our_appid(state, a)) {
        return reject("appid_mismatch");
    }
    let Some(out_trade_no) = order.clone() else {
        return reject("out_trade_no_missing");
    };
    if field(fields, "result_code") != Some("SUCCESS") {
        let nonce = field(fields, "nonce_str").unwrap_or_default();
        return Decision::Ignore {
            id: format!("v2_pay_fail:{out_trade_no}:{nonce}"),
        };
    }
    let Some(transaction_id) = field(fields, "transaction_id") else {
        return reject("transaction_id_missing");
    };
    let Some(total) = field(fields, "total_fee").and_then(|v| v.parse::<i64>().ok()) else {
        return reject("amount_missing");
    };
    Decision::Apply {
        id: format!("v2_pay:{transaction_id}"),
        out_trade_no: out_trade_no.clone(),
        change: NotifiedChange::Payment(PaymentFact {
            out_trade_no,
            state: TradeState::Success,
            transaction_id: Some(transaction_id.to_owned()),
            amount_fen: Some(total),
            cause: "notify_v2".into(),
            at: now,
        }),
    }
}

/// `POST /notify/v2/refund`
pub async fn v2_refund(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (received, fields) = match receive(&state, "v2_refund", &headers, body, "nonce_str").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(v2) = state.v2.clone() else {
        record_failure(&state, &received, "v2_not_configured", "rejected", None).await;
        return fail(StatusCode::NOT_FOUND, "API v2 is not configured");
    };
    if field(&fields, "return_code") != Some("SUCCESS") {
        record_failure(
            &state,
            &received,
            "not_verified",
            "rejected:return_fail",
            None,
        )
        .await;
        return fail(StatusCode::BAD_REQUEST, "return_code is not SUCCESS");
    }
    // The encryption is the authentication: a req_info that does not decrypt under our key
    // was not produced by WeChat for this merchant.
    let inner = match field(&fields, "req_info")
        .ok_or(refund_crypto::RefundCryptoError::Decrypt)
        .and_then(|r| refund_crypto::decrypt_fields(r, v2.key()))
    {
        Ok(inner) => inner,
        Err(_) => {
            record_failure(&state, &received, "decrypt_failed", "rejected", None).await;
            return fail(StatusCode::UNAUTHORIZED, "req_info does not decrypt");
        }
    };
    let order = field(&inner, "out_trade_no").map(str::to_owned);
    let reject = |reason| Decision::Reject {
        out_trade_no: order.clone(),
        reason,
    };
    let decision = if field(&fields, "mch_id") != Some(v2.mchid().as_str()) {
        reject("mchid_mismatch")
    } else if !field(&fields, "appid").is_some_and(|a| our_appid(&state, a)) {
        reject("appid_mismatch")
    } else {
        match (
            order.clone(),
            field(&inner, "out_refund_no"),
            field(&inner, "refund_status"),
        ) {
            (Some(out_trade_no), Some(out_refund_no), Some(status)) => {
                match state.store.refund(out_refund_no).await {
                    Ok(Some(r)) if r.out_trade_no == out_trade_no => Decision::Apply {
                        id: format!(
                            "v2_refund:{}:{status}",
                            field(&inner, "refund_id").unwrap_or(out_refund_no)
                        ),
                        out_trade_no,
                        change: NotifiedChange::Refund(RefundFact {
                            out_refund_no: out_refund_no.to_owned(),
                            status: payments_v2::refund_status(status),
                            refund_id: field(&inner, "refund_id").map(str::to_owned),
                            amount_fen: field(&inner, "refund_fee")
                                .and_then(|v| v.parse::<i64>().ok()),
                            cause: "notify_v2".into(),
                            at: received.now,
                        }),
                    },
                    Ok(_) => reject("unknown_refund"),
                    Err(err) => {
                        tracing::error!(error = %crate::error::error_chain(&err), "refund lookup failed");
                        return fail(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "temporarily unable to process",
                        );
                    }
                }
            }
            _ => reject("fields_missing"),
        }
    };
    finish(&state, &received, decision, Protocol::V2).await
}

/// The signed answer to a mode-one callback.
fn callback_reply(state: &SharedState, appid: &str, mut fields: Fields) -> Response {
    let Some(v2) = state.v2.as_ref() else {
        return fail(StatusCode::NOT_FOUND, "API v2 is not configured");
    };
    fields.insert("return_code".into(), "SUCCESS".into());
    fields.insert("appid".into(), appid.to_owned());
    fields.insert("mch_id".into(), v2.mchid().as_str().to_owned());
    fields.insert(
        "nonce_str".into(),
        crate::ids::nonce().unwrap_or_else(|_| "0".repeat(32)),
    );
    sign_into(&mut fields, v2.key(), v2.sign_type());
    (
        StatusCode::OK,
        [("content-type", "text/xml; charset=utf-8")],
        payments_v2::to_xml(&fields),
    )
        .into_response()
}

fn callback_refusal(state: &SharedState, appid: &str, message: &str) -> Response {
    let mut f = Fields::new();
    f.insert("result_code".into(), "FAIL".into());
    f.insert("err_code_des".into(), message.to_owned());
    callback_reply(state, appid, f)
}

/// `POST /notify/v2/native-callback`: scan-pay mode one. WeChat sends the scanned
/// `product_id` and the payer's `openid`; the server creates an order at its own price,
/// calls the unified order (NATIVE) and answers with the signed `prepay_id`.
pub async fn native_callback(State(state): State<SharedState>, body: Bytes) -> Response {
    let Some(v2) = state.v2.clone() else {
        return fail(StatusCode::NOT_FOUND, "API v2 is not configured");
    };
    let Ok(fields) = xml::parse(&body, xml::DEFAULT_MAX_LEN) else {
        return fail(StatusCode::BAD_REQUEST, "malformed XML");
    };
    if verify(&fields, v2.key()).is_err() {
        return fail(StatusCode::UNAUTHORIZED, "signature verification failed");
    }
    let appid = field(&fields, "appid").unwrap_or_default().to_owned();
    if field(&fields, "mch_id") != Some(v2.mchid().as_str()) || !our_appid(&state, &appid) {
        return fail(StatusCode::BAD_REQUEST, "appid or mch_id mismatch");
    }
    let (Some(openid), Some(product_id)) = (field(&fields, "openid"), field(&fields, "product_id"))
    else {
        return fail(
            StatusCode::BAD_REQUEST,
            "openid and product_id are required",
        );
    };
    // WeChat re-sends a callback it got no answer to: the same payer, product and nonce get
    // the same order and prepay instead of a second order.
    let nonce = field(&fields, "nonce_str").unwrap_or_default();
    match create_and_prepay(&state, &appid, openid, product_id, nonce).await {
        Ok(prepay_id) => {
            let mut f = Fields::new();
            f.insert("result_code".into(), "SUCCESS".into());
            f.insert("prepay_id".into(), prepay_id);
            callback_reply(&state, &appid, f)
        }
        Err(message) => callback_refusal(&state, &appid, &message),
    }
}

async fn create_and_prepay(
    state: &SharedState,
    appid: &str,
    openid: &str,
    product_id: &str,
    nonce: &str,
) -> Result<String, String> {
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "mode-one callback failed");
        "系统繁忙 (temporarily unavailable)".to_owned()
    };
    let v2 = payments_v2::client(state).map_err(|e| internal(&e))?;
    let products = state.store.products().await.map_err(|e| internal(&e))?;
    let product = products
        .into_iter()
        .find(|p| p.id == product_id)
        .ok_or_else(|| "商品不存在 (unknown product)".to_owned())?;
    let now = clock::now();
    let user = state
        .store
        .upsert_user(appid, openid, None, now)
        .await
        .map_err(|e| internal(&e))?;
    let out_trade_no = crate::ids::new_out_trade_no(now).map_err(|e| internal(&e))?;
    let order = state
        .store
        .create_order(NewOrder {
            out_trade_no,
            user_id: user.id,
            idempotency_key: Some(format!("mode-one:{product_id}:{nonce}")),
            description: product.name.clone(),
            items: vec![(product.id.clone(), 1, product.price_fen)],
            amount_fen: product.price_fen,
            now,
        })
        .await
        .map_err(|e| internal(&e))?;
    let channel = format!("native{V2_CHANNEL_SUFFIX}");
    if order.state == TradeState::NotPay {
        if let Some((prepay_id, _)) = order.reusable_prepay(&channel, appid, now) {
            return Ok(prepay_id.to_owned());
        }
    }
    let payer = Payer {
        openid: Some(openid),
        ip: None,
        product_id: Some(product_id),
    };
    let answer = payments_v2::unified_order(state, &v2, &order, TradeType::Native, appid, &payer)
        .await
        .map_err(|e| internal(&e))?;
    let prepay_id = answer
        .get("prepay_id")
        .cloned()
        .ok_or_else(|| internal(&"answer without prepay_id"))?;
    state
        .store
        .save_prepay(
            &order.out_trade_no,
            &channel,
            appid,
            &prepay_id,
            answer.get("code_url").map(String::as_str),
            now + PREPAY_TTL_SECS,
            now,
        )
        .await
        .map_err(|e| internal(&e))?;
    Ok(prepay_id)
}
