//! Basic payment (基础支付): prepay for JSAPI / APP / H5 / Native, query by `out_trade_no`
//! and by `transaction_id`, and close (A.9).

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use wxpay_core::v3::models::error_code;
use wxpay_core::TradeState;

use super::validate::Fields;
use super::{serve, ApiError, Reply, V3Request};
use crate::crypto::VerifiedAuth;
use crate::lifecycle::{apply_expiry, state_desc};
use crate::sim::{lock, now_unix, random_alnum, random_digits, v2_time, Sim};
use crate::state::{order_key, ApiVersion, Order};

/// A prepay id lives two hours (A.10).
pub const PREPAY_TTL: i64 = 2 * 3600;
/// Unpaid orders without `time_expire` die after seven days.
pub const DEFAULT_EXPIRY: i64 = 7 * 24 * 3600;
/// `h5_url` validity (A.10).
pub const H5_TTL: i64 = 300;

/// Which prepay endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `/v3/pay/transactions/jsapi` (also mini-programs).
    Jsapi,
    /// `/v3/pay/transactions/app`.
    App,
    /// `/v3/pay/transactions/h5`.
    H5,
    /// `/v3/pay/transactions/native`.
    Native,
}

impl Channel {
    /// `trade_type` as queries report it.
    pub fn trade_type(self) -> &'static str {
        match self {
            Self::Jsapi => "JSAPI",
            Self::App => "APP",
            Self::H5 => "MWEB",
            Self::Native => "NATIVE",
        }
    }
}

/// A new prepay id shaped like `wx201410272009395522657a690389285100`.
pub fn new_prepay_id(now: i64) -> String {
    format!(
        "wx{}{}",
        v2_time(now),
        random_alnum(20).to_ascii_lowercase()
    )
}

/// The `h5_url` for an order.
pub fn h5_url(sim: &Sim, prepay_id: &str) -> String {
    format!(
        "{}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}&package={}",
        sim.base_url(),
        random_digits(10)
    )
}

/// Handler for the four prepay endpoints.
pub async fn prepay(
    State(sim): State<Sim>,
    Path(channel): Path<String>,
    request: Request,
) -> Response {
    let (channel, endpoint) = match channel.as_str() {
        "jsapi" => (Channel::Jsapi, "v3.jsapi"),
        "app" => (Channel::App, "v3.app"),
        "h5" => (Channel::H5, "v3.h5"),
        "native" => (Channel::Native, "v3.native"),
        _ => {
            return super::respond(
                &sim,
                Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "接口不存在",
                )),
                false,
            )
        }
    };
    serve(sim, endpoint, request, move |sim, req, auth| {
        prepay_inner(sim, req, auth, channel)
    })
    .await
}

fn prepay_inner(
    sim: &Sim,
    req: &V3Request,
    auth: &VerifiedAuth,
    channel: Channel,
) -> Result<Reply, ApiError> {
    let body = req.json()?;
    let f = Fields::body(&body);
    let appid = f.appid()?;
    let mchid = f.string("mchid")?;
    if mchid != auth.mchid {
        return Err(ApiError::param(
            "/body/mchid",
            "does not match the mchid in Authorization",
        ));
    }
    let description = f.description()?;
    let out_trade_no = f.out_trade_no()?;
    let time_expire = f.time_expire()?;
    let attach = f.attach()?;
    let notify_url = f
        .notify_url("notify_url", true, &sim.config.private_line_notify_hosts)?
        .unwrap_or_default();
    f.bounded("goods_tag", 32)?;
    let amount = f.object("amount")?;
    let total = amount.amount("total")?;
    let currency = amount.currency(false)?;
    let payer_openid = match channel {
        Channel::Jsapi => Some(f.object("payer")?.openid()?.into_inner()),
        _ => None,
    };
    let mut payer_client_ip = None;
    if channel == Channel::H5 {
        let scene = f.object("scene_info")?;
        payer_client_ip = Some(scene.string("payer_client_ip")?.to_owned());
        let h5 = scene.object("h5_info")?;
        h5.string("type")?;
    }
    let merchant = sim
        .merchants
        .get(mchid)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "MCH_NOT_EXISTS", "商户号不存在"))?;
    if !merchant.config.appids.iter().any(|a| a == appid.as_str()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "APPID_MCHID_NOT_MATCH",
            "appid和mch_id不匹配",
        ));
    }
    if let Some(openid) = &payer_openid {
        if !crate::login::openid_belongs_to(sim, openid, appid.as_str()) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                error_code::PARAM_ERROR,
                "appid和openid不匹配",
            )
            .with_body_field("/body/payer/openid"));
        }
    }

    let now = now_unix();
    let key = order_key(mchid, out_trade_no.as_str());
    let mut fingerprint = body.clone();
    if let Some(o) = fingerprint.as_object_mut() {
        o.insert("__trade_type".into(), json!(channel.trade_type()));
    }
    let mut world = lock(&sim.world);
    if let Some(order) = world.orders.get_mut(&key) {
        apply_expiry(order, now);
        match order.trade_state {
            TradeState::Success | TradeState::Refund => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "ORDERPAID",
                    "该订单已支付",
                ))
            }
            TradeState::Closed => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "ORDER_CLOSED",
                    "订单已关闭",
                ))
            }
            _ => {}
        }
        if order.fingerprint != fingerprint {
            return Err(ApiError::invalid(
                "201 商户订单号重复 (out_trade_no reused with different parameters)",
            ));
        }
        if now >= order.prepay_expires_at {
            order.prepay_id = new_prepay_id(now);
            order.prepay_expires_at = now + PREPAY_TTL;
        }
        if channel == Channel::H5 {
            order.h5_issued_at = Some(now);
        }
        let order = order.clone();
        drop(world);
        return Ok(Reply::Json(prepay_reply(sim, &order, channel)));
    }
    let expire_at = time_expire
        .map(|t| t.unix_seconds().max(now + 60))
        .unwrap_or(now + DEFAULT_EXPIRY);
    let order = Order {
        mchid: mchid.to_owned(),
        appid: appid.into_inner(),
        out_trade_no: out_trade_no.into_inner(),
        transaction_id: None,
        prepay_id: new_prepay_id(now),
        prepay_expires_at: now + PREPAY_TTL,
        trade_type: channel.trade_type().into(),
        trade_state: TradeState::NotPay,
        trade_state_desc: state_desc(&TradeState::NotPay).into(),
        description: description.as_str().to_owned(),
        total: total.fen(),
        currency,
        notify_url,
        attach: attach.map(|a| a.as_str().to_owned()),
        time_expire: expire_at,
        payer_openid,
        created_at: now,
        success_time: None,
        fingerprint,
        refunded: 0,
        api: ApiVersion::V3,
        v2_sign_type: None,
        h5_issued_at: (channel == Channel::H5).then_some(now),
        payer_client_ip,
        code_url: (channel == Channel::Native)
            .then(|| format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(9))),
    };
    world.orders.insert(key, order.clone());
    drop(world);
    sim.persist();
    Ok(Reply::Json(prepay_reply(sim, &order, channel)))
}

fn prepay_reply(sim: &Sim, order: &Order, channel: Channel) -> Value {
    match channel {
        Channel::Jsapi | Channel::App => json!({ "prepay_id": order.prepay_id }),
        Channel::H5 => json!({ "h5_url": h5_url(sim, &order.prepay_id) }),
        Channel::Native => json!({ "code_url": order.code_url }),
    }
}

fn require_mchid_query(req: &V3Request, auth: &VerifiedAuth) -> Result<(), ApiError> {
    match req.query_param("mchid") {
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "参数错误: mchid is required (query)",
        )
        .with_field("/query/mchid")),
        Some(m) if m != auth.mchid => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "参数错误: mchid does not match the mchid in Authorization",
        )
        .with_field("/query/mchid")),
        Some(_) => Ok(()),
    }
}

/// 404 `ORDER_NOT_EXIST`, the current docs' spelling (older v3 pages say `ORDERNOTEXIST`;
/// merchants must accept both, A.12).
fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        error_code::ORDER_NOT_EXIST,
        "订单不存在",
    )
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=`.
pub async fn query_by_out_trade_no(
    State(sim): State<Sim>,
    Path(out_trade_no): Path<String>,
    request: Request,
) -> Response {
    serve(sim, "v3.query", request, move |sim, req, auth| {
        require_mchid_query(req, auth)?;
        let mut world = lock(&sim.world);
        let order = world
            .orders
            .get_mut(&order_key(&auth.mchid, &out_trade_no))
            .ok_or_else(not_found)?;
        apply_expiry(order, now_unix());
        Ok(Reply::Json(crate::lifecycle::transaction_json(order)))
    })
    .await
}

/// `GET /v3/pay/transactions/id/{transaction_id}?mchid=`.
pub async fn query_by_transaction_id(
    State(sim): State<Sim>,
    Path(transaction_id): Path<String>,
    request: Request,
) -> Response {
    serve(sim, "v3.query", request, move |sim, req, auth| {
        require_mchid_query(req, auth)?;
        let world = lock(&sim.world);
        let order = world
            .order_by_transaction(&auth.mchid, &transaction_id)
            .ok_or_else(not_found)?;
        Ok(Reply::Json(crate::lifecycle::transaction_json(order)))
    })
    .await
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` → 204, or 202 `USERPAYING`
/// (not closed) while the payer is entering the password.
pub async fn close(
    State(sim): State<Sim>,
    Path(out_trade_no): Path<String>,
    request: Request,
) -> Response {
    serve(sim, "v3.close", request, move |sim, req, auth| {
        let body = req.json()?;
        let mchid = Fields::body(&body).string("mchid")?;
        if mchid != auth.mchid {
            return Err(ApiError::param(
                "/body/mchid",
                "does not match the mchid in Authorization",
            ));
        }
        {
            let mut world = lock(&sim.world);
            let order = world
                .orders
                .get_mut(&order_key(mchid, &out_trade_no))
                .ok_or_else(not_found)?;
            apply_expiry(order, now_unix());
            match order.trade_state {
                TradeState::Success | TradeState::Refund => {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "ORDERPAID",
                        "该订单已支付",
                    ))
                }
                // The payer is entering the password: WeChat does not close, it answers 202
                // and the merchant is to query for the outcome (A.12: 202 `USERPAYING`).
                TradeState::UserPaying => {
                    return Err(ApiError::new(
                        StatusCode::ACCEPTED,
                        "USERPAYING",
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
    })
    .await
}
