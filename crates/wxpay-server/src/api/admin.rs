//! The merchant staff's credential: `X-Admin-Token`, checked against `server.admin_token`.
//!
//! A payer's session proves who paid, not who may hand money back: refunds are the
//! merchant's decision, so creating one needs this credential instead. Only a SHA-256 of
//! the configured token is kept, and the presented token is hashed and compared in
//! constant time, so neither the token's bytes nor its length leak through timing.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::client_ip;
use crate::clock;
use crate::error::AppError;
use crate::secret::Secret;
use crate::state::SharedState;

/// The request header carrying the admin credential.
pub const ADMIN_TOKEN_HEADER: &str = "x-admin-token";

/// Fewest characters accepted for `server.admin_token` (a guessable token would hand
/// refunds to anyone).
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// Longest presented token looked at; anything longer cannot match and is not hashed.
const MAX_PRESENTED_CHARS: usize = 512;

/// `server.admin_token` is unusable.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    /// Shorter than [`MIN_ADMIN_TOKEN_CHARS`] (after trimming whitespace).
    #[error("server.admin_token must be at least {MIN_ADMIN_TOKEN_CHARS} characters")]
    TooShort,
    /// Longer than the longest token a request may present.
    #[error("server.admin_token must be at most {MAX_PRESENTED_CHARS} characters")]
    TooLong,
    /// Contains characters an HTTP header value cannot carry verbatim.
    #[error("server.admin_token must be printable ASCII without spaces")]
    NotPrintable,
}

/// The configured admin token, kept only as its SHA-256.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl Drop for AdminToken {
    fn drop(&mut self) {
        self.digest.zeroize();
    }
}

impl ZeroizeOnDrop for AdminToken {}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken([REDACTED])")
    }
}

impl AdminToken {
    /// Checks the configured token's shape and keeps its digest.
    pub fn new(token: &Secret<String>) -> Result<Self, AdminTokenError> {
        let value = token.expose().trim();
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AdminTokenError::NotPrintable);
        }
        if value.len() < MIN_ADMIN_TOKEN_CHARS {
            return Err(AdminTokenError::TooShort);
        }
        if value.len() > MAX_PRESENTED_CHARS {
            return Err(AdminTokenError::TooLong);
        }
        Ok(Self {
            digest: Sha256::digest(value.as_bytes()).into(),
        })
    }

    /// Whether `presented` is the configured token (constant time over the digests).
    pub fn matches(&self, presented: &str) -> bool {
        if presented.len() > MAX_PRESENTED_CHARS {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }
}

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
        clock::now(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> Secret<String> {
        Secret::new(value.to_owned())
    }

    #[test]
    fn matches_only_the_configured_token() {
        let token = AdminToken::new(&secret("0123456789abcdef-admin")).expect("valid");
        assert!(token.matches("0123456789abcdef-admin"));
        assert!(!token.matches("0123456789abcdef-admiN"));
        assert!(!token.matches("0123456789abcdef-admin "));
        assert!(!token.matches(""));
        assert!(!token.matches(&"x".repeat(10_000)));
        assert!(!format!("{token:?}").contains("0123"));
    }

    #[test]
    fn refuses_weak_or_unsendable_tokens() {
        assert!(matches!(
            AdminToken::new(&secret("short")),
            Err(AdminTokenError::TooShort)
        ));
        assert!(matches!(
            AdminToken::new(&secret("has a space inside it")),
            Err(AdminTokenError::NotPrintable)
        ));
        assert!(matches!(
            AdminToken::new(&secret(&"a".repeat(600))),
            Err(AdminTokenError::TooLong)
        ));
        // A file's trailing newline is not part of the token.
        let token = AdminToken::new(&secret("0123456789abcdef\n")).expect("trimmed");
        assert!(token.matches("0123456789abcdef"));
    }
}
