//! Login: mini-program `code` → `code2Session`, WeChat-browser OAuth `code` → openid.
//!
//! The answer is an opaque bearer token; the openid is stored. The `session_key` that
//! `code2Session` returns (it decrypts mini-program user data) is neither answered nor
//! kept: nothing here needs it. `POST /api/logout` ends a session.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::bearer_token;
use crate::client_ip::client_ip;
use crate::error::{json_rejection, AppError, InternalError};
use crate::state::{AppIdentity, SharedState};
use crate::upstream::UpstreamError;

/// `POST /api/login/*` body.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    /// The single-use code from `wx.login()` or the OAuth redirect.
    pub code: String,
}

/// A session.
#[derive(Debug, Serialize)]
pub struct LoginResponse {
    /// Bearer token for `Authorization`.
    pub token: String,
    /// The user's openid under the app used.
    pub openid: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

fn check_code(code: &str) -> Result<(), AppError> {
    if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::bad_request(
            "invalid_code",
            "code must be 1..=128 printable ASCII characters",
        ));
    }
    Ok(())
}

fn limit(
    state: &SharedState,
    headers: &HeaderMap,
    peer: &ConnectInfo<SocketAddr>,
) -> Result<(), AppError> {
    let ip = client_ip(state, headers, Some(peer)).unwrap_or(peer.0.ip());
    if state.login_limiter.allow(
        ip,
        state.clock.now(),
        state.settings.limits.login_per_minute,
    ) {
        Ok(())
    } else {
        Err(AppError::RateLimited)
    }
}

fn secret_of(
    app: Option<&AppIdentity>,
    what: &'static str,
) -> Result<(String, crate::secret::Secret<String>), AppError> {
    let app = app.ok_or_else(|| {
        AppError::bad_request("login_not_configured", format!("no {what} is configured"))
    })?;
    let secret = app.secret.clone().ok_or_else(|| {
        AppError::bad_request(
            "login_not_configured",
            format!("the {what} has no AppSecret"),
        )
    })?;
    Ok((app.appid.clone(), secret))
}

/// How long to wait after code2Session answered "come back later" (D), if it did: `-1`
/// (system busy) a second; `45011` (minute quota reached, "retry next minute") a minute.
pub fn login_retry_after(errcode: &str) -> Option<u64> {
    match errcode {
        "-1" => Some(1),
        "45011" => Some(60),
        _ => None,
    }
}

fn login_error(err: UpstreamError) -> AppError {
    match err {
        UpstreamError::Business { code, message, .. } => match login_retry_after(&code) {
            // WeChat's trouble, not the caller's: retryable (with a new code from wx.login()
            // should this one have been spent).
            Some(retry_after_secs) => AppError::UpstreamBusy {
                code,
                retry_after_secs,
            },
            // 40029 invalid code, 40163 used code, 40226 blocked (high-risk) user: the
            // caller's to deal with.
            None => AppError::bad_request(
                "login_rejected",
                format!("WeChat refused the code ({code}): {message}"),
            ),
        },
        other => AppError::UpstreamUnavailable(other),
    }
}

async fn open_session(
    state: &SharedState,
    appid: &str,
    openid: &str,
    unionid: Option<&str>,
) -> Result<LoginResponse, AppError> {
    let now = state.clock.now();
    let user = state.store.upsert_user(appid, openid, unionid, now).await?;
    let token = crate::ids::session_token().map_err(InternalError::Entropy)?;
    let ttl = state.settings.server.session_ttl_secs;
    state
        .store
        .create_session(&crate::ids::token_hash(&token), &user.id, now, now + ttl)
        .await?;
    Ok(LoginResponse {
        token,
        openid: user.openid,
        expires_in: ttl,
    })
}

/// `POST /api/login/miniprogram`
pub async fn login_miniprogram(
    State(state): State<SharedState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    limit(&state, &headers, &peer)?;
    check_code(&request.code)?;
    let (appid, secret) = secret_of(state.apps.miniprogram.as_ref(), "mini-program")?;
    let session = state
        .open
        .code2session(&appid, &secret, &request.code)
        .await
        .map_err(login_error)?;
    let response =
        open_session(&state, &appid, &session.openid, session.unionid.as_deref()).await?;
    Ok(Json(response))
}

/// `POST /api/login/oauth`
pub async fn login_oauth(
    State(state): State<SharedState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    limit(&state, &headers, &peer)?;
    check_code(&request.code)?;
    let (appid, secret) = secret_of(state.apps.official_account.as_ref(), "official account")?;
    let (openid, unionid) = state
        .open
        .oauth_openid(&appid, &secret, &request.code)
        .await
        .map_err(login_error)?;
    let response = open_session(&state, &appid, &openid, unionid.as_deref()).await?;
    Ok(Json(response))
}

/// `POST /api/logout`: ends the session of the presented bearer token, which stops working
/// at once (204). A missing, unknown or already ended token is 401.
pub async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let token = bearer_token(&headers).ok_or(AppError::Unauthorized)?;
    if state
        .store
        .delete_session(&crate::ids::token_hash(token))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_busy_and_quota_answers_are_retryable() {
        assert_eq!(login_retry_after("-1"), Some(1));
        assert_eq!(login_retry_after("45011"), Some(60));
        for code in ["40029", "40163", "40226", "40125", "40013", "0"] {
            assert_eq!(login_retry_after(code), None, "{code}");
        }
    }
}
