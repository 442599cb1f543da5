//! Refunds: several partial refunds per order up to the paid amount, and their status.
//!
//! Creating a refund hands the merchant's money back, so it needs the staff credential
//! (`X-Admin-Token`, see [`super::admin`]), never just a payer's session; with it any order
//! may be refunded. Reading a refund's status is open to the order's owner or an admin.
//!
//! The amount is reserved in the store (one transaction that sums the order's open and
//! successful refunds) before WeChat is asked, so concurrent refund requests can never
//! exceed what was paid. An `Idempotency-Key` header makes a repeated request (a double
//! click, a retry after a lost answer) get the refund the first one made instead of a
//! second refund; the key is stored with the refund, so it holds across restarts.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use wxpay_core::RefundStatus;

use super::admin::{check_admin, presents_admin_token, Admin};
use super::{idempotency_key, owned_order, AuthUser, RefundView};
use crate::error::{json_rejection, AppError, InternalError};
use crate::payments;
use crate::state::SharedState;
use crate::store::{NewRefund, RefundCreation, RefundRefusal, User};

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

/// `POST /api/orders/{out_trade_no}/refunds`. With `Idempotency-Key`: the same key and
/// the same request (order, amount, reason) answer the refund the key first created, and
/// WeChat is not asked again; the same key with another request is a 409
/// `idempotency_key_reused`.
pub async fn create_refund(
    State(state): State<SharedState>,
    _admin: Admin,
    Path(out_trade_no): Path<String>,
    headers: HeaderMap,
    body: Result<Json<RefundRequest>, JsonRejection>,
) -> Result<Json<RefundView>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    let key = idempotency_key(&headers)?;
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
    if out_trade_no.len() > 32 {
        return Err(AppError::NotFound("order"));
    }
    let order = state
        .store
        .order(&out_trade_no)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let now = state.clock.now();
    let out_refund_no = crate::ids::new_out_refund_no(now).map_err(InternalError::Entropy)?;
    let new = NewRefund {
        out_refund_no: &out_refund_no,
        out_trade_no: &order.out_trade_no,
        amount_fen: request.amount_fen,
        reason: request.reason.as_deref(),
        actor: Admin::ACTOR,
        now,
    };
    let created = match &key {
        Some(key) => state.store.create_refund_once(&new, key).await?,
        None => state
            .store
            .create_refund(
                new.out_refund_no,
                new.out_trade_no,
                new.amount_fen,
                new.reason,
                new.actor,
                now,
            )
            .await?
            .map(RefundCreation::Created),
    };
    let refund = match created {
        Ok(RefundCreation::Created(refund)) => refund,
        Ok(RefundCreation::Replayed(refund)) => {
            tracing::info!(
                refund = %refund.out_refund_no,
                order = %order.out_trade_no,
                "refund request repeated under its idempotency key; answered the first refund"
            );
            return Ok(Json(RefundView::from(&refund)));
        }
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
        Err(RefundRefusal::IdempotencyKeyReused) => return Err(AppError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used for another refund request (order, amount or reason)",
        )),
        Err(RefundRefusal::UnknownOrder) => return Err(AppError::NotFound("order")),
    };
    tracing::info!(
        refund = %refund.out_refund_no,
        order = %order.out_trade_no,
        amount_fen = refund.amount_fen,
        actor = Admin::ACTOR,
        "refund created"
    );
    let refund = crate::refund::submit(&state, &order, &refund).await?;
    Ok(Json(RefundView::from(&refund)))
}

/// Who reads a refund: the merchant's staff (a valid `X-Admin-Token`) or a payer's session.
/// A request that presents an admin token is judged by it alone, so a wrong token is a 403
/// even when a session is attached.
#[derive(Debug)]
pub enum RefundReader {
    /// With the admin credential: any refund.
    Admin,
    /// A payer: refunds of their own orders only.
    Owner(User),
}

impl<S> FromRequestParts<S> for RefundReader
where
    SharedState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if presents_admin_token(parts) {
            check_admin(&SharedState::from_ref(state), parts)?;
            return Ok(Self::Admin);
        }
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        Ok(Self::Owner(user))
    }
}

/// `GET /api/refunds/{out_refund_no}`: asks WeChat when the refund is still processing and
/// the last check is stale (`worker.status_stale_secs`), as the order status does, so that
/// polling a refund cannot spend the merchant's WeChat rate limit. The refund's submission
/// counts as its first check.
pub async fn get_refund(
    State(state): State<SharedState>,
    reader: RefundReader,
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
    if let RefundReader::Owner(user) = &reader {
        owned_order(&state, user, &refund.out_trade_no)
            .await
            .map_err(|_| AppError::NotFound("refund"))?;
    }
    let checked = state
        .store
        .refund_checked_at(&out_refund_no)
        .await?
        .unwrap_or(refund.created_at);
    let stale = state.clock.now() - checked >= state.settings.worker.status_stale_secs;
    if refund.status == RefundStatus::Processing && stale {
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
