//! The one error type of the HTTP API and its one JSON shape.
//!
//! Every handler returns `Result<_, AppError>`. Client errors carry a stable snake_case
//! `code` and a message meant for the caller; server errors are logged with their full
//! source chain and answered with a generic message, so internals (SQL, upstream bodies,
//! key material) never leave the process.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

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
    /// Too many attempts (429).
    #[error("too many requests")]
    RateLimited,
    /// WeChat (or the simulator) refused the call with a business error the caller can act on (502
    /// with WeChat's code kept, since the caller's request itself was fine).
    #[error("WeChat Pay refused the request: {code}")]
    Upstream {
        /// WeChat's error code, e.g. `ORDERPAID`.
        code: String,
        /// WeChat's message.
        message: String,
    },
    /// WeChat could not be reached or answered something unverifiable (503; logged).
    #[error("upstream unavailable")]
    UpstreamUnavailable(#[source] UpstreamError),
    /// The store failed (500; logged).
    #[error("storage failure")]
    Store(#[from] StoreError),
    /// Anything else that is the server's fault (500; logged).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
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
            Self::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited".into(),
                self.to_string(),
            ),
            Self::Upstream { code, message } => (
                StatusCode::BAD_GATEWAY,
                "upstream_rejected".into(),
                format!("{code}: {message}"),
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
        (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response()
    }
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

/// Rejections of axum's extractors (bad JSON, wrong content type, oversized body) in the one shape.
pub fn json_rejection(rejection: axum::extract::rejection::JsonRejection) -> AppError {
    use axum::extract::rejection::JsonRejection as R;
    match rejection {
        R::BytesRejection(_) => AppError::bad_request(
            "body_too_large_or_unreadable",
            "request body could not be read",
        ),
        R::MissingJsonContentType(_) => {
            AppError::bad_request("unsupported_media_type", "expected application/json")
        }
        other => AppError::bad_request("invalid_json", other.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_do_not_leak_details() {
        let err = AppError::Internal("SELECT secret FROM keys failed".into());
        let (status, code, message) = err.status_code_message();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(code, "internal");
        assert!(!message.contains("SELECT"));
    }

    #[test]
    fn not_found_has_a_stable_code() {
        let (status, code, _) = AppError::NotFound("order").status_code_message();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code, "order_not_found");
    }
}
