//! The JSON API for frontends: login, products, orders, pay, refunds, JS-SDK config.
//!
//! Authentication is a bearer token from a login call; the store keeps only its hash. Every
//! order lookup goes through [`owned_order`], which answers 404 for someone else's order,
//! so a user can neither read nor pay an order that is not theirs. Refunds are the
//! merchant's decision and need the staff credential instead ([`admin::Admin`]).

pub mod admin;
pub mod attention;
pub mod auth;
pub mod jssdk;
pub mod merchant;
pub mod mode_one;
pub mod openapi;
pub mod operations;
pub mod orders;
pub mod reconciliations;
pub mod refunds;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::Serialize;

use crate::error::AppError;
use crate::state::SharedState;
use crate::store::{Order, Refund, User};

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl<S> FromRequestParts<S> for AuthUser
where
    SharedState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = SharedState::from_ref(state);
        let token = bearer_token(&parts.headers).ok_or(AppError::Unauthorized)?;
        let user = state
            .store
            .session_user(&crate::ids::token_hash(token), state.clock.now())
            .await?
            .ok_or(AppError::Unauthorized)?;
        Ok(Self(user))
    }
}

/// The session token of `Authorization: Bearer …`, when it has a plausible shape.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

/// The `Idempotency-Key` header, when sent: 1..=64 ASCII characters (as order creation
/// reads it).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| AppError::bad_request("invalid_idempotency_key", "not ASCII"))?;
    if key.is_empty() || key.len() > 64 {
        return Err(AppError::bad_request(
            "invalid_idempotency_key",
            "must be 1..=64 characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Loads an order and checks that `user` owns it (404 otherwise).
pub async fn owned_order(
    state: &SharedState,
    user: &User,
    out_trade_no: &str,
) -> Result<Order, AppError> {
    if out_trade_no.len() > 32 {
        return Err(AppError::NotFound("order"));
    }
    match state.store.order(out_trade_no).await? {
        Some(order) if order.user_id == user.id => Ok(order),
        _ => Err(AppError::NotFound("order")),
    }
}

/// An order as the API shows it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    /// Merchant order number.
    pub out_trade_no: String,
    /// Trade state.
    pub state: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Refunded so far (fen).
    pub refunded_fen: i64,
    /// Last channel used to pay.
    pub channel: Option<String>,
    /// API version of the last prepay (`v3` or `v2`), when prepaid.
    pub api_version: Option<&'static str>,
    /// WeChat's order number once paid.
    pub transaction_id: Option<String>,
    /// Description.
    pub description: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Payment time (Unix seconds).
    pub paid_at: Option<i64>,
}

impl From<&Order> for OrderView {
    fn from(order: &Order) -> Self {
        Self {
            out_trade_no: order.out_trade_no.clone(),
            state: order.state.to_string(),
            amount_fen: order.amount_fen,
            refunded_fen: order.refunded_fen,
            channel: order.channel.map(|route| route.channel.as_str().to_owned()),
            api_version: order.channel.map(|route| route.api.as_str()),
            transaction_id: order.transaction_id.clone(),
            description: order.description.clone(),
            created_at: order.created_at,
            paid_at: order.paid_at,
        }
    }
}

/// A refund as the API shows it.
#[derive(Debug, Serialize)]
pub struct RefundView {
    /// Merchant refund number.
    pub out_refund_no: String,
    /// The order.
    pub out_trade_no: String,
    /// Amount (fen).
    pub amount_fen: i64,
    /// Status.
    pub status: String,
    /// WeChat's refund id.
    pub refund_id: Option<String>,
}

impl From<&Refund> for RefundView {
    fn from(refund: &Refund) -> Self {
        Self {
            out_refund_no: refund.out_refund_no.clone(),
            out_trade_no: refund.out_trade_no.clone(),
            amount_fen: refund.amount_fen,
            status: refund.status.to_string(),
            refund_id: refund.refund_id.clone(),
        }
    }
}
