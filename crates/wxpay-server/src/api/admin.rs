//! The merchant staff's credential: `X-Admin-Token`, checked against `server.admin_token`.
//!
//! A payer's session proves who paid, not who may hand money back: refunds are the
//! merchant's decision, so creating one needs this credential instead. Only a SHA-256 of
//! the configured token is kept, and the presented token is hashed and compared in
//! constant time, so neither the token's bytes nor its length leak through timing.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;

pub use crate::admin_token::{AdminToken, AdminTokenError, MIN_ADMIN_TOKEN_CHARS};
use crate::client_ip::client_ip;
use crate::error::AppError;
use crate::state::SharedState;

/// The request header carrying the admin credential.
pub const ADMIN_TOKEN_HEADER: &str = "x-admin-token";

/// A request made with the admin credential. Rejections, in order: no token configured
/// (403 `refunds_disabled`), no `X-Admin-Token` header (403 `admin_required`, whatever
/// session the request carries), too many wrong tokens from this client in the last minute
/// (429 `rate_limited`, checked before comparing), a wrong token (403 `invalid_admin_token`).
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl Admin {
    /// The actor recorded in audit rows for changes made with the admin credential.
    pub const ACTOR: &'static str = "admin";
}

/// Checks the admin credential in `parts` against `state` (see [`Admin`]).
pub fn check_admin(state: &SharedState, parts: &Parts) -> Result<Admin, AppError> {
    let Some(expected) = &state.admin_token else {
        return Err(AppError::forbidden(
            "refunds_disabled",
            "refunds through the API are disabled: configure server.admin_token",
        ));
    };
    let presented = parts
        .headers
        .get(ADMIN_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            AppError::forbidden(
                "admin_required",
                "this operation needs the merchant's admin credential (X-Admin-Token)",
            )
        })?;
    let ip = client_ip(
        state,
        &parts.headers,
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
    );
    let (now, limit) = (
        state.clock.now(),
        state.settings.limits.admin_failures_per_minute,
    );
    if let Some(ip) = ip {
        if state.admin_failures.exhausted(ip, now, limit) {
            return Err(AppError::RateLimited);
        }
    }
    if expected.matches(presented) {
        return Ok(Admin);
    }
    tracing::warn!(client = ?ip, "request with a wrong admin token refused");
    if let Some(ip) = ip {
        state.admin_failures.allow(ip, now, limit);
    }
    Err(AppError::forbidden(
        "invalid_admin_token",
        "the admin token is not valid",
    ))
}

/// Whether the request carries an `X-Admin-Token` header at all (then it must be valid).
pub fn presents_admin_token(parts: &Parts) -> bool {
    parts.headers.contains_key(ADMIN_TOKEN_HEADER)
}

impl<S> FromRequestParts<S> for Admin
where
    SharedState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check_admin(&SharedState::from_ref(state), parts)
    }
}
