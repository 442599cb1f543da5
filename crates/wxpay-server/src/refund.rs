//! The refund flow, one path for both API versions: the refund is already reserved in the
//! store (its amount counted against the order); one request goes to WeChat through the
//! version the payment used ([`payments::send_refund`] or [`payments_v2::send_refund`]),
//! and what it came to ([`RefundAttempt`]) decides what is recorded:
//! - accepted: its state (usually PROCESSING) is applied; the notification or the worker's
//!   query finishes it;
//! - a final refusal: the refund is closed, its amount released, and the caller gets the
//!   refusal;
//! - an unsigned refusal: only a signed refund query decides (`refused_unsigned`);
//! - an unknown fate: it stays PROCESSING and reserved, answered as stored, and the worker
//!   queries it and resubmits it under the same out_refund_no (A.9: "always retry with
//!   the same out_refund_no").

use wxpay_core::v3::models::error_code;
use wxpay_core::RefundStatus;

use crate::channel::ApiVersion;
use crate::error::AppError;
use crate::payments::{self, query_refund_and_apply};
use crate::payments_v2;
use crate::refund_attempt::RefundAttempt;
use crate::state::SharedState;
use crate::store::{Order, Refund, RefundFact};
use crate::upstream::UpstreamError;

/// Sends the reserved `refund` of `order` to WeChat and records what came of it.
pub async fn submit(
    state: &SharedState,
    order: &Order,
    refund: &Refund,
) -> Result<Refund, AppError> {
    let now = state.clock.now();
    let attempt = match order.channel.map(|route| route.api) {
        Some(ApiVersion::V2) => payments_v2::send_refund(state, order, refund).await?,
        _ => payments::send_refund(state, order, refund).await?,
    };
    // Crash-recovery tests stop the process here: WeChat has the refund, the store does not
    // know its answer yet.
    fail::fail_point!("refund::after_submit");
    match attempt {
        RefundAttempt::Accepted(fact) => {
            state.store.apply_refund(&fact).await?;
            stored_refund(state, &refund.out_refund_no).await
        }
        RefundAttempt::Refused { code, message } => {
            let cause = format!("rejected:{code}");
            close(state, &refund.out_refund_no, cause, now).await?;
            Err(AppError::Upstream { code, message })
        }
        RefundAttempt::RefusedUnsigned {
            status,
            code,
            message,
        } => refused_unsigned(state, refund, status, code, message).await,
        RefundAttempt::Unknown(err) => left_processing(state, refund, &err).await,
        RefundAttempt::NotSent { cause, error } => {
            // Never sent: release the reserved amount instead of leaving it PROCESSING.
            close(state, &refund.out_refund_no, cause.to_owned(), now).await?;
            Err(error)
        }
    }
}

/// The refund request was refused with an answer WeChat did not sign (A.3: a 401
/// `SIGN_ERROR` is how WeChat answers a request whose signature it could not verify, and it
/// then did nothing). Nobody authenticated that answer, so it changes nothing by itself:
/// WeChat is asked about the refund with an ordinary signed query, and only a signed answer
/// decides.
/// - `RESOURCE_NOT_EXISTS`, signed: WeChat provably holds no refund under this number, so
///   the refusal stands. The refund is closed and its amount released, and the caller gets
///   the refusal's code. Otherwise every worker pass would find nothing at WeChat and send
///   the same refused request again, for ever.
/// - the refund, signed: WeChat executed it after all (the refusal was not WeChat's); its
///   state is applied.
/// - nothing verifiable (the query is refused unsigned too, as with a wrong merchant key):
///   its fate is unknown, so it stays PROCESSING and reserved like any other unknown
///   outcome, and the worker settles it once WeChat answers with a signature again.
async fn refused_unsigned(
    state: &SharedState,
    refund: &Refund,
    status: u16,
    code: String,
    message: String,
) -> Result<Refund, AppError> {
    match query_refund_and_apply(state, &refund.out_refund_no, "refund_api_check").await {
        Ok(_) => stored_refund(state, &refund.out_refund_no).await,
        Err(AppError::Upstream { code: absent, .. })
            if absent == error_code::RESOURCE_NOT_EXISTS =>
        {
            let cause = format!("rejected_unsigned:{code}");
            close(state, &refund.out_refund_no, cause, state.clock.now()).await?;
            Err(AppError::UpstreamUnsigned { code, message })
        }
        Err(_) => {
            let refusal = UpstreamError::UnsignedError {
                status,
                code,
                message,
            };
            left_processing(state, refund, &refusal).await
        }
    }
}

/// A refund whose fate is unknown (WeChat may have executed it): it stays PROCESSING with
/// its amount reserved, and the caller gets it as stored so it can follow this refund
/// rather than create another.
async fn left_processing(
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

/// Closes a refund that will never happen, freeing its amount for another attempt.
async fn close(
    state: &SharedState,
    out_refund_no: &str,
    cause: String,
    now: i64,
) -> Result<(), AppError> {
    let fact = RefundFact {
        out_refund_no: out_refund_no.to_owned(),
        status: RefundStatus::Closed,
        refund_id: None,
        amount_fen: None,
        cause,
        at: now,
    };
    state.store.apply_refund(&fact).await?;
    Ok(())
}

/// The refund as stored now.
async fn stored_refund(state: &SharedState, out_refund_no: &str) -> Result<Refund, AppError> {
    state
        .store
        .refund(out_refund_no)
        .await?
        .ok_or(AppError::NotFound("refund"))
}
