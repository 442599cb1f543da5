//! Calls to WeChat Pay (or the simulator): v3 signed JSON, v2 signed XML (refunds over
//! mutual TLS), login and JS-SDK APIs.
//!
//! Requests are data (method, path, body, whether repeating them is safe); the transport
//! in [`transport`] adds signing, verification, timeouts, retries and failover.

pub mod open;
pub mod transport;
pub mod v2;
pub mod v3;

use std::time::Duration;

/// An upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// WeChat answered with a business error (4xx with `code`/`message`).
    #[error("WeChat error {status} {code}: {message}")]
    Business {
        /// HTTP status.
        status: u16,
        /// WeChat's error code.
        code: String,
        /// WeChat's message.
        message: String,
    },
    /// No base URL could be reached (connect error, timeout) after retries and failover.
    #[error("WeChat Pay unreachable")]
    Transport(#[source] reqwest::Error),
    /// WeChat kept answering 5xx / 429 after retries and failover.
    #[error("WeChat Pay unavailable (HTTP {status})")]
    Unavailable {
        /// The last status.
        status: u16,
    },
    /// A response's signature did not verify, or a verified answer is not about what was
    /// asked: treated as forged and never used.
    #[error("response rejected ({reason})")]
    Unverified {
        /// A stable reason code: the core error's `reason_code()`, or the field that differs.
        reason: &'static str,
        /// The core's verification error, when one was the cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A v3 error answer (non-2xx) that carries no `Wechatpay-*` signature at all. WeChat
    /// signs an answer only after it has verified the request's signature, so this is how
    /// a 401 `SIGN_ERROR` (and a gateway error) arrives (A.3). Its code is reported, but
    /// nobody authenticated it: no order or refund state may change on it.
    #[error("WeChat error {status} {code} (unsigned answer): {message}")]
    UnsignedError {
        /// HTTP status.
        status: u16,
        /// The code in the body (`HTTP_<status>` when the body has none).
        code: String,
        /// The message in the body.
        message: String,
    },
    /// The answer's body is larger than `upstream.max_response_bytes`: refused without
    /// reading it all, and not retried (the same request would get the same answer).
    #[error("WeChat's answer is larger than {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A response body could not be parsed.
    #[error("unexpected response body")]
    Decode(#[source] serde_json::Error),
    /// A verified v2 answer is not the documented shape (a field missing or invalid).
    #[error("unexpected v2 answer")]
    DecodeV2(#[source] wxpay_core::v2::models::V2ModelError),
    /// A v2 XML answer could not be parsed.
    #[error("unexpected v2 XML answer")]
    DecodeXml(#[source] wxpay_core::v2::XmlError),
    /// The request could not be built or signed locally (bad key, bad field, no entropy).
    #[error("request could not be built: {what}")]
    Build {
        /// What could not be built.
        what: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A `/secapi/` request without the merchant's API certificate configured.
    #[error("no client certificate configured for /secapi/")]
    NoClientCertificate,
    /// WeChat refused the certificate download (HTTP status and code of its answer).
    #[error("platform certificates unavailable: HTTP {status} {code}")]
    CertificatesRefused {
        /// HTTP status.
        status: u16,
        /// The code in the body.
        code: String,
    },
    /// The downloaded certificates could not be used (malformed, not decrypting, invalid).
    #[error("platform certificates unusable")]
    Certificates(#[source] wxpay_core::v3::certificates::CertificatesError),
}

impl UpstreamError {
    /// A request part `what` that could not be built, with its cause.
    pub fn build<E>(what: &'static str, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Build {
            what,
            source: Box::new(source),
        }
    }

    /// A verification the core refused, kept as the source.
    pub fn rejected<E>(source: E, reason: &'static str) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Unverified {
            reason,
            source: Some(Box::new(source)),
        }
    }

    /// A verified answer about something other than what was asked (`reason` names the field).
    pub fn mismatch(reason: &'static str) -> Self {
        Self::Unverified {
            reason,
            source: None,
        }
    }
}

/// Whether repeating a request can do harm. Only idempotent requests are retried after a
/// timeout or a 5xx; a request that never reached the host (connect error) may always go to
/// the failover host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Same effect however often it is sent (queries, close, prepay and refund keyed by the
    /// merchant's number, certificate download).
    Idempotent,
    /// Must not be repeated blindly (single-use codes, token refresh that revokes the old one).
    Once,
}

/// The outcome class of one attempt, input of [`retry_delay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The connection could not be established: the host never saw the request.
    ConnectFailed,
    /// Sent, but no answer in time (the host may have acted on it).
    TimedOut,
    /// Answered with this status.
    Status(u16),
}

/// Backoff before attempt `attempt + 1`, or `None` to stop. A pure function of the outcome,
/// the attempt number (0-based), the request's idempotency and the policy, so it is tested
/// without a network.
pub fn retry_delay(
    result: AttemptResult,
    attempt: u32,
    idempotency: Idempotency,
    max_retries: u32,
    base: Duration,
) -> Option<Duration> {
    if attempt >= max_retries {
        return None;
    }
    let retryable = match result {
        AttemptResult::ConnectFailed => true,
        AttemptResult::TimedOut => idempotency == Idempotency::Idempotent,
        AttemptResult::Status(s) => {
            idempotency == Idempotency::Idempotent && (s >= 500 || s == 429)
        }
    };
    retryable.then(|| base.saturating_mul(1u32 << attempt.min(10)))
}

/// Whether an attempt should move on to the failover host at once.
pub fn should_fail_over(result: AttemptResult, idempotency: Idempotency) -> bool {
    match result {
        AttemptResult::ConnectFailed => true,
        AttemptResult::TimedOut => idempotency == Idempotency::Idempotent,
        AttemptResult::Status(s) => s >= 500 && idempotency == Idempotency::Idempotent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idempotent_requests_are_retried_after_a_5xx_or_timeout() {
        let base = Duration::from_millis(100);
        let once = Idempotency::Once;
        let idem = Idempotency::Idempotent;
        assert_eq!(
            retry_delay(AttemptResult::Status(500), 0, idem, 2, base),
            Some(base)
        );
        assert_eq!(
            retry_delay(AttemptResult::Status(503), 1, idem, 2, base),
            Some(base * 2)
        );
        assert_eq!(
            retry_delay(AttemptResult::Status(503), 2, idem, 2, base),
            None
        );
        assert_eq!(
            retry_delay(AttemptResult::Status(500), 0, once, 2, base),
            None
        );
        assert_eq!(retry_delay(AttemptResult::TimedOut, 0, once, 2, base), None);
        assert_eq!(
            retry_delay(AttemptResult::ConnectFailed, 0, once, 2, base),
            Some(base)
        );
        assert_eq!(
            retry_delay(AttemptResult::Status(400), 0, idem, 2, base),
            None
        );
        assert!(should_fail_over(AttemptResult::ConnectFailed, once));
        assert!(!should_fail_over(AttemptResult::Status(502), once));
        assert!(should_fail_over(AttemptResult::Status(502), idem));
    }
}
