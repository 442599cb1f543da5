//! API v2 scan-pay "mode one" (protocol reference B.8): the payer scans a merchant's static
//! product QR, `weixin://wxpay/bizpayurl?sign=…&appid=…&mch_id=…&product_id=…&time_stamp=…&nonce_str=…`.
//! WeChat checks the URL's v2 sign, posts `product_id` and the payer's `openid` to the
//! merchant's 支付回调URL, and expects a signed reply carrying a `prepay_id` the merchant has
//! just created with a NATIVE unified order; the payer then pays that order.
//!
//! The URL's parser and sign check (`ModeOneUrl`), the callback and its reply
//! (`NativeCallback`, `NativeCallbackReply`), the v2 signing and the XML codec are the
//! core's, like everywhere else in the simulator; this module plays WeChat's scanner.

use serde::{Deserialize, Serialize};
use wxpay_core::invoke::{ModeOneUrl, ModeOneUrlError};
use wxpay_core::v2::models::{signed_xml, V2ModelError};
use wxpay_core::v2::native_callback::{NativeCallback, NativeCallbackReply};
use wxpay_core::v2::sign::{verify, ApiV2Key, SignType, V2SignError};
use wxpay_core::v2::xml::{self, XmlError};
use wxpay_core::v3::models::TradeType;
use wxpay_core::OpenId;

use crate::ids::{random_alnum, random_digits};
use crate::lifecycle::{self, apply_expiry, LifecycleError};
use crate::notify::ATTEMPT_TIMEOUT;
use crate::sim::{lock, now_ms, now_unix, Sim};
use crate::state::{order_key, ApiVersion, ModeOneExchange, Order};

pub use wxpay_core::invoke::MODE_ONE_PREFIX;

/// How much of the merchant's reply is kept in the exchange log.
const REPLY_KEEP_CHARS: usize = 2048;

/// Why a mode-one scan did not produce a payable prepay.
///
/// The first group is WeChat refusing the scanned URL itself (nothing is sent to the
/// merchant); the second is the merchant's callback reply being unusable, which WeChat shows
/// the payer as an error instead of a cashier.
#[derive(Debug, thiserror::Error)]
pub enum ModeOneError {
    /// The scanned URL itself is refused: not mode one, malformed, a field missing or
    /// invalid, or a sign that does not verify (the core's parser decides).
    #[error(transparent)]
    Url(#[from] ModeOneUrlError),
    /// The payer's `openid` sent with the scan is not one WeChat would issue.
    #[error("openid: at most 128 ASCII letters, digits, _ and -")]
    InvalidOpenid,
    /// `mch_id` is not a merchant of this simulator.
    #[error("unknown mch_id {0:?}")]
    UnknownMerchant(String),
    /// `appid` is not bound to `mch_id`.
    #[error("appid {appid:?} is not bound to mch_id {mchid:?}")]
    AppIdNotBound {
        /// The URL's appid.
        appid: String,
        /// The URL's mch_id.
        mchid: String,
    },
    /// The merchant has no 支付回调URL configured and the request named none.
    #[error(
        "merchant {0} has no native_callback_url configured and the request gave no callback_url"
    )]
    NoCallbackUrl(String),
    /// The callback could not be delivered (connection refused, timeout).
    #[error("callback to {url} failed: {detail}")]
    CallbackTransport {
        /// Where it was posted.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// The merchant answered with a status other than 2xx.
    #[error("merchant answered the callback with HTTP {status}: {body}")]
    CallbackStatus {
        /// HTTP status.
        status: u16,
        /// Start of the reply body.
        body: String,
    },
    /// The reply is not v2 XML.
    #[error("merchant reply is not v2 XML: {0}")]
    ReplyMalformed(String),
    /// `return_code` is not SUCCESS.
    #[error("merchant reply has return_code FAIL: {0}")]
    ReplyReturnFail(String),
    /// The reply's sign does not verify with the merchant's API v2 key.
    #[error("merchant reply sign does not verify with the API v2 key: {0}")]
    ReplyBadSign(String),
    /// `appid` or `mch_id` in the reply differs from the callback's.
    #[error("merchant reply {field} {found:?} differs from the callback's {expected:?}")]
    ReplyMismatch {
        /// `appid` or `mch_id`.
        field: &'static str,
        /// What the reply carried.
        found: String,
        /// What the callback sent.
        expected: String,
    },
    /// `result_code` is not SUCCESS: the merchant refused (unknown product, sold out…).
    #[error("merchant refused the scan (result_code FAIL): {0}")]
    ReplyRefused(String),
    /// A SUCCESS reply without `prepay_id`.
    #[error("merchant reply has no prepay_id")]
    MissingPrepayId,
    /// The prepay id was not created by this merchant through `/pay/unifiedorder` NATIVE.
    #[error("prepay_id {0:?} was not created by this merchant through /pay/unifiedorder with trade_type NATIVE")]
    UnknownPrepay(String),
    /// The prepay exists but cannot be paid (expired, order closed or paid, another app).
    #[error("prepay_id {prepay_id:?} cannot be paid: {detail}")]
    PrepayUnusable {
        /// The prepay id.
        prepay_id: String,
        /// Why.
        detail: String,
    },
    /// `pay: true` was asked for and paying the accepted order failed.
    #[error("paying the order failed: {0}")]
    Pay(#[from] LifecycleError),
    /// The simulator could not build the callback: the merchant's API v2 key in the
    /// configuration is unusable.
    #[error("simulator could not build the callback: {0}")]
    MerchantKey(#[source] V2SignError),
    /// The simulator could not build the callback: the signed XML did not encode.
    #[error("simulator could not build the callback: {0}")]
    CallbackXml(#[source] XmlError),
}

impl ModeOneError {
    /// Stable snake_case code, used as the exchange log's `outcome` and the control API's `reason`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Url(ModeOneUrlError::NotModeOne(_)) => "not_mode_one",
            Self::Url(ModeOneUrlError::Malformed(_)) => "malformed_url",
            Self::Url(ModeOneUrlError::MissingParameter("sign")) => "unsigned_url",
            Self::Url(ModeOneUrlError::MissingParameter(_)) => "missing_parameter",
            Self::Url(ModeOneUrlError::InvalidParameter { .. }) | Self::InvalidOpenid => {
                "invalid_parameter"
            }
            Self::Url(ModeOneUrlError::BadSign) => "bad_url_sign",
            Self::UnknownMerchant(_) => "unknown_merchant",
            Self::AppIdNotBound { .. } => "appid_not_bound",
            Self::NoCallbackUrl(_) => "no_callback_url",
            Self::CallbackTransport { .. } => "callback_unreachable",
            Self::CallbackStatus { .. } => "callback_http_error",
            Self::ReplyMalformed(_) => "reply_malformed",
            Self::ReplyReturnFail(_) => "reply_return_fail",
            Self::ReplyBadSign(_) => "reply_bad_sign",
            Self::ReplyMismatch { .. } => "reply_mismatch",
            Self::ReplyRefused(_) => "reply_refused",
            Self::MissingPrepayId => "reply_without_prepay_id",
            Self::UnknownPrepay(_) => "unknown_prepay",
            Self::PrepayUnusable { .. } => "prepay_unusable",
            Self::Pay(_) => "pay_failed",
            Self::MerchantKey(_) | Self::CallbackXml(_) => "internal",
        }
    }

    /// HTTP status for the control API: 400 for a refused URL or request, 409 when the
    /// simulator state does not allow it, 502 when the merchant's side failed.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Url(_)
            | Self::InvalidOpenid
            | Self::UnknownMerchant(_)
            | Self::AppIdNotBound { .. } => 400,
            Self::NoCallbackUrl(_) | Self::Pay(_) => 409,
            Self::MerchantKey(_) | Self::CallbackXml(_) => 500,
            _ => 502,
        }
    }
}

/// A payer scanning a mode-one QR (`POST /__sim/mode-one/scan`).
#[derive(Debug, Clone, Deserialize)]
pub struct ScanRequest {
    /// The scanned `weixin://wxpay/bizpayurl?sign=…` URL.
    pub code_url: String,
    /// The payer; a fresh `oSim…` openid when absent.
    #[serde(default)]
    pub openid: Option<String>,
    /// Overrides the merchant's configured `native_callback_url` (tests).
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Pay the returned order at once (the v2 pay notification then follows as usual).
    #[serde(default)]
    pub pay: bool,
}

impl ScanRequest {
    /// A scan of `code_url` with every option at its default.
    pub fn new(code_url: impl Into<String>) -> Self {
        Self {
            code_url: code_url.into(),
            openid: None,
            callback_url: None,
            pay: false,
        }
    }
}

/// What an accepted scan produced.
#[derive(Debug, Clone, Serialize)]
pub struct ScanOutcome {
    /// The merchant (the URL's `mch_id`).
    pub mchid: String,
    /// The prepay id from the merchant's reply.
    pub prepay_id: String,
    /// The order behind it.
    pub out_trade_no: String,
    /// The payer's openid that was sent to the merchant.
    pub openid: String,
    /// Sequence number of the exchange in `GET /__sim/mode-one`.
    pub exchange: u64,
    /// The order after payment, when `pay` was asked for.
    pub order: Option<Order>,
}

/// Runs one scan end to end and records the exchange, whatever its outcome.
pub async fn scan(sim: &Sim, request: ScanRequest) -> Result<ScanOutcome, ModeOneError> {
    let openid = request
        .openid
        .clone()
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| format!("oSim{}", random_digits(24)));
    let mut exchange = ModeOneExchange {
        seq: 0,
        at_ms: now_ms(),
        code_url: request.code_url.clone(),
        mchid: String::new(),
        product_id: String::new(),
        openid: openid.clone(),
        callback_url: None,
        request: None,
        reply_status: None,
        reply: None,
        outcome: "ok".into(),
        error: None,
        prepay_id: None,
        out_trade_no: None,
    };
    let result = run(sim, &request, &openid, &mut exchange).await;
    if let Err(e) = &result {
        exchange.outcome = e.reason_code().into();
        exchange.error = Some(e.to_string());
    }
    let seq = {
        let mut world = lock(&sim.world);
        let seq = u64::try_from(world.mode_one.len()).unwrap_or(u64::MAX - 1) + 1;
        exchange.seq = seq;
        world.mode_one.push(exchange);
        seq
    };
    sim.persist();
    result.map(|outcome| ScanOutcome {
        exchange: seq,
        ..outcome
    })
}

/// The payer's openid as the core's type: WeChat issues nothing else.
fn check_openid(openid: &str) -> Result<OpenId, ModeOneError> {
    OpenId::new(openid).map_err(|_| ModeOneError::InvalidOpenid)
}

async fn run(
    sim: &Sim,
    request: &ScanRequest,
    openid: &str,
    exchange: &mut ModeOneExchange,
) -> Result<ScanOutcome, ModeOneError> {
    let url = ModeOneUrl::parse(&request.code_url)?;
    exchange.mchid = url.mch_id.as_str().to_owned();
    exchange.product_id = url.product_id.as_str().to_owned();
    let payer = check_openid(openid)?;
    let merchant = sim
        .merchants
        .get(url.mch_id.as_str())
        .ok_or_else(|| ModeOneError::UnknownMerchant(url.mch_id.as_str().to_owned()))?;
    if !merchant
        .config
        .appids
        .iter()
        .any(|a| a == url.app_id.as_str())
    {
        return Err(ModeOneError::AppIdNotBound {
            appid: url.app_id.as_str().to_owned(),
            mchid: url.mch_id.as_str().to_owned(),
        });
    }
    let key =
        ApiV2Key::new(merchant.config.apiv2_key.expose()).map_err(ModeOneError::MerchantKey)?;
    url.verify(&key)?;
    let callback_url = request
        .callback_url
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| merchant.config.native_callback_url.clone())
        .ok_or_else(|| ModeOneError::NoCallbackUrl(url.mch_id.as_str().to_owned()))?;
    exchange.callback_url = Some(callback_url.clone());

    let callback = NativeCallback {
        appid: url.app_id.clone(),
        mch_id: url.mch_id.clone(),
        openid: payer,
        product_id: url.product_id.as_str().to_owned(),
        is_subscribe: Some("N".to_owned()),
        nonce_str: random_alnum(32),
    };
    let body =
        signed_xml(callback.to_params(), &key, SignType::Md5).map_err(ModeOneError::CallbackXml)?;
    exchange.request = Some(body.clone());

    let response = sim
        .http
        .post(&callback_url)
        .timeout(ATTEMPT_TIMEOUT)
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .map_err(|e| ModeOneError::CallbackTransport {
            url: callback_url.clone(),
            detail: e.to_string(),
        })?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| ModeOneError::CallbackTransport {
            url: callback_url.clone(),
            detail: e.to_string(),
        })?;
    exchange.reply_status = Some(status);
    exchange.reply = Some(text.chars().take(REPLY_KEEP_CHARS).collect());
    if !(200..300).contains(&status) {
        return Err(ModeOneError::CallbackStatus {
            status,
            body: text.chars().take(200).collect(),
        });
    }
    let reply = xml::parse(text.as_bytes(), xml::DEFAULT_MAX_LEN)
        .map_err(|e| ModeOneError::ReplyMalformed(e.to_string()))?;
    if let Err(failed) = NativeCallbackReply::check_return_code(&reply) {
        let return_msg = match failed {
            V2ModelError::Communication { return_msg, .. } => return_msg,
            other => other.to_string(),
        };
        return Err(ModeOneError::ReplyReturnFail(return_msg));
    }
    // The callback goes out MD5 and the reply must come back MD5 (both `sign` fields are 32
    // characters wide in WeChat's pages).
    verify(&reply, &key, SignType::Md5).map_err(|e| ModeOneError::ReplyBadSign(e.to_string()))?;
    let get = |name: &str| reply.get(name).map(String::as_str).unwrap_or_default();
    for (field, expected) in [
        ("appid", url.app_id.as_str()),
        ("mch_id", url.mch_id.as_str()),
    ] {
        if get(field) != expected {
            return Err(ModeOneError::ReplyMismatch {
                field,
                found: get(field).to_owned(),
                expected: expected.to_owned(),
            });
        }
    }
    let accepted = NativeCallbackReply::from_params(&reply).map_err(|e| match e {
        V2ModelError::Business {
            err_code,
            err_code_des,
        } => ModeOneError::ReplyRefused(
            [err_code_des, err_code]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or_else(|| "no err_code_des".to_owned()),
        ),
        V2ModelError::Missing("prepay_id") => ModeOneError::MissingPrepayId,
        other => ModeOneError::ReplyMalformed(other.to_string()),
    })?;
    let prepay_id = accepted.prepay_id.as_str();
    let order = accept_prepay(sim, &url, prepay_id, openid)?;
    exchange.prepay_id = Some(prepay_id.to_owned());
    exchange.out_trade_no = Some(order.out_trade_no.clone());
    let paid = if request.pay {
        let key = order_key(&order.mchid, &order.out_trade_no);
        Some(lifecycle::pay(sim, &key, Some(openid))?)
    } else {
        None
    };
    Ok(ScanOutcome {
        mchid: order.mchid.clone(),
        prepay_id: prepay_id.to_owned(),
        out_trade_no: order.out_trade_no,
        openid: openid.to_owned(),
        exchange: 0,
        order: paid,
    })
}

/// Finds the order behind the merchant's prepay id, checks the payer could pay it now, and
/// binds it to the scanning payer.
fn accept_prepay(
    sim: &Sim,
    url: &ModeOneUrl,
    prepay_id: &str,
    openid: &str,
) -> Result<Order, ModeOneError> {
    let now = now_unix();
    let mut world = lock(&sim.world);
    let order = world
        .orders
        .values_mut()
        .find(|o| {
            o.prepay_id == prepay_id
                && o.mchid == url.mch_id.as_str()
                && o.api == ApiVersion::V2
                && o.trade_type == TradeType::Native
        })
        .ok_or_else(|| ModeOneError::UnknownPrepay(prepay_id.to_owned()))?;
    apply_expiry(order, now);
    let unusable = |detail: String| ModeOneError::PrepayUnusable {
        prepay_id: prepay_id.to_owned(),
        detail,
    };
    if order.appid != url.app_id.as_str() {
        return Err(unusable(format!(
            "it was created for appid {}, the QR names {}",
            order.appid,
            url.app_id.as_str()
        )));
    }
    if now >= order.prepay_expires_at {
        return Err(unusable("the prepay has expired (2 h)".into()));
    }
    if !order.trade_state.is_pending() {
        return Err(unusable(format!(
            "order {} is {}",
            order.out_trade_no,
            order.trade_state.as_str()
        )));
    }
    // The order now belongs to whoever scanned: WeChat opens its cashier for that payer.
    if order.payer_openid.is_none() {
        order.payer_openid = Some(openid.to_owned());
    }
    Ok(order.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openid_shape_is_checked() {
        assert!(check_openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").is_ok());
        assert!(check_openid("o<x>").is_err());
        assert!(check_openid(&"o".repeat(129)).is_err());
    }

    #[test]
    fn core_url_errors_keep_their_reason_codes() {
        let unsigned = ModeOneError::from(ModeOneUrlError::MissingParameter("sign"));
        assert_eq!(unsigned.reason_code(), "unsigned_url");
        assert_eq!(
            ModeOneError::from(ModeOneUrlError::BadSign).reason_code(),
            "bad_url_sign"
        );
    }
}
