//! Products, orders, pay and close.
//!
//! Prices come from the product table, never from the client. Paying returns the prepay
//! result plus the client parameters signed by the core's `invoke` builders; a prepay id
//! that is still valid (2 h, 5 min for an `h5_url`) is reused instead of asking again.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wxpay_core::TradeState;

use super::{owned_order, AuthUser, OrderView};
use crate::channel::{ApiVersion, Channel, PrepayRoute};
use crate::client_ip::client_ip;
use crate::error::{json_rejection, AppError, InternalError};
use crate::limits::{retry_after_secs, KeyedLimit};
use crate::payments;
use crate::prepay;
use crate::state::SharedState;
use crate::store::{NewOrder, Product, User};

/// Largest quantity of one product in one order.
const MAX_QUANTITY: i64 = 1000;

/// `GET /api/products`
pub async fn list_products(State(state): State<SharedState>) -> Result<Json<Value>, AppError> {
    let products: Vec<Product> = state.store.products().await?;
    Ok(Json(json!({ "products": products })))
}

/// One line of an order.
#[derive(Debug, Deserialize)]
pub struct OrderItem {
    /// Product id.
    pub product_id: String,
    /// Quantity (1 when omitted).
    #[serde(default = "one")]
    pub quantity: i64,
}

fn one() -> i64 {
    1
}

/// `POST /api/orders` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Lines.
    pub items: Vec<OrderItem>,
}

/// Counts one request of `user` against `limit` (`limits.orders_per_minute`,
/// `limits.pay_per_minute`): one user must not spend the WeChat rate limit all users share.
fn per_user(limit: &KeyedLimit<String>, user: &User) -> Result<(), AppError> {
    limit.check(&user.id).map_err(|wait| AppError::Throttled {
        retry_after_secs: retry_after_secs(wait),
    })
}

/// `POST /api/orders`
pub async fn create_order(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
    body: Result<Json<CreateOrderRequest>, JsonRejection>,
) -> Result<Json<OrderView>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    per_user(&state.limits.orders, &user)?;
    let idempotency_key = match headers.get("idempotency-key") {
        Some(value) => {
            let key = value
                .to_str()
                .map_err(|_| AppError::bad_request("invalid_idempotency_key", "not ASCII"))?;
            if key.is_empty() || key.len() > 64 {
                return Err(AppError::bad_request(
                    "invalid_idempotency_key",
                    "must be 1..=64 characters",
                ));
            }
            Some(key.to_owned())
        }
        None => None,
    };
    if request.items.is_empty() || request.items.len() > 50 {
        return Err(AppError::bad_request(
            "invalid_items",
            "an order needs 1..=50 items",
        ));
    }
    let catalogue = state.store.products().await?;
    let mut lines: Vec<(String, i64, i64)> = Vec::new();
    let mut names = Vec::new();
    let mut total: i64 = 0;
    for item in &request.items {
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(AppError::bad_request(
                "invalid_quantity",
                format!("quantity must be 1..={MAX_QUANTITY}"),
            ));
        }
        let product = catalogue
            .iter()
            .find(|p| p.id == item.product_id)
            .ok_or_else(|| {
                AppError::bad_request(
                    "unknown_product",
                    format!("no product {:?}", item.product_id),
                )
            })?;
        if let Some(line) = lines.iter_mut().find(|(id, _, _)| *id == product.id) {
            line.1 += item.quantity;
        } else {
            lines.push((product.id.clone(), item.quantity, product.price_fen));
            names.push(product.name.clone());
        }
        total = total
            .checked_add(product.price_fen.saturating_mul(item.quantity))
            .ok_or_else(|| AppError::bad_request("amount_too_large", "order total overflows"))?;
    }
    wxpay_core::Amount::from_fen(total)
        .map_err(|e| AppError::bad_request("amount_too_large", e.to_string()))?;
    let mut description = names.join(", ");
    if description.len() > 120 {
        let mut cut = 117;
        while !description.is_char_boundary(cut) {
            cut -= 1;
        }
        description.truncate(cut);
        description.push_str("...");
    }
    let now = state.clock.now();
    let out_trade_no = crate::ids::new_out_trade_no(now).map_err(InternalError::Entropy)?;
    let order = state
        .store
        .create_order(NewOrder {
            out_trade_no,
            user_id: user.id.clone(),
            idempotency_key,
            description,
            items: lines,
            amount_fen: total,
            now,
        })
        .await?;
    Ok(Json(OrderView::from(&order)))
}

/// `GET /api/orders/{out_trade_no}`: asks WeChat itself when the order is unpaid, was
/// prepaid, and the last check is stale (the fallback for a lost notification).
pub async fn get_order(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(out_trade_no): Path<String>,
) -> Result<Json<OrderView>, AppError> {
    let order = owned_order(&state, &user, &out_trade_no).await?;
    let stale = order
        .last_checked_at
        .is_none_or(|t| state.clock.now() - t >= state.settings.worker.status_stale_secs);
    if order.state.is_pending() && order.was_prepaid() && stale {
        if let Err(err) =
            payments::query_and_apply(&state, &order.out_trade_no, "status_query").await
        {
            // The stored state is still a correct answer ("not known to be paid").
            tracing::warn!(order = %order.out_trade_no, error = %crate::error::error_chain(&err), "status query failed");
        }
        let fresh = owned_order(&state, &user, &out_trade_no).await?;
        return Ok(Json(OrderView::from(&fresh)));
    }
    Ok(Json(OrderView::from(&order)))
}

/// `POST /api/orders/{out_trade_no}/pay` body.
#[derive(Debug, Deserialize)]
pub struct PayRequest {
    /// `miniprogram | jsapi | jssdk | h5 | native | app`.
    pub channel: String,
    /// `v3` (default) or `v2` (unified order and v2-signed client parameters).
    #[serde(default)]
    pub api_version: Option<String>,
}

/// `POST /api/orders/{out_trade_no}/pay` answer.
#[derive(Debug, Serialize)]
pub struct PayResponse {
    /// The order.
    pub out_trade_no: String,
    /// The channel.
    pub channel: String,
    /// Client parameters for that channel.
    pub params: Value,
}

/// The app a channel pays under; the user must have logged in through it where the
/// channel needs the payer's openid.
fn channel_app<'a>(
    state: &'a SharedState,
    user: &User,
    channel: Channel,
) -> Result<String, AppError> {
    let need_user_app =
        |app: Option<&'a crate::state::AppIdentity>, what: &str| -> Result<String, AppError> {
            let app = app.ok_or_else(|| {
                AppError::bad_request("channel_not_configured", format!("no {what} configured"))
            })?;
            if app.appid != user.appid {
                return Err(AppError::bad_request(
                    "channel_needs_other_login",
                    format!("channel {channel} needs an openid of the {what}; log in through it"),
                ));
            }
            Ok(app.appid.clone())
        };
    let web = || {
        state
            .apps
            .web_appid()
            .map(str::to_owned)
            .ok_or_else(|| AppError::bad_request("channel_not_configured", "no app configured"))
    };
    match channel {
        Channel::MiniProgram => need_user_app(state.apps.miniprogram.as_ref(), "mini-program"),
        Channel::Jsapi | Channel::Jssdk => {
            need_user_app(state.apps.official_account.as_ref(), "official account")
        }
        Channel::App => state
            .apps
            .app
            .as_ref()
            .map(|app| app.appid.clone())
            .ok_or_else(|| {
                AppError::bad_request("channel_not_configured", "no mobile app configured")
            }),
        Channel::H5 | Channel::Native => web(),
    }
}

/// `POST /api/orders/{out_trade_no}/pay`
pub async fn pay(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(out_trade_no): Path<String>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<PayRequest>, JsonRejection>,
) -> Result<Json<PayResponse>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    per_user(&state.limits.pay, &user)?;
    let order = owned_order(&state, &user, &out_trade_no).await?;
    match &order.state {
        TradeState::NotPay | TradeState::UserPaying => {}
        TradeState::Success | TradeState::Refund => {
            return Err(AppError::conflict(
                "order_paid",
                "the order is already paid",
            ))
        }
        other => {
            return Err(AppError::conflict(
                "order_closed",
                format!("the order is {other}"),
            ))
        }
    }
    let channel = Channel::parse(&request.channel).ok_or_else(|| {
        AppError::bad_request(
            "invalid_channel",
            format!("unknown channel {:?}", request.channel),
        )
    })?;
    let appid = channel_app(&state, &user, channel)?;
    let api = match request.api_version.as_deref() {
        None => ApiVersion::V3,
        Some(name) => ApiVersion::parse(name).ok_or_else(|| {
            AppError::bad_request(
                "invalid_api_version",
                format!("unknown api_version {name:?}; expected v3 or v2"),
            )
        })?,
    };
    let params = prepay::pay(
        &state,
        &prepay::PayRequest {
            user: &user,
            order: &order,
            route: PrepayRoute::new(channel, api),
            appid: &appid,
            payer_ip: client_ip(&state, &headers, Some(&peer)),
            now: state.clock.now(),
        },
    )
    .await?;
    Ok(Json(PayResponse {
        out_trade_no: order.out_trade_no,
        channel: request.channel,
        params,
    }))
}

/// `POST /api/orders/{out_trade_no}/close`
pub async fn close_order(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(out_trade_no): Path<String>,
) -> Result<Json<OrderView>, AppError> {
    let order = owned_order(&state, &user, &out_trade_no).await?;
    if !order.state.is_pending() {
        if order.state == TradeState::Closed {
            return Ok(Json(OrderView::from(&order)));
        }
        return Err(AppError::conflict(
            "order_not_closable",
            format!("the order is {}", order.state),
        ));
    }
    payments::close(&state, &order, "close_api").await?;
    let fresh = owned_order(&state, &user, &out_trade_no).await?;
    if fresh.state.is_paid() {
        return Err(AppError::conflict(
            "order_paid",
            "the order was paid before it could be closed",
        ));
    }
    Ok(Json(OrderView::from(&fresh)))
}
