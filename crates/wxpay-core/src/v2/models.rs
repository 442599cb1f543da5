//! v2 order messages: unified order (JSAPI, NATIVE, MWEB, APP), orderquery, closeorder and
//! the payment notification (protocol.md E.3, E.4).
//!
//! Each type converts to and from the flat parameter map ([`Params`]); signing and XML
//! are separate steps ([`signed_request_xml`](super::fields::signed_request_xml) for requests,
//! [`signed_xml`](super::fields::signed_xml) for answers, [`verify`](super::sign::verify)).
//! Requests have `from_params` too, so the simulator can read what the server sends.

use std::net::IpAddr;

use super::fields::{check_nonce, Fields, ParamsBuilder};
pub use super::fields::{
    check_result_code, check_return_code, check_success, notify_fail_reply, signed_request_xml,
    signed_xml, BusinessFailure, Params, ReturnFailure, V2ModelError, FAIL, NOTIFY_SUCCESS_REPLY,
    SUCCESS,
};
use super::time::{format_v2_time, parse_v2_time};
use crate::ids::{AppId, MchId, OpenId, OutTradeNo, PrepayId, TransactionId};
use crate::state::TradeState;
use crate::v3::models::{NotifyUrl, TradeType};
use crate::values::{Amount, Attach, Description};

/// Which order a query, close or refund names: WeChat's number wins when both are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// `transaction_id`.
    TransactionId(TransactionId),
    /// `out_trade_no`.
    OutTradeNo(OutTradeNo),
}

impl OrderRef {
    pub(crate) fn write(&self, b: ParamsBuilder) -> ParamsBuilder {
        match self {
            Self::TransactionId(t) => b.set("transaction_id", t),
            Self::OutTradeNo(o) => b.set("out_trade_no", o),
        }
    }

    pub(crate) fn read(f: &Fields<'_>) -> Result<Self, V2ModelError> {
        if let Some(t) = f.opt_typed("transaction_id", TransactionId::new)? {
            return Ok(Self::TransactionId(t));
        }
        match f.opt_typed("out_trade_no", OutTradeNo::new)? {
            Some(o) => Ok(Self::OutTradeNo(o)),
            None => Err(V2ModelError::Missing("out_trade_no")),
        }
    }
}

/// `POST /pay/unifiedorder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedOrderRequest {
    /// The appid.
    pub appid: AppId,
    /// `mch_id` (note the underscore in v2).
    pub mch_id: MchId,
    /// Device, `WEB` for web and JSAPI.
    pub device_info: Option<String>,
    /// Random string, at most 32 characters.
    pub nonce_str: String,
    /// `body`: shown to the payer (v2 allows 128 bytes; the v3 type's 127 is used).
    pub body: Description,
    /// Merchant data echoed back; v2 allows 127 bytes.
    pub attach: Option<Attach>,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// `total_fee` in fen.
    pub total_fee: Amount,
    /// The payer's IP (`spbill_create_ip`).
    pub spbill_create_ip: IpAddr,
    /// `time_start`, Unix seconds (written as Beijing-time `yyyyMMddHHmmss`).
    pub time_start: Option<i64>,
    /// `time_expire`, Unix seconds.
    pub time_expire: Option<i64>,
    /// Where the payment notification goes.
    pub notify_url: NotifyUrl,
    /// `JSAPI`, `NATIVE`, `APP` or `MWEB`.
    pub trade_type: TradeType,
    /// Required for NATIVE.
    pub product_id: Option<String>,
    /// Required for JSAPI.
    pub openid: Option<OpenId>,
    /// Required for MWEB: a JSON string such as `{"h5_info":{"type":"Wap",…}}`.
    pub scene_info: Option<String>,
}

impl UnifiedOrderRequest {
    /// Checks the trade-type rules (E.3) and the v2-specific limits.
    pub fn validate(&self) -> Result<(), V2ModelError> {
        check_nonce(&self.nonce_str)?;
        match &self.trade_type {
            TradeType::Jsapi if self.openid.is_none() => {
                return Err(V2ModelError::Missing("openid"))
            }
            TradeType::Native if self.product_id.is_none() => {
                return Err(V2ModelError::Missing("product_id"))
            }
            TradeType::Mweb if self.scene_info.is_none() => {
                return Err(V2ModelError::Missing("scene_info"))
            }
            TradeType::Jsapi | TradeType::Native | TradeType::Mweb | TradeType::App => {}
            other => {
                return Err(V2ModelError::invalid(
                    "trade_type",
                    format!("{other} is not a v2 unified-order type"),
                ))
            }
        }
        if matches!(&self.attach, Some(a) if a.as_str().len() > 127) {
            return Err(V2ModelError::invalid(
                "attach",
                "v2 allows at most 127 bytes",
            ));
        }
        if matches!(&self.product_id, Some(p) if p.is_empty() || p.len() > 32) {
            return Err(V2ModelError::invalid("product_id", "must be 1-32 bytes"));
        }
        if let Some(scene) = &self.scene_info {
            serde_json::from_str::<serde_json::Value>(scene)
                .map_err(|e| V2ModelError::invalid("scene_info", e))?;
        }
        Ok(())
    }

    /// The unsigned parameters, after [`Self::validate`].
    pub fn to_params(&self) -> Result<Params, V2ModelError> {
        self.validate()?;
        let time = |t: Option<i64>, field| {
            t.map(format_v2_time)
                .transpose()
                .map_err(|e| V2ModelError::invalid(field, e))
        };
        Ok(ParamsBuilder::default()
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .opt("device_info", self.device_info.as_ref())
            .set("nonce_str", &self.nonce_str)
            .set("body", self.body.as_str())
            .opt("attach", self.attach.as_ref().map(Attach::as_str))
            .set("out_trade_no", &self.out_trade_no)
            .set("fee_type", "CNY")
            .set("total_fee", self.total_fee.fen())
            .set("spbill_create_ip", self.spbill_create_ip)
            .opt("time_start", time(self.time_start, "time_start")?)
            .opt("time_expire", time(self.time_expire, "time_expire")?)
            .set("notify_url", &self.notify_url)
            .set("trade_type", &self.trade_type)
            .opt("product_id", self.product_id.as_ref())
            .opt("openid", self.openid.as_ref())
            .opt("scene_info", self.scene_info.as_ref())
            .build())
    }

    /// Reads a received request (simulator side) and applies [`Self::validate`].
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        Self::from_params_over_private_line(params, &[] as &[&str])
    }

    /// Like [`Self::from_params`], accepting a plain-`http://` `notify_url` to one of
    /// `private_hosts` ([`NotifyUrl::new_over_private_line`]).
    pub fn from_params_over_private_line<S: AsRef<str>>(
        params: &Params,
        private_hosts: &[S],
    ) -> Result<Self, V2ModelError> {
        let f = Fields(params);
        if matches!(f.opt("fee_type"), Some(c) if c != "CNY") {
            return Err(V2ModelError::invalid("fee_type", "must be CNY"));
        }
        let time = |name| f.opt_typed(name, parse_v2_time);
        let request = Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            device_info: f.opt_string("device_info"),
            nonce_str: f.req("nonce_str")?.to_owned(),
            body: f.req_typed("body", Description::new)?,
            attach: f.opt_typed("attach", Attach::new)?,
            out_trade_no: f.req_typed("out_trade_no", OutTradeNo::new)?,
            total_fee: f.req_typed("total_fee", |s| {
                s.parse::<i64>()
                    .map_err(|e| e.to_string())
                    .and_then(|n| Amount::from_fen(n).map_err(|e| e.to_string()))
            })?,
            spbill_create_ip: f.req_typed("spbill_create_ip", str::parse::<IpAddr>)?,
            time_start: time("time_start")?,
            time_expire: time("time_expire")?,
            notify_url: f.req_typed("notify_url", |url| {
                NotifyUrl::new_over_private_line(url, private_hosts)
            })?,
            trade_type: TradeType::parse(f.req("trade_type")?),
            product_id: f.opt_string("product_id"),
            openid: f.opt_typed("openid", OpenId::new)?,
            scene_info: f.opt_string("scene_info"),
        };
        request.validate()?;
        Ok(request)
    }
}

/// A successful unified-order answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedOrderResponse {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// The trade type ordered.
    pub trade_type: TradeType,
    /// The prepay session, valid for 2 hours.
    pub prepay_id: PrepayId,
    /// NATIVE: the QR code content.
    pub code_url: Option<String>,
    /// MWEB: the cashier URL, valid for 5 minutes.
    pub mweb_url: Option<String>,
}

impl UnifiedOrderResponse {
    /// Reads a verified answer; `return_code` and `result_code` must both be `SUCCESS`.
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        check_success(params)?;
        let f = Fields(params);
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            trade_type: TradeType::parse(f.req("trade_type")?),
            prepay_id: f.req_typed("prepay_id", PrepayId::new)?,
            code_url: f.opt_string("code_url"),
            mweb_url: f.opt_string("mweb_url"),
        })
    }

    /// The unsigned success answer (simulator side).
    pub fn to_params(&self, nonce_str: &str) -> Params {
        success_builder(nonce_str)
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("trade_type", &self.trade_type)
            .set("prepay_id", &self.prepay_id)
            .opt("code_url", self.code_url.as_ref())
            .opt("mweb_url", self.mweb_url.as_ref())
            .build()
    }
}

pub(crate) fn success_builder(nonce_str: &str) -> ParamsBuilder {
    ParamsBuilder::default()
        .set("return_code", SUCCESS)
        .set("return_msg", "OK")
        .set("result_code", SUCCESS)
        .set("nonce_str", nonce_str)
}

/// `POST /pay/orderquery` and (with an `OutTradeNo`) `POST /pay/closeorder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQueryRequest {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// Which order.
    pub order: OrderRef,
    /// Random string.
    pub nonce_str: String,
}

impl OrderQueryRequest {
    /// The unsigned parameters.
    pub fn to_params(&self) -> Result<Params, V2ModelError> {
        check_nonce(&self.nonce_str)?;
        let b = ParamsBuilder::default()
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id);
        Ok(self
            .order
            .write(b)
            .set("nonce_str", &self.nonce_str)
            .build())
    }

    /// Reads a received request (simulator side).
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        let f = Fields(params);
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            order: OrderRef::read(&f)?,
            nonce_str: f.req("nonce_str")?.to_owned(),
        })
    }
}

/// `POST /pay/closeorder`: by `out_trade_no` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrderRequest {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// The order to close.
    pub out_trade_no: OutTradeNo,
    /// Random string.
    pub nonce_str: String,
}

impl CloseOrderRequest {
    /// The unsigned parameters.
    pub fn to_params(&self) -> Result<Params, V2ModelError> {
        check_nonce(&self.nonce_str)?;
        Ok(ParamsBuilder::default()
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("out_trade_no", &self.out_trade_no)
            .set("nonce_str", &self.nonce_str)
            .build())
    }

    /// Reads a received request (simulator side).
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        let f = Fields(params);
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            out_trade_no: f.req_typed("out_trade_no", OutTradeNo::new)?,
            nonce_str: f.req("nonce_str")?.to_owned(),
        })
    }
}

/// A successful closeorder answer: nothing but the ids and the two codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrderResponse {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
}

impl CloseOrderResponse {
    /// Reads a verified answer.
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        check_success(params)?;
        let f = Fields(params);
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
        })
    }

    /// The unsigned success answer (simulator side).
    pub fn to_params(&self, nonce_str: &str) -> Params {
        success_builder(nonce_str)
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .build()
    }
}

/// The order fields shared by the orderquery answer and the payment notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Order {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// WeChat's order number, once paid.
    pub transaction_id: Option<TransactionId>,
    /// The payer, once paid.
    pub openid: Option<OpenId>,
    /// The trade type.
    pub trade_type: Option<TradeType>,
    /// The payer's bank.
    pub bank_type: Option<String>,
    /// Order total in fen.
    pub total_fee: Option<u64>,
    /// What the payer paid in cash, in fen.
    pub cash_fee: Option<u64>,
    /// `CNY`.
    pub fee_type: Option<String>,
    /// Payment time, `yyyyMMddHHmmss` Beijing time.
    pub time_end: Option<String>,
    /// The merchant's `attach`.
    pub attach: Option<String>,
}

impl V2Order {
    fn read(f: &Fields<'_>) -> Result<Self, V2ModelError> {
        if let Some(t) = f.opt("time_end") {
            parse_v2_time(t).map_err(|e| V2ModelError::invalid("time_end", e))?;
        }
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            out_trade_no: f.req_typed("out_trade_no", OutTradeNo::new)?,
            transaction_id: f.opt_typed("transaction_id", TransactionId::new)?,
            openid: f.opt_typed("openid", OpenId::new)?,
            trade_type: f.opt("trade_type").map(TradeType::parse),
            bank_type: f.opt_string("bank_type"),
            total_fee: f.opt_u64("total_fee")?,
            cash_fee: f.opt_u64("cash_fee")?,
            fee_type: f.opt_string("fee_type"),
            time_end: f.opt_string("time_end"),
            attach: f.opt_string("attach"),
        })
    }

    fn write(&self, b: ParamsBuilder) -> ParamsBuilder {
        b.set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("out_trade_no", &self.out_trade_no)
            .opt("transaction_id", self.transaction_id.as_ref())
            .opt("openid", self.openid.as_ref())
            .opt("trade_type", self.trade_type.as_ref())
            .opt("bank_type", self.bank_type.as_ref())
            .opt("total_fee", self.total_fee)
            .opt("cash_fee", self.cash_fee)
            .opt("fee_type", self.fee_type.as_ref())
            .opt("time_end", self.time_end.as_ref())
            .opt("attach", self.attach.as_ref())
    }

    /// `time_end` as Unix seconds.
    pub fn time_end_unix(&self) -> Option<i64> {
        self.time_end.as_deref().and_then(|t| parse_v2_time(t).ok())
    }
}

/// A successful orderquery answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQueryResponse {
    /// The order.
    pub order: V2Order,
    /// `SUCCESS`, `REFUND`, `NOTPAY`, `CLOSED`, `REVOKED`, `USERPAYING`, `PAYERROR`.
    pub trade_state: TradeState,
    /// A human description of the state.
    pub trade_state_desc: Option<String>,
    /// Whether the payer follows the Official Account (`Y`/`N`), once paid.
    pub is_subscribe: Option<String>,
}

impl OrderQueryResponse {
    /// Reads a verified answer.
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        check_success(params)?;
        let f = Fields(params);
        Ok(Self {
            order: V2Order::read(&f)?,
            trade_state: TradeState::parse(f.req("trade_state")?),
            trade_state_desc: f.opt_string("trade_state_desc"),
            is_subscribe: f.opt_string("is_subscribe"),
        })
    }

    /// The unsigned success answer (simulator side).
    pub fn to_params(&self, nonce_str: &str) -> Params {
        self.order
            .write(success_builder(nonce_str))
            .set("trade_state", &self.trade_state)
            .opt("trade_state_desc", self.trade_state_desc.as_ref())
            .opt("is_subscribe", self.is_subscribe.as_ref())
            .build()
    }
}

/// The payment notification (支付结果通知), after its signature was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayNotification {
    /// The paid order; `transaction_id`, `total_fee` and `time_end` are present.
    pub order: V2Order,
    /// Whether the payer follows the Official Account (`Y`/`N`).
    pub is_subscribe: Option<String>,
}

impl PayNotification {
    /// Reads a verified notification. Refuses a notification that does not report success
    /// or lacks the fields a paid order must have, because the amount check needs them.
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        check_success(params)?;
        let f = Fields(params);
        let order = V2Order::read(&f)?;
        for (field, present) in [
            ("transaction_id", order.transaction_id.is_some()),
            ("total_fee", order.total_fee.is_some()),
            ("time_end", order.time_end.is_some()),
        ] {
            if !present {
                return Err(V2ModelError::Missing(field));
            }
        }
        Ok(Self {
            order,
            is_subscribe: f.opt_string("is_subscribe"),
        })
    }

    /// The unsigned notification (simulator side).
    pub fn to_params(&self, nonce_str: &str) -> Params {
        self.order
            .write(success_builder(nonce_str))
            .opt("is_subscribe", self.is_subscribe.as_ref())
            .build()
    }

    /// `total_fee` in fen (always present after [`Self::from_params`]).
    pub fn total_fee(&self) -> u64 {
        self.order.total_fee.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::v2::sign::{verify, ApiV2Key};
    use crate::v2::xml;

    fn jsapi_order() -> UnifiedOrderRequest {
        UnifiedOrderRequest {
            appid: AppId::new("wx2421b1c4370ec43b").unwrap(),
            mch_id: MchId::new("10000100").unwrap(),
            device_info: Some("WEB".into()),
            nonce_str: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".into(),
            body: Description::new("腾讯充值中心-QQ会员充值").unwrap(),
            attach: None,
            out_trade_no: OutTradeNo::new("20150806125346").unwrap(),
            total_fee: Amount::from_fen(888).unwrap(),
            spbill_create_ip: "123.12.12.123".parse().unwrap(),
            time_start: Some(1_735_689_600),
            time_expire: None,
            notify_url: NotifyUrl::new("https://example.com/wxpay/notify").unwrap(),
            trade_type: TradeType::Jsapi,
            product_id: None,
            openid: Some(OpenId::new("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").unwrap()),
            scene_info: None,
        }
    }

    #[test]
    fn unified_order_round_trip_through_signed_xml() {
        let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").unwrap();
        let req = jsapi_order();
        let params = req.to_params().unwrap();
        assert_eq!(params["time_start"], "20250101080000");
        assert_eq!(params["total_fee"], "888");
        assert!(!params.contains_key("attach"));
        let body = signed_request_xml(params, &key, crate::v2::SignType::Md5).unwrap();
        let back = xml::parse(body.as_bytes(), 8192).unwrap();
        assert!(verify(&back, &key, crate::v2::SignType::Md5).is_ok());
        assert_eq!(UnifiedOrderRequest::from_params(&back).unwrap(), req);
    }

    #[test]
    fn unified_order_over_a_private_line() {
        let mut params = jsapi_order().to_params().unwrap();
        params.insert("notify_url".into(), "http://10.0.0.5/notify".into());
        assert!(matches!(
            UnifiedOrderRequest::from_params(&params),
            Err(V2ModelError::Invalid {
                field: "notify_url",
                ..
            })
        ));
        let read =
            UnifiedOrderRequest::from_params_over_private_line(&params, &["10.0.0.5"]).unwrap();
        assert_eq!(read.notify_url.as_str(), "http://10.0.0.5/notify");
    }

    #[test]
    fn trade_type_requirements() {
        let mut r = jsapi_order();
        r.openid = None;
        assert_eq!(r.validate(), Err(V2ModelError::Missing("openid")));
        r.trade_type = TradeType::Native;
        assert_eq!(r.validate(), Err(V2ModelError::Missing("product_id")));
        r.product_id = Some("P1".into());
        assert!(r.validate().is_ok());
        r.trade_type = TradeType::Mweb;
        assert_eq!(r.validate(), Err(V2ModelError::Missing("scene_info")));
        r.scene_info = Some("{not json".into());
        assert!(matches!(
            r.validate(),
            Err(V2ModelError::Invalid {
                field: "scene_info",
                ..
            })
        ));
        r.scene_info = Some(
            r#"{"h5_info":{"type":"Wap","wap_url":"https://m.example.com","wap_name":"shop"}}"#
                .into(),
        );
        assert!(r.validate().is_ok());
        r.trade_type = TradeType::Micropay;
        assert!(matches!(
            r.validate(),
            Err(V2ModelError::Invalid {
                field: "trade_type",
                ..
            })
        ));
        r.trade_type = TradeType::App;
        r.nonce_str = String::new();
        assert_eq!(r.validate(), Err(V2ModelError::Missing("nonce_str")));
    }

    #[test]
    fn unified_order_answers() {
        let resp = UnifiedOrderResponse {
            appid: AppId::new("wx2421b1c4370ec43b").unwrap(),
            mch_id: MchId::new("10000100").unwrap(),
            trade_type: TradeType::Native,
            prepay_id: PrepayId::new("wx201410272009395522657a690389285100").unwrap(),
            code_url: Some("weixin://wxpay/bizpayurl?pr=JyC91EIz1".into()),
            mweb_url: None,
        };
        let p = resp.to_params("abc");
        assert_eq!(UnifiedOrderResponse::from_params(&p).unwrap(), resp);
        let mut failed = p.clone();
        failed.insert("result_code".into(), "FAIL".into());
        failed.insert("err_code".into(), "ORDERPAID".into());
        assert!(matches!(
            UnifiedOrderResponse::from_params(&failed),
            Err(V2ModelError::Business { .. })
        ));
    }

    #[test]
    fn query_close_and_notification() {
        let q = OrderQueryRequest {
            appid: AppId::new("wx2421b1c4370ec43b").unwrap(),
            mch_id: MchId::new("10000100").unwrap(),
            order: OrderRef::OutTradeNo(OutTradeNo::new("1409811653").unwrap()),
            nonce_str: "ec2316275641faa3aacf3cc599e8730f".into(),
        };
        assert_eq!(
            OrderQueryRequest::from_params(&q.to_params().unwrap()).unwrap(),
            q
        );
        let c = CloseOrderRequest {
            appid: q.appid.clone(),
            mch_id: q.mch_id.clone(),
            out_trade_no: OutTradeNo::new("1409811653").unwrap(),
            nonce_str: "x1".into(),
        };
        assert_eq!(
            CloseOrderRequest::from_params(&c.to_params().unwrap()).unwrap(),
            c
        );
        assert!(matches!(
            OrderQueryRequest::from_params(&Params::new()),
            Err(V2ModelError::Missing("appid"))
        ));
        let closed = CloseOrderResponse {
            appid: q.appid.clone(),
            mch_id: q.mch_id.clone(),
        };
        assert_eq!(
            CloseOrderResponse::from_params(&closed.to_params("n2")).unwrap(),
            closed
        );

        let xml_body = "<xml><appid><![CDATA[wx2421b1c4370ec43b]]></appid><attach><![CDATA[]]></attach><bank_type><![CDATA[CFT]]></bank_type><cash_fee>1</cash_fee><fee_type><![CDATA[CNY]]></fee_type><is_subscribe><![CDATA[Y]]></is_subscribe><mch_id><![CDATA[10000100]]></mch_id><nonce_str><![CDATA[5d2b6c2a8db53831f7eda20af46e531c]]></nonce_str><openid><![CDATA[oUpF8uMEb4qRXf22hE3X68TekukE]]></openid><out_trade_no><![CDATA[1409811653]]></out_trade_no><result_code><![CDATA[SUCCESS]]></result_code><return_code><![CDATA[SUCCESS]]></return_code><sign><![CDATA[499D67754742F6B942E466B3F11F4A9F]]></sign><time_end><![CDATA[20250101080000]]></time_end><total_fee>1</total_fee><trade_type><![CDATA[JSAPI]]></trade_type><transaction_id><![CDATA[1004400740201409030005092168]]></transaction_id></xml>";
        let params = xml::parse(xml_body.as_bytes(), 8192).unwrap();
        let n = PayNotification::from_params(&params).unwrap();
        assert_eq!(n.total_fee(), 1);
        assert_eq!(n.order.attach, None);
        assert_eq!(n.order.time_end_unix(), Some(1_735_689_600));
        assert_eq!(n.order.trade_type, Some(TradeType::Jsapi));
        let mut unpaid = params.clone();
        unpaid.remove("transaction_id");
        assert_eq!(
            PayNotification::from_params(&unpaid),
            Err(V2ModelError::Missing("transaction_id"))
        );

        let answer = OrderQueryResponse {
            order: n.order.clone(),
            trade_state: TradeState::Success,
            trade_state_desc: None,
            is_subscribe: Some("N".into()),
        };
        assert_eq!(
            OrderQueryResponse::from_params(&answer.to_params("n1")).unwrap(),
            answer
        );
    }
}
