//! The merchant staff's view of an order (`X-Admin-Token`): any order, with what the
//! payer's view leaves out, such as why the order needs the merchant's attention.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use super::admin::Admin;
use super::OrderView;
use crate::error::AppError;
use crate::state::SharedState;

/// An order as the merchant's staff see it.
#[derive(Debug, Serialize)]
pub struct AdminOrderView {
    /// What the payer sees.
    #[serde(flatten)]
    pub order: OrderView,
    /// Why someone should look at this order (a short reason code, e.g.
    /// `refunded_outside_server`), or null when nothing is wrong.
    pub attention: Option<String>,
}

/// `GET /api/admin/orders/{out_trade_no}`
pub async fn order(
    State(state): State<SharedState>,
    _admin: Admin,
    Path(out_trade_no): Path<String>,
) -> Result<Json<AdminOrderView>, AppError> {
    if out_trade_no.len() > 32 {
        return Err(AppError::NotFound("order"));
    }
    let order = state
        .store
        .order(&out_trade_no)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let attention = state.store.order_attention(&out_trade_no).await?;
    Ok(Json(AdminOrderView {
        order: OrderView::from(&order),
        attention,
    }))
}
