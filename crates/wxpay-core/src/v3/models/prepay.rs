//! Prepay (下单) requests and responses for JSAPI / mini-program, APP, H5 and Native
//! (protocol.md A.9 "Prepay request body").

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json_fields::Obj;
use super::{FieldError, NotifyUrl, TradeType, CNY};
use crate::ids::{AppId, MchId, OpenId, OutTradeNo, PrepayId};
use crate::values::{Amount, Attach, Description, TimeExpire};

/// Which prepay endpoint: the four share one body shape with kind-specific requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrepayKind {
    /// `/v3/pay/transactions/jsapi`: Official Account pages and mini-programs; needs `payer`.
    Jsapi,
    /// `/v3/pay/transactions/app`: native apps through the OpenSDK.
    App,
    /// `/v3/pay/transactions/h5`: mobile browsers outside WeChat; needs `scene_info`.
    H5,
    /// `/v3/pay/transactions/native`: a QR code (`code_url`).
    Native,
}

impl PrepayKind {
    /// Every kind, for routing tables.
    pub const ALL: [PrepayKind; 4] = [Self::Jsapi, Self::App, Self::H5, Self::Native];

    /// The last path segment: `jsapi`, `app`, `h5` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jsapi => "jsapi",
            Self::App => "app",
            Self::H5 => "h5",
            Self::Native => "native",
        }
    }

    /// Parses the path segment.
    pub fn parse(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == segment)
    }

    /// The `trade_type` a paid order of this kind reports (H5 reports `MWEB`).
    pub fn trade_type(self) -> TradeType {
        match self {
            Self::Jsapi => TradeType::Jsapi,
            Self::App => TradeType::App,
            Self::H5 => TradeType::Mweb,
            Self::Native => TradeType::Native,
        }
    }

    /// The endpoint path, e.g. `/v3/pay/transactions/jsapi`.
    pub fn path(self) -> &'static str {
        crate::v3::paths::prepay(self)
    }
}

impl fmt::Display for PrepayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `amount` of a prepay request: an integer number of fen and the currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayAmount {
    /// Order total in fen.
    pub total: Amount,
    /// `CNY` (WeChat's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `payer` (JSAPI and mini-program only): the openid under the same appid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    /// The payer's openid.
    pub openid: OpenId,
}

/// `detail`: optional goods information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetail {
    /// Original price in fen, for discount checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_price: Option<u64>,
    /// Merchant invoice id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// The goods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goods_detail: Vec<GoodsDetail>,
}

/// One line of `detail.goods_detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodsDetail {
    /// The merchant's goods id.
    pub merchant_goods_id: String,
    /// WeChat's goods id, if registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechatpay_goods_id: Option<String>,
    /// Goods name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_name: Option<String>,
    /// Quantity, at least 1.
    pub quantity: u32,
    /// Unit price in fen.
    pub unit_price: u64,
}

/// `scene_info`: where the payment happens. Required for H5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneInfo {
    /// The payer's IP address (IPv4 or IPv6): required whenever `scene_info` is sent.
    pub payer_client_ip: String,
    /// Merchant device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_info: Option<StoreInfo>,
    /// H5 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h5_info: Option<H5Info>,
}

/// `scene_info.store_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// Store id.
    pub id: String,
    /// Store name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Area code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_code: Option<String>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `scene_info.h5_info` (H5 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct H5Info {
    /// Scene type: `Wap` (mobile site), `iOS` or `Android` (A.9; the exact set is
    /// unconfirmed, so it is not an enum).
    #[serde(rename = "type")]
    pub kind: String,
    /// App name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Site or app URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_url: Option<String>,
    /// iOS bundle id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// Android package name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<String>,
}

/// `settle_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleInfo {
    /// Whether the order takes part in profit sharing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profit_sharing: Option<bool>,
}

/// The body of every prepay request. Field order follows the official example, so the
/// official JSAPI body serialises byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayRequest {
    /// Official Account, mini-program or mobile-app appid, bound to `mchid`.
    pub appid: AppId,
    /// Merchant id.
    pub mchid: MchId,
    /// Shown in the payer's bill.
    pub description: Description,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// Payment deadline; only settable on the first prepay of an order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<TimeExpire>,
    /// Echoed in queries and notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Attach>,
    /// Where the payment notification goes.
    pub notify_url: NotifyUrl,
    /// Coupon tag, at most 32 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_tag: Option<String>,
    /// Whether an e-invoice is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_fapiao: Option<bool>,
    /// Payment method limits: `no_balance`, `no_credit`, `no_debit`, `balance_only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_pay: Option<Vec<String>>,
    /// Amount.
    pub amount: PrepayAmount,
    /// Required for JSAPI / mini-program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    /// Goods details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<OrderDetail>,
    /// Required for H5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_info: Option<SceneInfo>,
    /// Profit sharing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_info: Option<SettleInfo>,
}

const LIMIT_PAY: [&str; 4] = ["no_balance", "no_credit", "no_debit", "balance_only"];

impl PrepayRequest {
    /// The fields every kind needs; the currency is set to `CNY`. Add `payer` for JSAPI and
    /// `scene_info` for H5 with [`Self::with_payer`] / [`Self::with_h5_scene`].
    pub fn new(
        appid: AppId,
        mchid: MchId,
        description: Description,
        out_trade_no: OutTradeNo,
        notify_url: NotifyUrl,
        total: Amount,
    ) -> Self {
        Self {
            appid,
            mchid,
            description,
            out_trade_no,
            time_expire: None,
            attach: None,
            notify_url,
            goods_tag: None,
            support_fapiao: None,
            limit_pay: None,
            amount: PrepayAmount {
                total,
                currency: Some(CNY.to_owned()),
            },
            payer: None,
            detail: None,
            scene_info: None,
            settle_info: None,
        }
    }

    /// Sets `payer.openid` (JSAPI and mini-program).
    pub fn with_payer(mut self, openid: OpenId) -> Self {
        self.payer = Some(Payer { openid });
        self
    }

    /// Sets the H5 `scene_info`: the payer's IP and `h5_info.type` (`Wap`, `iOS`, `Android`).
    pub fn with_h5_scene(mut self, payer_client_ip: IpAddr, h5_type: impl Into<String>) -> Self {
        self.scene_info = Some(SceneInfo {
            payer_client_ip: payer_client_ip.to_string(),
            device_id: None,
            store_info: None,
            h5_info: Some(H5Info {
                kind: h5_type.into(),
                app_name: None,
                app_url: None,
                bundle_id: None,
                package_name: None,
            }),
        });
        self
    }

    /// Sets `time_expire`.
    pub fn with_time_expire(mut self, time_expire: TimeExpire) -> Self {
        self.time_expire = Some(time_expire);
        self
    }

    /// Sets `attach`.
    pub fn with_attach(mut self, attach: Attach) -> Self {
        self.attach = Some(attach);
        self
    }

    /// Checks what the types cannot: the kind-specific requirements and the free-text
    /// limits. Cheap; the server calls it before sending.
    pub fn validate_for(&self, kind: PrepayKind) -> Result<(), FieldError> {
        if kind == PrepayKind::Jsapi && self.payer.is_none() {
            return Err(FieldError::new("/payer", "is required"));
        }
        match (&self.scene_info, kind) {
            (None, PrepayKind::H5) => return Err(FieldError::new("/scene_info", "is required")),
            (Some(scene), _) => {
                if scene.payer_client_ip.parse::<IpAddr>().is_err() {
                    return Err(FieldError::new(
                        "/scene_info/payer_client_ip",
                        "must be an IPv4 or IPv6 address",
                    ));
                }
                match (&scene.h5_info, kind) {
                    (None, PrepayKind::H5) => {
                        return Err(FieldError::new("/scene_info/h5_info", "is required"))
                    }
                    (Some(h5), _) if h5.kind.is_empty() => {
                        return Err(FieldError::new("/scene_info/h5_info/type", "is required"))
                    }
                    _ => {}
                }
            }
            (None, _) => {}
        }
        if matches!(&self.amount.currency, Some(c) if c != CNY) {
            return Err(FieldError::new("/amount/currency", "must be CNY"));
        }
        if matches!(&self.goods_tag, Some(t) if t.len() > 32) {
            return Err(FieldError::new("/goods_tag", "must be at most 32 bytes"));
        }
        if let Some(bad) = self
            .limit_pay
            .iter()
            .flatten()
            .position(|l| !LIMIT_PAY.contains(&l.as_str()))
        {
            return Err(FieldError::new(
                format!("/limit_pay/{bad}"),
                "is not a known limit",
            ));
        }
        if let Some(detail) = &self.detail {
            if let Some(i) = detail.goods_detail.iter().position(|g| g.quantity == 0) {
                return Err(FieldError::new(
                    format!("/detail/goods_detail/{i}/quantity"),
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }

    /// Parses a raw request body the way WeChat's prepay endpoint of `kind` does, naming the
    /// first bad field by its JSON Pointer. For the simulator (400 `PARAM_ERROR`).
    pub fn from_json(kind: PrepayKind, body: &Value) -> Result<Self, FieldError> {
        Self::from_json_over_private_line(kind, body, &[] as &[&str])
    }

    /// Like [`Self::from_json`], for a merchant notified over a private line: `notify_url`
    /// may be plain `http://` to one of `private_hosts` ([`NotifyUrl::new_over_private_line`]).
    pub fn from_json_over_private_line<S: AsRef<str>>(
        kind: PrepayKind,
        body: &Value,
        private_hosts: &[S],
    ) -> Result<Self, FieldError> {
        let root = Obj::root(body)?;
        let appid = root.req_typed("appid", AppId::new)?;
        let mchid = root.req_typed("mchid", MchId::new)?;
        let description = root.req_typed("description", Description::new)?;
        let out_trade_no = root.req_typed("out_trade_no", OutTradeNo::new)?;
        let time_expire = root.opt_typed("time_expire", TimeExpire::parse)?;
        let attach = root.opt_typed("attach", Attach::new)?;
        let notify_url = root.req_typed("notify_url", |url| {
            NotifyUrl::new_over_private_line(url, private_hosts)
        })?;
        let goods_tag = root.opt_str_max("goods_tag", 32)?.map(str::to_owned);
        let support_fapiao = root.opt_bool("support_fapiao")?;
        let limit_pay = match root.opt_str_array("limit_pay")? {
            None => None,
            Some(limits) => {
                if let Some(i) = limits.iter().position(|l| !LIMIT_PAY.contains(l)) {
                    return Err(FieldError::new(
                        format!("{}/{i}", root.path("limit_pay")),
                        "is not a known limit",
                    ));
                }
                Some(limits.into_iter().map(str::to_owned).collect())
            }
        };
        let amount = root.req_obj("amount")?;
        let total = Amount::from_fen(amount.req_int("total")?)
            .map_err(|e| FieldError::new(amount.path("total"), e.to_string()))?;
        let currency = amount.opt_str("currency")?;
        if matches!(currency, Some(c) if c != CNY) {
            return Err(FieldError::new(amount.path("currency"), "must be CNY"));
        }
        let payer = match (root.opt_obj("payer")?, kind) {
            (None, PrepayKind::Jsapi) => return Err(FieldError::new("/payer", "is required")),
            (Some(payer), PrepayKind::Jsapi) => Some(payer.req_typed("openid", OpenId::new)?),
            (Some(payer), _) => payer.opt_typed("openid", OpenId::new)?,
            (None, _) => None,
        }
        .map(|openid| Payer { openid });
        if let Some(detail) = root.opt_obj("detail")? {
            non_negative(&detail, "cost_price")?;
            detail.opt_str("invoice_id")?;
            for goods in detail.opt_obj_array("goods_detail")? {
                goods.req_str("merchant_goods_id")?;
                goods.opt_str("wechatpay_goods_id")?;
                goods.opt_str("goods_name")?;
                let quantity = goods.req_int("quantity")?;
                if !(1..=i64::from(u32::MAX)).contains(&quantity) {
                    return Err(FieldError::new(
                        goods.path("quantity"),
                        "must be at least 1",
                    ));
                }
                goods.req_int("unit_price")?;
                non_negative(&goods, "unit_price")?;
            }
        }
        check_scene_info(&root, kind)?;
        if let Some(settle) = root.opt_obj("settle_info")? {
            settle.opt_bool("profit_sharing")?;
        }
        Ok(Self {
            appid,
            mchid,
            description,
            out_trade_no,
            time_expire,
            attach,
            notify_url,
            goods_tag,
            support_fapiao,
            limit_pay,
            amount: PrepayAmount {
                total,
                currency: currency.map(str::to_owned),
            },
            payer,
            detail: root.opt_build("detail")?,
            scene_info: root.opt_build("scene_info")?,
            settle_info: root.opt_build("settle_info")?,
        })
    }
}

fn non_negative(obj: &Obj<'_>, name: &str) -> Result<(), FieldError> {
    match obj.opt_int(name)? {
        Some(n) if n < 0 => Err(FieldError::new(obj.path(name), "must not be negative")),
        _ => Ok(()),
    }
}

fn check_scene_info(root: &Obj<'_>, kind: PrepayKind) -> Result<(), FieldError> {
    let Some(scene) = root.opt_obj("scene_info")? else {
        return if kind == PrepayKind::H5 {
            Err(FieldError::new("/scene_info", "is required"))
        } else {
            Ok(())
        };
    };
    let ip = scene.req_str("payer_client_ip")?;
    if ip.parse::<IpAddr>().is_err() {
        return Err(FieldError::new(
            scene.path("payer_client_ip"),
            "must be an IPv4 or IPv6 address",
        ));
    }
    scene.opt_str("device_id")?;
    if let Some(store) = scene.opt_obj("store_info")? {
        store.req_str("id")?;
        for name in ["name", "area_code", "address"] {
            store.opt_str(name)?;
        }
    }
    match scene.opt_obj("h5_info")? {
        None if kind == PrepayKind::H5 => {
            return Err(FieldError::new(scene.path("h5_info"), "is required"))
        }
        None => {}
        Some(h5) => {
            h5.req_str("type")?;
            for name in ["app_name", "app_url", "bundle_id", "package_name"] {
                h5.opt_str(name)?;
            }
        }
    }
    Ok(())
}

/// JSAPI and APP prepay answer: `{"prepay_id":"wx…"}`, valid for 2 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayIdResponse {
    /// The prepay session id.
    pub prepay_id: PrepayId,
}

/// H5 prepay answer: the cashier URL to redirect to, valid for 5 minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct H5PrepayResponse {
    /// `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=…&package=…`.
    pub h5_url: String,
}

/// Native prepay answer: the QR code content, valid for 2 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativePrepayResponse {
    /// `weixin://wxpay/bizpayurl?pr=…`; treat as opaque.
    pub code_url: String,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::json;

    use super::*;

    const OFFICIAL_BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900007291","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}"#;

    fn official() -> PrepayRequest {
        PrepayRequest::new(
            AppId::new("wxd678efh567hg6787").unwrap(),
            MchId::new("1900007291").unwrap(),
            Description::new("Image形象店-深圳腾大-QQ公仔").unwrap(),
            OutTradeNo::new("1217752501201407033233368018").unwrap(),
            NotifyUrl::new("https://www.weixin.qq.com/wxpay/pay.php").unwrap(),
            Amount::from_fen(100).unwrap(),
        )
        .with_payer(OpenId::new("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").unwrap())
    }

    #[test]
    fn official_jsapi_body_is_byte_identical() {
        assert_eq!(serde_json::to_string(&official()).unwrap(), OFFICIAL_BODY);
        let v: Value = serde_json::from_str(OFFICIAL_BODY).unwrap();
        assert_eq!(
            PrepayRequest::from_json(PrepayKind::Jsapi, &v).unwrap(),
            official()
        );
        assert!(official().validate_for(PrepayKind::Jsapi).is_ok());
    }

    #[test]
    fn kind_specific_requirements() {
        let mut r = official();
        r.payer = None;
        assert_eq!(
            r.validate_for(PrepayKind::Jsapi).unwrap_err().field,
            "/payer"
        );
        assert!(r.validate_for(PrepayKind::Native).is_ok());
        assert_eq!(
            r.validate_for(PrepayKind::H5).unwrap_err().field,
            "/scene_info"
        );
        let h5 = r
            .clone()
            .with_h5_scene("203.0.113.7".parse().unwrap(), "Wap");
        assert!(h5.validate_for(PrepayKind::H5).is_ok());
        let json = serde_json::to_value(&h5).unwrap();
        assert_eq!(json["scene_info"]["h5_info"]["type"], "Wap");
        assert!(json.get("payer").is_none());
        assert!(PrepayRequest::from_json(PrepayKind::H5, &json).is_ok());
    }

    fn field_of(kind: PrepayKind, edit: impl FnOnce(&mut Value)) -> String {
        let mut v: Value = serde_json::from_str(OFFICIAL_BODY).unwrap();
        edit(&mut v);
        PrepayRequest::from_json(kind, &v).unwrap_err().field
    }

    #[test]
    fn from_json_names_the_bad_field() {
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["amount"]["total"] = json!(1.5)),
            "/amount/total"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["amount"]["total"] = json!("100")),
            "/amount/total"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["amount"]["total"] = json!(0)),
            "/amount/total"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["amount"]["currency"] =
                json!("USD")),
            "/amount/currency"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["out_trade_no"] = json!("abc")),
            "/out_trade_no"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["description"] = json!("")),
            "/description"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["notify_url"] =
                json!("https://a.b/n?q=1")),
            "/notify_url"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["time_expire"] = json!("tomorrow")),
            "/time_expire"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["payer"] = json!({})),
            "/payer/openid"
        );
        assert_eq!(
            field_of(PrepayKind::Jsapi, |v| v["limit_pay"] =
                json!(["no_credit", "x"])),
            "/limit_pay/1"
        );
        assert_eq!(
            field_of(
                PrepayKind::Jsapi,
                |v| v["detail"] =
                    json!({"goods_detail":[{"merchant_goods_id":"1","quantity":0,"unit_price":1}]})
            ),
            "/detail/goods_detail/0/quantity"
        );
        assert_eq!(field_of(PrepayKind::H5, |_| {}), "/scene_info");
        assert_eq!(
            field_of(PrepayKind::H5, |v| v["scene_info"] =
                json!({"payer_client_ip":"1.2.3.4"})),
            "/scene_info/h5_info"
        );
        assert_eq!(
            field_of(PrepayKind::H5, |v| v["scene_info"] =
                json!({"payer_client_ip":"nope","h5_info":{"type":"Wap"}})),
            "/scene_info/payer_client_ip"
        );
        assert_eq!(
            field_of(PrepayKind::H5, |v| v["scene_info"] =
                json!({"payer_client_ip":"::1","h5_info":{}})),
            "/scene_info/h5_info/type"
        );
        let mut v: Value = serde_json::from_str(OFFICIAL_BODY).unwrap();
        v.as_object_mut().unwrap().remove("payer");
        assert!(PrepayRequest::from_json(PrepayKind::Native, &v).is_ok());
        assert!(PrepayRequest::from_json(PrepayKind::App, &v).is_ok());
    }

    /// The simulator's private-line hosts reach `notify_url` through the same rule.
    #[test]
    fn from_json_over_a_private_line() {
        let mut v: Value = serde_json::from_str(OFFICIAL_BODY).unwrap();
        v["notify_url"] = json!("http://10.0.0.5/notify");
        assert_eq!(
            PrepayRequest::from_json(PrepayKind::Jsapi, &v)
                .unwrap_err()
                .field,
            "/notify_url"
        );
        let r = PrepayRequest::from_json_over_private_line(PrepayKind::Jsapi, &v, &["10.0.0.5"])
            .unwrap();
        assert_eq!(r.notify_url.as_str(), "http://10.0.0.5/notify");
        // Nested parts come through typed.
        v["detail"] =
            json!({"goods_detail":[{"merchant_goods_id":"1","quantity":2,"unit_price":5}]});
        v["scene_info"] = json!({"payer_client_ip":"::1","store_info":{"id":"s1"}});
        let r = PrepayRequest::from_json_over_private_line(PrepayKind::Jsapi, &v, &["10.0.0.5"])
            .unwrap();
        assert_eq!(r.detail.unwrap().goods_detail[0].quantity, 2);
        assert_eq!(r.scene_info.unwrap().store_info.unwrap().id, "s1");
    }

    #[test]
    fn kinds_and_responses() {
        assert_eq!(PrepayKind::parse("h5"), Some(PrepayKind::H5));
        assert_eq!(PrepayKind::H5.trade_type(), TradeType::Mweb);
        assert_eq!(PrepayKind::Native.path(), "/v3/pay/transactions/native");
        let r: PrepayIdResponse =
            serde_json::from_str(r#"{"prepay_id":"wx201410272009395522657a690389285100"}"#)
                .unwrap();
        assert_eq!(r.prepay_id.as_str(), "wx201410272009395522657a690389285100");
        let n: NativePrepayResponse =
            serde_json::from_str(r#"{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}"#)
                .unwrap();
        assert!(n.code_url.starts_with("weixin://"));
        assert!(serde_json::from_str::<H5PrepayResponse>("{}").is_err());
    }
}
