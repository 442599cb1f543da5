//! How a refund attempt ends when WeChat's answer does not settle it, the same for both API
//! versions: a final refusal closes it and releases its reserved amount; an unknown fate
//! leaves it PROCESSING and reserved for the worker.

use wxpay_core::RefundStatus;

use crate::error::AppError;
use crate::state::SharedState;
use crate::store::{Refund, RefundFact};
use crate::upstream::UpstreamError;

/// A refund attempt whose fate is unknown (WeChat may have executed it): it stays PROCESSING
/// with its amount reserved, and the caller gets it as stored so it can follow this refund
/// rather than create another. The reconciliation worker queries it and resubmits it under
/// the same out_refund_no.
pub async fn refund_left_processing(
    state: &SharedState,
    refund: &Refund,
    err: &UpstreamError,
) -> Result<Refund, AppError> {
    tracing::warn!(
        refund = %refund.out_refund_no,
        error = %crate::error::error_chain(err),
        "refund outcome unknown; left PROCESSING for the worker"
    );
    stored_refund(state, &refund.out_refund_no).await
}

/// WeChat refused a refund: it will never happen, so it is closed (freeing its amount for
/// another attempt) and the refusal goes back to the caller.
pub async fn refund_refused(
    state: &SharedState,
    out_refund_no: &str,
    code: String,
    message: String,
    now: i64,
) -> Result<Refund, AppError> {
    let fact = RefundFact {
        out_refund_no: out_refund_no.to_owned(),
        status: RefundStatus::Closed,
        refund_id: None,
        amount_fen: None,
        cause: format!("rejected:{code}"),
        at: now,
    };
    state.store.apply_refund(&fact).await?;
    Err(AppError::Upstream { code, message })
}

/// The refund as stored now.
pub async fn stored_refund(state: &SharedState, out_refund_no: &str) -> Result<Refund, AppError> {
    state
        .store
        .refund(out_refund_no)
        .await?
        .ok_or(AppError::NotFound("refund"))
}
