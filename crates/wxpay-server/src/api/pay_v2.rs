//! `POST /api/orders/{out_trade_no}/pay` with `"api_version": "v2"`: the unified order and
//! the client parameters signed with the API v2 key (the same shapes as v3 except
//! `signType` MD5 / HMAC-SHA256 and the v2 `paySign` / `sign`).
//!
//! The stored channel is `<channel>.v2`, so a v3 prepay is never reused for a v2 request
//! (their client parameters differ) and refunds go back through v2.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use wxpay_core::invoke::{
    AppPayParams, CodeUrl, JsapiPayParams, NonceStr, PayTimestamp, ProductId,
};
use wxpay_core::{AppId, PrepayId};

use std::net::IpAddr;

use wxpay_core::v3::models::PrepayKind;

use crate::error::{query_rejection, AppError};
use crate::payments_v2::{self, Payer, V2_CHANNEL_SUFFIX};
use crate::state::SharedState;
use crate::store::{Order, User};

/// How long a v2 prepay id (and `code_url`) stays usable.
const PREPAY_TTL_SECS: i64 = 2 * 3600;
/// How long an `mweb_url` stays usable.
const MWEB_URL_TTL_SECS: i64 = 5 * 60;

/// Prepays `order` through API v2 (reusing a still-valid v2 prepay) and returns the client
/// parameters for `channel`.
#[allow(clippy::too_many_arguments)]
pub async fn pay(
    state: &SharedState,
    user: &User,
    order: &Order,
    channel: &str,
    kind: PrepayKind,
    appid: &str,
    payer_ip: Option<IpAddr>,
    now: i64,
) -> Result<Value, AppError> {
    let v2 = payments_v2::client(state)?;
    let stored_channel = format!("{channel}{V2_CHANNEL_SUFFIX}");
    let reused = order
        .reusable_prepay(stored_channel.as_str(), appid, now)
        .map(|(id, payload)| (id.to_owned(), payload.map(str::to_owned)));
    let reused_type = reused.as_ref().and(order.v2_sign_type);
    let (prepay_id, payload) = if let Some(reused) = reused {
        reused
    } else {
        let trade_type = kind.trade_type();
        let payer = Payer {
            openid: (kind == PrepayKind::Jsapi).then_some(user.openid.as_str()),
            ip: payer_ip,
            product_id: None,
        };
        let answer =
            payments_v2::unified_order(state, &v2, order, trade_type, appid, &payer).await?;
        let prepay_id = answer.prepay_id.as_str().to_owned();
        let (payload, ttl) = match kind {
            PrepayKind::H5 => (answer.mweb_url, MWEB_URL_TTL_SECS),
            PrepayKind::Native => (answer.code_url, PREPAY_TTL_SECS),
            PrepayKind::Jsapi | PrepayKind::App => (None, PREPAY_TTL_SECS),
        };
        if matches!(kind, PrepayKind::H5 | PrepayKind::Native) && payload.is_none() {
            return Err(AppError::unusable_answer("mweb_url_or_code_url_missing"));
        }
        let saved = state
            .store
            .save_prepay(
                &order.out_trade_no,
                &stored_channel,
                appid,
                &prepay_id,
                payload.as_deref(),
                now + ttl,
                now,
            )
            .await?;
        if !saved {
            // Closed (or paid) while WeChat was asked: no parameters for it.
            return Err(crate::payments::prepay_superseded(state, &order.out_trade_no).await);
        }
        (prepay_id, payload)
    };
    // The client parameters must use the unified order's sign type (WeChat's APP and JSAPI
    // pages say so): a reused prepay keeps the type recorded with it, a new one uses the
    // client's, which `unified_order` just recorded.
    let sign_type = reused_type.unwrap_or(v2.sign_type());
    match kind {
        PrepayKind::H5 => Ok(json!({ "h5Url": payload })),
        PrepayKind::Native => Ok(json!({ "codeUrl": payload })),
        PrepayKind::Jsapi | PrepayKind::App => {
            let app_id =
                AppId::new(appid).map_err(|e| AppError::core_value("client parameters", e))?;
            let prepay = PrepayId::new(prepay_id)
                .map_err(|e| AppError::core_value("client parameters", e))?;
            let timestamp = PayTimestamp::from_unix(now)
                .map_err(|e| AppError::core_value("client parameters", e))?;
            let nonce = NonceStr::new(
                crate::ids::nonce().map_err(|e| AppError::core_value("client parameters", e))?,
            )
            .map_err(|e| AppError::core_value("client parameters", e))?;
            if kind == PrepayKind::App {
                return AppPayParams::sign_v2(
                    v2.key(),
                    sign_type,
                    &app_id,
                    v2.mchid(),
                    &prepay,
                    &timestamp,
                    &nonce,
                )
                .map(|p| p.to_json())
                .map_err(|e| AppError::core_value("client parameters", e));
            }
            JsapiPayParams::sign_v2(v2.key(), sign_type, &app_id, &prepay, &timestamp, &nonce)
                .map(|p| super::jsapi_family_json(channel, &p))
                .map_err(|e| AppError::core_value("client parameters", e))
        }
    }
}

/// `GET /api/native/mode-one-url` query.
#[derive(Debug, Deserialize)]
pub struct ModeOneQuery {
    /// A product id from `GET /api/products`.
    pub product_id: String,
}

/// `GET /api/native/mode-one-url?product_id=…`: the static scan-pay (mode one) QR content
/// for a product, `weixin://wxpay/bizpayurl?sign=…`. Scanning it makes WeChat call
/// `/notify/v2/native-callback`. Only catalogue products are signed, so the endpoint is
/// not a signing oracle for arbitrary ids.
pub async fn mode_one_url(
    State(state): State<SharedState>,
    query: Result<Query<ModeOneQuery>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let Query(query) = query.map_err(query_rejection)?;
    let v2 = payments_v2::client(&state)?;
    let products = state.store.products().await?;
    if !products.iter().any(|p| p.id == query.product_id) {
        return Err(AppError::bad_request(
            "unknown_product",
            format!("no product {:?}", query.product_id),
        ));
    }
    let product = ProductId::new(query.product_id.clone())
        .map_err(|e| AppError::bad_request("invalid_product_id", e.to_string()))?;
    let appid = state
        .apps
        .web_appid()
        .ok_or_else(|| AppError::bad_request("channel_not_configured", "no app configured"))?;
    let app_id = AppId::new(appid).map_err(|e| AppError::core_value("mode-one URL", e))?;
    let timestamp = PayTimestamp::from_unix(state.clock.now())
        .map_err(|e| AppError::core_value("mode-one URL", e))?;
    let nonce =
        NonceStr::new(crate::ids::nonce().map_err(|e| AppError::core_value("mode-one URL", e))?)
            .map_err(|e| AppError::core_value("mode-one URL", e))?;
    let url = CodeUrl::mode_one(v2.key(), &app_id, v2.mchid(), &product, &timestamp, &nonce);
    Ok(Json(
        json!({ "codeUrl": url.as_str(), "product_id": query.product_id }),
    ))
}
