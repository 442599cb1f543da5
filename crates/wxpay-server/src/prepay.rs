//! The pay flow, one path for both API versions: reuse the order's prepay while it is valid
//! for the same route and app, else prepay at WeChat (v3 prepay or v2 unified order), save
//! it while the order is still payable, and sign the client parameters for the channel.
//!
//! Only two steps differ by version: asking WeChat ([`payments::prepay`] or
//! [`payments_v2::unified_order`]) and signing the parameters (RSA with the merchant key,
//! or the API v2 key with the order's v2 sign type).

use std::net::IpAddr;

use serde_json::{json, Value};
use wxpay_core::invoke::{AppPayParams, JsapiPayParams, NonceStr, PayTimestamp};
use wxpay_core::v2::sign::SignType;
use wxpay_core::v3::models::PrepayKind;
use wxpay_core::{AppId, PrepayId};

use crate::channel::{ApiVersion, Channel, PrepayRoute};
use crate::error::AppError;
use crate::payments;
use crate::payments_v2::{self, Payer};
use crate::state::SharedState;
use crate::store::{Order, Prepaid, User};

/// How long a prepay id (and a `code_url`) stays usable.
const PREPAY_TTL_SECS: i64 = 2 * 3600;
/// How long an H5 cashier URL (`h5_url`, v2 `mweb_url`) stays usable.
const H5_URL_TTL_SECS: i64 = 5 * 60;

/// Who pays, through which route, from where.
pub struct PayRequest<'a> {
    /// The payer.
    pub user: &'a User,
    /// The order, payable (NOTPAY or USERPAYING).
    pub order: &'a Order,
    /// Channel and API version.
    pub route: PrepayRoute,
    /// The app the channel pays under.
    pub appid: &'a str,
    /// The payer's IP (H5 `payer_client_ip`, v2 `spbill_create_ip`).
    pub payer_ip: Option<IpAddr>,
    /// Now (Unix seconds).
    pub now: i64,
}

/// Prepays (or reuses the order's valid prepay) and returns the client parameters.
pub async fn pay(state: &SharedState, request: &PayRequest<'_>) -> Result<Value, AppError> {
    let PayRequest {
        order,
        route,
        appid,
        now,
        ..
    } = *request;
    let reused = order.reusable_prepay(route, appid, now);
    // v2 client parameters must use the unified order's sign type: a reused prepay keeps
    // the one recorded with it, a new one the client's (which the unified order records).
    let v2_sign_type = reused.as_ref().and(order.v2_sign_type);
    let Some(reused) = reused else {
        let (prepaid, ttl) = match route.api {
            ApiVersion::V3 => prepay_v3(state, request).await?,
            ApiVersion::V2 => prepay_v2(state, request).await?,
        };
        // Saved only while the order is payable: a close that committed meanwhile wins,
        // and the payer gets no parameters for a closed order. The parameters are signed
        // while the save's commit is on disk (one RSA operation beside one fsync), and
        // handed out only once it is.
        let save =
            state
                .store
                .save_prepay(&order.out_trade_no, route, appid, &prepaid, now + ttl, now);
        let (saved, params) = tokio::join!(save, async {
            client_params(state, request, &prepaid, v2_sign_type)
        });
        if !saved? {
            return Err(payments::prepay_superseded(state, &order.out_trade_no).await);
        }
        return params;
    };
    client_params(state, request, &reused, v2_sign_type)
}

/// What the client pays with: the cashier URL, the QR content, or the signed parameters.
fn client_params(
    state: &SharedState,
    request: &PayRequest<'_>,
    prepaid: &Prepaid,
    v2_sign_type: Option<SignType>,
) -> Result<Value, AppError> {
    let PayRequest {
        route, appid, now, ..
    } = *request;
    let missing = || AppError::unusable_answer("prepay_result_missing");
    match route.channel.prepay_kind() {
        PrepayKind::H5 => Ok(json!({ "h5Url": prepaid.h5_url.as_deref().ok_or_else(missing)? })),
        PrepayKind::Native => {
            Ok(json!({ "codeUrl": prepaid.code_url.as_deref().ok_or_else(missing)? }))
        }
        kind @ (PrepayKind::Jsapi | PrepayKind::App) => {
            let prepay_id = prepaid.prepay_id.as_deref().ok_or_else(missing)?;
            sign_client_params(state, route, kind, appid, prepay_id, v2_sign_type, now)
        }
    }
}

/// How long a prepay of `kind` stays usable: 5 minutes for an H5 cashier URL, 2 hours
/// otherwise.
fn ttl_of(kind: PrepayKind) -> i64 {
    match kind {
        PrepayKind::H5 => H5_URL_TTL_SECS,
        _ => PREPAY_TTL_SECS,
    }
}

async fn prepay_v3(
    state: &SharedState,
    request: &PayRequest<'_>,
) -> Result<(Prepaid, i64), AppError> {
    let kind = request.route.channel.prepay_kind();
    let openid = (kind == PrepayKind::Jsapi).then_some(request.user.openid.as_str());
    let prepaid = payments::prepay(
        state,
        request.order,
        kind,
        request.appid,
        openid,
        request.payer_ip,
    )
    .await?;
    Ok((prepaid, ttl_of(kind)))
}

async fn prepay_v2(
    state: &SharedState,
    request: &PayRequest<'_>,
) -> Result<(Prepaid, i64), AppError> {
    let v2 = payments_v2::client(state)?;
    let kind = request.route.channel.prepay_kind();
    let payer = Payer {
        openid: (kind == PrepayKind::Jsapi).then_some(request.user.openid.as_str()),
        ip: request.payer_ip,
        product_id: None,
    };
    let answer = payments_v2::unified_order(
        state,
        &v2,
        request.order,
        kind.trade_type(),
        request.appid,
        &payer,
    )
    .await?;
    let prepaid = Prepaid {
        prepay_id: Some(answer.prepay_id.as_str().to_owned()),
        h5_url: answer.mweb_url,
        code_url: answer.code_url,
    };
    if !prepaid.serves(kind) {
        return Err(AppError::unusable_answer("mweb_url_or_code_url_missing"));
    }
    Ok((prepaid, ttl_of(kind)))
}

/// The signed parameters of a JSAPI-family or APP prepay.
fn sign_client_params(
    state: &SharedState,
    route: PrepayRoute,
    kind: PrepayKind,
    appid: &str,
    prepay_id: &str,
    v2_sign_type: Option<SignType>,
    now: i64,
) -> Result<Value, AppError> {
    fn bad<E: std::error::Error + Send + Sync + 'static>(source: E) -> AppError {
        AppError::core_value("client parameters", source)
    }
    let app_id = AppId::new(appid).map_err(bad)?;
    let prepay = PrepayId::new(prepay_id).map_err(bad)?;
    let timestamp = PayTimestamp::from_unix(now).map_err(bad)?;
    let nonce = crate::ids::nonce().map_err(bad)?;
    let nonce = NonceStr::new(nonce).map_err(bad)?;
    match (route.api, kind) {
        (ApiVersion::V3, PrepayKind::App) => {
            let (key, mchid) = (state.v3.signer(), state.v3.mchid());
            AppPayParams::sign_v3(key, &app_id, mchid, &prepay, &timestamp, &nonce)
                .map(|p| p.to_json())
                .map_err(bad)
        }
        (ApiVersion::V3, _) => {
            JsapiPayParams::sign_v3(state.v3.signer(), &app_id, &prepay, &timestamp, &nonce)
                .map(|p| jsapi_family_json(route.channel, &p))
                .map_err(bad)
        }
        (ApiVersion::V2, kind) => {
            let v2 = payments_v2::client(state)?;
            let sign_type = v2_sign_type.unwrap_or(v2.sign_type());
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
                .map_err(bad);
            }
            JsapiPayParams::sign_v2(v2.key(), sign_type, &app_id, &prepay, &timestamp, &nonce)
                .map(|p| jsapi_family_json(route.channel, &p))
                .map_err(bad)
        }
    }
}

/// The signed JSAPI bundle in the shape of the channel's client call: `wx.chooseWXPay`
/// (`timestamp` in lower case, no `appId`: it comes from `wx.config`) for `jssdk`;
/// `getBrandWCPayRequest` (`appId`, `timeStamp`) for `jsapi` and `miniprogram`, whose
/// `wx.requestPayment` ignores the extra `appId`. Protocol B.1–B.4.
fn jsapi_family_json(channel: Channel, params: &JsapiPayParams) -> Value {
    if channel == Channel::Jssdk {
        params.choose_wx_pay().to_json()
    } else {
        params.to_json()
    }
}
