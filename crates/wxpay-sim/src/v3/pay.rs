//! Basic payment (基础支付): prepay for JSAPI / APP / H5 / Native, query by `out_trade_no`
//! and by `transaction_id`, and close (A.9). Requests are read with the core's
//! [`PrepayRequest`] and [`CloseRequest`]; answers are the core's prepay answers and
//! [`wxpay_core::v3::models::Transaction`].

use serde_json::{json, Value};
use wxpay_core::v3::models::{
    error_code, CloseRequest, ErrorBody, FieldError, H5PrepayResponse, NativePrepayResponse,
    ParamErrorDetail, PrepayIdResponse, PrepayKind, PrepayRequest, CNY,
};
use wxpay_core::{MchId, OutTradeNo, PrepayId, TradeState, TransactionId};

use super::call::{ApiError, Reply, V3Request};
use crate::crypto::VerifiedAuth;
use crate::ids::{h5_url, new_code_url, new_prepay_id, DEFAULT_EXPIRY, PREPAY_TTL};
use crate::lifecycle::{apply_expiry, state_desc};
use crate::sim::{lock, now_unix, Sim};
use crate::state::{order_key, ApiVersion, Order};
use crate::wire::transaction;

/// 400 `PARAM_ERROR` on the body's `mchid` when it is not the merchant that signed.
fn check_body_mchid(mchid: &MchId, auth: &VerifiedAuth, body: &Value) -> Result<(), ApiError> {
    if mchid.as_str() == auth.mchid {
        return Ok(());
    }
    Err(ApiError::param(
        &FieldError::new("/mchid", "does not match the mchid in Authorization"),
        body,
    ))
}

/// `POST /v3/pay/transactions/{jsapi,app,h5,native}`.
pub fn prepay(
    sim: &Sim,
    req: &V3Request,
    auth: &VerifiedAuth,
    kind: PrepayKind,
) -> Result<Reply, ApiError> {
    let body = req.json()?;
    let request = PrepayRequest::from_json_over_private_line(
        kind,
        &body,
        &sim.config.private_line_notify_hosts,
    )
    .map_err(|e| ApiError::param(&e, &body))?;
    check_body_mchid(&request.mchid, auth, &body)?;
    let mchid = request.mchid.as_str();
    let merchant = sim
        .merchants
        .get(mchid)
        .ok_or_else(|| ApiError::new(error_code::MCH_NOT_EXISTS, "商户号不存在"))?;
    let appid = request.appid.as_str();
    if !merchant.config.appids.iter().any(|a| a == appid) {
        return Err(ApiError::new(
            error_code::APPID_MCHID_NOT_MATCH,
            "appid和mch_id不匹配",
        ));
    }
    // Only JSAPI names its payer; another kind's `payer` is read and ignored.
    let payer_openid = match (kind, &request.payer) {
        (PrepayKind::Jsapi, Some(payer)) => Some(payer.openid.as_str().to_owned()),
        _ => None,
    };
    if let Some(openid) = &payer_openid {
        if !crate::login::openid_belongs_to(sim, openid, appid) {
            let mut refusal = ErrorBody::param_error_in(
                &FieldError::new("/payer/openid", "appid和openid不匹配"),
                &body,
            );
            refusal.message = "appid和openid不匹配".into();
            return Err(refusal.into());
        }
    }

    let now = now_unix();
    let key = order_key(mchid, request.out_trade_no.as_str());
    // The request as read, so that the same parameters spelled differently are the same.
    let mut fingerprint = serde_json::to_value(&request).map_err(ApiError::internal)?;
    if let Some(o) = fingerprint.as_object_mut() {
        o.insert("__trade_type".into(), json!(kind.trade_type()));
    }
    let mut world = lock(&sim.world);
    if let Some(order) = world.orders.get_mut(&key) {
        apply_expiry(order, now);
        match order.trade_state {
            TradeState::Success | TradeState::Refund => {
                return Err(ApiError::new(error_code::ORDERPAID, "该订单已支付"))
            }
            TradeState::Closed => {
                return Err(ApiError::new(error_code::ORDER_CLOSED, "订单已关闭"))
            }
            _ => {}
        }
        if order.fingerprint != fingerprint {
            return Err(ApiError::new(
                error_code::INVALID_REQUEST,
                "201 商户订单号重复 (out_trade_no reused with different parameters)",
            ));
        }
        if now >= order.prepay_expires_at {
            order.prepay_id = new_prepay_id(now);
            order.prepay_expires_at = now + PREPAY_TTL;
        }
        if kind == PrepayKind::H5 {
            order.h5_issued_at = Some(now);
        }
        let order = order.clone();
        drop(world);
        return prepay_reply(sim, &order, kind);
    }
    // WeChat raises a time_expire earlier than one minute from now to that (A.9).
    let expire_at = request
        .time_expire
        .as_ref()
        .map(|t| t.unix_seconds().max(now + 60))
        .unwrap_or(now + DEFAULT_EXPIRY);
    let order = Order {
        mchid: mchid.to_owned(),
        appid: appid.to_owned(),
        out_trade_no: request.out_trade_no.as_str().to_owned(),
        transaction_id: None,
        prepay_id: new_prepay_id(now),
        prepay_expires_at: now + PREPAY_TTL,
        trade_type: kind.trade_type(),
        trade_state: TradeState::NotPay,
        trade_state_desc: state_desc(&TradeState::NotPay).into(),
        description: request.description.as_str().to_owned(),
        total: request.amount.total.fen(),
        currency: request
            .amount
            .currency
            .clone()
            .unwrap_or_else(|| CNY.to_owned()),
        notify_url: request.notify_url.as_str().to_owned(),
        attach: request.attach.as_ref().map(|a| a.as_str().to_owned()),
        time_expire: expire_at,
        payer_openid,
        created_at: now,
        success_time: None,
        fingerprint,
        refunded: 0,
        api: ApiVersion::V3,
        v2_sign_type: None,
        h5_issued_at: (kind == PrepayKind::H5).then_some(now),
        payer_client_ip: match kind {
            PrepayKind::H5 => request.scene_info.map(|s| s.payer_client_ip),
            _ => None,
        },
        code_url: (kind == PrepayKind::Native).then(new_code_url),
    };
    world.orders.insert(key, order.clone());
    drop(world);
    sim.persist();
    prepay_reply(sim, &order, kind)
}

/// The prepay answer of `kind`: `prepay_id`, `h5_url` or `code_url`.
fn prepay_reply(sim: &Sim, order: &Order, kind: PrepayKind) -> Result<Reply, ApiError> {
    match kind {
        PrepayKind::Jsapi | PrepayKind::App => Reply::json(&PrepayIdResponse {
            prepay_id: PrepayId::new(order.prepay_id.clone()).map_err(ApiError::internal)?,
        }),
        PrepayKind::H5 => Reply::json(&H5PrepayResponse {
            h5_url: h5_url(&sim.base_url(), &order.prepay_id),
        }),
        PrepayKind::Native => Reply::json(&NativePrepayResponse {
            code_url: order.code_url.clone().unwrap_or_default(),
        }),
    }
}

/// 400 `PARAM_ERROR` on the query's `mchid` when it is not the merchant that signed.
fn check_query_mchid(mchid: &MchId, auth: &VerifiedAuth) -> Result<(), ApiError> {
    if mchid.as_str() == auth.mchid {
        return Ok(());
    }
    Err(ErrorBody::param(ParamErrorDetail::in_query(
        "mchid",
        Some(mchid.as_str()),
        "does not match the mchid in Authorization",
    ))
    .into())
}

/// 404 `ORDER_NOT_EXIST`, the current docs' spelling (older v3 pages say `ORDERNOTEXIST`;
/// merchants must accept both, A.12).
fn not_found() -> ApiError {
    ApiError::new(error_code::ORDER_NOT_EXIST, "订单不存在")
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=`.
pub fn query_by_out_trade_no(
    sim: &Sim,
    auth: &VerifiedAuth,
    out_trade_no: &OutTradeNo,
    mchid: &MchId,
) -> Result<Reply, ApiError> {
    check_query_mchid(mchid, auth)?;
    let order = {
        let mut world = lock(&sim.world);
        let order = world
            .orders
            .get_mut(&order_key(&auth.mchid, out_trade_no.as_str()))
            .ok_or_else(not_found)?;
        apply_expiry(order, now_unix());
        order.clone()
    };
    Reply::json(&transaction(&order).map_err(ApiError::internal)?)
}

/// `GET /v3/pay/transactions/id/{transaction_id}?mchid=`.
pub fn query_by_transaction_id(
    sim: &Sim,
    auth: &VerifiedAuth,
    transaction_id: &TransactionId,
    mchid: &MchId,
) -> Result<Reply, ApiError> {
    check_query_mchid(mchid, auth)?;
    let order = lock(&sim.world)
        .order_by_transaction(&auth.mchid, transaction_id.as_str())
        .cloned()
        .ok_or_else(not_found)?;
    Reply::json(&transaction(&order).map_err(ApiError::internal)?)
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` → 204, or 202 `USERPAYING`
/// (not closed) while the payer is entering the password.
pub fn close(
    sim: &Sim,
    req: &V3Request,
    auth: &VerifiedAuth,
    out_trade_no: &OutTradeNo,
) -> Result<Reply, ApiError> {
    let body = req.json()?;
    let request = CloseRequest::from_json(&body).map_err(|e| ApiError::param(&e, &body))?;
    check_body_mchid(&request.mchid, auth, &body)?;
    {
        let mut world = lock(&sim.world);
        let order = world
            .orders
            .get_mut(&order_key(request.mchid.as_str(), out_trade_no.as_str()))
            .ok_or_else(not_found)?;
        apply_expiry(order, now_unix());
        match order.trade_state {
            TradeState::Success | TradeState::Refund => {
                return Err(ApiError::new(error_code::ORDERPAID, "该订单已支付"))
            }
            // The payer is entering the password: WeChat does not close, it answers 202
            // and the merchant is to query for the outcome (A.12: 202 `USERPAYING`).
            TradeState::UserPaying => {
                return Err(ApiError::new(
                    error_code::USERPAYING,
                    "用户支付中，需要输入密码",
                ))
            }
            TradeState::NotPay | TradeState::PayError => {
                order.trade_state = TradeState::Closed;
                order.trade_state_desc = state_desc(&TradeState::Closed).into();
            }
            // Closing a closed order again is idempotent.
            _ => {}
        }
    }
    sim.persist();
    Ok(Reply::NoContent)
}
