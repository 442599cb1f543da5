//! JS-SDK `wx.config` parameters (protocol C).
//!
//! The access token and the `jsapi_ticket` are cached in the store until shortly before
//! they expire and refreshed under a lock, once, not per request: WeChat revokes the
//! previous token when a new one is fetched, so per-request refreshes from several places
//! break each other.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use wxpay_core::jssdk::WxConfig;

use crate::clock;
use crate::error::{query_rejection, AppError};
use crate::state::SharedState;

/// Refresh credentials this long before WeChat's expiry.
const EXPIRY_MARGIN_SECS: i64 = 300;

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
    let token = match state.store.credential(&token_name, clock::now()).await? {
        Some(token) => token,
        None => {
            let fresh = state.open.access_token(appid, secret).await?;
            let value = fresh.value.expose().clone();
            state
                .store
                .put_credential(
                    &token_name,
                    &value,
                    clock::now() + fresh.expires_in - EXPIRY_MARGIN_SECS,
                )
                .await?;
            value
        }
    };
    let ticket = state.open.jsapi_ticket(&token).await?;
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
