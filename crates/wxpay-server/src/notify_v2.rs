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
use wxpay_core::v2::models::{signed_xml, PayNotification, V2ModelError};
use wxpay_core::v2::native_callback::{NativeCallback, NativeCallbackReply};
use wxpay_core::v2::sign::{verify, SignType};
use wxpay_core::v2::{refund_crypto, xml};
use wxpay_core::v3::models::TradeType;
use wxpay_core::{AppId, PrepayId, TradeState};

use crate::channel::{ApiVersion, Channel, PrepayRoute};
use crate::notify::{finish, headers_json, record_failure, Decision, Received};
use crate::notify_reply::{fail_as, Protocol};
use crate::payments_v2::{self, Payer};
use crate::state::SharedState;
use crate::store::{NewOrder, NotifiedChange, PaymentFact, Prepaid, RefundFact};
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
        now: state.clock.now(),
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
    // Read-only until the signature checks out: the order says which algorithm to expect.
    let order = match field(&fields, "out_trade_no") {
        Some(no) => match state.store.order(no).await {
            Ok(order) => order,
            Err(err) => {
                tracing::error!(error = %crate::error::error_chain(&err), "order lookup failed");
                return fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "temporarily unable to process",
                );
            }
        },
        None => None,
    };
    let sign_type = pay_notification_sign_type(order.as_ref(), &fields, v2.sign_type());
    if let Err(err) = verify(&fields, v2.key(), sign_type) {
        tracing::warn!(
            reason = err.reason_code(),
            expected_sign_type = sign_type.as_str(),
            "v2 notification signature rejected"
        );
        record_failure(&state, &received, err.reason_code(), "rejected", None).await;
        return fail(StatusCode::UNAUTHORIZED, "signature verification failed");
    }
    // The appid must be the one the order was prepaid with, not just any of ours: the
    // store's rules check it with the amount.
    let decision = decide_pay(&state, &fields, received.now, v2.mchid().as_str());
    finish(&state, &received, decision, Protocol::V2).await
}

/// The algorithm a v2 pay notification must be signed with. WeChat names none: it signs with
/// the sign type of the order's unified order, which the store recorded. For an order stored
/// before that (or one unknown here) the `sign`'s length tells MD5 from HMAC-SHA256; both
/// need the API key, so this choice cannot help a forger.
fn pay_notification_sign_type(
    order: Option<&crate::store::Order>,
    fields: &Fields,
    configured: SignType,
) -> SignType {
    order
        .and_then(|o| o.v2_sign_type)
        .or_else(|| field(fields, "sign").and_then(SignType::of_sign))
        .unwrap_or(configured)
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
    if !field(fields, "appid").is_some_and(|a| state.apps.contains(a)) {
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
    let paid = match PayNotification::from_params(fields) {
        Ok(paid) => paid.order,
        Err(V2ModelError::Missing("transaction_id")) => return reject("transaction_id_missing"),
        Err(V2ModelError::Missing("total_fee")) => return reject("amount_missing"),
        Err(_) => return reject("malformed_notification"),
    };
    let (Some(transaction_id), Some(total)) = (paid.transaction_id, paid.total_fee) else {
        return reject("amount_missing");
    };
    Decision::Apply {
        id: format!("v2_pay:{}", transaction_id.as_str()),
        out_trade_no: out_trade_no.clone(),
        change: NotifiedChange::Payment(PaymentFact {
            out_trade_no,
            state: TradeState::Success,
            transaction_id: Some(transaction_id.as_str().to_owned()),
            amount_fen: i64::try_from(total).ok(),
            appid: field(fields, "appid").map(str::to_owned),
            cause: "notify_v2".into(),
            at: now,
        }),
    }
}

/// `POST /notify/v2/refund`: a trigger, not a fact. `req_info` is AES-256-ECB without a
/// MAC (the core's `refund_crypto` says its fields are only a hint): blocks of a genuine
/// one can be cut, reordered and replayed, and anyone holding the key can write one. So it
/// only names the refund to look at; the change applied is what WeChat's signed
/// `/pay/refundquery` answer proves (status, refund id, amount), never the notification's
/// own fields. A refund the query cannot confirm is answered FAIL, so WeChat retries.
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
    } else if !field(&fields, "appid").is_some_and(|a| state.apps.contains(a)) {
        reject("appid_mismatch")
    } else {
        match (order.clone(), field(&inner, "out_refund_no")) {
            (Some(out_trade_no), Some(out_refund_no)) => {
                match confirmed_refund(&state, &received, &out_trade_no, out_refund_no).await {
                    Ok(Some(fact)) => Decision::Apply {
                        id: format!(
                            "v2_refund:{}:{}",
                            fact.refund_id.as_deref().unwrap_or(out_refund_no),
                            fact.status
                        ),
                        out_trade_no,
                        change: NotifiedChange::Refund(fact),
                    },
                    Ok(None) => reject("unknown_refund"),
                    Err(response) => return response,
                }
            }
            _ => reject("fields_missing"),
        }
    };
    finish(&state, &received, decision, Protocol::V2).await
}

/// What WeChat's refund query says about the refund a v2 refund notification names, when
/// it is one of ours for that order (`None` otherwise). A failed lookup or query is
/// recorded and answered FAIL, so WeChat sends the notification again later.
async fn confirmed_refund(
    state: &SharedState,
    received: &Received,
    out_trade_no: &str,
    out_refund_no: &str,
) -> Result<Option<RefundFact>, Response> {
    let unavailable = |err: &dyn std::error::Error, what: &str| {
        tracing::warn!(refund = %out_refund_no, error = %crate::error::error_chain(err), "{what}");
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "refund could not be confirmed, retry later",
        )
    };
    let refund = match state.store.refund(out_refund_no).await {
        Ok(Some(refund)) if refund.out_trade_no == out_trade_no => refund,
        Ok(_) => return Ok(None),
        Err(err) => return Err(unavailable(&err, "refund lookup failed")),
    };
    let order = match state.store.order(&refund.out_trade_no).await {
        Ok(Some(order)) => order,
        Ok(None) => return Ok(None),
        Err(err) => return Err(unavailable(&err, "order lookup failed")),
    };
    match payments_v2::query_refund(state, &order, out_refund_no, "notify_v2_query").await {
        Ok(fact) => Ok(Some(fact)),
        Err(err) => {
            let order = Some(order.out_trade_no.clone());
            record_failure(state, received, "ok", "rejected:query_failed", order).await;
            Err(unavailable(
                &err,
                "refund query after a v2 refund notification failed",
            ))
        }
    }
}

/// The signed answer to a mode-one callback (the core's [`NativeCallbackReply`]).
fn callback_reply(
    state: &SharedState,
    reply: Result<NativeCallbackReply, (AppId, String)>,
) -> Response {
    let Some(v2) = state.v2.as_ref() else {
        return fail(StatusCode::NOT_FOUND, "API v2 is not configured");
    };
    let nonce = crate::ids::nonce().unwrap_or_else(|_| "0".repeat(32));
    let params = match reply {
        Ok(reply) => reply.to_params(&nonce),
        Err((appid, message)) => NativeCallbackReply::refusal(&appid, v2.mchid(), &nonce, &message),
    };
    match signed_xml(params, v2.key(), v2.mode_one_sign_type()) {
        Ok(body) => (
            StatusCode::OK,
            [("content-type", "text/xml; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %crate::error::error_chain(&err), "mode-one reply could not be written");
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "temporarily unable to process",
            )
        }
    }
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
    if verify(&fields, v2.key(), v2.mode_one_sign_type()).is_err() {
        return fail(StatusCode::UNAUTHORIZED, "signature verification failed");
    }
    let callback = match NativeCallback::from_params(&fields) {
        Ok(callback) => callback,
        Err(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "appid, mch_id, openid, product_id and nonce_str are required",
            )
        }
    };
    if &callback.mch_id != v2.mchid() || !state.apps.contains(callback.appid.as_str()) {
        return fail(StatusCode::BAD_REQUEST, "appid or mch_id mismatch");
    }
    // WeChat re-sends a callback it got no answer to: the same payer, product and nonce get
    // the same order and prepay instead of a second order.
    let reply = create_and_prepay(&state, &callback)
        .await
        .map(|prepay_id| NativeCallbackReply {
            appid: callback.appid.clone(),
            mch_id: v2.mchid().clone(),
            prepay_id,
        })
        .map_err(|message| (callback.appid.clone(), message));
    callback_reply(&state, reply)
}

async fn create_and_prepay(
    state: &SharedState,
    callback: &NativeCallback,
) -> Result<PrepayId, String> {
    let appid = callback.appid.as_str();
    let openid = callback.openid.as_str();
    let product_id = callback.product_id.as_str();
    let nonce = callback.nonce_str.as_str();
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
    let now = state.clock.now();
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
    let route = PrepayRoute::new(Channel::Native, ApiVersion::V2);
    if order.state == TradeState::NotPay {
        let reused = order.reusable_prepay(route, appid, now);
        if let Some(prepay_id) = reused.and_then(|prepaid| prepaid.prepay_id) {
            return PrepayId::new(prepay_id).map_err(|e| internal(&e));
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
    let prepay_id = answer.prepay_id;
    let saved = state
        .store
        .save_prepay(
            &order.out_trade_no,
            route,
            appid,
            &Prepaid {
                prepay_id: Some(prepay_id.as_str().to_owned()),
                h5_url: None,
                code_url: answer.code_url,
            },
            now + PREPAY_TTL_SECS,
            now,
        )
        .await
        .map_err(|e| internal(&e))?;
    if !saved {
        // Closed or paid while WeChat was asked: the payer gets no prepay for it.
        let refusal = crate::payments::prepay_superseded(state, &order.out_trade_no).await;
        return Err(format!("订单已关闭 (order not payable: {refusal})"));
    }
    Ok(prepay_id)
}
