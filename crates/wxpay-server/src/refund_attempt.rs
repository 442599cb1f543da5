//! What one attempt to refund at WeChat came to, whichever API version carried it; the
//! refund flow ([`crate::refund`]) decides from it what the store records.

use crate::error::AppError;
use crate::store::RefundFact;
use crate::upstream::UpstreamError;

/// The outcome of sending one refund request.
#[derive(Debug)]
pub enum RefundAttempt {
    /// WeChat accepted the refund: the fact its answer states.
    Accepted(RefundFact),
    /// A final refusal: WeChat did not and never will execute this refund number.
    Refused {
        /// WeChat's code.
        code: String,
        /// WeChat's message.
        message: String,
    },
    /// Refused with an answer nobody signed (v3 401 `SIGN_ERROR`): decided by a signed query.
    RefusedUnsigned {
        /// HTTP status.
        status: u16,
        /// The code in the body.
        code: String,
        /// The message in the body.
        message: String,
    },
    /// The fate is unknown (timeout, 5xx, a code that may still be retried): WeChat may
    /// execute it.
    Unknown(UpstreamError),
    /// The request could not be sent at all (v2 without the client certificate).
    NotSent {
        /// Recorded as the refund's closing cause.
        cause: &'static str,
        /// What the caller is told.
        error: AppError,
    },
}
