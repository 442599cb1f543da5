//! Orders that need the merchant's staff: `GET /api/admin/attention` lists them and
//! `POST /api/admin/orders/{out_trade_no}/attention/resolve` clears one (X-Admin-Token).
//!
//! An order is flagged when WeChat proved a payment for it (verified notification or
//! query) after this server had closed it: the money was recorded as received (the order
//! is SUCCESS and can be refunded), and a person decides whether to refund or fulfil it.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::admin::Admin;
use crate::error::{json_rejection, AppError};
use crate::state::SharedState;
use crate::store::Order;

/// Most orders listed at once (oldest first; resolve some to see the rest).
const LIST_LIMIT: i64 = 500;

/// A flagged order as the staff sees it.
#[derive(Debug, Serialize)]
pub struct AttentionView {
    /// Merchant order number.
    pub out_trade_no: String,
    /// Why it is flagged, e.g. `paid_after_closed`.
    pub attention: Option<String>,
    /// Trade state now (SUCCESS, or REFUND once refunded).
    pub state: String,
    /// Amount paid (fen).
    pub amount_fen: i64,
    /// Refunded so far (fen).
    pub refunded_fen: i64,
    /// WeChat's order number.
    pub transaction_id: Option<String>,
    /// When the payment was recorded (Unix seconds).
    pub paid_at: Option<i64>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

impl From<&Order> for AttentionView {
    fn from(order: &Order) -> Self {
        Self {
            out_trade_no: order.out_trade_no.clone(),
            attention: order.attention.clone(),
            state: order.state.to_string(),
            amount_fen: order.amount_fen,
            refunded_fen: order.refunded_fen,
            transaction_id: order.transaction_id.clone(),
            paid_at: order.paid_at,
            created_at: order.created_at,
        }
    }
}

/// `GET /api/admin/attention`
pub async fn list(
    State(state): State<SharedState>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, AppError> {
    let orders = state.store.orders_needing_attention(LIST_LIMIT).await?;
    let views: Vec<AttentionView> = orders.iter().map(AttentionView::from).collect();
    Ok(Json(serde_json::json!({ "orders": views })))
}

/// `POST /api/admin/orders/{out_trade_no}/attention/resolve` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What was done (refunded, fulfilled …), kept in the audit row; ≤ 200 characters.
    pub note: String,
}

/// `POST /api/admin/orders/{out_trade_no}/attention/resolve`
pub async fn resolve(
    State(state): State<SharedState>,
    _admin: Admin,
    Path(out_trade_no): Path<String>,
    body: Result<Json<ResolveRequest>, JsonRejection>,
) -> Result<Json<AttentionView>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    if request.note.trim().is_empty() || request.note.chars().count() > 200 {
        return Err(AppError::bad_request(
            "invalid_note",
            "note must be 1..=200 characters",
        ));
    }
    if out_trade_no.len() > 32 {
        return Err(AppError::NotFound("order"));
    }
    let resolved = state
        .store
        .resolve_attention(
            &out_trade_no,
            &request.note,
            Admin::ACTOR,
            state.clock.now(),
        )
        .await?;
    let order = state
        .store
        .order(&out_trade_no)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if !resolved {
        return Err(AppError::conflict(
            "nothing_to_resolve",
            "the order is not flagged",
        ));
    }
    Ok(Json(AttentionView::from(&order)))
}
