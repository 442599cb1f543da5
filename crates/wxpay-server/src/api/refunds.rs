//! Refunds: several partial refunds per order up to the paid amount, and their status.
//!
//! The amount is reserved in the store (one transaction that sums the order's open and
//! successful refunds) before WeChat is asked, so concurrent refund requests can never
//! exceed what was paid.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use wxpay_core::RefundStatus;

use super::{owned_order, AuthUser, RefundView};
use crate::clock;
use crate::error::{json_rejection, AppError};
use crate::payments;
use crate::state::SharedState;
use crate::store::RefundRefusal;

/// `POST /api/orders/{out_trade_no}/refunds` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Amount to refund, in fen.
    pub amount_fen: i64,
    /// Reason shown to the payer (≤ 80 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/orders/{out_trade_no}/refunds`
pub async fn create_refund(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(out_trade_no): Path<String>,
    body: Result<Json<RefundRequest>, JsonRejection>,
) -> Result<Json<RefundView>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    if request.amount_fen <= 0 {
        return Err(AppError::bad_request(
            "invalid_amount",
            "amount_fen must be positive",
        ));
    }
    if request
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 80)
    {
        return Err(AppError::bad_request(
            "invalid_reason",
            "reason must be at most 80 characters",
        ));
    }
    let order = owned_order(&state, &user, &out_trade_no).await?;
    let now = clock::now();
    let out_refund_no =
        crate::ids::new_out_refund_no(now).map_err(|e| AppError::Internal(e.to_string()))?;
    let refund = match state
        .store
        .create_refund(
            &out_refund_no,
            &order.out_trade_no,
            request.amount_fen,
            request.reason.as_deref(),
            now,
        )
        .await?
    {
        Ok(refund) => refund,
        Err(RefundRefusal::NotPaid) => {
            return Err(AppError::conflict(
                "order_not_paid",
                "only a paid order can be refunded",
            ))
        }
        Err(RefundRefusal::ExceedsRefundable { remaining }) => {
            return Err(AppError::conflict(
                "refund_exceeds_paid",
                format!("at most {remaining} fen can still be refunded"),
            ))
        }
        Err(RefundRefusal::UnknownOrder) => return Err(AppError::NotFound("order")),
    };
    let refund = payments::submit_refund(&state, &order, &refund).await?;
    Ok(Json(RefundView::from(&refund)))
}

/// `GET /api/refunds/{out_refund_no}`: asks WeChat when the refund is still processing.
pub async fn get_refund(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(out_refund_no): Path<String>,
) -> Result<Json<RefundView>, AppError> {
    if out_refund_no.len() > 64 {
        return Err(AppError::NotFound("refund"));
    }
    let refund = state
        .store
        .refund(&out_refund_no)
        .await?
        .ok_or(AppError::NotFound("refund"))?;
    owned_order(&state, &user, &refund.out_trade_no)
        .await
        .map_err(|_| AppError::NotFound("refund"))?;
    if refund.status == RefundStatus::Processing {
        if let Err(err) =
            payments::query_refund_and_apply(&state, &out_refund_no, "status_query").await
        {
            tracing::warn!(refund = %out_refund_no, error = %crate::error::error_chain(&err), "refund query failed");
        }
        let fresh = state
            .store
            .refund(&out_refund_no)
            .await?
            .ok_or(AppError::NotFound("refund"))?;
        return Ok(Json(RefundView::from(&fresh)));
    }
    Ok(Json(RefundView::from(&refund)))
}
