//! JS-SDK `wx.config` parameters (protocol C).
//!
//! The access token and the `jsapi_ticket` are cached in the store until shortly before
//! they expire and refreshed under a lock, once, not per request: WeChat revokes the
//! previous token when a new one is fetched, so per-request refreshes from several places
//! break each other.
//!
//! A cached token can still die before its time: another service of the merchant fetches a
//! new one (WeChat then answers 40001 once the old one's grace period is over), or WeChat
//! expires or invalidates it (42001, 40014). Such a token is dropped, a new one is fetched
//! once and the ticket asked for once more; without that, `wx.config` would fail until the
//! cache ran out, up to two hours later.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use wxpay_core::jssdk::WxConfig;

use crate::clock;
use crate::error::{query_rejection, AppError};
use crate::secret::Secret;
use crate::state::SharedState;
use crate::upstream::UpstreamError;

/// Refresh credentials this long before WeChat's expiry.
const EXPIRY_MARGIN_SECS: i64 = 300;

/// Whether WeChat refused the access token itself: 40001 (invalid or not the latest, e.g.
/// another service fetched a new one), 40014 (invalid access token) or 42001 (expired).
pub fn access_token_refused(err: &UpstreamError) -> bool {
    matches!(err, UpstreamError::Business { code, .. } if matches!(code.as_str(), "40001" | "40014" | "42001"))
}

/// Fetches a new access token and caches it until shortly before WeChat's expiry.
async fn fresh_access_token(
    state: &SharedState,
    appid: &str,
    secret: &Secret<String>,
    token_name: &str,
) -> Result<String, AppError> {
    let fresh = state.open.access_token(appid, secret).await?;
    let value = fresh.value.expose().clone();
    state
        .store
        .put_credential(
            token_name,
            &value,
            clock::now() + fresh.expires_in - EXPIRY_MARGIN_SECS,
        )
        .await?;
    Ok(value)
}

/// Forgets a cached credential (it expires now).
async fn drop_credential(state: &SharedState, name: &str) -> Result<(), AppError> {
    Ok(state.store.put_credential(name, "", 0).await?)
}

/// `GET /api/jssdk/config` query.
#[derive(Debug, Deserialize)]
pub struct ConfigQuery {
    /// The page URL (its `#fragment` is dropped by the core).
    pub url: String,
}

async fn jsapi_ticket(state: &SharedState, appid: &str) -> Result<String, AppError> {
    let ticket_name = format!("jsapi_ticket:{appid}");
    let token_name = format!("access_token:{appid}");
    if let Some(ticket) = state.store.credential(&ticket_name, clock::now()).await? {
        return Ok(ticket);
    }
    let _guard = state.credential_refresh.lock().await;
    // Someone else may have refreshed while we waited.
    if let Some(ticket) = state.store.credential(&ticket_name, clock::now()).await? {
        return Ok(ticket);
    }
    let app = state.apps.official_account.as_ref().ok_or_else(|| {
        AppError::bad_request("jssdk_not_configured", "no official account configured")
    })?;
    let secret = app.secret.as_ref().ok_or_else(|| {
        AppError::bad_request(
            "jssdk_not_configured",
            "the official account has no AppSecret",
        )
    })?;
    let cached = state.store.credential(&token_name, clock::now()).await?;
    let from_cache = cached.is_some();
    let token = match cached {
        Some(token) => token,
        None => fresh_access_token(state, appid, secret, &token_name).await?,
    };
    let ticket = match state.open.jsapi_ticket(&token).await {
        Ok(ticket) => ticket,
        Err(err) if access_token_refused(&err) => {
            drop_credential(state, &token_name).await?;
            if !from_cache {
                return Err(err.into());
            }
            tracing::warn!(error = %err, "cached access token refused; fetching a new one");
            let token = fresh_access_token(state, appid, secret, &token_name).await?;
            match state.open.jsapi_ticket(&token).await {
                Ok(ticket) => ticket,
                Err(err) => {
                    if access_token_refused(&err) {
                        drop_credential(state, &token_name).await?;
                    }
                    return Err(err.into());
                }
            }
        }
        Err(err) => return Err(err.into()),
    };
    let value = ticket.value.expose().clone();
    state
        .store
        .put_credential(
            &ticket_name,
            &value,
            clock::now() + ticket.expires_in - EXPIRY_MARGIN_SECS,
        )
        .await?;
    Ok(value)
}

/// `GET /api/jssdk/config?url=…`
pub async fn config(
    State(state): State<SharedState>,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> Result<Json<WxConfig>, AppError> {
    let Query(query) = query.map_err(query_rejection)?;
    if query.url.is_empty() || query.url.len() > 2048 {
        return Err(AppError::bad_request(
            "invalid_url",
            "url must be 1..=2048 characters",
        ));
    }
    let appid = state
        .apps
        .official_account
        .as_ref()
        .map(|a| a.appid.clone())
        .ok_or_else(|| {
            AppError::bad_request("jssdk_not_configured", "no official account configured")
        })?;
    let ticket = jsapi_ticket(&state, &appid).await?;
    let nonce = crate::ids::nonce().map_err(|e| AppError::Internal(e.to_string()))?;
    let timestamp = u64::try_from(clock::now()).unwrap_or(0);
    let config = WxConfig::sign(
        appid,
        &ticket,
        nonce,
        timestamp,
        &query.url,
        vec!["chooseWXPay".to_owned()],
    )
    .map_err(|e| AppError::bad_request("invalid_url", e.to_string()))?;
    Ok(Json(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(code: &str) -> UpstreamError {
        UpstreamError::Business {
            status: 200,
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn only_the_token_errcodes_drop_the_cached_token() {
        for code in ["40001", "40014", "42001"] {
            assert!(access_token_refused(&answered(code)), "{code}");
        }
        for code in ["-1", "45009", "40013", "40125", "MISSING_FIELD"] {
            assert!(!access_token_refused(&answered(code)), "{code}");
        }
        assert!(!access_token_refused(&UpstreamError::Unavailable {
            status: 503
        }));
    }
}
