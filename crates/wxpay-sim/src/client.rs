//! The payer's WeChat app. When a page or mini-program asks WeChat to pay
//! (`getBrandWCPayRequest`, `wx.chooseWXPay`, `wx.requestPayment`, the APP SDK), WeChat's
//! client checks the bundle before it shows the cashier: field names and types, that the
//! prepay id exists, belongs to the calling app and is still valid, and the merchant's
//! `paySign`. `wx.config` is checked against the app's current `jsapi_ticket`.
//!
//! Browser and mini-program stand-ins in tests forward those calls here (`/__sim/client/…`), so
//! a merchant's signed parameters meet the same checks they would in WeChat, and the payer's
//! choice then moves the order exactly as the cashier pages do.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wxpay_core::invoke::{
    format_for, parse_app_bundle, parse_jsapi_bundle, PaySignType, Surface, PREPAY_PACKAGE_PREFIX,
};
use wxpay_core::jssdk::config_signature;
use wxpay_core::v2::sign::{verify, ApiV2Key, SignType as V2SignType};
use wxpay_core::v3::models::TradeType;
use wxpay_core::TradeState;

use crate::lifecycle::{self, apply_expiry};
use crate::sim::{lock, now_unix, Sim};
use crate::state::{order_key, ApiVersion, Order};

/// How long a `jsapi_ticket` signs `wx.config` (the same two hours the ticket endpoint uses).
const TICKET_TTL_SECS: i64 = crate::login::TOKEN_TTL;

/// What the payer does once WeChat shows the cashier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayerChoice {
    /// Confirms and pays.
    #[default]
    Pay,
    /// Closes the cashier.
    Cancel,
    /// The payment fails (e.g. the card is declined): the order becomes `PAYERROR`.
    Fail,
}

/// A platform pay call as the page made it.
#[derive(Debug, Clone, Deserialize)]
pub struct PayCall {
    /// The calling surface, by the core's ids: `weixin-js-bridge`, `js-sdk`, `mini-program`,
    /// `uni-mp-weixin`, `app`, `uni-app`.
    pub surface: String,
    /// Exactly the object the page passed (callbacks left out).
    pub params: Value,
    /// The app the call runs in, for surfaces whose bundle names none: the mini-program's
    /// appid, or the Official Account the page's `wx.config` named (`js-sdk`).
    #[serde(default)]
    pub appid: Option<String>,
    /// What the payer does if WeChat lets them choose.
    #[serde(default)]
    pub choice: PayerChoice,
    /// Who pays, when the order does not name a payer yet.
    #[serde(default)]
    pub openid: Option<String>,
}

/// Why WeChat's client refused a call before showing the cashier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Stable code: `PARAMETER`, `APPID_REQUIRED`, `PREPAY_NOT_FOUND`, `APPID_MISMATCH`,
    /// `MCHID_MISMATCH`, `TRADE_TYPE`, `PREPAY_EXPIRED`, `SIGN_TYPE`, `SIGNATURE`,
    /// `ORDER_PAID`, `ORDER_CLOSED`, `ORDER_FAILED`, `ORDER_CHANGED` (moved while checked).
    pub code: &'static str,
    /// What WeChat shows or returns, with the detail a developer needs.
    pub message: String,
}

/// What a pay call gave back.
#[derive(Debug, Clone, Serialize)]
pub struct PayReply {
    /// The object the platform hands to the page's callback, in that surface's shape
    /// (`{"err_msg": "get_brand_wcpay_request:ok"}`, `{"errMsg": "requestPayment:fail cancel"}`, …).
    pub result: Value,
    /// The order the bundle pointed at, when one was found.
    pub out_trade_no: Option<String>,
    /// Set when the payer never got to choose.
    pub refused: Option<Refusal>,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// The parts of any pay bundle that WeChat checks.
struct Bundle {
    appid: String,
    prepay_id: String,
    /// `Some` for APP bundles (`partnerid`).
    partnerid: Option<String>,
    /// The `signType` the bundle states; APP bundles state none.
    sign_type: Option<PaySignType>,
    signature: String,
    /// The v3 message the RSA signature covers.
    v3_message: String,
    /// The fields the v2 signature covers.
    v2_fields: Vec<(&'static str, String)>,
    trade_type: TradeType,
}

fn surface_of(id: &str) -> Option<Surface> {
    Surface::from_id(id).filter(|s| !matches!(s, Surface::H5 | Surface::Native))
}

fn bundle(surface: Surface, call: &PayCall) -> Result<Bundle, Refusal> {
    let formatted = format_for(surface, &call.params)
        .map_err(|e| refuse("PARAMETER", format!("parameter error: {e}")))?;
    match surface {
        Surface::App | Surface::UniApp => {
            let info = formatted.get("orderInfo").unwrap_or(&formatted);
            let app = parse_app_bundle(info)
                .map_err(|e| refuse("PARAMETER", format!("parameter error: {e}")))?;
            Ok(Bundle {
                appid: app.appid().to_owned(),
                prepay_id: app.prepayid().to_owned(),
                partnerid: Some(app.partnerid().to_owned()),
                sign_type: None,
                signature: app.sign().to_owned(),
                v3_message: app.message(),
                v2_fields: vec![
                    ("appid", app.appid().to_owned()),
                    ("noncestr", app.noncestr().to_owned()),
                    ("package", "Sign=WXPay".to_owned()),
                    ("partnerid", app.partnerid().to_owned()),
                    ("prepayid", app.prepayid().to_owned()),
                    ("timestamp", app.timestamp().to_owned()),
                ],
                trade_type: TradeType::App,
            })
        }
        _ => {
            // Bring every JSAPI-family shape to the `getBrandWCPayRequest` one.
            let mut full = formatted;
            if let Some(ts) = full.as_object_mut().and_then(|o| o.remove("timestamp")) {
                full["timeStamp"] = ts;
            }
            if surface != Surface::WeixinJsBridge {
                let appid = call.appid.clone().ok_or_else(|| {
                    refuse(
                        "APPID_REQUIRED",
                        "this surface's bundle names no appid: pass the running app's appid",
                    )
                })?;
                full["appId"] = Value::String(appid);
            }
            let p = parse_jsapi_bundle(&full)
                .map_err(|e| refuse("PARAMETER", format!("parameter error: {e}")))?;
            let prepay_id = p
                .package()
                .strip_prefix(PREPAY_PACKAGE_PREFIX)
                .unwrap_or_default()
                .to_owned();
            Ok(Bundle {
                appid: p.app_id().to_owned(),
                prepay_id,
                partnerid: None,
                sign_type: Some(p.sign_type()),
                signature: p.pay_sign().to_owned(),
                v3_message: p.message(),
                v2_fields: vec![
                    ("appId", p.app_id().to_owned()),
                    ("nonceStr", p.nonce_str().to_owned()),
                    ("package", p.package().to_owned()),
                    ("signType", p.sign_type().as_str().to_owned()),
                    ("timeStamp", p.time_stamp().to_owned()),
                ],
                trade_type: TradeType::Jsapi,
            })
        }
    }
}

/// Checks the merchant's signature the way WeChat does: RSA with one of the merchant's API
/// certificates for v3 orders, the v2 key with the unified order's algorithm for v2 ones.
fn check_signature(sim: &Sim, order: &Order, b: &Bundle) -> Result<(), Refusal> {
    let bad = || refuse("SIGNATURE", "支付验证签名失败 (paySign does not verify)");
    match order.api {
        ApiVersion::V3 => {
            if let Some(stated) = b.sign_type.filter(|t| *t != PaySignType::Rsa) {
                return Err(refuse(
                    "SIGN_TYPE",
                    format!(
                        "an API v3 prepay id is paid with signType RSA, not {}",
                        stated.as_str()
                    ),
                ));
            }
            let signature = BASE64.decode(&b.signature).map_err(|_| bad())?;
            let merchant = sim.merchants.get(&order.mchid).ok_or_else(bad)?;
            let verified = merchant
                .certs
                .iter()
                .any(|c| c.key.verify_sha256(b.v3_message.as_bytes(), &signature));
            verified.then_some(()).ok_or_else(bad)
        }
        ApiVersion::V2 => {
            let used = order.v2_sign_type.as_deref().unwrap_or("MD5");
            let sign_type = V2SignType::parse(used).unwrap_or_default();
            if let Some(stated) = b.sign_type.filter(|t| t.as_str() != sign_type.as_str()) {
                return Err(refuse(
                    "SIGN_TYPE",
                    format!(
                        "the unified order used {used}; signType is {}",
                        stated.as_str()
                    ),
                ));
            }
            let key = sim
                .merchants
                .get(&order.mchid)
                .and_then(|m| ApiV2Key::new(m.config.apiv2_key.expose()).ok())
                .ok_or_else(bad)?;
            let mut fields: BTreeMap<String, String> = b
                .v2_fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            fields.insert("sign".into(), b.signature.clone());
            verify(&fields, &key, sign_type).map_err(|_| bad())
        }
    }
}

/// Finds the order and runs every check WeChat's client makes before the cashier opens.
fn admit(sim: &Sim, b: &Bundle) -> Result<Order, (Option<String>, Refusal)> {
    let now = now_unix();
    let order = {
        let mut world = lock(&sim.world);
        let order = world
            .orders
            .values_mut()
            .find(|o| o.prepay_id == b.prepay_id)
            .ok_or_else(|| {
                (
                    None,
                    refuse(
                        "PREPAY_NOT_FOUND",
                        format!("prepay_id {} is not valid", b.prepay_id),
                    ),
                )
            })?;
        apply_expiry(order, now);
        order.clone()
    };
    let otn = Some(order.out_trade_no.clone());
    let fail = |r: Refusal| (otn.clone(), r);
    if order.appid != b.appid {
        return Err(fail(refuse(
            "APPID_MISMATCH",
            format!(
                "商户传入的appid参数不正确: the prepay id belongs to {}, the call came from {}",
                order.appid, b.appid
            ),
        )));
    }
    if let Some(partnerid) = &b.partnerid {
        if *partnerid != order.mchid {
            return Err(fail(refuse(
                "MCHID_MISMATCH",
                format!("partnerid {partnerid} did not create this prepay id"),
            )));
        }
    }
    if order.trade_type != b.trade_type {
        return Err(fail(refuse(
            "TRADE_TYPE",
            format!(
                "a {} prepay id cannot be paid through a {} call",
                order.trade_type, b.trade_type
            ),
        )));
    }
    if now >= order.prepay_expires_at {
        return Err(fail(refuse(
            "PREPAY_EXPIRED",
            "支付请求已失效 (the prepay id is older than 2 hours)",
        )));
    }
    check_signature(sim, &order, b).map_err(fail)?;
    match order.trade_state {
        TradeState::Success | TradeState::Refund => Err(fail(refuse("ORDER_PAID", "该订单已支付"))),
        TradeState::Closed | TradeState::Revoked => {
            Err(fail(refuse("ORDER_CLOSED", "该订单已关闭")))
        }
        TradeState::PayError => Err(fail(refuse(
            "ORDER_FAILED",
            "支付失败，请重新下单支付 (a failed order needs a new order)",
        ))),
        _ => Ok(order),
    }
}

/// The callback object for an outcome, in the surface's own shape.
fn result_for(surface: Surface, outcome: Result<PayerChoice, &Refusal>) -> Value {
    let detail = outcome.err().map(|r| r.message.clone()).unwrap_or_default();
    match surface {
        Surface::WeixinJsBridge => match outcome {
            Ok(PayerChoice::Pay) => json!({ "err_msg": "get_brand_wcpay_request:ok" }),
            Ok(PayerChoice::Cancel) => json!({ "err_msg": "get_brand_wcpay_request:cancel" }),
            _ => json!({ "err_msg": "get_brand_wcpay_request:fail", "err_desc": detail }),
        },
        Surface::JsSdk => match outcome {
            Ok(PayerChoice::Pay) => json!({ "errMsg": "chooseWXPay:ok" }),
            Ok(PayerChoice::Cancel) => json!({ "errMsg": "chooseWXPay:cancel" }),
            Ok(PayerChoice::Fail) => json!({ "errMsg": "chooseWXPay:fail" }),
            Err(_) => json!({ "errMsg": format!("chooseWXPay:fail {detail}") }),
        },
        Surface::App => match outcome {
            Ok(PayerChoice::Pay) => json!({ "errCode": 0 }),
            Ok(PayerChoice::Cancel) => json!({ "errCode": -2 }),
            _ => json!({ "errCode": -1, "errStr": detail }),
        },
        Surface::UniApp => match outcome {
            Ok(PayerChoice::Pay) => json!({ "errMsg": "requestPayment:ok" }),
            Ok(PayerChoice::Cancel) => {
                json!({ "errMsg": "requestPayment:fail [payment微信:-2]User canceled", "code": -2 })
            }
            _ => {
                json!({ "errMsg": "requestPayment:fail [payment微信:-1]General errors", "code": -1 })
            }
        },
        // Mini-program and uni mp-weixin. A signature error is shown in a dialog and then
        // reported as a cancel, as merchants observe (frontends.md, §7).
        _ => match outcome {
            Ok(PayerChoice::Pay) => json!({ "errMsg": "requestPayment:ok" }),
            Ok(PayerChoice::Cancel) => json!({ "errMsg": "requestPayment:fail cancel" }),
            Ok(PayerChoice::Fail) => json!({ "errMsg": "requestPayment:fail" }),
            Err(r) if r.code == "SIGNATURE" => json!({ "errMsg": "requestPayment:fail cancel" }),
            Err(_) => json!({ "errMsg": format!("requestPayment:fail {detail}") }),
        },
    }
}

/// Plays WeChat's client for one pay call. `Err` only for a call no page could make (an
/// unknown surface); everything WeChat would refuse is a [`PayReply`] with `refused`.
pub fn pay(sim: &Sim, call: &PayCall) -> Result<PayReply, String> {
    let surface = surface_of(&call.surface).ok_or_else(|| {
        format!(
            "unknown surface {:?}: use weixin-js-bridge, js-sdk, mini-program, uni-mp-weixin, app or uni-app",
            call.surface
        )
    })?;
    let refused = |out_trade_no: Option<String>, r: Refusal| PayReply {
        result: result_for(surface, Err(&r)),
        out_trade_no,
        refused: Some(r),
    };
    let b = match bundle(surface, call) {
        Ok(b) => b,
        Err(r) => return Ok(refused(None, r)),
    };
    let order = match admit(sim, &b) {
        Ok(order) => order,
        Err((otn, r)) => return Ok(refused(otn, r)),
    };
    let key = order_key(&order.mchid, &order.out_trade_no);
    let moved = match call.choice {
        PayerChoice::Pay => lifecycle::pay(sim, &key, call.openid.as_deref()).map(drop),
        PayerChoice::Fail => lifecycle::set_unpaid_state(sim, &key, TradeState::PayError).map(drop),
        PayerChoice::Cancel if order.trade_state == TradeState::UserPaying => {
            lifecycle::set_unpaid_state(sim, &key, TradeState::NotPay).map(drop)
        }
        PayerChoice::Cancel => Ok(()),
    };
    // The order can change between the checks and the move (a notification, a close).
    if let Err(e) = moved {
        return Ok(refused(
            Some(order.out_trade_no),
            refuse("ORDER_CHANGED", e.to_string()),
        ));
    }
    Ok(PayReply {
        result: result_for(surface, Ok(call.choice)),
        out_trade_no: Some(order.out_trade_no),
        refused: None,
    })
}

/// A page's `wx.config` call, plus the page URL WeChat reads from the web view.
#[derive(Debug, Clone, Deserialize)]
pub struct ConfigCall {
    /// `appId`.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// `timestamp` (number or string, as pages pass either).
    pub timestamp: Value,
    /// `nonceStr`.
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `signature`.
    pub signature: String,
    /// The page's `location.href` (the fragment is ignored, as WeChat does).
    pub url: String,
}

/// Checks `wx.config`: the signature must be the SHA-1 over the app's current, unexpired
/// `jsapi_ticket`, the nonce, the timestamp and the page URL. Returns the callback object:
/// `{"errMsg": "config:ok"}` or `{"errMsg": "config:invalid signature"}` (WeChat's 63002).
pub fn config(sim: &Sim, call: &ConfigCall) -> Value {
    let invalid = json!({ "errMsg": "config:invalid signature" });
    let timestamp = match &call.timestamp {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let Some(timestamp) = timestamp else {
        return invalid;
    };
    let ticket = {
        let world = lock(&sim.world);
        match world.tickets.get(&call.app_id) {
            Some((ticket, issued)) if now_unix().saturating_sub(*issued) < TICKET_TTL_SECS => {
                ticket.clone()
            }
            _ => return invalid,
        }
    };
    match config_signature(&ticket, &call.nonce_str, timestamp, &call.url) {
        Ok((_, expected)) if expected.eq_ignore_ascii_case(&call.signature) => {
            json!({ "errMsg": "config:ok" })
        }
        _ => invalid,
    }
}
