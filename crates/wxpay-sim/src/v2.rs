//! API v2 (XML): unified order, order query, close, refund (mutual TLS), refund query,
//! and the v2 pay / refund notifications (E).
//!
//! Signing, verification, the XML codec and `req_info` encryption all come from
//! `wxpay_core::v2`. Answers follow v2's two-level scheme: `return_code` FAIL for
//! communication/signature problems, `result_code` FAIL + `err_code` for business errors.

// Early exits carry the finished XML response; boxing it would only add noise to every
// handler, and these paths run once per request.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use wxpay_core::v2::sign::{sign_into, verify, ApiV2Key, SignType, SIGN_TYPE_FIELD};
use wxpay_core::v2::{refund_crypto, xml};
use wxpay_core::v3::models::NotifyUrl;
use wxpay_core::TradeState;

use crate::faults::FaultKind;
use crate::lifecycle::{apply_expiry, create_refund, state_desc, RefundRefusal, RefundRequest};
use crate::notify::{self, Protocol};
use crate::sim::{lock, now_unix, random_alnum, v2_time, Sim};
use crate::state::{order_key, ApiVersion, Order, Refund};
use crate::v3::pay::{new_prepay_id, DEFAULT_EXPIRY, PREPAY_TTL};

type Fields = BTreeMap<String, String>;

/// The shortest `time_expire` a v2 unified order accepts, from now: five minutes for every
/// trade type but micropay (WeChat's `time_expire时间过短，刷卡至少1分钟，其他5分钟`).
pub const MIN_TIME_EXPIRE_SECS: i64 = 5 * 60;

fn xml_response(fields: &Fields) -> Response {
    let body = xml::to_xml(fields.iter()).unwrap_or_else(|_| "<xml></xml>".into());
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    resp
}

/// `return_code` FAIL (not signed, as WeChat does).
fn fail(msg: &str) -> Response {
    let mut f = Fields::new();
    f.insert("return_code".into(), "FAIL".into());
    f.insert("return_msg".into(), msg.into());
    xml_response(&f)
}

/// A verified v2 request.
struct V2Call {
    fields: Fields,
    key: ApiV2Key,
    sign_type: SignType,
    mchid: String,
    appid: String,
}

impl V2Call {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    fn require(&self, name: &str) -> Result<&str, Response> {
        self.get(name)
            .ok_or_else(|| fail(&format!("缺少参数{name} (missing {name})")))
    }

    /// `return_code` SUCCESS with `result_code` and the given fields, signed like the request
    /// and, as WeChat's answers are, without a `sign_type` element.
    fn reply(&self, mut fields: Fields) -> Response {
        fields.insert("return_code".into(), "SUCCESS".into());
        fields.insert("return_msg".into(), "OK".into());
        fields.insert("appid".into(), self.appid.clone());
        fields.insert("mch_id".into(), self.mchid.clone());
        fields.insert("nonce_str".into(), random_alnum(16));
        fields
            .entry("result_code".into())
            .or_insert_with(|| "SUCCESS".into());
        sign_into(&mut fields, &self.key, self.sign_type);
        xml_response(&fields)
    }

    fn biz_fail(&self, err_code: &str, des: &str) -> Response {
        let mut f = Fields::new();
        f.insert("result_code".into(), "FAIL".into());
        f.insert("err_code".into(), err_code.into());
        f.insert("err_code_des".into(), des.into());
        self.reply(f)
    }
}

async fn read_call(sim: &Sim, endpoint: &str, body: &Bytes) -> Result<V2Call, Response> {
    let (latency, fault) = {
        let mut f = lock(&sim.faults);
        (f.latency(endpoint), f.take(endpoint))
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Some(fault) = fault {
        match fault.kind {
            FaultKind::Latency | FaultKind::Timeout => {
                tokio::time::sleep(std::time::Duration::from_millis(
                    fault.delay_ms.unwrap_or(10_000),
                ))
                .await;
                if fault.kind == FaultKind::Timeout {
                    return Err(fail("SYSTEMERROR 系统超时"));
                }
            }
            FaultKind::BadGateway => {
                return Err(
                    (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response()
                )
            }
            FaultKind::SignTest => {}
            _ => return Err(fail("SYSTEMERROR 系统繁忙,请稍后再试")),
        }
    }
    let fields =
        xml::parse(body, xml::DEFAULT_MAX_LEN).map_err(|e| fail(&format!("XML格式错误 ({e})")))?;
    let mchid = fields.get("mch_id").cloned().unwrap_or_default();
    let merchant = sim
        .merchants
        .get(&mchid)
        .ok_or_else(|| fail("mch_id参数格式错误 (unknown mch_id)"))?;
    let appid = fields.get("appid").cloned().unwrap_or_default();
    if !merchant.config.appids.contains(&appid) {
        return Err(fail("appid和mch_id不匹配"));
    }
    let key = ApiV2Key::new(merchant.config.apiv2_key.expose())
        .map_err(|_| fail("商户API密钥配置错误"))?;
    // A request names its algorithm (MD5 when it does not); the answer uses the same one and,
    // like WeChat's, does not name it.
    let sign_type = match fields.get(SIGN_TYPE_FIELD).filter(|t| !t.is_empty()) {
        Some(stated) => SignType::parse(stated).map_err(|_| fail("sign_type参数格式错误"))?,
        None => SignType::Md5,
    };
    verify(&fields, &key, sign_type).map_err(|_| fail("签名错误"))?;
    Ok(V2Call {
        fields,
        key,
        sign_type,
        mchid,
        appid,
    })
}

fn trade_type_of(order: &Order) -> &str {
    &order.trade_type
}

/// `POST /pay/unifiedorder`.
pub async fn unifiedorder(State(sim): State<Sim>, body: Bytes) -> Response {
    let call = match read_call(&sim, "v2.unifiedorder", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match unifiedorder_inner(&sim, &call) {
        Ok(r) | Err(r) => r,
    }
}

fn unifiedorder_inner(sim: &Sim, call: &V2Call) -> Result<Response, Response> {
    for name in [
        "nonce_str",
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ] {
        call.require(name)?;
    }
    check_notify_url(sim, call.require("notify_url")?)?;
    let trade_type = call.require("trade_type")?;
    match trade_type {
        "JSAPI" => {
            let openid = call.require("openid")?;
            if !crate::login::openid_belongs_to(sim, openid, &call.appid) {
                return Err(call.biz_fail("PARAM_ERROR", "appid和openid不匹配"));
            }
        }
        "NATIVE" => {
            call.require("product_id")?;
        }
        "MWEB" => {
            call.require("scene_info")?;
        }
        "APP" => {}
        _ => return Err(fail("trade_type参数错误 (JSAPI, NATIVE, APP or MWEB)")),
    }
    let out_trade_no = wxpay_core::OutTradeNo::new(call.require("out_trade_no")?)
        .map_err(|e| fail(&format!("out_trade_no参数错误 ({e})")))?;
    let total: u64 = call
        .require("total_fee")?
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| fail("total_fee参数错误 (positive integer fen)"))?;
    let body = call.require("body")?;
    if body.len() > 128 {
        return Err(fail("body参数长度有误"));
    }
    let now = now_unix();
    let time_expire = match call.get("time_expire") {
        Some(t) => {
            let at = wxpay_core::v2::time::parse_v2_time(t)
                .map_err(|_| fail("time_expire时间格式错误"))?;
            // Refused, never raised: WeChat answers this for anything under five minutes
            // away (one minute for micropay, which the simulator does not serve).
            if at - now < MIN_TIME_EXPIRE_SECS {
                return Err(fail("time_expire时间过短，刷卡至少1分钟，其他5分钟"));
            }
            at
        }
        None => now + DEFAULT_EXPIRY,
    };
    let mut fingerprint = call.fields.clone();
    for volatile in ["nonce_str", "sign", "sign_type"] {
        fingerprint.remove(volatile);
    }
    let fingerprint = serde_json::to_value(&fingerprint).unwrap_or_default();
    let key = order_key(&call.mchid, out_trade_no.as_str());
    let order = {
        let mut world = lock(&sim.world);
        if let Some(order) = world.orders.get_mut(&key) {
            apply_expiry(order, now);
            if order.trade_state.is_paid() {
                return Ok(call.biz_fail("ORDERPAID", "该订单已支付"));
            }
            if order.trade_state == TradeState::Closed {
                return Ok(call.biz_fail("ORDERCLOSED", "该订单已关闭"));
            }
            if order.fingerprint != fingerprint {
                return Ok(call.biz_fail("INVALID_REQUEST", "201 商户订单号重复"));
            }
            if now >= order.prepay_expires_at {
                order.prepay_id = new_prepay_id(now);
                order.prepay_expires_at = now + PREPAY_TTL;
            }
            if trade_type == "MWEB" {
                order.h5_issued_at = Some(now);
            }
            order.clone()
        } else {
            let order = Order {
                mchid: call.mchid.clone(),
                appid: call.appid.clone(),
                out_trade_no: out_trade_no.into_inner(),
                transaction_id: None,
                prepay_id: new_prepay_id(now),
                prepay_expires_at: now + PREPAY_TTL,
                trade_type: trade_type.to_owned(),
                trade_state: TradeState::NotPay,
                trade_state_desc: state_desc(&TradeState::NotPay).into(),
                description: body.to_owned(),
                total,
                currency: "CNY".into(),
                notify_url: call.require("notify_url")?.to_owned(),
                attach: call.get("attach").map(str::to_owned),
                time_expire,
                payer_openid: call.get("openid").map(str::to_owned),
                created_at: now,
                success_time: None,
                fingerprint,
                refunded: 0,
                api: ApiVersion::V2,
                v2_sign_type: Some(call.sign_type.as_str().to_owned()),
                h5_issued_at: (trade_type == "MWEB").then_some(now),
                payer_client_ip: call.get("spbill_create_ip").map(str::to_owned),
                code_url: (trade_type == "NATIVE")
                    .then(|| format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(9))),
            };
            world.orders.insert(key, order.clone());
            order
        }
    };
    sim.persist();
    let mut f = Fields::new();
    f.insert("trade_type".into(), trade_type_of(&order).to_owned());
    f.insert("prepay_id".into(), order.prepay_id.clone());
    if let Some(code_url) = &order.code_url {
        f.insert("code_url".into(), code_url.clone());
    }
    if trade_type == "MWEB" {
        f.insert(
            "mweb_url".into(),
            crate::v3::pay::h5_url(sim, &order.prepay_id),
        );
    }
    Ok(call.reply(f))
}

/// `notify_url` as WeChat checks it (the core's `NotifyUrl` rule: absolute, no query,
/// HTTPS unless loopback or a private-line host), refused with `return_code` FAIL and
/// WeChat's wording.
fn check_notify_url(sim: &Sim, url: &str) -> Result<(), Response> {
    NotifyUrl::new_over_private_line(url, &sim.config.private_line_notify_hosts)
        .map(|_| ())
        .map_err(|e| fail(&format!("invalid notify_url参数格式错误 ({e})")))
}

fn find_order(sim: &Sim, call: &V2Call) -> Result<Order, Response> {
    let mut world = lock(&sim.world);
    let key = match (call.get("transaction_id"), call.get("out_trade_no")) {
        (Some(tid), _) => world
            .order_by_transaction(&call.mchid, tid)
            .map(|o| order_key(&o.mchid, &o.out_trade_no)),
        (None, Some(otn)) => Some(order_key(&call.mchid, otn)),
        (None, None) => return Err(fail("缺少参数out_trade_no (or transaction_id)")),
    };
    let order = key
        .and_then(|k| world.orders.get_mut(&k))
        .ok_or_else(|| call.biz_fail("ORDERNOTEXIST", "订单不存在"))?;
    apply_expiry(order, now_unix());
    Ok(order.clone())
}

/// `POST /pay/orderquery`.
pub async fn orderquery(State(sim): State<Sim>, body: Bytes) -> Response {
    let call = match read_call(&sim, "v2.orderquery", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let order = match find_order(&sim, &call) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut f = Fields::new();
    f.insert("out_trade_no".into(), order.out_trade_no.clone());
    f.insert("trade_type".into(), order.trade_type.clone());
    f.insert("trade_state".into(), order.trade_state.as_str().to_owned());
    f.insert("trade_state_desc".into(), order.trade_state_desc.clone());
    f.insert("total_fee".into(), order.total.to_string());
    f.insert("fee_type".into(), "CNY".into());
    if let (Some(tid), Some(at)) = (&order.transaction_id, order.success_time) {
        f.insert("transaction_id".into(), tid.clone());
        f.insert("cash_fee".into(), order.total.to_string());
        f.insert("bank_type".into(), "OTHERS".into());
        f.insert("time_end".into(), v2_time(at));
        f.insert(
            "openid".into(),
            order.payer_openid.clone().unwrap_or_default(),
        );
        f.insert("is_subscribe".into(), "N".into());
        if let Some(a) = &order.attach {
            f.insert("attach".into(), a.clone());
        }
    }
    call.reply(f)
}

/// `POST /pay/closeorder`.
pub async fn closeorder(State(sim): State<Sim>, body: Bytes) -> Response {
    let call = match read_call(&sim, "v2.closeorder", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(otn) = call.get("out_trade_no").map(str::to_owned) else {
        return fail("缺少参数out_trade_no");
    };
    let result = {
        let mut world = lock(&sim.world);
        match world.orders.get_mut(&order_key(&call.mchid, &otn)) {
            None => Err(("ORDERNOTEXIST", "订单不存在")),
            Some(o) => {
                apply_expiry(o, now_unix());
                if o.trade_state.is_paid() {
                    Err(("ORDERPAID", "订单已支付，不能发起关单"))
                } else {
                    o.trade_state = TradeState::Closed;
                    o.trade_state_desc = state_desc(&TradeState::Closed).into();
                    Ok(())
                }
            }
        }
    };
    sim.persist();
    match result {
        Ok(()) => call.reply(Fields::new()),
        Err((code, des)) => call.biz_fail(code, des),
    }
}

/// The client certificate presented on the mutual-TLS listener.
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// Upper-case serial.
    pub serial: String,
}

/// `/secapi/pay/refund` on the plain listener: refused, as WeChat refuses it without a
/// client certificate.
pub async fn refund_without_certificate() -> Response {
    fail("证书已过期或无效 (this endpoint requires mutual TLS with the merchant API certificate)")
}

/// `POST /secapi/pay/refund` on the mutual-TLS listener.
pub async fn refund(
    State(sim): State<Sim>,
    cert: Option<Extension<ClientCert>>,
    body: Bytes,
) -> Response {
    let call = match read_call(&sim, "v2.refund", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(Extension(cert)) = cert else {
        return refund_without_certificate().await;
    };
    let owns = sim
        .merchants
        .get(&call.mchid)
        .map(|m| {
            m.certs
                .iter()
                .any(|c| c.serial.eq_ignore_ascii_case(&cert.serial))
        })
        .unwrap_or(false);
    if !owns {
        return fail("证书与商户号不匹配 (client certificate does not belong to mch_id)");
    }
    let parse = |name: &str| {
        call.get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n > 0)
    };
    let (Some(total), Some(refund_fee)) = (parse("total_fee"), parse("refund_fee")) else {
        return fail("total_fee/refund_fee参数错误");
    };
    let Some(out_refund_no) = call.get("out_refund_no") else {
        return fail("缺少参数out_refund_no");
    };
    if let Some(Err(refusal)) = call
        .get("notify_url")
        .map(|url| check_notify_url(&sim, url))
    {
        return refusal;
    }
    let request = RefundRequest {
        mchid: call.mchid.clone(),
        out_trade_no: call.get("out_trade_no").map(str::to_owned),
        transaction_id: call.get("transaction_id").map(str::to_owned),
        out_refund_no: out_refund_no.to_owned(),
        refund: refund_fee,
        total,
        reason: call.get("refund_desc").map(str::to_owned),
        notify_url: call.get("notify_url").map(str::to_owned),
        funds_account: None,
        api: ApiVersion::V2,
    };
    match create_refund(&sim, request) {
        Ok((r, created)) => {
            if created {
                crate::v3::refund::schedule_auto_success(
                    &sim,
                    order_key(&r.mchid, &r.out_refund_no),
                );
            }
            let mut f = Fields::new();
            for (k, v) in [
                ("transaction_id", r.transaction_id.clone()),
                ("out_trade_no", r.out_trade_no.clone()),
                ("out_refund_no", r.out_refund_no.clone()),
                ("refund_id", r.refund_id.clone()),
                ("refund_fee", r.refund.to_string()),
                ("total_fee", r.total.to_string()),
                ("cash_fee", r.total.to_string()),
            ] {
                f.insert(k.into(), v);
            }
            call.reply(f)
        }
        Err(RefundRefusal::OrderNotFound) => call.biz_fail("ORDERNOTEXIST", "订单不存在"),
        Err(RefundRefusal::NotEnough) => call.biz_fail("NOTENOUGH", "基本账户余额不足"),
        Err(RefundRefusal::Exceeds) => call.biz_fail("ERROR", "累计退款金额大于支付金额"),
        Err(RefundRefusal::TooMany) => call.biz_fail("ERROR", "退款次数超过限制"),
        Err(RefundRefusal::Mismatch | RefundRefusal::TotalMismatch) => {
            call.biz_fail("INVALID_REQUEST", "订单金额或退款金额与之前请求不一致")
        }
    }
}

fn v2_refund_status(r: &Refund) -> &'static str {
    match r.status {
        wxpay_core::RefundStatus::Success => "SUCCESS",
        wxpay_core::RefundStatus::Closed => "REFUNDCLOSE",
        wxpay_core::RefundStatus::Abnormal => "CHANGE",
        _ => "PROCESSING",
    }
}

/// `POST /pay/refundquery`.
pub async fn refundquery(State(sim): State<Sim>, body: Bytes) -> Response {
    let call = match read_call(&sim, "v2.refundquery", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refunds: Vec<Refund> = {
        let world = lock(&sim.world);
        world
            .refunds
            .values()
            .filter(|r| r.mchid == call.mchid)
            .filter(|r| {
                match (
                    call.get("out_refund_no"),
                    call.get("refund_id"),
                    call.get("out_trade_no"),
                    call.get("transaction_id"),
                ) {
                    (Some(v), ..) => r.out_refund_no == v,
                    (None, Some(v), ..) => r.refund_id == v,
                    (None, None, Some(v), _) => r.out_trade_no == v,
                    (None, None, None, Some(v)) => r.transaction_id == v,
                    _ => false,
                }
            })
            .cloned()
            .collect()
    };
    if refunds.is_empty() {
        return call.biz_fail("REFUNDNOTEXIST", "退款订单查询失败");
    }
    let mut f = Fields::new();
    f.insert("out_trade_no".into(), refunds[0].out_trade_no.clone());
    f.insert("transaction_id".into(), refunds[0].transaction_id.clone());
    f.insert("total_fee".into(), refunds[0].total.to_string());
    f.insert("cash_fee".into(), refunds[0].total.to_string());
    f.insert("refund_count".into(), refunds.len().to_string());
    let mut total_refund = 0;
    for (i, r) in refunds.iter().enumerate() {
        total_refund += r.refund;
        f.insert(format!("out_refund_no_{i}"), r.out_refund_no.clone());
        f.insert(format!("refund_id_{i}"), r.refund_id.clone());
        f.insert(format!("refund_fee_{i}"), r.refund.to_string());
        f.insert(format!("refund_status_{i}"), v2_refund_status(r).into());
        f.insert(format!("refund_recv_accout_{i}"), "支付用户的零钱".into());
        if let Some(t) = r.success_time {
            f.insert(format!("refund_success_time_{i}"), crate::sim::v2_time(t));
        }
    }
    f.insert("refund_fee".into(), total_refund.to_string());
    call.reply(f)
}

/// `true` when a merchant's reply to a v2 notification is `return_code` SUCCESS.
pub fn is_success_reply(body: &str) -> bool {
    xml::parse(body.as_bytes(), xml::DEFAULT_MAX_LEN)
        .map(|f| f.get("return_code").map(String::as_str) == Some("SUCCESS"))
        .unwrap_or(false)
}

fn merchant_key(sim: &Sim, mchid: &str) -> Option<ApiV2Key> {
    sim.merchants
        .get(mchid)
        .and_then(|m| ApiV2Key::new(m.config.apiv2_key.expose()).ok())
}

/// Queues the v2 pay notification (E.4), signed like the unified order was.
pub fn notify_pay(sim: &Sim, order: &Order) {
    let Some(key) = merchant_key(sim, &order.mchid) else {
        return;
    };
    let sign_type = order
        .v2_sign_type
        .as_deref()
        .and_then(|s| SignType::parse(s).ok())
        .unwrap_or_default();
    let mut f = Fields::new();
    for (k, v) in [
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", order.appid.clone()),
        ("mch_id", order.mchid.clone()),
        ("nonce_str", random_alnum(16)),
        ("openid", order.payer_openid.clone().unwrap_or_default()),
        ("is_subscribe", "N".to_owned()),
        ("trade_type", order.trade_type.clone()),
        ("bank_type", "OTHERS".to_owned()),
        ("total_fee", order.total.to_string()),
        ("cash_fee", order.total.to_string()),
        ("fee_type", "CNY".to_owned()),
        (
            "transaction_id",
            order.transaction_id.clone().unwrap_or_default(),
        ),
        ("out_trade_no", order.out_trade_no.clone()),
        (
            "time_end",
            order.success_time.map(v2_time).unwrap_or_default(),
        ),
    ] {
        f.insert(k.into(), v);
    }
    if let Some(a) = &order.attach {
        f.insert("attach".into(), a.clone());
    }
    sign_into(&mut f, &key, sign_type);
    let Ok(body) = xml::to_xml(f.iter()) else {
        return;
    };
    let id = order.transaction_id.clone().unwrap_or_default();
    notify::enqueue(
        sim,
        Protocol::V2,
        id,
        "V2.PAY",
        &order.mchid,
        &order.notify_url,
        body.clone(),
        body,
        &order.out_trade_no,
        None,
    );
}

/// Queues the v2 refund notification with `req_info` AES-256-ECB encrypted.
pub fn notify_refund(sim: &Sim, refund: &Refund) {
    let (Some(key), Some(url)) = (merchant_key(sim, &refund.mchid), refund.notify_url.clone())
    else {
        return;
    };
    let appid = lock(&sim.world)
        .orders
        .get(&order_key(&refund.mchid, &refund.out_trade_no))
        .map(|o| o.appid.clone())
        .unwrap_or_default();
    let mut inner = Fields::new();
    for (k, v) in [
        ("transaction_id", refund.transaction_id.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("refund_id", refund.refund_id.clone()),
        ("out_refund_no", refund.out_refund_no.clone()),
        ("total_fee", refund.total.to_string()),
        ("refund_fee", refund.refund.to_string()),
        ("settlement_refund_fee", refund.refund.to_string()),
        ("refund_status", v2_refund_status(refund).to_owned()),
        ("refund_recv_accout", "支付用户零钱".to_owned()),
        ("refund_account", "REFUND_SOURCE_RECHARGE_FUNDS".to_owned()),
        ("refund_request_source", "API".to_owned()),
    ] {
        inner.insert(k.into(), v);
    }
    if let Some(t) = refund.success_time {
        inner.insert(
            "success_time".into(),
            crate::sim::rfc3339_cst(t)
                .replace('T', " ")
                .chars()
                .take(19)
                .collect(),
        );
    }
    let plaintext = xml::to_xml_with_root("root", inner.iter()).unwrap_or_default();
    let Ok(req_info) = refund_crypto::encrypt_fields(inner.iter(), &key) else {
        return;
    };
    let mut f = Fields::new();
    f.insert("return_code".into(), "SUCCESS".into());
    f.insert("appid".into(), appid);
    f.insert("mch_id".into(), refund.mchid.clone());
    f.insert("nonce_str".into(), random_alnum(16));
    f.insert("req_info".into(), req_info);
    let Ok(body) = xml::to_xml(f.iter()) else {
        return;
    };
    notify::enqueue(
        sim,
        Protocol::V2,
        refund.refund_id.clone(),
        "V2.REFUND",
        &refund.mchid,
        &url,
        body,
        plaintext,
        &refund.out_trade_no,
        Some(&refund.out_refund_no),
    );
}
