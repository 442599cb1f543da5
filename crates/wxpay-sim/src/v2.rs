//! API v2 (XML): unified order, order query, close, refund (mutual TLS) and refund query.
//! The v2 pay / refund notifications (E) are built in [`crate::notify`].
//!
//! Requests are read with the core's v2 models (`UnifiedOrderRequest::from_params`, …) and
//! answers are built from them; signing, verification and the XML codec come from
//! `wxpay_core::v2` too. Answers follow v2's two levels:
//! `return_code` FAIL ([`ReturnFailure`]) for communication, signature and format problems,
//! `result_code` FAIL ([`BusinessFailure`]) for business errors.

// Early exits carry the finished XML response; boxing it would only add noise to every
// handler, and these paths run once per request.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use wxpay_core::v2::models::{
    signed_xml, BusinessFailure, CloseOrderRequest, CloseOrderResponse, OrderQueryRequest,
    OrderQueryResponse, OrderRef, ReturnFailure, UnifiedOrderRequest, UnifiedOrderResponse,
    V2ModelError,
};
use wxpay_core::v2::refund_models::{
    RefundQueryBy, RefundQueryItem, RefundQueryRequest, RefundQueryResponse, RefundRequest,
    RefundResponse,
};
use wxpay_core::v2::sign::{verify, ApiV2Key, SignType, SIGN_TYPE_FIELD};
use wxpay_core::v2::{xml, Params};
use wxpay_core::v3::models::{TradeType, CNY};
use wxpay_core::{
    AppId, MchId, OutRefundNo, OutTradeNo, PrepayId, RefundId, TradeState, TransactionId,
};

use crate::faults::FaultKind;
use crate::ids::{h5_url, new_code_url, new_prepay_id, random_alnum, DEFAULT_EXPIRY, PREPAY_TTL};
use crate::lifecycle::{
    apply_expiry, create_refund, schedule_auto_success, state_desc, NewRefund, RefundRefusal,
};
use crate::sim::{lock, now_unix, Sim};
use crate::state::{order_key, ApiVersion, Order, Refund};
use crate::wire::{v2_order, v2_refund_time, WireError};

/// The shortest `time_expire` a v2 unified order accepts, from now: five minutes for every
/// trade type but micropay (WeChat's `time_expire时间过短，刷卡至少1分钟，其他5分钟`).
pub const MIN_TIME_EXPIRE_SECS: i64 = 5 * 60;

fn xml_response(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    resp
}

/// `return_code` FAIL with `return_msg` (not signed, as WeChat does).
fn fail(return_msg: &str) -> Response {
    let params = ReturnFailure::new(return_msg).to_params();
    xml_response(xml::to_xml(&params).unwrap_or_else(|_| "<xml></xml>".into()))
}

/// `return_code` FAIL for a request the core's model did not read, in WeChat's wording.
fn refused(err: &V2ModelError) -> Response {
    fail(&ReturnFailure::for_request(err).return_msg)
}

/// `return_code` FAIL for a record that does not fit the core's types (never expected).
fn internal(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "v2 answer could not be built");
    fail("SYSTEMERROR 系统错误")
}

/// A verified v2 request.
struct V2Call {
    params: Params,
    key: ApiV2Key,
    sign_type: SignType,
    mch_id: MchId,
    appid: AppId,
}

impl V2Call {
    /// A signed answer, with the request's algorithm and, as WeChat's answers are, without
    /// a `sign_type` element.
    fn answer(&self, params: Params) -> Response {
        match signed_xml(params, &self.key, self.sign_type) {
            Ok(body) => xml_response(body),
            Err(e) => internal(e),
        }
    }

    /// `result_code` FAIL with `err_code`, signed like a success.
    fn biz_fail(&self, err_code: &str, err_code_des: &str) -> Response {
        let failure = BusinessFailure {
            appid: self.appid.clone(),
            mch_id: self.mch_id.clone(),
            err_code: err_code.into(),
            err_code_des: err_code_des.into(),
        };
        self.answer(failure.to_params(&random_alnum(16)))
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
    let params =
        xml::parse(body, xml::DEFAULT_MAX_LEN).map_err(|e| fail(&format!("XML格式错误 ({e})")))?;
    let field = |name: &str| params.get(name).cloned().unwrap_or_default();
    let mch_id = field("mch_id");
    let merchant = sim
        .merchants
        .get(&mch_id)
        .ok_or_else(|| fail("mch_id参数格式错误 (unknown mch_id)"))?;
    let appid = field("appid");
    if !merchant.config.appids.contains(&appid) {
        return Err(fail("appid和mch_id不匹配"));
    }
    let key = ApiV2Key::new(merchant.config.apiv2_key.expose())
        .map_err(|_| fail("商户API密钥配置错误"))?;
    // A request names its algorithm (MD5 when it does not); the answer uses the same one and,
    // like WeChat's, does not name it.
    let sign_type = match params.get(SIGN_TYPE_FIELD).filter(|t| !t.is_empty()) {
        Some(stated) => SignType::parse(stated).map_err(|_| fail("sign_type参数格式错误"))?,
        None => SignType::Md5,
    };
    verify(&params, &key, sign_type).map_err(|_| fail("签名错误"))?;
    Ok(V2Call {
        mch_id: MchId::new(mch_id).map_err(|e| {
            refused(&V2ModelError::Invalid {
                field: "mch_id",
                reason: e.to_string(),
            })
        })?,
        appid: AppId::new(appid).map_err(|e| {
            refused(&V2ModelError::Invalid {
                field: "appid",
                reason: e.to_string(),
            })
        })?,
        params,
        key,
        sign_type,
    })
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
    let request = UnifiedOrderRequest::from_params_over_private_line(
        &call.params,
        &sim.config.private_line_notify_hosts,
    )
    .map_err(|e| refused(&e))?;
    if let (TradeType::Jsapi, Some(openid)) = (&request.trade_type, &request.openid) {
        if !crate::login::openid_belongs_to(sim, openid.as_str(), call.appid.as_str()) {
            return Err(call.biz_fail("PARAM_ERROR", "appid和openid不匹配"));
        }
    }
    let now = now_unix();
    let time_expire = match request.time_expire {
        // Refused, never raised: WeChat answers this for anything under five minutes away
        // (one minute for micropay, which the simulator does not serve).
        Some(at) if at - now < MIN_TIME_EXPIRE_SECS => {
            return Err(fail("time_expire时间过短，刷卡至少1分钟，其他5分钟"))
        }
        Some(at) => at,
        None => now + DEFAULT_EXPIRY,
    };
    let mut fingerprint = call.params.clone();
    for volatile in ["nonce_str", "sign", SIGN_TYPE_FIELD] {
        fingerprint.remove(volatile);
    }
    let fingerprint = serde_json::to_value(&fingerprint).unwrap_or_default();
    let mweb = request.trade_type == TradeType::Mweb;
    let key = order_key(call.mch_id.as_str(), request.out_trade_no.as_str());
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
            if mweb {
                order.h5_issued_at = Some(now);
            }
            order.clone()
        } else {
            let order = Order {
                mchid: call.mch_id.as_str().to_owned(),
                appid: call.appid.as_str().to_owned(),
                out_trade_no: request.out_trade_no.as_str().to_owned(),
                transaction_id: None,
                prepay_id: new_prepay_id(now),
                prepay_expires_at: now + PREPAY_TTL,
                trade_type: request.trade_type.clone(),
                trade_state: TradeState::NotPay,
                trade_state_desc: state_desc(&TradeState::NotPay).into(),
                description: request.body.as_str().to_owned(),
                total: request.total_fee.fen(),
                currency: CNY.into(),
                notify_url: request.notify_url.as_str().to_owned(),
                attach: request.attach.as_ref().map(|a| a.as_str().to_owned()),
                time_expire,
                payer_openid: request.openid.as_ref().map(|o| o.as_str().to_owned()),
                created_at: now,
                success_time: None,
                fingerprint,
                refunded: 0,
                api: ApiVersion::V2,
                v2_sign_type: Some(call.sign_type.as_str().to_owned()),
                h5_issued_at: mweb.then_some(now),
                payer_client_ip: Some(request.spbill_create_ip.to_string()),
                code_url: (request.trade_type == TradeType::Native).then(new_code_url),
            };
            world.orders.insert(key, order.clone());
            order
        }
    };
    sim.persist();
    let answer = UnifiedOrderResponse {
        appid: call.appid.clone(),
        mch_id: call.mch_id.clone(),
        trade_type: order.trade_type.clone(),
        prepay_id: PrepayId::new(order.prepay_id.clone()).map_err(internal)?,
        code_url: order.code_url.clone(),
        mweb_url: mweb.then(|| h5_url(&sim.base_url(), &order.prepay_id)),
    };
    Ok(call.answer(answer.to_params(&random_alnum(16))))
}

fn find_order(sim: &Sim, call: &V2Call, by: &OrderRef) -> Result<Order, Response> {
    let mut world = lock(&sim.world);
    let key = match by {
        OrderRef::TransactionId(tid) => world
            .order_by_transaction(call.mch_id.as_str(), tid.as_str())
            .map(|o| order_key(&o.mchid, &o.out_trade_no)),
        OrderRef::OutTradeNo(otn) => Some(order_key(call.mch_id.as_str(), otn.as_str())),
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
    let request = match OrderQueryRequest::from_params(&call.params) {
        Ok(r) => r,
        Err(e) => return refused(&e),
    };
    let order = match find_order(&sim, &call, &request.order) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let answer = match v2_order(&order) {
        Ok(v2) => OrderQueryResponse {
            order: v2,
            trade_state: order.trade_state.clone(),
            trade_state_desc: Some(order.trade_state_desc.clone()),
            is_subscribe: order.success_time.map(|_| "N".to_owned()),
        },
        Err(e) => return internal(e),
    };
    call.answer(answer.to_params(&random_alnum(16)))
}

/// `POST /pay/closeorder`.
pub async fn closeorder(State(sim): State<Sim>, body: Bytes) -> Response {
    let call = match read_call(&sim, "v2.closeorder", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let request = match CloseOrderRequest::from_params(&call.params) {
        Ok(r) => r,
        Err(e) => return refused(&e),
    };
    let result = {
        let mut world = lock(&sim.world);
        match world.orders.get_mut(&order_key(
            call.mch_id.as_str(),
            request.out_trade_no.as_str(),
        )) {
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
        Ok(()) => {
            let answer = CloseOrderResponse {
                appid: call.appid.clone(),
                mch_id: call.mch_id.clone(),
            };
            call.answer(answer.to_params(&random_alnum(16)))
        }
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
        .get(call.mch_id.as_str())
        .map(|m| {
            m.certs
                .iter()
                .any(|c| c.serial.eq_ignore_ascii_case(&cert.serial))
        })
        .unwrap_or(false);
    if !owns {
        return fail("证书与商户号不匹配 (client certificate does not belong to mch_id)");
    }
    let request = match RefundRequest::from_params_over_private_line(
        &call.params,
        &sim.config.private_line_notify_hosts,
    ) {
        Ok(r) => r,
        Err(e) => return refused(&e),
    };
    let (out_trade_no, transaction_id) = match &request.order {
        OrderRef::OutTradeNo(o) => (Some(o.as_str().to_owned()), None),
        OrderRef::TransactionId(t) => (None, Some(t.as_str().to_owned())),
    };
    let new = NewRefund {
        mchid: call.mch_id.as_str().to_owned(),
        out_trade_no,
        transaction_id,
        out_refund_no: request.out_refund_no.as_str().to_owned(),
        refund: request.refund_fee.fen(),
        total: request.total_fee.fen(),
        reason: request.refund_desc.clone(),
        notify_url: request.notify_url.as_ref().map(|u| u.as_str().to_owned()),
        funds_account: None,
        api: ApiVersion::V2,
    };
    match create_refund(&sim, new) {
        Ok((r, created)) => {
            if created {
                schedule_auto_success(&sim, order_key(&r.mchid, &r.out_refund_no));
            }
            match refund_response(&call, &r) {
                Ok(answer) => call.answer(answer.to_params(&random_alnum(16))),
                Err(e) => internal(e),
            }
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

fn refund_response(call: &V2Call, r: &Refund) -> Result<RefundResponse, WireError> {
    Ok(RefundResponse {
        appid: call.appid.clone(),
        mch_id: call.mch_id.clone(),
        transaction_id: TransactionId::new(r.transaction_id.clone())?,
        out_trade_no: OutTradeNo::new(r.out_trade_no.clone())?,
        out_refund_no: OutRefundNo::new(r.out_refund_no.clone())?,
        refund_id: RefundId::new(r.refund_id.clone())?,
        refund_fee: r.refund,
        total_fee: r.total,
        cash_fee: Some(r.total),
    })
}

/// `POST /pay/refundquery`.
pub async fn refundquery(State(sim): State<Sim>, body: Bytes) -> Response {
    let call = match read_call(&sim, "v2.refundquery", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let request = match RefundQueryRequest::from_params(&call.params) {
        Ok(r) => r,
        Err(e) => return refused(&e),
    };
    let refunds: Vec<Refund> = {
        let world = lock(&sim.world);
        world
            .refunds
            .values()
            .filter(|r| r.mchid == call.mch_id.as_str())
            .filter(|r| match &request.by {
                RefundQueryBy::RefundId(v) => r.refund_id == v.as_str(),
                RefundQueryBy::OutRefundNo(v) => r.out_refund_no == v.as_str(),
                RefundQueryBy::TransactionId(v) => r.transaction_id == v.as_str(),
                RefundQueryBy::OutTradeNo(v) => r.out_trade_no == v.as_str(),
            })
            .cloned()
            .collect()
    };
    let Some(first) = refunds.first() else {
        return call.biz_fail("REFUNDNOTEXIST", "退款订单查询失败");
    };
    let answer = || -> Result<RefundQueryResponse, WireError> {
        Ok(RefundQueryResponse {
            appid: call.appid.clone(),
            mch_id: call.mch_id.clone(),
            transaction_id: TransactionId::new(first.transaction_id.clone())?,
            out_trade_no: OutTradeNo::new(first.out_trade_no.clone())?,
            total_fee: first.total,
            cash_fee: Some(first.total),
            refunds: refunds
                .iter()
                .map(|r| {
                    Ok(RefundQueryItem {
                        out_refund_no: OutRefundNo::new(r.out_refund_no.clone())?,
                        refund_id: RefundId::new(r.refund_id.clone())?,
                        refund_fee: r.refund,
                        refund_status: r.status.clone(),
                        refund_success_time: r.success_time.map(v2_refund_time).transpose()?,
                        refund_recv_accout: Some("支付用户的零钱".into()),
                    })
                })
                .collect::<Result<_, WireError>>()?,
        })
    };
    match answer() {
        Ok(answer) => call.answer(answer.to_params(&random_alnum(16))),
        Err(e) => internal(e),
    }
}
