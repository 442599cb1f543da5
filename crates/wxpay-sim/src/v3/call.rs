//! One v3 call as its handler sees it: the request as read ([`V3Request`]), and what the
//! handler answers, a success ([`Reply`]) or WeChat's error ([`ApiError`]). The dispatcher in
//! [`crate::v3`] routes, authenticates and signs around these; the endpoint modules beside
//! this one only read and answer.

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use wxpay_core::v3::models::{error_code, ErrorBody, FieldError};

/// A WeChat-shaped v3 error: the core's [`ErrorBody`], answered with the HTTP status WeChat
/// pairs with its code ([`error_code::http_status`]).
#[derive(Debug, Clone)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    /// An error with `code` and `message` and no detail.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    /// 400 `PARAM_ERROR` for a field of `body` that failed validation.
    pub fn param(err: &FieldError, body: &Value) -> Self {
        Self(ErrorBody::param_error_in(err, body))
    }

    /// 500 `SYSTEM_ERROR` for a failure on the simulator's side (logged, never detailed).
    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "v3 answer could not be built");
        Self::new(error_code::SYSTEM_ERROR, "系统错误")
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0
            .http_status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<ErrorBody> for ApiError {
    fn from(body: ErrorBody) -> Self {
        Self(body)
    }
}

/// What a v3 handler produces on success.
#[derive(Debug)]
pub enum Reply {
    /// 200 with a JSON body.
    Json(Vec<u8>),
    /// 204 with no body.
    NoContent,
    /// 200 with a bill file: sent without `Wechatpay-*` headers, as WeChat sends files.
    File(Vec<u8>),
}

impl Reply {
    /// 200 with `answer` as compact JSON (the bytes that are then signed).
    pub fn json<T: Serialize>(answer: &T) -> Result<Self, ApiError> {
        serde_json::to_vec(answer)
            .map(Self::Json)
            .map_err(ApiError::internal)
    }
}

/// The parts of a request that authentication and handlers need, body as raw bytes.
#[derive(Debug)]
pub struct V3Request {
    /// Upper-case method.
    pub method: String,
    /// Path plus `?query` exactly as received: the signed canonical URL.
    pub uri: String,
    /// Raw body.
    pub body: Bytes,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl V3Request {
    /// Parses the body as JSON (400 `PARAM_ERROR` for the whole body otherwise); the core's
    /// models check its shape.
    pub fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::param(
                &FieldError::new("", format!("body is not valid JSON: {e}")),
                &Value::Null,
            )
        })
    }
}
