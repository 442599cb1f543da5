//! The one error type of the HTTP API and its one JSON shape.
//!
//! Every handler returns `Result<_, AppError>`. Client errors carry a stable snake_case
//! `code` and a message meant for the caller; server errors are logged with their full
//! source chain and answered with a generic message, so internals (SQL, upstream bodies,
//! key material) never leave the process. Answers no handler wrote (unknown route or method,
//! the body-limit layer, extractor rejections) get the same shape from [`json_error_shape`];
//! on the notification endpoints they get WeChat's failure shape instead
//! (`notification_error_shape`).

use axum::extract::Request;
use axum::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::notify_reply::{fail_as, Protocol};
use crate::store::StoreError;
use crate::upstream::UpstreamError;

/// An error answered to a frontend as `{"error":{"code","message"}}`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a field is invalid (400).
    #[error("{message}")]
    BadRequest {
        /// Stable machine code, e.g. `invalid_channel`.
        code: &'static str,
        /// Human message for the caller.
        message: String,
    },
    /// No valid session token (401).
    #[error("authentication required")]
    Unauthorized,
    /// Authenticated (or not) but not allowed: e.g. a refund without the merchant's admin
    /// credential, or refunds disabled because none is configured (403).
    #[error("{message}")]
    Forbidden {
        /// Stable machine code, e.g. `admin_required`.
        code: &'static str,
        /// Human message for the caller.
        message: String,
    },
    /// The resource does not exist or belongs to another user (404; the two are not told apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the resource's state, e.g. paying a closed order (409).
    #[error("{message}")]
    Conflict {
        /// Stable machine code, e.g. `order_closed`.
        code: &'static str,
        /// Human message for the caller.
        message: String,
    },
    /// The path exists, but not for this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body is larger than `server.body_limit_bytes` (413).
    #[error("request body too large")]
    PayloadTooLarge,
    /// Too many attempts (429).
    #[error("too many requests")]
    RateLimited,
    /// Too many requests of this kind from this user; answered 429 with `Retry-After`.
    #[error("too many requests, retry in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next request is allowed.
        retry_after_secs: u64,
    },
    /// WeChat (or the simulator) refused the call with a business error the caller can act on (502
    /// with WeChat's code kept, since the caller's request itself was fine).
    #[error("WeChat Pay refused the request: {code}")]
    Upstream {
        /// WeChat's error code, e.g. `ORDERPAID`.
        code: String,
        /// WeChat's message.
        message: String,
    },
    /// WeChat (or something on the way) refused the call with an error answer that carries
    /// no signature, e.g. 401 `SIGN_ERROR` for a wrong merchant serial or key (502 with the
    /// code kept, like [`AppError::Upstream`]). A separate variant because the answer is not
    /// authenticated: nothing that reacts to WeChat's codes may react to this one.
    #[error("WeChat Pay refused the request with an unsigned answer: {code}")]
    UpstreamUnsigned {
        /// The code in the unsigned answer, e.g. `SIGN_ERROR`.
        code: String,
        /// The message in the unsigned answer.
        message: String,
    },
    /// WeChat answered that it cannot serve the call now and it should be repeated later,
    /// e.g. code2Session's `-1` (system busy) or `45011` (minute quota): 503
    /// `upstream_unavailable` with `Retry-After`.
    #[error("WeChat is busy ({code}); retry after {retry_after_secs} s")]
    UpstreamBusy {
        /// WeChat's code (`errcode`).
        code: String,
        /// Seconds the caller should wait (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// WeChat could not be reached or answered something unverifiable (503; logged).
    #[error("upstream unavailable")]
    UpstreamUnavailable(#[source] UpstreamError),
    /// The store failed (500; logged).
    #[error("storage failure")]
    Store(#[from] StoreError),
    /// Anything else that is the server's fault (500; logged with its cause).
    #[error("internal error")]
    Internal(#[from] InternalError),
}

/// The server's own faults, each with its cause kept for the log (the client sees only
/// `internal`).
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// The operating system's random source failed (ids, nonces, session tokens).
    #[error("the system random source failed")]
    Entropy(#[from] getrandom::Error),
    /// A value the server holds (configured, stored or just answered) that the core's types
    /// refuse, so the thing named could not be built.
    #[error("{what}: a value the core refuses")]
    CoreValue {
        /// What was being built.
        what: &'static str,
        /// The core's refusal.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A verified WeChat answer without what the flow needs, or about something else.
    #[error("WeChat's answer cannot be used")]
    Answer(#[source] UpstreamError),
    /// The embedded simulator refused a demo request.
    #[error("the embedded simulator refused")]
    Demo(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// A value the core refuses while building `what` (500; the refusal is logged).
    pub fn core_value<E>(what: &'static str, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Internal(InternalError::CoreValue {
            what,
            source: Box::new(source),
        })
    }

    /// A verified WeChat answer the flow cannot use (`reason` names what is wrong; 500).
    pub fn unusable_answer(reason: &'static str) -> Self {
        Self::Internal(InternalError::Answer(UpstreamError::mismatch(reason)))
    }

    /// Shorthand for a 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a 403 with a code and message.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a 409 with a code and message.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    fn status_code_message(&self) -> (StatusCode, String, String) {
        match self {
            Self::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, (*code).to_owned(), message.clone())
            }
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized".into(),
                self.to_string(),
            ),
            Self::Forbidden { code, message } => {
                (StatusCode::FORBIDDEN, (*code).to_owned(), message.clone())
            }
            Self::NotFound(what) => (
                StatusCode::NOT_FOUND,
                format!("{what}_not_found"),
                self.to_string(),
            ),
            Self::Conflict { code, message } => {
                (StatusCode::CONFLICT, (*code).to_owned(), message.clone())
            }
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed".into(),
                self.to_string(),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large".into(),
                self.to_string(),
            ),
            Self::RateLimited | Self::Throttled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited".into(),
                self.to_string(),
            ),
            Self::Upstream { code, message } => (
                StatusCode::BAD_GATEWAY,
                "upstream_rejected".into(),
                format!("{code}: {message}"),
            ),
            Self::UpstreamUnsigned { code, message } => (
                StatusCode::BAD_GATEWAY,
                "upstream_rejected".into(),
                format!("{code} (unsigned answer): {message}"),
            ),
            Self::UpstreamBusy {
                retry_after_secs, ..
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable".into(),
                format!("WeChat is busy, try again in {retry_after_secs} s"),
            ),
            Self::UpstreamUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable".into(),
                "WeChat Pay is unavailable, try again".into(),
            ),
            Self::Store(_) | Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal".into(),
                "internal server error".into(),
            ),
        }
    }
}

impl From<UpstreamError> for AppError {
    fn from(err: UpstreamError) -> Self {
        match err {
            UpstreamError::Business { code, message, .. } => Self::Upstream { code, message },
            UpstreamError::UnsignedError { code, message, .. } => {
                Self::UpstreamUnsigned { code, message }
            }
            other => Self::UpstreamUnavailable(other),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.status_code_message();
        if status.is_server_error() {
            tracing::error!(error = ?self, chain = %error_chain(&self), "request failed");
        }
        let mut response = error_response(status, &code, &message);
        if let Self::UpstreamBusy {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let Self::Throttled { retry_after_secs } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
        }
        response
    }
}

/// The one JSON shape: `{"error":{"code","message"}}` with `status`.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// Middleware (outermost) giving the answers no handler wrote the failure shape of the
/// route's caller: WeChat's own on the notification endpoints (v3
/// `{"code":"FAIL","message"}`, v2 XML `FAIL`; see `notification_error_shape`), the one
/// JSON shape everywhere else ([`json_error_shape`]).
pub async fn error_shape(request: Request, next: Next) -> Response {
    let protocol = notification_protocol(request.uri().path());
    let response = next.run(request).await;
    match protocol {
        Some(protocol) => notification_error_shape(protocol, response),
        None => json_error_shape(response),
    }
}

/// The acknowledgement protocol of a notification path, `None` for every other route.
fn notification_protocol(path: &str) -> Option<Protocol> {
    if path.starts_with("/notify/v3/") {
        Some(Protocol::V3)
    } else if path.starts_with("/notify/v2/") {
        Some(Protocol::V2)
    } else {
        None
    }
}

/// A 4xx no handler typed: plain text or no body (axum's 404 / 405, the body-limit layer's
/// 413, an extractor rejection a handler does not map itself).
fn is_unshaped_client_error(response: &Response) -> bool {
    response.status().is_client_error()
        && response
            .headers()
            .get(CONTENT_TYPE)
            .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"))
}

/// `shaped`, with the `Allow` header of the answer it replaces.
fn keep_allow(original: &Response, mut shaped: Response) -> Response {
    if let Some(allow) = original.headers().get(ALLOW) {
        shaped.headers_mut().insert(ALLOW, allow.clone());
    }
    shaped
}

/// The one JSON shape for the 4xx answers no handler wrote. Those come as plain text or
/// with no body; anything a handler typed itself (JSON errors, v2 XML acknowledgements)
/// passes untouched.
pub fn json_error_shape(response: Response) -> Response {
    if !is_unshaped_client_error(&response) {
        return response;
    }
    let shaped = match response.status() {
        StatusCode::NOT_FOUND => AppError::NotFound("route").into_response(),
        StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed.into_response(),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge.into_response(),
        other => error_response(
            other,
            "invalid_request",
            other.canonical_reason().unwrap_or("invalid request"),
        ),
    };
    keep_allow(&response, shaped)
}

/// WeChat's failure shape for the 4xx answers no handler of a notification endpoint wrote
/// (a body over the limit, above all): the status is kept, so WeChat retries.
pub(crate) fn notification_error_shape(protocol: Protocol, response: Response) -> Response {
    if !is_unshaped_client_error(&response) {
        return response;
    }
    let status = response.status();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge.to_string(),
        other => other
            .canonical_reason()
            .unwrap_or("invalid request")
            .to_owned(),
    };
    keep_allow(&response, fail_as(protocol, status, &message))
}

/// Renders an error and its sources on one line for logs.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        out.push_str(": ");
        out.push_str(&source.to_string());
        next = source.source();
    }
    out
}

/// Rejections of axum's `Json` extractor (bad JSON, wrong content type, oversized body) in
/// the one shape.
pub fn json_rejection(rejection: axum::extract::rejection::JsonRejection) -> AppError {
    use axum::extract::rejection::JsonRejection as R;
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::PayloadTooLarge;
    }
    match rejection {
        R::BytesRejection(_) => {
            AppError::bad_request("body_unreadable", "request body could not be read")
        }
        R::MissingJsonContentType(_) => {
            AppError::bad_request("unsupported_media_type", "expected application/json")
        }
        other => AppError::bad_request("invalid_json", other.body_text()),
    }
}

/// Rejections of axum's `Query` extractor (a missing or malformed parameter) in the one shape;
/// the message names the parameter.
pub fn query_rejection(rejection: axum::extract::rejection::QueryRejection) -> AppError {
    AppError::bad_request("invalid_query", rejection.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_do_not_leak_details() {
        let err = AppError::core_value("SELECT secret FROM keys", std::fmt::Error);
        let (status, code, message) = err.status_code_message();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(code, "internal");
        assert!(!message.contains("SELECT"));
    }

    #[test]
    fn the_log_line_carries_each_cause_the_client_never_sees() {
        let refused = wxpay_core::AppId::new("").expect_err("an empty appid is refused");
        let err = AppError::core_value("client parameters", refused.clone());
        let chain = error_chain(&err);
        assert!(
            chain.starts_with("internal error: client parameters: "),
            "{chain}"
        );
        assert!(chain.ends_with(&refused.to_string()), "{chain}");
        let (_, code, message) = err.status_code_message();
        assert_eq!(
            (code.as_ref(), message.as_ref()),
            ("internal", "internal server error")
        );

        let answer = AppError::unusable_answer("prepay_id_missing");
        assert!(
            error_chain(&answer).contains("(prepay_id_missing)"),
            "{}",
            error_chain(&answer)
        );
    }

    #[tokio::test]
    async fn a_json_body_over_the_limit_is_413_in_the_one_shape() {
        use axum::body::Body;
        use axum::extract::FromRequest;
        use axum::http::Request;

        // A body the extractor refuses while reading (axum's default limit is 2 MB): what a
        // body streamed without a `Content-Length` meets past `server.body_limit_bytes`.
        let request = Request::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(vec![b' '; 3 * 1024 * 1024]))
            .expect("request");
        let rejection = axum::Json::<serde_json::Value>::from_request(request, &())
            .await
            .expect_err("over the limit");
        let (status, code, _) = json_rejection(rejection).status_code_message();
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        );
    }

    #[test]
    fn not_found_has_a_stable_code() {
        let (status, code, _) = AppError::NotFound("order").status_code_message();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code, "order_not_found");
    }
}
